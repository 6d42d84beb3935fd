//! `GET /sessions/<key>` shows a session record; `DELETE /sessions/<key>`
//! ends it now, emitting `session_ended` (reason `closed`). The key is the
//! rest of the path, percent-decoded (`hook:…`, `gh-repo`, or keys with `/`).

use super::answer::ok;
use super::extract::Tail;
use super::AppState;
use crate::handler::session::{self, Closed, When};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub async fn show(
    State(ingress): State<AppState>,
    Tail(key): Tail,
) -> Result<Json<Value>, Refusal> {
    let now = ingress.clock.now().timestamp();
    match session::get(ingress.backend.store.as_ref(), &key, now).await {
        Ok(Some((s, _))) => Ok(ok(json!({ "session": s }))),
        Ok(None) => Err(not_found(&key)),
        Err(e) => Err(Refusal::backend("sessions", e)),
    }
}

pub async fn end(State(ingress): State<AppState>, Tail(key): Tail) -> Result<Json<Value>, Refusal> {
    let (store, events) = (
        ingress.backend.store.as_ref(),
        ingress.backend.events_queue.as_ref(),
    );
    let now = ingress.clock.now();
    match session::close(store, events, &key, "closed", When::Always, now).await {
        Ok(Closed::Ended(s)) => Ok(ok(json!({ "session": key, "ended": s.ended }))),
        Ok(Closed::AlreadyEnded(s)) => Ok(ok(
            json!({ "session": key, "ended": s.ended, "alreadyEnded": true }),
        )),
        Ok(Closed::Absent | Closed::Active) => Err(not_found(&key)),
        Err(e) => Err(Refusal::backend("sessions", e)),
    }
}

fn not_found(key: &str) -> Refusal {
    Refusal::NotFound(format!("no session {key:?}"))
}
