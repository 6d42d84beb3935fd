//! `GET /events/<eventId>`: what happened to a hook: `queued`,
//! `processing`, `done` or `failed`, its session, the attempts so far, and
//! the action's result (the agent's answer, the channel's message id) or
//! the error.

use crate::handler::status;
use crate::ingress::{Ingress, IngressRequest, IngressResponse};
use http::{Method, StatusCode};
use serde_json::json;

pub async fn route(
    ingress: &Ingress,
    req: &IngressRequest,
    segments: &[&str],
) -> Option<IngressResponse> {
    let ["events", id] = segments else {
        return None;
    };
    if req.method != Method::GET {
        return Some(
            IngressResponse::error(StatusCode::METHOD_NOT_ALLOWED, "use GET")
                .header("allow", "GET"),
        );
    }
    let now = ingress.clock.now().timestamp();
    Some(
        match status::load(ingress.backend.store.as_ref(), id, now).await {
            Ok(Some(record)) => {
                IngressResponse::json(StatusCode::OK, json!({ "ok": true, "event": record }))
            }
            Ok(None) => IngressResponse::error(
                StatusCode::NOT_FOUND,
                format!("no event {id:?} (unknown, or older than a week)"),
            ),
            Err(e) => {
                tracing::error!(error = %e, "event status lookup failed");
                IngressResponse::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "event status is temporarily unavailable; retry",
                )
            }
        },
    )
}
