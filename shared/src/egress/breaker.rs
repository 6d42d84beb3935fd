//! A subscription's circuit breaker, kept in the store beside the 410
//! markers (sk = [`BREAKER_SK`] + subscription id) so every process sees
//! it within [`super::gone_cache::REFRESH`]. What it allows and how a
//! failure moves it is [`BreakerState`]'s, without I/O; this file reads
//! and writes it. A closed breaker that stays closed costs no request: only
//! failures, and the first success after one, write.

use super::control::{Breaker, BreakerState, PROBE_WAIT};
use super::disabled;
pub use super::log::BREAKER_SK;
use super::log::MARKERS_PK;
use super::EgressStage;
use crate::config::{delivery_control, Outgoing};
use crate::ports::{Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// The breakers among the items of the markers' partition.
pub fn from_items(items: &[Item]) -> HashMap<String, BreakerState> {
    super::log::records_from(items, BREAKER_SK)
}

/// Every stored breaker, by subscription id, read now.
pub async fn load_all(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<HashMap<String, BreakerState>, StoreError> {
    Ok(from_items(
        &super::log::markers_partition(store, now).await?,
    ))
}

/// Sets the breaker gauge of each configured subscription, at a scrape.
pub async fn observe(
    store: &dyn Store,
    outgoing: &[crate::config::Outgoing],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let all = load_all(store, now).await?;
    for o in outgoing.iter().filter(|o| o.breaker.enabled) {
        let state = all.get(&o.id).cloned().unwrap_or_default();
        crate::telemetry::breaker_observed(&o.id, state.label(now.timestamp_millis()));
    }
    Ok(())
}

async fn read(
    store: &dyn Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(BreakerState, u64), StoreError> {
    let item = store
        .get(
            Table::Deliveries,
            MARKERS_PK,
            &format!("{BREAKER_SK}{id}"),
            now.timestamp(),
        )
        .await?;
    Ok(item
        .map(|i| {
            (
                serde_json::from_value(i.value).unwrap_or_default(),
                i.version,
            )
        })
        .unwrap_or_default())
}

async fn write(
    store: &dyn Store,
    id: &str,
    state: &BreakerState,
    version: u64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let value = serde_json::to_value(state).expect("breakers serialize");
    let item = Item::new(MARKERS_PK, format!("{BREAKER_SK}{id}"), value);
    let written = store
        .put_if_version(Table::Deliveries, item, version, now.timestamp())
        .await?;
    Ok(written.is_some())
}

/// Whether the breaker lets a job of `id` through now: `None` yes, or
/// `Some(wait)` to put it back for. Half-open, the one job that claims the
/// probe in the store goes.
pub async fn admit(
    stage: &EgressStage,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, StoreError> {
    let store = stage.backend.store.as_ref();
    let cached = stage.gone.breakers(store, now).await?;
    let state = cached.get(id).cloned().unwrap_or_default();
    let now_ms = now.timestamp_millis();
    match state.allows(now_ms) {
        Breaker::Closed => Ok(None),
        Breaker::Open(wait) => Ok(Some(wait.max(Duration::from_millis(100)))),
        Breaker::Probe => {
            let (stored, version) = read(store, id, now).await?;
            if stored.allows(now_ms) != Breaker::Probe {
                stage.gone.set_breaker(id, stored).await;
                return Ok(Some(PROBE_WAIT));
            }
            let claimed = BreakerState {
                probe_at: Some(now_ms),
                ..stored
            };
            if write(store, id, &claimed, version, now).await? {
                stage.gone.set_breaker(id, claimed).await;
                Ok(None)
            } else {
                Ok(Some(PROBE_WAIT))
            }
        }
    }
}

/// What an attempt says of the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    Delivered,
    /// Failed, with its error.
    Failed(&'a str),
    /// 410 Gone: the subscription stops by its marker; the breaker is left.
    Gone,
}

/// Moves the subscription's record by an attempt's answer: the breaker (if
/// on), the last error or success, and whether it is disabled for failing
/// too long (then an `endpoint_disabled` event goes to the others). Failing
/// to store it is logged, not retried: the attempt is made, and a retry
/// would make it again.
pub async fn report(
    stage: &EgressStage,
    id: &str,
    sub: &Outgoing,
    answer: Answer<'_>,
    now: DateTime<Utc>,
) {
    match moved(stage, id, sub, answer, now).await {
        Ok(Some(disabled)) => disabled::announce(stage, id, &disabled, now).await,
        Ok(None) => {}
        Err(e) => {
            tracing::error!(subscription = %id, error = %e, "the subscription's circuit breaker could not be updated")
        }
    }
}

/// The record after `answer`, or `None` when nothing worth a write changed.
fn next_state(
    stored: &BreakerState,
    sub: &Outgoing,
    answer: Answer<'_>,
    now: i64,
) -> Option<BreakerState> {
    let config = &sub.breaker;
    match answer {
        Answer::Gone => None,
        Answer::Delivered => stored
            .success_worth_writing(now)
            .then(|| stored.delivered(now)),
        Answer::Failed(error) => {
            let counted = if config.enabled {
                let max = delivery_control::MAX_COOLDOWN;
                stored.failed(config.failures, config.cooldown.as_duration(), max, now)
            } else {
                stored.clone()
            };
            let after = sub.disable_after.map(|s| s.as_duration());
            Some(
                counted
                    .noted_failure(error, now)
                    .disabled_if_failing(after, now),
            )
        }
    }
}

/// Stores the move; `Some(record)` when it disabled the subscription.
async fn moved(
    stage: &EgressStage,
    id: &str,
    sub: &Outgoing,
    answer: Answer<'_>,
    now: DateTime<Utc>,
) -> Result<Option<BreakerState>, StoreError> {
    let store = stage.backend.store.as_ref();
    let now_ms = now.timestamp_millis();
    let cached = stage.gone.breakers(store, now).await?;
    let known = cached.get(id).cloned().unwrap_or_default();
    if next_state(&known, sub, answer, now_ms).is_none() {
        return Ok(None);
    }
    for _ in 0..10 {
        let (stored, version) = read(store, id, now).await?;
        let Some(state) = next_state(&stored, sub, answer, now_ms) else {
            stage.gone.set_breaker(id, stored).await;
            return Ok(None);
        };
        if write(store, id, &state, version, now).await? {
            if state.is_open() && !stored.is_open() {
                tracing::warn!(subscription = %id, failures = state.failures, cooldown_ms = state.cooldown_ms, "circuit breaker open: no request until the cool-down ends");
            }
            stage.gone.set_breaker(id, state.clone()).await;
            let newly = state.disabled_at.is_some() && stored.disabled_at.is_none();
            return Ok(newly.then_some(state));
        }
    }
    Ok(None)
}

/// An operator enables `id` again: its held deliveries go on their next
/// round (within [`super::control::HOLD`] plus the cache's refresh).
pub async fn enable(
    store: &dyn Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<BreakerState, StoreError> {
    for _ in 0..10 {
        let (stored, version) = read(store, id, now).await?;
        let state = stored.enabled();
        if write(store, id, &state, version, now).await? {
            return Ok(state);
        }
    }
    // Deliveries moving it all the while: the operator's word wins.
    let state = read(store, id, now).await?.0.enabled();
    let value = serde_json::to_value(&state).expect("breakers serialize");
    let item = Item::new(MARKERS_PK, format!("{BREAKER_SK}{id}"), value);
    store.put(Table::Deliveries, item).await?;
    Ok(state)
}
