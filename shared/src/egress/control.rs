//! Operator control of a subscription's deliveries: pause and resume.
//!
//! The state is a record in the store (the `deliveries` table, pk =
//! [`CONTROL_PK`], sk = subscription id), so it survives a restart and holds
//! on every process and Lambda instance that delivers. A subscription
//! without a record is active.
//!
//! A paused subscription's delivery jobs are not attempted: each is put
//! back on the delivery queue unchanged, due again after [`HOLD`] ([`gate`]
//! decides), so it keeps its attempt count, is never dead-lettered while
//! held and is logged nowhere. Resuming removes nothing: the held jobs are
//! attempted when they next come round, within [`HOLD`].

use crate::event::timestamp;
use crate::ports::{Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// Partition of the control records; not a UUID, so never an event id.
pub const CONTROL_PK: &str = "#control";
/// How long a held job waits before it looks at the state again.
pub const HOLD: Duration = Duration::from_secs(5);

/// Whether an operator holds a subscription's deliveries.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    #[default]
    Active,
    Paused,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Active => "active",
            RunState::Paused => "paused",
        }
    }
}

/// The stored control record of one subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    #[serde(default)]
    pub state: RunState,
    /// When the state last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
}

/// What a delivery job does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Attempt it.
    Go,
    /// Put it back unchanged, due again after this long.
    Hold(Duration),
}

/// Whether a job of a subscription in `control` may be attempted now.
pub fn gate(control: &Control) -> Gate {
    match control.state {
        RunState::Active => Gate::Go,
        RunState::Paused => Gate::Hold(HOLD),
    }
}

/// The control record of `subscription` (active when none is stored).
pub async fn load(
    store: &dyn Store,
    subscription: &str,
    now: DateTime<Utc>,
) -> Result<Control, StoreError> {
    let item = store
        .get(Table::Deliveries, CONTROL_PK, subscription, now.timestamp())
        .await?;
    Ok(item
        .and_then(|i| serde_json::from_value(i.value).ok())
        .unwrap_or_default())
}

/// Every stored control record, by subscription id.
pub async fn load_all(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<HashMap<String, Control>, StoreError> {
    let items = store
        .query(Table::Deliveries, CONTROL_PK, 10_000, now.timestamp())
        .await?;
    Ok(items
        .into_iter()
        .filter_map(|i| Some((i.sk, serde_json::from_value(i.value).ok()?)))
        .collect())
}

/// Sets `subscription`'s state; returns the record as stored.
pub async fn set(
    store: &dyn Store,
    subscription: &str,
    state: RunState,
    now: DateTime<Utc>,
) -> Result<Control, StoreError> {
    let control = Control {
        state,
        changed_at: Some(timestamp(now)),
    };
    let value = serde_json::to_value(&control).expect("control records serialize");
    store
        .put(
            Table::Deliveries,
            Item::new(CONTROL_PK, subscription, value),
        )
        .await?;
    Ok(control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_paused_subscription_holds_its_jobs() {
        assert_eq!(gate(&Control::default()), Gate::Go);
        let paused = Control {
            state: RunState::Paused,
            changed_at: None,
        };
        assert_eq!(gate(&paused), Gate::Hold(HOLD));
    }

    #[test]
    fn a_record_without_a_state_reads_as_active() {
        let c: Control = serde_json::from_str("{}").unwrap();
        assert_eq!(c.state, RunState::Active);
        let p: Control = serde_json::from_str(r#"{"state":"paused"}"#).unwrap();
        assert_eq!(p.state, RunState::Paused);
    }
}
