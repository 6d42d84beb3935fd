//! `GET /deliveries?event=<id>`: what happened to one event's deliveries
//! (a summary per subscription and every attempt). Without `event`, the
//! latest attempts over all events (`limit`, default 100).

use crate::egress::log;
use crate::ingress::{Ingress, IngressRequest, IngressResponse};
use http::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

pub async fn route(
    ingress: &Ingress,
    req: &IngressRequest,
    segments: &[&str],
) -> Option<IngressResponse> {
    if segments != ["deliveries"] {
        return None;
    }
    if req.method != Method::GET {
        return Some(
            IngressResponse::error(StatusCode::METHOD_NOT_ALLOWED, "use GET")
                .header("allow", "GET"),
        );
    }
    let query = super::query(req);
    Some(list(ingress, &query).await)
}

async fn list(ingress: &Ingress, query: &BTreeMap<String, String>) -> IngressResponse {
    let store = ingress.backend.store.as_ref();
    let now = ingress.clock.now();
    if let Some(event) = query.get("event") {
        if event.is_empty() {
            return IngressResponse::error(
                StatusCode::BAD_REQUEST,
                "query parameter `event` is empty",
            );
        }
        return match log::for_event(store, event, now).await {
            Ok(d) => IngressResponse::json(
                StatusCode::OK,
                json!({ "ok": true, "event": event, "subscriptions": d.subscriptions, "attempts": d.attempts }),
            ),
            Err(e) => super::unavailable(e),
        };
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return IngressResponse::error(
                StatusCode::BAD_REQUEST,
                format!("query parameter `limit` must be a number from 1 to {MAX_LIMIT}"),
            )
        }
    };
    match log::recent(store, limit, now).await {
        Ok(attempts) => {
            IngressResponse::json(StatusCode::OK, json!({ "ok": true, "attempts": attempts }))
        }
        Err(e) => super::unavailable(e),
    }
}
