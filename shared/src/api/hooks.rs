//! `POST /webhook/<hook-id>` and `GET /health`: the routes a sender and a
//! load balancer use, open to anyone (a hook authenticates itself).

use super::answer::ok;
use super::extract::{Body, Peer, Tail};
use super::AppState;
use crate::ingress::{self, Hook};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde_json::{json, Value};

pub async fn accept(
    State(ingress): State<AppState>,
    Tail(hook_id): Tail,
    Peer(peer): Peer,
    uri: http::Uri,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, Refusal> {
    let hook = Hook {
        query: uri.query().map(str::to_string),
        headers,
        body,
        peer,
    };
    let hook_id = hook_id.trim_end_matches('/');
    let kept = ingress.accept(hook_id, hook).await?;
    let mut body = json!({ "ok": true, "eventId": kept.event_id, "sessionKey": kept.session_key });
    if kept.duplicate {
        body["duplicate"] = json!(true);
    }
    Ok((ingress.success_status(), Json(body)).into_response())
}

pub async fn no_hook_id() -> Refusal {
    ingress::no_hook_id()
}

pub async fn health() -> Json<Value> {
    ok(json!({}))
}
