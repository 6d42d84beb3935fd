//! The schedule of a rate-limited subscription, kept in the store so that
//! every egress task, process and Lambda instance takes its slots from the
//! same one ([`super::control::reserve`] decides; this file reads and writes).
//! A process reserves about a second of slots at a time and hands them to
//! its tasks in order ([`Block`]).
//!
//! Record: table `limits`, pk = [`RATE_PK`], sk = subscription id, value
//! `{"next": <unix µs>}`, written only if unchanged since read (optimistic
//! concurrency), kept an hour past its last use.

use super::control;
use crate::config::delivery_control::RateLimit;
use crate::ports::{Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Partition of the schedules.
pub const RATE_PK: &str = "egress-rate";
/// Tries before a reservation gives up under contention (the job is then
/// left for the queue to show again).
const TRIES: usize = 50;

/// Slots this process reserved from the schedule and has not handed out.
#[derive(Debug, Default)]
pub struct Block {
    next: i64,
    end: i64,
}

/// Slots reserved per write to the schedule: about a second's worth, so a
/// backlog costs the store one write a second, not one per delivery.
fn block_len(limit: RateLimit) -> u32 {
    let per_second = Duration::from_secs(1).as_micros() / limit.interval().as_micros().max(1);
    per_second.clamp(1, 100) as u32
}

/// The next slot for `subscription` (unix µs): from this process's block,
/// or from a new block reserved in the store. A block whose next slot has
/// passed is dropped (handing it out late would put two deliveries closer
/// than the limit's spacing); its slots are left unused.
pub async fn take_slot(
    block: &tokio::sync::Mutex<Block>,
    store: &dyn Store,
    subscription: &str,
    limit: RateLimit,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let mut b = block.lock().await;
    let spacing = limit.interval().as_micros() as i64;
    let now_us = now.timestamp_micros();
    if b.next >= now_us && b.next < b.end {
        let slot = b.next;
        b.next += spacing;
        return Ok(slot);
    }
    let n = block_len(limit);
    let start = reserve_block(store, subscription, limit.interval() * n, now).await?;
    *b = Block {
        next: start + spacing,
        end: start + spacing * i64::from(n),
    };
    Ok(start)
}

/// Reserves `span` of `subscription`'s schedule; returns its start (unix µs).
async fn reserve_block(
    store: &dyn Store,
    subscription: &str,
    span: Duration,
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
        let (slot, after) = control::reserve(next, now_us, span);
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
