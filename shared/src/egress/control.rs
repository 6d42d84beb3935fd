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
    log::records_from(items, CONTROL_SK)
}

/// Every stored control record, by subscription id, read now.
pub async fn load_all(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<HashMap<String, Control>, StoreError> {
    Ok(from_items(&log::markers_partition(store, now).await?))
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
    /// When an attempt last delivered, to the minute ([`SUCCESS_EVERY_MS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<i64>,
    /// The last failed attempt's error (at most [`ERROR_KEPT`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<i64>,
    /// The first failed attempt since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<i64>,
    /// Disabled then, for failing `disableAfter` without a success: its
    /// deliveries are held until an operator enables it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<i64>,
}

/// A success is written when the breaker was not closed and clean, or the
/// stored last success is older than this: at most one write a minute per
/// process for a healthy subscription.
pub const SUCCESS_EVERY_MS: i64 = 60_000;
/// How much of an error a subscription's record keeps.
pub const ERROR_KEPT: usize = 200;

/// A probe that has not reported after this long is given up on, and
/// another may go.
pub const PROBE_TIMEOUT_MS: i64 = 120_000;
/// How long a job waits while another job's probe is out: short, so the
/// held deliveries follow soon after a probe closes the breaker.
pub const PROBE_WAIT: Duration = Duration::from_secs(1);

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
                Some(at) if now - at < PROBE_TIMEOUT_MS => Breaker::Open(PROBE_WAIT),
                _ => Breaker::Probe,
            },
        }
    }

    /// After a failed attempt: opens at `failures` in a row; a failed probe
    /// reopens it for twice as long, up to `max`. A failure of an attempt
    /// that was already under way when it opened only counts.
    pub fn failed(&self, failures: u32, cooldown: Duration, max: Duration, now: i64) -> Self {
        let count = self.failures.saturating_add(1);
        if self.is_open() && self.probe_at.is_none() {
            return BreakerState {
                failures: count,
                ..self.clone()
            };
        }
        let wait = if self.is_open() {
            (self.cooldown_ms.saturating_mul(2)).min(max.as_millis() as u64)
        } else if count >= failures {
            cooldown.min(max).as_millis() as u64
        } else {
            return BreakerState {
                failures: count,
                open_until: None,
                cooldown_ms: 0,
                probe_at: None,
                ..self.clone()
            };
        };
        BreakerState {
            failures: count,
            open_until: Some(now + wait as i64),
            cooldown_ms: wait,
            probe_at: None,
            ..self.clone()
        }
    }

    /// Keeps a failed attempt's error and when it failed, breaker or not.
    pub fn noted_failure(self, error: &str, now: i64) -> Self {
        BreakerState {
            last_error: Some(error.chars().take(ERROR_KEPT).collect()),
            last_error_at: Some(now),
            failing_since: self.failing_since.or(Some(now)),
            ..self
        }
    }

    /// Disabled at `now` if it has failed `after` without a success.
    pub fn disabled_if_failing(self, after: Option<Duration>, now: i64) -> Self {
        let long = |since: i64| after.is_some_and(|a| now - since >= a.as_millis() as i64);
        if self.disabled_at.is_none() && self.failing_since.is_some_and(long) {
            BreakerState {
                disabled_at: Some(now),
                ..self
            }
        } else {
            self
        }
    }

    /// Enabled again by an operator: not disabled, closed, failing afresh.
    pub fn enabled(&self) -> Self {
        BreakerState {
            last_success_at: self.last_success_at,
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at,
            ..Default::default()
        }
    }

    /// After a delivered attempt: closed, nothing failing.
    pub fn delivered(&self, now: i64) -> Self {
        BreakerState {
            last_success_at: Some(now),
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at,
            ..Default::default()
        }
    }

    /// Whether a success at `now` changes what is stored enough to write.
    pub fn success_worth_writing(&self, now: i64) -> bool {
        self.failures > 0
            || self.is_open()
            || self.failing_since.is_some()
            || self
                .last_success_at
                .is_none_or(|t| now - t >= SUCCESS_EVERY_MS)
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
            Breaker::Open(PROBE_WAIT),
            "one probe at a time"
        );
        // A straggler's failure, under way when it opened, moves nothing.
        let straggler = b.failed(5, s, MIN, 2_000);
        assert_eq!(
            straggler.allows(2_000),
            Breaker::Open(Duration::from_secs(29))
        );
        // A failed probe doubles the cool-down, up to ten minutes.
        let again = probing.failed(5, s, MIN, 40_000);
        assert_eq!(again.allows(40_000), Breaker::Open(Duration::from_secs(60)));
        let mut long = again;
        for _ in 0..10 {
            long = BreakerState {
                probe_at: Some(0),
                ..long.failed(5, s, MIN, 0)
            };
        }
        assert_eq!(long.cooldown_ms, 600_000);
    }

    #[test]
    fn the_record_keeps_the_last_error_the_last_success_and_how_long_it_fails() {
        let b = BreakerState::default().noted_failure(&"x".repeat(500), 1_000);
        let b = b.failed(5, Duration::from_secs(30), MIN, 1_000);
        assert_eq!(b.last_error.as_ref().map(String::len), Some(ERROR_KEPT));
        let b = b.noted_failure("HTTP 503", 9_000);
        assert_eq!(
            (b.failing_since, b.last_error_at, b.failures),
            (Some(1_000), Some(9_000), 1)
        );
        assert!(b.success_worth_writing(10_000));
        let ok = b.delivered(10_000);
        assert_eq!((ok.failures, ok.failing_since), (0, None));
        assert_eq!(ok.last_error.as_deref(), Some("HTTP 503"));
        assert!(!ok.success_worth_writing(10_000 + SUCCESS_EVERY_MS - 1));
        assert!(ok.success_worth_writing(10_000 + SUCCESS_EVERY_MS));
    }

    #[test]
    fn failing_without_a_success_for_disable_after_disables_and_enabling_lifts_it() {
        let day = Some(Duration::from_secs(86_400));
        let b = BreakerState::default().noted_failure("HTTP 500", 0);
        let b = b.disabled_if_failing(day, 86_399_999);
        assert_eq!(b.disabled_at, None, "not yet");
        let b = b.disabled_if_failing(day, 86_400_000);
        assert_eq!(b.disabled_at, Some(86_400_000));
        assert_eq!(
            b.clone().disabled_if_failing(None, 9e9 as i64).disabled_at,
            Some(86_400_000)
        );
        let again = b.enabled();
        assert_eq!((again.disabled_at, again.failing_since), (None, None));
        assert_eq!(
            BreakerState::default()
                .disabled_if_failing(day, 9e9 as i64)
                .disabled_at,
            None
        );
    }
}
