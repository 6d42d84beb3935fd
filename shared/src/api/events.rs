//! `GET /events/<eventId>`: what happened to a hook: `queued`,
//! `processing`, `done` or `failed`, its session, the attempts so far, and
//! the action's result (the agent's answer, the channel's message id) or
//! the error.

use super::bodies::EventAnswer;
use super::extract::Tail;
use super::AppState;
use crate::handler::status;
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;

pub async fn show(
    State(ingress): State<AppState>,
    Tail(id): Tail,
) -> Result<Json<EventAnswer>, Refusal> {
    let now = ingress.clock.now().timestamp();
    match status::load(ingress.backend.store.as_ref(), &id, now).await {
        Ok(Some(event)) => Ok(Json(EventAnswer {
            ok: true,
            reply: crate::ingress::wait::reply(&event),
            event,
        })),
        Ok(None) => Err(Refusal::NotFound(format!(
            "no event {id:?} (unknown, or older than a week)"
        ))),
        Err(e) => Err(Refusal::backend("event status", e)),
    }
}
