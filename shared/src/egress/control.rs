//! Operator control of a subscription's deliveries: pause and resume.
//!
//! The state is a record in the store (the `deliveries` table, beside the
//! 410 markers: pk = [`log::MARKERS_PK`], sk = [`CONTROL_SK`] + subscription
//! id), so it survives a restart and holds on every process and Lambda
//! instance that delivers, and the one read that refreshes the markers
//! ([`super::gone_cache`], every few seconds per process) reads it too: a
//! delivery costs no extra request. A subscription without a record is
//! active.
//!
//! A paused subscription's delivery jobs are not attempted: each is put
//! back on the delivery queue unchanged, due again after [`HOLD`] ([`gate`]
//! decides), so it keeps its attempt count, is never dead-lettered while
//! held and is logged nowhere. Resuming removes nothing: the held jobs are
//! attempted when they next come round, within [`HOLD`].

use super::log;
use crate::event::timestamp;
use crate::ports::{Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

pub use super::log::CONTROL_SK;
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

/// The control records among the items of the markers' partition, by
/// subscription id.
pub fn from_items(items: &[Item]) -> HashMap<String, Control> {
    items
        .iter()
        .filter_map(|i| {
            let id = i.sk.strip_prefix(CONTROL_SK)?;
            Some((
                id.to_string(),
                serde_json::from_value(i.value.clone()).ok()?,
            ))
        })
        .collect()
}

/// Every stored control record, by subscription id, read now.
pub async fn load_all(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<HashMap<String, Control>, StoreError> {
    let items = store
        .query(Table::Deliveries, log::MARKERS_PK, 10_000, now.timestamp())
        .await?;
    Ok(from_items(&items))
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
            Item::new(
                log::MARKERS_PK,
                format!("{CONTROL_SK}{subscription}"),
                value,
            ),
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
    fn control_records_are_told_from_the_410_markers_beside_them() {
        let marker = log::DisabledMarker::gone("crm", "http://x", Utc::now());
        let items = [
            Item::new(
                log::MARKERS_PK,
                "crm",
                serde_json::to_value(&marker).unwrap(),
            ),
            Item::new(
                log::MARKERS_PK,
                "#control/crm",
                serde_json::json!({"state": "paused"}),
            ),
        ];
        let all = from_items(&items);
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all["crm"].state, RunState::Paused);
        assert_eq!(log::markers_from(&items).len(), 1);
    }

    #[test]
    fn a_record_without_a_state_reads_as_active() {
        let c: Control = serde_json::from_str("{}").unwrap();
        assert_eq!(c.state, RunState::Active);
        let p: Control = serde_json::from_str(r#"{"state":"paused"}"#).unwrap();
        assert_eq!(p.state, RunState::Paused);
    }
}

/// A rate-limited subscription's schedule: the slot a delivery takes, in
/// unix microseconds, given the next free one (`None`: never used) and the
/// limit's spacing, and the next free slot after it. Slots are spaced by
/// `interval` whoever takes them, so no one-second window holds more
/// than the limit.
pub fn reserve(next_free: Option<i64>, now: i64, interval: Duration) -> (i64, i64) {
    let slot = next_free.map_or(now, |n| n.max(now));
    (slot, slot + interval.as_micros() as i64)
}

/// What a rate-limited job does when it comes round with its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Its slot has come: attempt it.
    Go,
    /// Its slot is this close: wait it out in place, then attempt it.
    Wait(Duration),
    /// Its slot is further: put it back, due then.
    Later(Duration),
}

/// The longest wait for a slot spent in place rather than on the queue.
pub const WAIT_IN_PLACE: Duration = Duration::from_secs(1);

/// How a job whose slot is at `slot` (unix µs) goes at `now`.
pub fn pace(slot: i64, now: i64) -> Pace {
    let ahead = Duration::from_micros(slot.saturating_sub(now).max(0) as u64);
    if ahead.is_zero() {
        Pace::Go
    } else if ahead < WAIT_IN_PLACE {
        Pace::Wait(ahead)
    } else {
        Pace::Later(ahead)
    }
}

#[cfg(test)]
mod pacing {
    use super::*;

    #[test]
    fn slots_are_spaced_by_the_interval_from_now_on() {
        let tenth = Duration::from_millis(100);
        let (a, next) = reserve(None, 1_000_000, tenth);
        assert_eq!((a, next), (1_000_000, 1_100_000));
        let (b, next) = reserve(Some(next), 1_000_010, tenth);
        assert_eq!((b, next), (1_100_000, 1_200_000));
        // After a quiet spell the schedule starts again at now: no burst
        // of saved-up slots.
        assert_eq!(reserve(Some(next), 5_000_000, tenth).0, 5_000_000);
        // 40 slots at 10/s: at most 10 in any one-second window.
        let mut next = None;
        let slots: Vec<i64> = (0..40)
            .map(|_| {
                let (s, n) = reserve(next, 0, tenth);
                next = Some(n);
                s
            })
            .collect();
        for &start in &slots {
            let inside = slots
                .iter()
                .filter(|&&s| s >= start && s < start + 1_000_000);
            assert!(inside.count() <= 10);
        }
    }

    #[test]
    fn a_near_slot_is_waited_out_and_a_far_one_queued() {
        assert_eq!(pace(100, 100), Pace::Go);
        assert_eq!(pace(50, 100), Pace::Go);
        assert_eq!(pace(300_100, 100), Pace::Wait(Duration::from_millis(300)));
        assert_eq!(pace(2_000_100, 100), Pace::Later(Duration::from_secs(2)));
    }
}

/// A subscription's circuit breaker as stored (times in unix ms).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakerState {
    /// Failed attempts in a row.
    #[serde(default)]
    pub failures: u32,
    /// Open until then; past it, half-open (one probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_until: Option<i64>,
    /// The cool-down of the last opening, in ms (doubles per failed probe).
    #[serde(default)]
    pub cooldown_ms: u64,
    /// When a probe was let through (half-open), so only one goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_at: Option<i64>,
}

