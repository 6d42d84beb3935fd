//! Dead letters of the delivery queue: `GET /dlq` lists them
//! (`?subscription=&since=`) without touching them (a read, so a replay
//! running at the same time still takes every one), `POST /dlq/replay` puts them back for
//! delivery, each exactly once (JSON body or query: `subscription`,
//! `since` as an RFC 3339 time or an age such as `2h`).

use crate::egress::replay::{self, DeadLetter, ReplayFilter};
use crate::ingress::{Ingress, IngressRequest, IngressResponse};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

pub async fn route(
    ingress: &Ingress,
    req: &IngressRequest,
    segments: &[&str],
) -> Option<IngressResponse> {
    let allowed = match segments {
        ["dlq"] => Method::GET,
        ["dlq", "replay"] => Method::POST,
        _ => return None,
    };
    if req.method != allowed {
        return Some(
            IngressResponse::error(StatusCode::METHOD_NOT_ALLOWED, format!("use {allowed}"))
                .header("allow", allowed.to_string()),
        );
    }
    let filter = match filter(ingress, req) {
        Ok(f) => f,
        Err(refusal) => return Some(refusal),
    };
    let backend = &ingress.backend;
    Some(if allowed == Method::GET {
        match replay::list(backend.delivery_dlq.as_ref(), &filter).await {
            Ok(jobs) => {
                let letters: Vec<DeadLetter> = jobs.iter().map(DeadLetter::from).collect();
                IngressResponse::json(
                    StatusCode::OK,
                    json!({ "ok": true, "count": letters.len(), "deadLetters": letters }),
                )
            }
            Err(e) => super::unavailable(e),
        }
    } else {
        match replay::replay(backend, &filter, ingress.clock.now()).await {
            Ok(report) => IngressResponse::json(
                StatusCode::OK,
                json!({ "ok": true, "replayed": report.replayed, "kept": report.kept, "unreadable": report.unreadable }),
            ),
            Err(e) => super::unavailable(e),
        }
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterBody {
    #[serde(default)]
    subscription: Option<String>,
    #[serde(default)]
    since: Option<String>,
}

/// The filter from the query string, overridden by a JSON body if one was sent.
fn filter(ingress: &Ingress, req: &IngressRequest) -> Result<ReplayFilter, IngressResponse> {
    let query = super::query(req);
    let mut words = FilterBody {
        subscription: query.get("subscription").cloned(),
        since: query.get("since").cloned(),
    };
    if !req.body.iter().all(u8::is_ascii_whitespace) {
        let body: FilterBody = serde_json::from_slice(&req.body).map_err(|e| {
            IngressResponse::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "body must be JSON like {{\"subscription\": \"id\", \"since\": \"2h\"}}: {e}"
                ),
            )
        })?;
        words.subscription = body.subscription.or(words.subscription);
        words.since = body.since.or(words.since);
    }
    ReplayFilter::parse(
        words.subscription.as_deref(),
        words.since.as_deref(),
        ingress.clock.now(),
    )
    .map_err(|e| IngressResponse::error(StatusCode::BAD_REQUEST, e.to_string()))
}
