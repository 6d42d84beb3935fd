//! The delivery log, on the store's `deliveries` table.
//!
//! - attempts: pk = event id, sk = `<subscription>#<seq, 4 digits>`: time,
//!   status code, latency, error, the first KiB of the response;
//!   The outcome of a pair is its last attempt's (no separate state
//!   record); a pair with a `delivered` attempt is never attempted again,
//!   and an attempt logged `failed` is never made again (its give-up is
//!   resumed: the `deadLettered` flag is written once the dead-letter queue
//!   has the job). Each attempt's index key is its time in unix
//!   milliseconds, so the latest attempts over all events are one read of
//!   the index's newest end ([`recent`]);
//! - subscriptions a receiver retired with 410 Gone: pk = [`MARKERS_PK`],
//!   sk = subscription id; beside them, under sort keys that start with
//!   [`CONTROL_SK`], the control records of `super::control`. They survive restarts and are read at each
//!   fan-out (one query for all subscriptions).
//!
//! URLs are never written (webhook URLs often carry tokens): a marker keeps
//! a hash of the URL it was given for, so pointing the subscription at a
//! new URL lifts it.

use crate::config::{EventType, Outgoing};
use crate::event::timestamp;
use crate::ports::{IndexOrder, Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Partition of the 410 markers; not a UUID, so never an event id.
pub const MARKERS_PK: &str = "#gone";
/// What the sort keys of the subscriptions' control records (pause and
/// resume, `super::control`), kept in the markers' partition, start with.
pub const CONTROL_SK: &str = "#control/";
/// The same for the subscriptions' circuit breakers (`super::breaker`).
pub const BREAKER_SK: &str = "#breaker/";
/// How long attempts and outcomes are kept unless `retention.deliveries`
/// says otherwise (its default).
pub const RETENTION: chrono::Duration = chrono::Duration::days(30);
/// How much of a response body is kept.
pub const RESPONSE_KEPT: usize = 1024;

/// What one attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Not attempted: the subscription's transform answered `null`.
    Cancelled,
}

/// One attempt, as `GET /deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// The last attempt of a round that was moved to the dead-letter queue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dead_lettered: bool,
}

/// Where one (event, subscription) stands: its last attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub subscription: String,
    pub outcome: Outcome,
    pub attempts: usize,
    pub last_attempt_at: String,
    pub dead_lettered: bool,
}

/// One summary per subscription, from attempts sorted by key (as `query` returns them).
pub fn summarize(attempts: &[Attempt]) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    for a in attempts {
        let s = Summary {
            subscription: a.subscription.clone(),
            outcome: a.outcome,
            attempts: 1,
            last_attempt_at: a.time.clone(),
            dead_lettered: a.dead_lettered,
        };
        match out.iter_mut().find(|x| x.subscription == a.subscription) {
            Some(x) => {
                *x = Summary {
                    attempts: x.attempts + 1,
                    ..s
                }
            }
            None => out.push(s),
        }
    }
    out
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
            && sub.url.as_ref().map(|u| url_hash(u.as_str())).as_deref()
                == Some(self.url_sha256.as_str())
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

fn expiry(now: DateTime<Utc>, kept: chrono::Duration) -> i64 {
    (now + kept).timestamp()
}

/// The first KiB of a body, cut on a character boundary.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(RESPONSE_KEPT)]);
    text.trim_end_matches('\u{FFFD}').to_string()
}

/// Logs an attempt, kept for `kept` (`retention.deliveries`).
pub async fn record_attempt(
    store: &dyn Store,
    a: &Attempt,
    now: DateTime<Utc>,
    kept: chrono::Duration,
) -> Result<(), StoreError> {
    store
        .put(Table::Deliveries, attempt_item(a, now, kept))
        .await
        .map(|_| ())
}

/// The store item of an attempt logged at `now`: what [`record_attempt`]
/// writes, and what bulk loads (tests, benches) write. Indexed by the
/// attempt's own time (`now` if that does not parse), in milliseconds:
/// several attempts a second are common.
pub fn attempt_item(a: &Attempt, now: DateTime<Utc>, kept: chrono::Duration) -> Item {
    let at = DateTime::parse_from_rfc3339(&a.time)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    let value = serde_json::to_value(a).expect("log records serialize");
    Item::new(&a.event_id, attempt_key(&a.subscription, a.seq), value)
        .expires_at(expiry(now, kept))
        .index_key(at.timestamp_millis())
}

