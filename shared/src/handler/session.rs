//! Session records (table `sessions`, sort key `session`): when a session
//! started, its last activity, how many messages it has seen, a bounded
//! history for agents, and when it goes idle.
//!
//! Creation uses `put_if_absent`, so of several hooks racing to open the
//! same persistent session exactly one creates it (and only that one emits
//! `session_started`). Every update is a read-modify-write guarded by
//! `put_if_version`, retried on conflict, so concurrent writers never lose
//! each other's messages. Each update is also idempotent per inbound event
//! (`recentEvents`, history entries carry their event id), so a redelivered
//! message does not count twice.

use super::lifecycle;
use crate::event::{self, InboundEvent};
use crate::ports::{Item, Queue, QueueError, Store, StoreError, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const SORT_KEY: &str = "session";

/// How long a record stays readable past its idle deadline or its end, so
/// the sweeper can still find and announce it, and `GET` can show it.
pub const RETAIN_SECS: i64 = 24 * 3600;

/// The index keys of sessions the sweeper should look at by `now`: due,
/// and not yet expired. A record expires [`RETAIN_SECS`] after its index
/// key (see `store_expiry`), so the lower bound skips expired leftovers,
/// which the store may keep long after (SQLite until they are
/// overwritten, DynamoDB for up to days).
pub fn due_by(now: i64) -> std::ops::RangeInclusive<i64> {
    now - RETAIN_SECS + 1..=now
}

/// Event ids remembered per session to make updates idempotent.
const RECENT_EVENTS: usize = 64;

/// Longest history entry kept (characters).
pub const HISTORY_ENTRY_CHARS: usize = 8_000;

/// Most bytes of history text one session record keeps.
pub const HISTORY_BYTES: usize = 128 * 1024;

/// Attempts of one read-modify-write before giving up (the queue retries).
/// Each round has a winner, so N racing writers need at most N rounds; one
/// session's hooks are serialized by their FIFO group, so races are rare
/// (sweeper, DELETE, a redelivery), but a burst must not fail spuriously.
const MAX_CONFLICTS: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub key: String,
    pub persistent: bool,
    /// The hook and handler that opened the session.
    pub hook_id: String,
    #[serde(default)]
    pub handler_id: Option<String>,
    pub created_at: String,
    /// The inbound event that created this incarnation of the session.
    pub created_by: String,
    pub last_activity: String,
    pub message_count: u64,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// Unix seconds at which the session is idle (last activity + timeout).
    pub idle_at: i64,
    pub timeout_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    #[serde(default)]
    pub recent_events: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub role: Role,
    pub text: String,
    pub at: String,
    pub event_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ended {
    pub at: String,
    pub reason: String,
    /// Whether `session_ended` went out; the sweeper announces the rest.
    pub announced: bool,
}

impl SessionRecord {
    /// What this session's lifecycle events say about it.
    pub fn facts(&self) -> lifecycle::SessionFacts<'_> {
        lifecycle::SessionFacts {
            key: &self.key,
            created_at: &self.created_at,
            persistent: self.persistent,
            hook_id: &self.hook_id,
            handler_id: self.handler_id.as_deref(),
        }
    }

    pub fn is_live(&self) -> bool {
        self.ended.is_none()
    }

    /// Live but past its idle deadline, not yet swept.
    pub fn is_idle(&self, now: i64) -> bool {
        self.is_live() && self.idle_at <= now
    }

    /// An ended `hook:` session (one hook's) is kept no longer than
    /// `hook_kept`, its hook's event record: thousands a day otherwise
    /// outweigh everything else the file keeps.
    fn store_expiry(&self, now: i64, hook_kept: i64) -> i64 {
        match &self.ended {
            Some(_) if !self.persistent => now + hook_kept.min(RETAIN_SECS),
            Some(_) => now + RETAIN_SECS,
            None => self.idle_at + RETAIN_SECS,
        }
    }

    /// When the sweeper has work here (unix seconds), its index key: a live
    /// session at its idle deadline; an ended one nobody announced at once
    /// (from its end, written at `now`). An announced end leaves the index,
    /// so the finished `hook:*` sessions every hook leaves behind for a day
    /// never stand between the sweeper and the sessions it must end.
    fn sweep_due(&self, now: i64) -> Option<i64> {
        match &self.ended {
            None => Some(self.idle_at),
            Some(e) if !e.announced => Some(now),
            Some(_) => None,
        }
    }

    /// The store item of this record as of `now` (unix seconds): what every
    /// session write stores, and what bulk loads (tests, benches) write.
    pub fn to_item(&self, now: i64) -> Item {
        self.to_item_kept(now, RETAIN_SECS)
    }

    /// [`SessionRecord::to_item`], an ended `hook:` session kept
    /// `hook_kept` seconds at most.
    pub fn to_item_kept(&self, now: i64, hook_kept: i64) -> Item {
        let mut item = Item::new(
            self.key.clone(),
            SORT_KEY,
            serde_json::to_value(self).expect("session serializes"),
        )
        .expires_at(self.store_expiry(now, hook_kept));
        item.index_key = self.sweep_due(now);
        item
    }

    fn remember(&mut self, event_id: &str) {
        self.recent_events.push(event_id.to_string());
        let extra = self.recent_events.len().saturating_sub(RECENT_EVENTS);
        self.recent_events.drain(..extra);
    }

    /// Appends to the history, keeping at most `cap` entries, each cut to
    /// [`HISTORY_ENTRY_CHARS`], and dropping the oldest while the texts
    /// pass [`HISTORY_BYTES`]: a DynamoDB item holds 400 KB, and a hook
    /// without a template contributes its whole body.
    fn push_history(&mut self, mut entry: HistoryEntry, cap: usize) {
        if entry.text.chars().count() > HISTORY_ENTRY_CHARS {
            entry.text = entry
                .text
                .chars()
                .take(HISTORY_ENTRY_CHARS)
                .collect::<String>()
                + "…";
        }
        self.history.push(entry);
        let extra = self.history.len().saturating_sub(cap);
        self.history.drain(..extra);
        while self.history.len() > 1
            && self.history.iter().map(|h| h.text.len()).sum::<usize>() > HISTORY_BYTES
        {
            self.history.remove(0);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("session {0}: too many concurrent updates")]
    Conflict(String),
    #[error("session {key}: stored record is unreadable: {message}")]
    Corrupt { key: String, message: String },
    #[error("could not emit session_ended: {0}")]
    Emit(#[from] QueueError),
}

/// The record and its version, if a record (live or ended) is stored.
pub async fn get(
    store: &dyn Store,
    key: &str,
    now: i64,
) -> Result<Option<(SessionRecord, u64)>, SessionError> {
    let Some(item) = store.get(Table::Sessions, key, SORT_KEY, now).await? else {
        return Ok(None);
    };
    let rec = serde_json::from_value(item.value).map_err(|e| SessionError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })?;
    Ok(Some((rec, item.version)))
}

/// What [`record_message`] did.
#[derive(Debug, Clone)]
pub struct Joined {
    pub session: SessionRecord,
    /// The stored version of `session`, for a caller that writes it again
    /// (see [`end_joined`]) without reading it first.
    pub version: u64,
    /// This call created the session (it alone announces it).
    pub created: bool,
}

/// How a message joins its session.
pub struct NewMessage<'a> {
    pub ev: &'a InboundEvent,
    pub text: &'a str,
    pub timeout: Duration,
    pub history_cap: usize,
}

