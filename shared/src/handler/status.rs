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
    /// The coalesced turn (its first event's id) this event was folded into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<String>,
    /// On a turn's first event: every event the turn answers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<String>,
    /// This event's agent run was counted against the handler's `budget`.
    #[serde(default)]
    pub budget_spent: bool,
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
    /// This attempt has written the record at least once.
    saved: bool,
    /// Seconds the record is kept after its hook was received
    /// (`Webhooks::status_kept_secs`).
    kept_secs: i64,
    /// The queue gives this attempt no other (its receive count reached
    /// `maxReceiveCount`): a transient failure now is final. Read from the
    /// queue, not from `record.attempts`, which misses an attempt a crash
    /// cut short before its first save.
    pub last_attempt: bool,
}

impl Status {
    /// Loads the record (or makes one, if ingress could not write it),
    /// counts this attempt and marks it `processing`, in memory: the first
    /// [`Status::save`] writes that together with the first step's
    /// progress, so a hook costs one status write fewer. A crash before
    /// that save leaves the record as it was, which only undercounts the
    /// attempt the crash cut short.
    pub async fn begin(
        store: &dyn Store,
        ev: &InboundEvent,
        now: DateTime<Utc>,
        kept_secs: i64,
    ) -> Result<Status, ActionError> {
        let mut status = Status::load(store, ev, now).await?;
        status.kept_secs = kept_secs;
        if !status.is_done() {
            status.record.status = EventStatus::Processing;
            status.record.attempts += 1;
        }
        Ok(status)
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
                    saved: false,
                    kept_secs: EVENT_RECORD_TTL_SECS,
                    last_attempt: false,
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
            saved: false,
            kept_secs: EVENT_RECORD_TTL_SECS,
            last_attempt: false,
        }
    }

    /// Settled for good: `done`, or `skipped` (a redelivery runs nothing).
    pub fn is_done(&self) -> bool {
        matches!(self.record.status, EventStatus::Done | EventStatus::Skipped)
    }

    /// Writes the record if nobody else wrote it since we read it; a
    /// conflict means another receiver is on this event: try later.
    ///
    /// On AWS the message can reach the handler before ingress's record
    /// does, and the record can land between our read and this attempt's
    /// first write: that conflict is ingress's, not another receiver's, so
    /// the record is read again at once and written over instead of the
    /// message waiting out a visibility timeout.
    pub async fn save(&mut self, store: &dyn Store, now: DateTime<Utc>) -> Result<(), ActionError> {
        if self.try_save(store, now).await? {
            return Ok(());
        }
        if !self.saved && self.adopt_queued(store, now).await? && self.try_save(store, now).await? {
            return Ok(());
        }
        Err(conflict())
    }

    /// After a first write lost: takes over the stored record's version
    /// and attempt count if it is still ingress's `queued` one; `false`
    /// when someone else has been at work on it.
    async fn adopt_queued(
        &mut self,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<bool, ActionError> {
        let stored = store
            .get(
                Table::Events,
                &self.record.event_id,
                SORT_KEY,
                now.timestamp(),
            )
            .await
            .map_err(ActionError::from_store)?;
        let Some(item) = stored else {
            return Ok(false);
        };
        match serde_json::from_value::<StatusItem>(item.value) {
            Ok(s) if s.record.status == EventStatus::Queued => {
                self.version = item.version;
                self.record.attempts = s.record.attempts + 1;
                Ok(true)
            }
            _ => Ok(false),
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
        let received_at = DateTime::parse_from_rfc3339(&self.record.received_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let received = received_at.timestamp();
        let value = serde_json::to_value(StatusItem {
            record: self.record.clone(),
            progress: self.progress.clone(),
        })
        .expect("status serializes");
        let item = Item::new(self.record.event_id.clone(), SORT_KEY, value)
            .expires_at(received.max(unix) + self.kept_secs)
            .index_key(event::status_index_key(&self.record.event_id, received_at));
        let written = store
            .put_if_version(Table::Events, item, self.version, unix)
            .await
            .map_err(ActionError::from_store)?;
        match written {
            Some(version) => {
                self.version = version;
                self.saved = true;
                Ok(true)
            }
            None => Ok(false),
        }
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

    /// Kept, not acted on: the reason (a spent budget) in `error`, or none
    /// (a transform's `skip: true`).
    pub async fn skip(
        &mut self,
        store: &dyn Store,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), ActionError> {
        self.record.status = EventStatus::Skipped;
        self.record.error = reason.map(str::to_string);
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

fn conflict() -> ActionError {
    ActionError::transient(
        "handler",
        "the event record changed underneath (another receiver?)",
    )
}

/// The record and progress of another event (the turn a hook was folded
/// into), as stored.
pub async fn peek(
    store: &dyn Store,
    event_id: &str,
    now: i64,
) -> Result<Option<(EventRecord, Progress)>, ActionError> {
    let found = store
        .get(Table::Events, event_id, SORT_KEY, now)
        .await
        .map_err(ActionError::from_store)?;
    Ok(found
        .and_then(|item| serde_json::from_value::<StatusItem>(item.value).ok())
        .map(|s| (s.record, s.progress)))
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
