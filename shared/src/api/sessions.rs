//! `GET /sessions/<key>` shows a session record; `DELETE /sessions/<key>`
//! ends it now, emitting `session_ended` (reason `closed`). The key is the
//! rest of the path, percent-decoded (`hook:…`, `gh-repo`, or keys with `/`).

use super::bodies::{SessionAnswer, SessionEnded};
use super::extract::Tail;
use super::AppState;
use crate::handler::session::{self, Closed, SessionRecord, When};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;

pub async fn show(
    State(ingress): State<AppState>,
    Tail(key): Tail,
) -> Result<Json<SessionAnswer>, Refusal> {
    let now = ingress.clock.now().timestamp();
    match session::get(ingress.backend.store.as_ref(), &key, now).await {
        Ok(Some((session, _))) => Ok(Json(SessionAnswer { ok: true, session })),
        Ok(None) => Err(not_found(&key)),
        Err(e) => Err(Refusal::backend("sessions", e)),
    }
}

pub async fn end(
    State(ingress): State<AppState>,
    Tail(key): Tail,
) -> Result<Json<SessionEnded>, Refusal> {
    let (store, events) = (
        ingress.backend.store.as_ref(),
        ingress.backend.events_queue.as_ref(),
    );
    let now = ingress.clock.now();
    let ended = |s: SessionRecord, already_ended| {
        Json(SessionEnded {
            ok: true,
            session: key.clone(),
            ended: s.ended,
            already_ended,
        })
    };
    let kept = ingress.config.config.webhooks.status_kept_secs();
    match session::close(store, events, &key, "closed", When::Always, now, kept).await {
        Ok(Closed::Ended(s)) => Ok(ended(s, false)),
        Ok(Closed::AlreadyEnded(s)) => Ok(ended(s, true)),
        Ok(Closed::Absent | Closed::Active) => Err(not_found(&key)),
        Err(e) => Err(Refusal::backend("sessions", e)),
    }
}

fn not_found(key: &str) -> Refusal {
    Refusal::NotFound(format!("no session {key:?}"))
}