/// Adds an inbound message to its session, creating the session when none
/// is live. Idempotent per event: a repeat changes nothing. `current` is
/// the session as the caller has just read it with [`get`] (it needs it
/// anyway, to end an idle one first), so the first round costs one write;
/// a conflict reads again.
pub async fn record_message(
    store: &dyn Store,
    m: &NewMessage<'_>,
    mut current: Option<(SessionRecord, u64)>,
    now: DateTime<Utc>,
) -> Result<Joined, SessionError> {
    let ev = m.ev;
    let unix = now.timestamp();
    let entry = HistoryEntry {
        role: Role::User,
        text: m.text.to_string(),
        at: event::timestamp(ev.received_at),
        event_id: ev.event_id.clone(),
    };
    for round in 0..MAX_CONFLICTS {
        if round > 0 {
            current = get(store, &ev.session_key, unix).await?;
        }
        let (mut rec, expected, created) = match current.take() {
            Some((rec, version)) if rec.is_live() && rec.recent_events.contains(&ev.event_id) => {
                let created = rec.created_by == ev.event_id;
                return Ok(Joined {
                    session: rec,
                    version,
                    created,
                });
            }
            Some((rec, version)) if rec.is_live() => (rec, version, false),
            // Absent, or ended: a new incarnation.
            other => {
                let rec = SessionRecord {
                    key: ev.session_key.clone(),
                    persistent: ev.persistent,
                    hook_id: ev.hook_id.clone(),
                    handler_id: ev.handler_id.clone(),
                    created_at: event::timestamp(now),
                    created_by: ev.event_id.clone(),
                    last_activity: event::timestamp(now),
                    message_count: 0,
                    history: Vec::new(),
                    idle_at: 0,
                    timeout_secs: m.timeout.as_secs(),
                    ended: None,
                    recent_events: Vec::new(),
                };
                (rec, other.map(|(_, v)| v).unwrap_or(0), true)
            }
        };
        rec.message_count += 1;
        rec.last_activity = event::timestamp(now);
        rec.timeout_secs = m.timeout.as_secs();
        rec.idle_at = unix + m.timeout.as_secs() as i64;
        rec.push_history(entry.clone(), m.history_cap.max(1));
        rec.remember(&ev.event_id);
        let item = rec.to_item(unix);
        let written = store
            .put_if_version(Table::Sessions, item, expected, unix)
            .await?;
        if let Some(version) = written {
            return Ok(Joined {
                session: rec,
                version,
                created,
            });
        }
    }
    Err(SessionError::Conflict(ev.session_key.clone()))
}

