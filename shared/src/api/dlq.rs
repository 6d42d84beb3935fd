//! Dead letters of the delivery queue: `GET /dlq` lists them
//! (`?subscription=&since=`) without touching them (a read, so a replay
//! running at the same time still takes every one), `POST /dlq/replay` puts them back for
//! delivery, each exactly once (JSON body or query: `subscription`,
//! `since` as an RFC 3339 time or an age such as `2h`, `event` for one
//! event's).

use super::bodies::{DeadLetters, ReplayRequest, Replayed};
use super::extract::{Body, Query};
use super::AppState;
use crate::egress::replay::{self, DeadLetter, ReplayFilter};
use crate::ingress::Ingress;
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;
use std::collections::BTreeMap;

pub async fn list(
    State(ingress): State<AppState>,
    Query(query): Query,
) -> Result<Json<DeadLetters>, Refusal> {
    let filter = filter(&ingress, &query, &[])?;
    match replay::list(ingress.backend.delivery_dlq.as_ref(), &filter).await {
        Ok(jobs) => {
            let letters: Vec<DeadLetter> = jobs.iter().map(DeadLetter::from).collect();
            Ok(Json(DeadLetters {
                ok: true,
                count: letters.len(),
                dead_letters: letters,
            }))
        }
        Err(e) => Err(Refusal::backend("the dead-letter queue", e)),
    }
}

pub async fn replay(
    State(ingress): State<AppState>,
    Query(query): Query,
    Body(body): Body,
) -> Result<Json<Replayed>, Refusal> {
    let filter = filter(&ingress, &query, &body)?;
    match replay::replay(&ingress.backend, &filter, ingress.clock.now()).await {
        Ok(report) => Ok(Json(Replayed {
            ok: true,
            replayed: report.replayed,
            kept: report.kept,
            unreadable: report.unreadable,
        })),
        Err(e) => Err(Refusal::backend("the dead-letter queue", e)),
    }
}

/// The filter from the query string, overridden by a JSON body if one was sent.
fn filter(
    ingress: &Ingress,
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<ReplayFilter, Refusal> {
    let mut words = ReplayRequest {
        subscription: query.get("subscription").cloned(),
        since: query.get("since").cloned(),
        event: query.get("event").cloned(),
    };
    if !body.iter().all(u8::is_ascii_whitespace) {
        let body: ReplayRequest = serde_json::from_slice(body).map_err(|e| {
            Refusal::BadRequest(format!(
                "body must be JSON like {{\"subscription\": \"id\", \"since\": \"2h\"}}: {e}"
            ))
        })?;
        words.subscription = body.subscription.or(words.subscription);
        words.since = body.since.or(words.since);
        words.event = body.event.or(words.event);
    }
    let mut filter = ReplayFilter::parse(
        words.subscription.as_deref(),
        words.since.as_deref(),
        ingress.clock.now(),
    )
    .map_err(|e| Refusal::BadRequest(e.to_string()))?;
    filter.event = words.event.filter(|e| !e.is_empty());
    Ok(filter)
}