/// The attempts logged for one (event, subscription), in order: one query
/// per attempt tells a pair already delivered (a duplicate job from a
/// redelivered event or a second replay ends there) and an attempt already
/// made (a job that comes back resumes what followed it, see `delivery`).
pub async fn attempts_of(
    store: &dyn Store,
    event_id: &str,
    subscription: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Attempt>, StoreError> {
    let items = store
        .query(Table::Deliveries, event_id, 10_000, now.timestamp())
        .await?;
    let prefix = format!("{subscription}#");
    Ok(items
        .into_iter()
        .filter(|i| {
            i.sk.strip_prefix(&prefix)
                .is_some_and(|seq| seq.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|i| serde_json::from_value(i.value).ok())
        .collect())
}

/// Kept until removed, and outside the index: [`recent`] lists attempts only.
pub async fn mark_gone(store: &dyn Store, m: &DisabledMarker) -> Result<(), StoreError> {
    let value = serde_json::to_value(m).expect("log records serialize");
    let item = Item::new(MARKERS_PK, m.subscription.clone(), value);
    store.put(Table::Deliveries, item).await.map(|_| ())
}

/// The 410 markers among the items of their partition (which holds the
/// subscriptions' control records too, `super::control`).
/// The records among `items` whose sort keys start with `prefix` (control
/// records, breakers), by the subscription id that follows it.
pub fn records_from<T: serde::de::DeserializeOwned>(
    items: &[Item],
    prefix: &str,
) -> HashMap<String, T> {
    items
        .iter()
        .filter_map(|i| {
            let id = i.sk.strip_prefix(prefix)?;
            Some((
                id.to_string(),
                serde_json::from_value(i.value.clone()).ok()?,
            ))
        })
        .collect()
}

/// Every item of the markers' partition, read now.
pub async fn markers_partition(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, StoreError> {
    store
        .query(Table::Deliveries, MARKERS_PK, 10_000, now.timestamp())
        .await
}

pub fn markers_from(items: &[Item]) -> HashMap<String, DisabledMarker> {
    items
        .iter()
        .filter(|i| !i.sk.starts_with(CONTROL_SK) && !i.sk.starts_with(BREAKER_SK))
        .filter_map(|i| serde_json::from_value::<DisabledMarker>(i.value.clone()).ok())
        .map(|m| (m.subscription.clone(), m))
        .collect()
}

/// Everything logged about one event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDeliveries {
    pub subscriptions: Vec<Summary>,
    pub attempts: Vec<Attempt>,
}

pub async fn for_event(
    store: &dyn Store,
    event_id: &str,
    now: DateTime<Utc>,
) -> Result<EventDeliveries, StoreError> {
    let items = store
        .query(Table::Deliveries, event_id, 10_000, now.timestamp())
        .await?;
    let attempts: Vec<Attempt> = items
        .into_iter()
        .filter_map(|i| serde_json::from_value(i.value).ok())
        .collect();
    Ok(EventDeliveries {
        subscriptions: summarize(&attempts),
        attempts,
    })
}

/// The latest attempts over all events, newest first (admin listing): the
/// newest end of the index, so it reads `limit` attempts however long the
/// log is. Only attempts of the last `kept` (`retention.deliveries`) can be
/// live, so the read starts there and never wades through expired ones.
pub async fn recent(
    store: &dyn Store,
    limit: usize,
    now: DateTime<Utc>,
    kept: chrono::Duration,
) -> Result<Vec<Attempt>, StoreError> {
    let oldest_live = (now - kept).timestamp_millis();
    let items = store
        .query_index(
            Table::Deliveries,
            oldest_live..=i64::MAX,
            IndexOrder::Descending,
            limit,
            now.timestamp(),
        )
        .await?;
    let mut attempts: Vec<Attempt> = items
        .into_iter()
        .filter_map(|i| serde_json::from_value(i.value).ok())
        .collect();
    // Attempts of the same millisecond: the later attempt first.
    attempts.sort_by(|a, b| b.time.cmp(&a.time).then(b.seq.cmp(&a.seq)));
    Ok(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_keys_sort_in_attempt_order() {
        let mut keys = vec![
            attempt_key("s", 10),
            attempt_key("s", 2),
            attempt_key("s", 1),
        ];
        keys.sort();
        assert_eq!(keys, ["s#0001", "s#0002", "s#0010"]);
    }

    fn attempt(sub: &str, seq: u32, outcome: Outcome) -> Attempt {
        Attempt {
            event_id: "e".into(),
            event_type: EventType::MessageReceived,
            subscription: sub.into(),
            attempt: seq,
            seq,
            time: format!("2024-01-15T10:30:0{seq}.000Z"),
            outcome,
            status: None,
            latency_ms: None,
            error: None,
            response: None,
            next_attempt_at: None,
            dead_lettered: false,
        }
    }

    #[test]
    fn a_pair_stands_where_its_last_attempt_left_it() {
        let log = [
            attempt("a", 1, Outcome::Retrying),
            attempt("a", 2, Outcome::Delivered),
            attempt("b", 1, Outcome::Retrying),
            attempt("b", 2, Outcome::Failed),
        ];
        let s = summarize(&log);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].subscription.as_str(), s[0].outcome, s[0].attempts),
            ("a", Outcome::Delivered, 2)
        );
        assert_eq!(
            (s[1].subscription.as_str(), s[1].outcome, s[1].attempts),
            ("b", Outcome::Failed, 2)
        );
        assert_eq!(s[1].last_attempt_at, "2024-01-15T10:30:02.000Z");
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