/// Appends an agent's answer to the session history (once per event).
/// Nothing happens when the session has ended meanwhile.
pub async fn record_answer(
    store: &dyn Store,
    key: &str,
    event_id: &str,
    answer: &str,
    history_cap: usize,
    now: DateTime<Utc>,
) -> Result<(), SessionError> {
    let unix = now.timestamp();
    for _ in 0..MAX_CONFLICTS {
        let Some((mut rec, version)) = get(store, key, unix).await? else {
            return Ok(());
        };
        let seen = rec
            .history
            .iter()
            .any(|h| h.role == Role::Assistant && h.event_id == event_id);
        if !rec.is_live() || seen {
            return Ok(());
        }
        rec.push_history(
            HistoryEntry {
                role: Role::Assistant,
                text: answer.to_string(),
                at: event::timestamp(now),
                event_id: event_id.to_string(),
            },
            history_cap.max(1),
        );
        rec.last_activity = event::timestamp(now);
        rec.idle_at = unix + rec.timeout_secs as i64;
        if store
            .put_if_version(Table::Sessions, rec.to_item(unix), version, unix)
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    Err(SessionError::Conflict(key.to_string()))
}

/// What [`close`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Closed {
    /// No record under this key.
    Absent,
    /// Ended and announced before this call.
    AlreadyEnded(SessionRecord),
    /// This call ended it, or announced an end nobody had announced.
    Ended(SessionRecord),
    /// [`When::Idle`] and the session is in use again.
    Active,
}

/// Which sessions [`close`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Whatever their state (`DELETE /sessions/<key>`, a finished hook).
    Always,
    /// Only if still idle when the write happens (the sweeper: a hook may
    /// have arrived since the scan).
    Idle,
}

