//! The status record of an inbound event (table `events`, sort key
//! `status`), which `GET /events/<id>` shows: ingress writes it `queued`,
//! the handler moves it to `processing`, then `done` or `failed`, with the
//! attempts and the action's result.
//!
//! Beside the public [`EventRecord`] the item carries the handler's
//! [`Progress`]: which steps of this event already happened. A redelivered
//! message (the handler crashed, or a later step failed transiently) skips
//! them, so `message_received` is emitted once, the session counts the
//! message once, an agent is not asked twice, and parts of a split message
//! already posted are not posted again.

use super::failure::ActionError;
use crate::event::{self, EventRecord, EventStatus, InboundEvent, EVENT_RECORD_TTL_SECS};
use crate::ports::{Item, Store, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SORT_KEY: &str = event::STATUS_SORT_KEY;

/// Steps of one event already done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The message joined its session and `message_received` went out.
    #[serde(default)]
    pub message_received: bool,
    #[serde(default)]
    pub session_started: bool,
    /// The agent's answer, kept so a retry after a failed channel post does
    /// not run the agent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_reply: Option<Value>,
    #[serde(default)]
    pub agent_response: bool,
    /// Message ids (or `null` where the service gives none) of the parts
    /// of a split message already posted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts_sent: Vec<Option<String>>,
    /// The action itself finished (for actions that are not split up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_result: Option<Value>,
    /// `session_ended` went out for a finished `hook:` session.
    #[serde(default)]
    pub session_ended: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StatusItem {
    #[serde(flatten)]
    record: EventRecord,
    #[serde(default)]
    progress: Progress,
}

/// An event's record and progress as the handler holds them while working.
#[derive(Debug, Clone)]
pub struct Status {
    pub record: EventRecord,
    pub progress: Progress,
    version: u64,
}

impl Status {
    /// Loads the record (or makes one, if ingress could not write it),
    /// counts this attempt and marks it `processing`.
    ///
    /// On AWS the message can reach the handler before ingress's record
    /// does, and the record can land between our read and our write: that
    /// conflict is ingress's, not another receiver's, so the record is read
    /// again at once instead of the message waiting out a visibility timeout.
    pub async fn begin(
        store: &dyn Store,
        ev: &InboundEvent,
        now: DateTime<Utc>,
    ) -> Result<Status, ActionError> {
        for _ in 0..BEGIN_TRIES {
            let mut status = Status::load(store, ev, now).await?;
            if status.record.status == EventStatus::Done {
                return Ok(status);
            }
            status.record.status = EventStatus::Processing;
            status.record.attempts += 1;
            if status.try_save(store, now).await? {
                return Ok(status);
            }
        }
        Err(conflict())
    }

    async fn load(
        store: &dyn Store,
        ev: &InboundEvent,
        now: DateTime<Utc>,
    ) -> Result<Status, ActionError> {
        let found = store
            .get(Table::Events, &ev.event_id, SORT_KEY, now.timestamp())
            .await
            .map_err(ActionError::from_store)?;
        Ok(match found {
            Some(item) => match serde_json::from_value::<StatusItem>(item.value) {
                Ok(s) => Status {
                    record: s.record,
                    progress: s.progress,
                    version: item.version,
                },
                Err(_) => Status::fresh(ev, now, item.version),
            },
            None => Status::fresh(ev, now, 0),
        })
    }

    fn fresh(ev: &InboundEvent, now: DateTime<Utc>, version: u64) -> Status {
        Status {
            record: EventRecord::queued(ev, now),
            progress: Progress::default(),
            version,
        }
    }

    pub fn is_done(&self) -> bool {
        self.record.status == EventStatus::Done
    }

    /// Writes the record if nobody else wrote it since we read it; a
    /// conflict means another receiver is on this event: try later.
    pub async fn save(&mut self, store: &dyn Store, now: DateTime<Utc>) -> Result<(), ActionError> {
        if self.try_save(store, now).await? {
            Ok(())
        } else {
            Err(conflict())
        }
    }

    /// [`Status::save`], with a conflict as `Ok(false)`.
    async fn try_save(
        &mut self,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<bool, ActionError> {
        let unix = now.timestamp();
        self.record.updated_at = event::timestamp(now);
        let received = DateTime::parse_from_rfc3339(&self.record.received_at)
            .map(|t| t.timestamp())
            .unwrap_or(unix);
        let value = serde_json::to_value(StatusItem {
            record: self.record.clone(),
            progress: self.progress.clone(),
        })
        .expect("status serializes");
        let item = Item::new(self.record.event_id.clone(), SORT_KEY, value)
            .expires_at(received.max(unix) + EVENT_RECORD_TTL_SECS);
        let written = if self.version == 0 {
            store.put_if_absent(Table::Events, item, unix).await
        } else {
            store
                .put_if_version(Table::Events, item, self.version, unix)
                .await
        }
        .map_err(ActionError::from_store)?;
        if !written {
            return Ok(false);
        }
        // Versions count writes; re-read to learn ours without trusting arithmetic.
        self.version = store
            .get(Table::Events, &self.record.event_id, SORT_KEY, unix)
            .await
            .map_err(ActionError::from_store)?
            .map(|i| i.version)
            .unwrap_or(0);
        Ok(true)
    }

    pub async fn finish(
        &mut self,
        store: &dyn Store,
        result: Option<Value>,
        now: DateTime<Utc>,
    ) -> Result<(), ActionError> {
        self.record.status = EventStatus::Done;
        self.record.result = result;
        self.record.error = None;
        self.save(store, now).await
    }

    pub async fn fail(
        &mut self,
        store: &dyn Store,
        error: &ActionError,
        now: DateTime<Utc>,
    ) -> Result<(), ActionError> {
        self.record.status = EventStatus::Failed;
        self.record.error = Some(error.to_string());
        self.save(store, now).await
    }
}

/// Reads before `begin` gives up: ingress writes the record once, so a
/// second read always sees it; more conflicts than that are a second receiver.
const BEGIN_TRIES: usize = 3;

fn conflict() -> ActionError {
    ActionError::transient(
        "handler",
        "the event record changed underneath (another receiver?)",
    )
}

/// The public record of an event, for `GET /events/<id>`.
pub async fn load(
    store: &dyn Store,
    event_id: &str,
    now: i64,
) -> Result<Option<EventRecord>, crate::ports::StoreError> {
    Ok(store
        .get(Table::Events, event_id, SORT_KEY, now)
        .await?
        .and_then(|item| serde_json::from_value(item.value).ok()))
}
