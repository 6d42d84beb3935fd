//! The delivery log, on the store's `deliveries` table.
//!
//! - attempts: pk = event id, sk = `<subscription>#<seq, 4 digits>`: time,
//!   status code, latency, error, the first KiB of the response;
//! - the outcome of each (event, subscription): pk = event id, sk =
//!   `<subscription>#state` (`delivered`, `failed`, `disabled`); a delivery
//!   whose state is `delivered` is never attempted again;
//! - subscriptions a receiver retired with 410 Gone: pk = [`MARKERS_PK`],
//!   sk = subscription id. They survive restarts and are read at each
//!   fan-out (one query for all subscriptions).
//!
//! URLs are never written (webhook URLs often carry tokens): a marker keeps
//! a hash of the URL it was given for, so pointing the subscription at a
//! new URL lifts it.

use crate::config::{EventType, Outgoing};
use crate::event::timestamp;
use crate::ports::{Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Partition of the 410 markers; not a UUID, so never an event id.
pub const MARKERS_PK: &str = "#gone";
/// How long attempts and outcomes are kept.
pub const RETENTION: chrono::Duration = chrono::Duration::days(30);
/// Items read by one admin listing of recent attempts.
pub const SCAN_LIMIT: usize = 10_000;
/// How much of a response body is kept.
pub const RESPONSE_KEPT: usize = 1024;

/// What one attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// Failed for the last time in this round.
    Failed,
    /// 410 Gone: the subscription is disabled.
    Gone,
    /// Not attempted: the subscription is disabled or no longer configured.
    Skipped,
}

/// One attempt, as `GET /deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub event_id: String,
    pub event_type: EventType,
    pub subscription: String,
    pub attempt: u32,
    pub seq: u32,
    pub time: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The first KiB of the response body (lossy UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
}

/// The final word on one (event, subscription).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub subscription: String,
    pub outcome: Outcome,
    pub time: String,
    pub seq: u32,
    #[serde(default)]
    pub dead_lettered: bool,
}

/// A subscription retired by its receiver's 410 Gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisabledMarker {
    pub subscription: String,
    pub reason: String,
    pub at: String,
    /// SHA-256 (hex) of the URL that answered 410.
    pub url_sha256: String,
}

impl DisabledMarker {
    pub fn gone(subscription: &str, url: &str, at: DateTime<Utc>) -> Self {
        DisabledMarker {
            subscription: subscription.into(),
            reason: "the receiver answered 410 Gone".into(),
            at: timestamp(at),
            url_sha256: url_hash(url),
        }
    }

    /// Still in force for `sub` as configured now (same URL)?
    pub fn applies_to(&self, sub: &Outgoing) -> bool {
        sub.id == self.subscription
            && sub.url.as_deref().map(url_hash).as_deref() == Some(self.url_sha256.as_str())
    }
}

fn url_hash(url: &str) -> String {
    Sha256::digest(url.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn attempt_key(subscription: &str, seq: u32) -> String {
    format!("{subscription}#{seq:04}")
}

pub fn state_key(subscription: &str) -> String {
    format!("{subscription}#state")
}

fn expiry(now: DateTime<Utc>) -> i64 {
    (now + RETENTION).timestamp()
}

/// The first KiB of a body, cut on a character boundary.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(RESPONSE_KEPT)]);
    text.trim_end_matches('\u{FFFD}').to_string()
}

/// Writes one record of the log; `expires` is `None` for records kept until removed.
async fn put(
    store: &dyn Store,
    pk: &str,
    sk: String,
    value: &impl Serialize,
    expires: Option<i64>,
) -> Result<(), StoreError> {
    let mut item = Item::new(
        pk,
        sk,
        serde_json::to_value(value).expect("log records serialize"),
    );
    item.expires_at = expires;
    store.put(Table::Deliveries, item).await.map(|_| ())
}

pub async fn record_attempt(
    store: &dyn Store,
    a: &Attempt,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sk = attempt_key(&a.subscription, a.seq);
    put(store, &a.event_id, sk, a, Some(expiry(now))).await
}

pub async fn record_state(
    store: &dyn Store,
    event_id: &str,
    s: &State,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    put(
        store,
        event_id,
        state_key(&s.subscription),
        s,
        Some(expiry(now)),
    )
    .await
}

pub async fn state(
    store: &dyn Store,
    event_id: &str,
    subscription: &str,
    now: DateTime<Utc>,
) -> Result<Option<State>, StoreError> {
    let item = store
        .get(
            Table::Deliveries,
            event_id,
            &state_key(subscription),
            now.timestamp(),
        )
        .await?;
    Ok(item.and_then(|i| serde_json::from_value(i.value).ok()))
}

pub async fn mark_gone(store: &dyn Store, m: &DisabledMarker) -> Result<(), StoreError> {
    put(store, MARKERS_PK, m.subscription.clone(), m, None).await
}

pub async fn disabled_markers(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<HashMap<String, DisabledMarker>, StoreError> {
    let items = store
        .query(Table::Deliveries, MARKERS_PK, 10_000, now.timestamp())
        .await?;
    Ok(items
        .into_iter()
        .filter_map(|i| serde_json::from_value::<DisabledMarker>(i.value).ok())
        .map(|m| (m.subscription.clone(), m))
        .collect())
}

/// Everything logged about one event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDeliveries {
    pub attempts: Vec<Attempt>,
    pub states: Vec<State>,
}

pub async fn for_event(
    store: &dyn Store,
    event_id: &str,
    now: DateTime<Utc>,
) -> Result<EventDeliveries, StoreError> {
    let items = store
        .query(Table::Deliveries, event_id, 10_000, now.timestamp())
        .await?;
    let mut out = EventDeliveries::default();
    for i in items {
        if i.sk.ends_with("#state") {
            if let Ok(s) = serde_json::from_value(i.value) {
                out.states.push(s);
            }
        } else if let Ok(a) = serde_json::from_value(i.value) {
            out.attempts.push(a);
        }
    }
    Ok(out)
}

/// The latest attempts over all events, newest first (admin listing).
pub async fn recent(
    store: &dyn Store,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Attempt>, StoreError> {
    let items = store
        .scan(Table::Deliveries, SCAN_LIMIT, now.timestamp())
        .await?;
    let mut attempts: Vec<Attempt> = items
        .into_iter()
        .filter(|i| i.pk != MARKERS_PK && !i.sk.ends_with("#state"))
        .filter_map(|i| serde_json::from_value(i.value).ok())
        .collect();
    attempts.sort_by(|a, b| b.time.cmp(&a.time).then(b.seq.cmp(&a.seq)));
    attempts.truncate(limit);
    Ok(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_keys_sort_in_attempt_order_and_apart_from_the_state() {
        let mut keys = vec![
            state_key("s"),
            attempt_key("s", 10),
            attempt_key("s", 2),
            attempt_key("s", 1),
        ];
        keys.sort();
        assert_eq!(keys, ["s#0001", "s#0002", "s#0010", "s#state"]);
    }

    #[test]
    fn the_excerpt_keeps_one_kib_on_a_char_boundary() {
        let body = "é".repeat(600); // 1200 bytes
        let e = excerpt(body.as_bytes());
        assert_eq!(e.len(), 1024);
        assert!(e.chars().all(|c| c == 'é'));
        assert_eq!(excerpt(b"short"), "short");
    }
}
