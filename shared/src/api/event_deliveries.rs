//! `GET /events/<eventId>/deliveries`: the outgoing deliveries a hook
//! caused. Egress logs attempts under the *lifecycle* event's id
//! (`message_received`, `agent_response`, `error`, and the session's
//! start and end), and each of those ids is derived from the hook (see
//! `handler::lifecycle::stable_id`), so they are computed here and their
//! logs read: a handful of keyed reads, no scan.

use super::extract::Tail;
use super::AppState;
use crate::config::EventType;
use crate::egress::log::{self, Attempt, Summary};
use crate::event::EventRecord;
use crate::handler::lifecycle::stable_id;
use crate::handler::{session, status};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One lifecycle event the hook emitted, with its deliveries.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Emitted {
    /// The lifecycle event's id (what receivers and the delivery log see).
    pub id: String,
    pub event_type: EventType,
    pub subscriptions: Vec<Summary>,
    pub attempts: Vec<Attempt>,
}

/// `GET /events/<eventId>/deliveries`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EventDeliveries {
    pub ok: bool,
    /// The hook's event id.
    pub event: String,
    pub emitted: Vec<Emitted>,
}

/// The ids of the lifecycle events `record`'s hook may have emitted.
pub fn lifecycle_ids(record: &EventRecord) -> Vec<(EventType, String)> {
    let Ok(at) = DateTime::parse_from_rfc3339(&record.received_at) else {
        return Vec::new();
    };
    let at = at.with_timezone(&Utc);
    let id = record.event_id.as_str();
    let mut ids = vec![
        (
            EventType::MessageReceived,
            stable_id(at, &[id, "message_received"]),
        ),
        (
            EventType::AgentResponse,
            stable_id(at, &[id, "agent_response"]),
        ),
        (EventType::Error, stable_id(at, &[id, "error", "final"])),
    ];
    for attempt in 1..=record.attempts {
        let which = attempt.to_string();
        ids.push((EventType::Error, stable_id(at, &[id, "error", &which])));
    }
    ids
}

pub async fn list(
    State(ingress): State<AppState>,
    Tail(id): Tail,
) -> Result<Json<EventDeliveries>, Refusal> {
    let store = ingress.backend.store.as_ref();
    let now = ingress.clock.now();
    let record = status::load(store, &id, now.timestamp())
        .await
        .map_err(|e| Refusal::backend("event status", e))?
        .ok_or_else(|| {
            Refusal::NotFound(format!("no event {id:?} (unknown, or older than a week)"))
        })?;
    let mut ids = lifecycle_ids(&record);
    if let Ok(Some((s, _))) = session::get(store, &record.session_key, now.timestamp()).await {
        if s.created_by == record.event_id {
            let started = DateTime::parse_from_rfc3339(&s.created_at)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default();
            for (kind, word) in [
                (EventType::SessionStarted, "session_started"),
                (EventType::SessionEnded, "session_ended"),
            ] {
                ids.push((kind, stable_id(started, &[&s.key, &s.created_at, word])));
            }
        }
    }
    let mut emitted = Vec::new();
    for (event_type, lid) in ids {
        let d = log::for_event(store, &lid, now)
            .await
            .map_err(|e| Refusal::backend("the delivery log", e))?;
        if !d.attempts.is_empty() {
            emitted.push(Emitted {
                id: lid,
                event_type,
                subscriptions: d.subscriptions,
                attempts: d.attempts,
            });
        }
    }
    Ok(Json(EventDeliveries {
        ok: true,
        event: record.event_id,
        emitted,
    }))
}