/// A probe that has not reported after this long is given up on, and
/// another may go.
pub const PROBE_TIMEOUT_MS: i64 = 120_000;

/// What the breaker lets a job do at `now` (unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breaker {
    /// Closed: attempt it.
    Closed,
    /// Open, or a probe is out: put it back for this long.
    Open(Duration),
    /// Half-open: this attempt may be the one probe, if it claims it.
    Probe,
}

impl BreakerState {
    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    /// `closed`, `open` or `half_open` at `now` (unix ms), for listings.
    pub fn label(&self, now: i64) -> &'static str {
        match self.open_until {
            None => "closed",
            Some(until) if until > now => "open",
            Some(_) => "half_open",
        }
    }

    pub fn allows(&self, now: i64) -> Breaker {
        match self.open_until {
            None => Breaker::Closed,
            Some(until) if until > now => Breaker::Open(ms(until - now)),
            Some(_) => match self.probe_at {
                Some(at) if now - at < PROBE_TIMEOUT_MS => Breaker::Open(HOLD),
                _ => Breaker::Probe,
            },
        }
    }

    /// After a failed attempt: opens at `failures` in a row; a failed probe
    /// reopens it for twice as long, up to `max`.
    pub fn failed(&self, failures: u32, cooldown: Duration, max: Duration, now: i64) -> Self {
        let count = self.failures.saturating_add(1);
        let wait = if self.is_open() {
            (self.cooldown_ms.saturating_mul(2)).min(max.as_millis() as u64)
        } else if count >= failures {
            cooldown.min(max).as_millis() as u64
        } else {
            return BreakerState {
                failures: count,
                ..Default::default()
            };
        };
        BreakerState {
            failures: count,
            open_until: Some(now + wait as i64),
            cooldown_ms: wait,
            probe_at: None,
        }
    }
}

fn ms(n: i64) -> Duration {
    Duration::from_millis(n.max(0) as u64)
}

#[cfg(test)]
mod breaking {
    use super::*;

    const MIN: Duration = Duration::from_secs(600);

    #[test]
    fn it_opens_after_so_many_failures_and_probes_after_the_cooldown() {
        let s = Duration::from_secs(30);
        let mut b = BreakerState::default();
        for _ in 0..4 {
            b = b.failed(5, s, MIN, 0);
            assert_eq!(b.allows(0), Breaker::Closed);
        }
        b = b.failed(5, s, MIN, 1_000);
        assert_eq!(b.allows(1_000), Breaker::Open(s));
        assert_eq!(b.label(1_000), "open");
        assert_eq!(b.allows(31_000), Breaker::Probe);
        let probing = BreakerState {
            probe_at: Some(31_000),
            ..b.clone()
        };
        assert_eq!(
            probing.allows(32_000),
            Breaker::Open(HOLD),
            "one probe at a time"
        );
        // A failed probe doubles the cool-down, up to ten minutes.
        let again = probing.failed(5, s, MIN, 40_000);
        assert_eq!(again.allows(40_000), Breaker::Open(Duration::from_secs(60)));
        let mut long = again;
        for _ in 0..10 {
            long = long.failed(5, s, MIN, 0);
        }
        assert_eq!(long.cooldown_ms, 600_000);
    }
}
