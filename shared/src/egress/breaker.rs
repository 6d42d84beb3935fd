//! A subscription's circuit breaker, kept in the store beside the 410
//! markers (sk = [`BREAKER_SK`] + subscription id) so every process sees
//! it within [`super::gone_cache::REFRESH`]. What it allows and how a
//! failure moves it is [`BreakerState`]'s, without I/O; this file reads
//! and writes it. A closed breaker that stays closed costs no request: only
//! failures, and the first success after one, write.

use super::control::{Breaker, BreakerState, HOLD};
pub use super::log::BREAKER_SK;
use super::log::MARKERS_PK;
use super::EgressStage;
use crate::config::delivery_control::{self, Breaker as Config};
use crate::ports::{Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// The breakers among the items of the markers' partition.
pub fn from_items(items: &[Item]) -> HashMap<String, BreakerState> {
    items
        .iter()
        .filter_map(|i| {
            let id = i.sk.strip_prefix(BREAKER_SK)?;
            Some((
                id.to_string(),
                serde_json::from_value(i.value.clone()).ok()?,
            ))
        })
        .collect()
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
                return Ok(Some(HOLD));
            }
            let claimed = BreakerState {
                probe_at: Some(now_ms),
                ..stored
            };
            if write(store, id, &claimed, version, now).await? {
                stage.gone.set_breaker(id, claimed).await;
                Ok(None)
            } else {
                Ok(Some(HOLD))
            }
        }
    }
}

/// What an attempt says of the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Delivered,
    Failed,
    /// 410 Gone: the subscription stops by its marker; the breaker is left.
    Gone,
}

/// Moves the breaker by an attempt's answer. Failing to store it is
/// logged, not retried: the attempt is made, and a retry would make it again.
pub async fn report(
    stage: &EgressStage,
    id: &str,
    config: &Config,
    answer: Answer,
    now: DateTime<Utc>,
) {
    if !config.enabled {
        return;
    }
    if let Err(e) = moved(stage, id, config, answer, now).await {
        tracing::error!(subscription = %id, error = %e, "the circuit breaker could not be updated");
    }
}

async fn moved(
    stage: &EgressStage,
    id: &str,
    config: &Config,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let store = stage.backend.store.as_ref();
    for _ in 0..10 {
        let next = match answer {
            Answer::Gone => return Ok(()),
            Answer::Delivered => {
                let cached = stage.gone.breakers(store, now).await?;
                if cached.get(id).is_none_or(|b| *b == BreakerState::default()) {
                    return Ok(());
                }
                None
            }
            Answer::Failed => Some(()),
        };
        let (stored, version) = read(store, id, now).await?;
        let state = match next {
            None => BreakerState::default(),
            Some(()) => stored.failed(
                config.failures,
                config.cooldown.as_duration(),
                delivery_control::MAX_COOLDOWN,
                now.timestamp_millis(),
            ),
        };
        if write(store, id, &state, version, now).await? {
            if state.is_open() && !stored.is_open() {
                tracing::warn!(subscription = %id, failures = state.failures, cooldown_ms = state.cooldown_ms, "circuit breaker open: no request until the cool-down ends");
            }
            stage.gone.set_breaker(id, state).await;
            return Ok(());
        }
    }
    Ok(())
}
