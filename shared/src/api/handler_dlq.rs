//! The handler's dead-letter queue: hooks whose action failed on every
//! try. `GET /dlq/handler` lists them a page at a time (`limit`, `cursor`)
//! without touching them;
//! `POST /dlq/handler/replay` (JSON body `{"event": "<id>"}` for one, `{}`
//! for all) puts them back on the handler queue, each once, as the same
//! event: the handler then runs the steps it has not done yet (see
//! `handler::status`), and the event's status record counts the attempt.

use super::bodies::Replayed;
use super::dlq::{refusal, PageAsk};
use super::extract::{Body, Query};
use super::AppState;
use crate::egress::replay::{self, ReplayError};
use crate::event::{self, InboundEvent};
use crate::ports::NewMessage;
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

/// A dead hook as the listing shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadHook {
    pub event_id: String,
    pub hook_id: String,
    pub handler_id: Option<String>,
    pub session_key: String,
    pub received_at: String,
}

impl From<&InboundEvent> for DeadHook {
    fn from(ev: &InboundEvent) -> Self {
        DeadHook {
            event_id: ev.event_id.clone(),
            hook_id: ev.hook_id.clone(),
            handler_id: ev.handler_id.clone(),
            session_key: ev.session_key.clone(),
            received_at: event::timestamp(ev.received_at),
        }
    }
}

/// `GET /dlq/handler`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadHooks {
    pub ok: bool,
    pub count: usize,
    /// In the order they were dead-lettered (on SQS: by message id).
    pub dead_letters: Vec<DeadHook>,
    /// Pass as `cursor` for the next page; `null` after the last.
    pub next_cursor: Option<String>,
}

pub async fn list(
    State(ingress): State<AppState>,
    Query(query): Query,
) -> Result<Json<DeadHooks>, Refusal> {
    let ask = PageAsk::from_query(&query)?;
    let (hooks, next_cursor) = ask
        .collect(ingress.backend.handler_dlq.as_ref(), |m| {
            let ev = serde_json::from_str::<InboundEvent>(&m.body).ok()?;
            Some(DeadHook::from(&ev))
        })
        .await
        .map_err(|e| refusal("the handler's dead-letter queue", e))?;
    Ok(Json(DeadHooks {
        ok: true,
        count: hooks.len(),
        dead_letters: hooks,
        next_cursor,
    }))
}

/// `POST /dlq/handler/replay`'s body: one event's, or (empty) all.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandlerReplayRequest {
    #[serde(default)]
    pub event: Option<String>,
}

pub async fn replay(
    State(ingress): State<AppState>,
    Body(body): Body,
) -> Result<Json<Replayed>, Refusal> {
    let which: HandlerReplayRequest = if body.iter().all(u8::is_ascii_whitespace) {
        HandlerReplayRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Refusal::BadRequest(format!("body must be JSON like {{\"event\": \"id\"}}: {e}"))
        })?
    };
    let backend = &ingress.backend;
    let wanted = which.event.as_deref().filter(|e| !e.is_empty());
    let report = replay::pass(
        backend.handler_dlq.as_ref(),
        |ev: InboundEvent| async move {
            if wanted.is_some_and(|id| id != ev.event_id) {
                return Ok::<_, ReplayError>(false);
            }
            tracing::info!(event_id = %ev.event_id, "replaying a dead hook to the handler");
            backend.handler_queue.send(message(&ev)).await?;
            Ok(true)
        },
    )
    .await
    .map_err(|e| Refusal::backend("the handler's dead-letter queue", e))?;
    Ok(Json(Replayed::from(report)))
}

/// The handler-queue message for `ev`, as ingress sends it, under a fresh
/// deduplication id (the first one may still be in SQS's window).
fn message(ev: &InboundEvent) -> NewMessage {
    NewMessage::new(serde_json::to_string(ev).expect("event serializes"))
        .group(ev.session_key.clone())
        .attribute("hookId", ev.hook_id.clone())
}