/// Ends a session and emits `session_ended` (once per session incarnation:
/// the event id is stable, and the record remembers the announcement).
/// Used by the handler (a finished `hook:` session), the sweeper (idle
/// timeout) and `DELETE /sessions/<key>`.
pub async fn close(
    store: &dyn Store,
    events: &dyn Queue,
    key: &str,
    reason: &str,
    when: When,
    now: DateTime<Utc>,
    hook_kept: i64,
) -> Result<Closed, SessionError> {
    let unix = now.timestamp();
    for _ in 0..MAX_CONFLICTS {
        let Some((mut rec, version)) = get(store, key, unix).await? else {
            return Ok(Closed::Absent);
        };
        if when == When::Idle && rec.is_live() && !rec.is_idle(unix) {
            return Ok(Closed::Active);
        }
        match &rec.ended {
            Some(e) if e.announced => return Ok(Closed::AlreadyEnded(rec)),
            Some(_) => {}
            None => {
                rec.ended = Some(Ended {
                    at: event::timestamp(now),
                    reason: reason.to_string(),
                    announced: false,
                });
                let item = rec.to_item_kept(unix, hook_kept);
                if store
                    .put_if_version(Table::Sessions, item, version, unix)
                    .await?
                    .is_none()
                {
                    continue;
                }
            }
        }
        let ended = rec.ended.clone().expect("set above");
        let at = DateTime::parse_from_rfc3339(&ended.at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        event::emit(
            events,
            &lifecycle::session_ended(rec.facts(), &ended.reason, at),
        )
        .await?;
        mark_announced(store, &rec, unix, hook_kept).await?;
        if let Some(e) = rec.ended.as_mut() {
            e.announced = true;
        }
        return Ok(Closed::Ended(rec));
    }
    Err(SessionError::Conflict(key.to_string()))
}

/// Notes that `session_ended` went out for this incarnation. A failure here
/// only means the sweeper emits it again, with the same id.
async fn mark_announced(
    store: &dyn Store,
    ended: &SessionRecord,
    unix: i64,
    hook_kept: i64,
) -> Result<(), SessionError> {
    for _ in 0..MAX_CONFLICTS {
        let Some((mut rec, version)) = get(store, &ended.key, unix).await? else {
            return Ok(());
        };
        if rec.created_at != ended.created_at {
            return Ok(()); // a new incarnation already replaced it
        }
        match rec.ended.as_mut() {
            Some(e) if !e.announced => e.announced = true,
            _ => return Ok(()),
        }
        if store
            .put_if_version(
                Table::Sessions,
                rec.to_item_kept(unix, hook_kept),
                version,
                unix,
            )
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    Err(SessionError::Conflict(ended.key.clone()))
}

/// Ends the session a handler has just joined, with one write where
/// [`close`] needs four operations: `session_ended` goes out first, then
/// the record is written ended and announced at the version the join left.
/// A crash between the two leaves the session live, and the redelivered
/// hook ends it again with the same event id (receivers see it once). If
/// anything else wrote the session since (an agent's answer, a `DELETE`),
/// [`close`] takes over.
pub async fn end_joined(
    store: &dyn Store,
    events: &dyn Queue,
    joined: &Joined,
    reason: &str,
    now: DateTime<Utc>,
    hook_kept: i64,
) -> Result<Closed, SessionError> {
    let unix = now.timestamp();
    let key = &joined.session.key;
    let always = When::Always;
    if !joined.session.is_live() {
        return close(store, events, key, reason, always, now, hook_kept).await;
    }
    let mut rec = joined.session.clone();
    rec.ended = Some(Ended {
        at: event::timestamp(now),
        reason: reason.to_string(),
        announced: true,
    });
    event::emit(events, &lifecycle::session_ended(rec.facts(), reason, now)).await?;
    let item = rec.to_item_kept(unix, hook_kept);
    let written = store
        .put_if_version(Table::Sessions, item, joined.version, unix)
        .await?;
    match written {
        Some(_) => Ok(Closed::Ended(rec)),
        None => close(store, events, key, reason, always, now, hook_kept).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SessionRecord {
        SessionRecord {
            key: "k".into(),
            persistent: true,
            hook_id: "h".into(),
            handler_id: None,
            created_at: "t".into(),
            created_by: "e".into(),
            last_activity: "t".into(),
            message_count: 0,
            history: vec![],
            idle_at: 0,
            timeout_secs: 0,
            ended: None,
            recent_events: vec![],
        }
    }

    fn entry(text: String) -> HistoryEntry {
        HistoryEntry {
            role: Role::User,
            text,
            at: "t".into(),
            event_id: "e".into(),
        }
    }

    #[test]
    fn history_stays_small_enough_for_one_item() {
        let mut r = record();
        for _ in 0..50 {
            r.push_history(entry("x".repeat(300_000)), 20);
        }
        assert!(r
            .history
            .iter()
            .all(|h| h.text.chars().count() == HISTORY_ENTRY_CHARS + 1));
        let bytes: usize = r.history.iter().map(|h| h.text.len()).sum();
        assert!(bytes <= HISTORY_BYTES, "{bytes}");
        assert!(serde_json::to_vec(&r).unwrap().len() < 200 * 1024);
        for i in 0..30 {
            r.push_history(entry(format!("m{i}")), 20);
        }
        assert_eq!(r.history.len(), 20);
        assert_eq!(r.history[0].text, "m10");
    }
}
