//! The schedule of a rate-limited subscription, kept in the store so that
//! every egress task, process and Lambda instance takes its slots from the
//! same one ([`super::control::reserve`] decides; this file reads and writes).
//!
//! Record: table `limits`, pk = [`RATE_PK`], sk = subscription id, value
//! `{"next": <unix µs>}`, written only if unchanged since read (optimistic
//! concurrency), kept an hour past its last use.

use super::control;
use crate::config::delivery_control::RateLimit;
use crate::ports::{Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};

/// Partition of the schedules.
pub const RATE_PK: &str = "egress-rate";
/// Tries before a reservation gives up under contention (the job is then
/// left for the queue to show again).
const TRIES: usize = 50;

/// Takes the next slot of `subscription`'s schedule; returns it (unix µs).
pub async fn take_slot(
    store: &dyn Store,
    subscription: &str,
    limit: RateLimit,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let now_us = now.timestamp_micros();
    for _ in 0..TRIES {
        let stored = store
            .get(Table::Limits, RATE_PK, subscription, now.timestamp())
            .await?;
        let (next, version) = match &stored {
            Some(i) => (i.value["next"].as_i64(), i.version),
            None => (None, 0),
        };
        let (slot, after) = control::reserve(next, now_us, limit.interval());
        let item = Item::new(RATE_PK, subscription, serde_json::json!({ "next": after }))
            .expires_at(after / 1_000_000 + 3600);
        let written = store
            .put_if_version(Table::Limits, item, version, now.timestamp())
            .await?;
        if written.is_some() {
            return Ok(slot);
        }
    }
    Err(StoreError::Backend {
        table: "limits",
        message: format!("the rate schedule of {subscription:?} stayed contended"),
    })
}
