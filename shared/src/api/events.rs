//! `GET /events/<eventId>`: what happened to a hook: `queued`,
//! `processing`, `done` or `failed`, its session, the attempts so far, and
//! the action's result (the agent's answer, the channel's message id) or
//! the error.

use super::answer::ok;
use super::extract::Tail;
use super::AppState;
use crate::handler::status;
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub async fn show(State(ingress): State<AppState>, Tail(id): Tail) -> Result<Json<Value>, Refusal> {
    let now = ingress.clock.now().timestamp();
    match status::load(ingress.backend.store.as_ref(), &id, now).await {
        Ok(Some(record)) => Ok(ok(json!({ "event": record }))),
        Ok(None) => Err(Refusal::NotFound(format!(
            "no event {id:?} (unknown, or older than a week)"
        ))),
        Err(e) => Err(Refusal::backend("event status", e)),
    }
}
