//! Abuse limits: how many hits a key (a hook, a source address) may make per
//! window. The decision is a pure function of the count so far and the
//! time; where the count lives is the limiter's business: in memory for the
//! one-process server, in the `Limits` table (with TTL) when several Lambda
//! instances must share it.
//!
//! The rule is a fixed window aligned to the epoch (minute 12:03 is one
//! window). It can let through up to twice the limit across a window edge,
//! which is acceptable for abuse control and keeps the state one counter.

use crate::config::error::ConfigError;
pub use crate::ports::limiter::{Decision, FixedWindow, Limiter};
use crate::ports::{Item, Store, StoreError, Table};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

/// `rateLimit` on a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Hooks accepted per minute; the next ones get 429 with `Retry-After`.
    pub per_minute: u32,
}

impl RateLimit {
    pub fn rule(&self) -> FixedWindow {
        FixedWindow {
            limit: self.per_minute,
            window_secs: 60,
        }
    }

    pub fn check(&self, at: &str) -> Vec<ConfigError> {
        if self.per_minute == 0 {
            vec![ConfigError::new(
                format!("{at}.perMinute"),
                "must be at least 1; disable the handler to refuse every hook",
            )]
        } else {
            Vec::new()
        }
    }
}

/// Failed authentications one source may make before it is refused.
pub const AUTH_FAILURES: FixedWindow = FixedWindow {
    limit: 20,
    window_secs: 60,
};

/// The rule's arithmetic, here beside the rules; the type is the
/// limiter port's vocabulary.
impl FixedWindow {
    fn width(&self) -> i64 {
        i64::from(self.window_secs.max(1))
    }

    /// Start (unix seconds) of the window `now` falls in.
    pub fn window_start(&self, now: i64) -> i64 {
        now.div_euclid(self.width()) * self.width()
    }

    /// The decision for a hit that finds `count` hits already counted in
    /// the current window.
    pub fn decide(&self, count: u64, now: i64) -> Decision {
        if count < u64::from(self.limit) {
            Decision::Allow {
                remaining: (u64::from(self.limit) - count - 1) as u32,
            }
        } else {
            let end = self.window_start(now) + self.width();
            Decision::Deny {
                retry_after_secs: (end - now).max(1) as u64,
            }
        }
    }
}

/// Counters in this process: the local server.
///
/// Memory is bounded whatever the traffic: a key is kept as a 64-bit
/// keyed hash (not its text), at most [`MAX_KEYS`] counters live at once,
/// and counters of finished windows are dropped when room is needed (at
/// most once a second, so a flood of new keys costs O(1) each). Past the
/// bound, a new key is let through uncounted: these limits throttle, they
/// never decide who is authenticated, and failing open keeps an attacker
/// with many addresses from refusing anyone else.
#[derive(Debug, Default)]
pub struct MemoryLimiter {
    state: Mutex<Counters>,
    hasher: RandomState,
}

#[derive(Debug, Default)]
struct Counters {
    /// key hash → counter
    counts: HashMap<u64, Counter>,
    /// When finished windows were last dropped (unix seconds).
    pruned_at: i64,
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    start: i64,
    end: i64,
    count: u64,
}

/// The most counters the memory limiter keeps: ~40 bytes each, so a few
/// MB at most, and room for 100,000 sources a minute with every one counted.
pub const MAX_KEYS: usize = 200_000;

impl MemoryLimiter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counters alive now.
    pub fn len(&self) -> usize {
        self.state.lock().expect("limiter lock").counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts (when `add`) and decides under one lock: concurrent hits
    /// never both take the last place. A peek stores nothing.
    fn count(&self, key: &str, rule: FixedWindow, now: i64, add: bool) -> Decision {
        let start = rule.window_start(now);
        let hash = self.hasher.hash_one(key);
        let mut state = self.state.lock().expect("limiter lock");
        let current = state
            .counts
            .get(&hash)
            .filter(|c| c.start == start)
            .map_or(0, |c| c.count);
        let decision = rule.decide(current, now);
        if !add || !decision.allowed() {
            return decision;
        }
        if !state.counts.contains_key(&hash) && !state.make_room(now) {
            return decision;
        }
        state.counts.insert(
            hash,
            Counter {
                start,
                end: start + rule.width(),
                count: current + 1,
            },
        );
        decision
    }
}

impl Counters {
    /// Whether a new counter fits, dropping finished ones if need be.
    fn make_room(&mut self, now: i64) -> bool {
        if self.counts.len() < MAX_KEYS {
            return true;
        }
        if self.pruned_at != now {
            self.pruned_at = now;
            self.counts.retain(|_, c| c.end > now);
        }
        self.counts.len() < MAX_KEYS
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    async fn hit(&self, key: &str, rule: FixedWindow, now: i64) -> Result<Decision, StoreError> {
        Ok(self.count(key, rule, now, true))
    }
    async fn peek(&self, key: &str, rule: FixedWindow, now: i64) -> Result<Decision, StoreError> {
        Ok(self.count(key, rule, now, false))
    }
}

/// Counters in the store's `Limits` table, shared by every instance: one
/// item per (key, window), expiring a window after it ends. Increments are
/// optimistic (`put_if_version`); a hit that keeps losing the race is
/// refused, the safe side under a flood.
pub struct StoreLimiter {
    store: Arc<dyn Store>,
}

/// Attempts of one increment before it is taken as contention.
const CAS_ATTEMPTS: usize = 8;

impl StoreLimiter {
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreLimiter { store }
    }

    async fn current(
        &self,
        key: &str,
        rule: FixedWindow,
        now: i64,
    ) -> Result<(String, u64, u64), StoreError> {
        let sk = rule.window_start(now).to_string();
        let item = self.store.get(Table::Limits, key, &sk, now).await?;
        let (count, version) = item
            .map(|i| (i.value["count"].as_u64().unwrap_or(0), i.version))
            .unwrap_or((0, 0));
        Ok((sk, count, version))
    }
}

#[async_trait]
impl Limiter for StoreLimiter {
    async fn hit(&self, key: &str, rule: FixedWindow, now: i64) -> Result<Decision, StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let (sk, count, version) = self.current(key, rule, now).await?;
            let decision = rule.decide(count, now);
            if !decision.allowed() {
                return Ok(decision);
            }
            let expires = rule.window_start(now) + 2 * rule.width();
            let item = Item::new(key, sk, json!({ "count": count + 1 })).expires_at(expires);
            if self
                .store
                .put_if_version(Table::Limits, item, version, now)
                .await?
                .is_some()
            {
                return Ok(decision);
            }
        }
        Ok(Decision::Deny {
            retry_after_secs: 1,
        })
    }

    async fn peek(&self, key: &str, rule: FixedWindow, now: i64) -> Result<Decision, StoreError> {
        let (_, count, _) = self.current(key, rule, now).await?;
        Ok(rule.decide(count, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RULE: FixedWindow = FixedWindow {
        limit: 3,
        window_secs: 60,
    };

    #[tokio::test]
    async fn memory_limiter_refuses_past_the_limit_until_the_window_ends() {
        let l = MemoryLimiter::new();
        let t0 = 1_700_000_020; // 40 s into a minute
        for remaining in [2, 1, 0] {
            assert_eq!(
                l.hit("hook:a", RULE, t0).await.unwrap(),
                Decision::Allow { remaining }
            );
        }
        assert_eq!(
            l.hit("hook:a", RULE, t0 + 5).await.unwrap(),
            Decision::Deny {
                retry_after_secs: 15
            }
        );
        // Another key has its own count.
        assert!(l.hit("hook:b", RULE, t0).await.unwrap().allowed());
        // Refused hits are not counted; the next window starts afresh.
        assert!(l.hit("hook:a", RULE, t0 + 20).await.unwrap().allowed());
    }

    #[tokio::test]
    async fn peek_does_not_count() {
        let l = MemoryLimiter::new();
        for _ in 0..10 {
            assert!(l.peek("ip", RULE, 0).await.unwrap().allowed());
        }
        assert!(l.is_empty(), "a peek stores no counter");
        for _ in 0..3 {
            l.hit("ip", RULE, 0).await.unwrap();
        }
        assert!(!l.peek("ip", RULE, 1).await.unwrap().allowed());
    }

    /// 100,000 distinct sources in one minute are each counted, cheaply;
    /// three times the bound in one window never grows the map past it,
    /// and the next window's keys find room again.
    #[test]
    fn a_flood_of_distinct_keys_stays_cheap_and_bounded() {
        let l = MemoryLimiter::default();
        let t0 = 1_700_000_000;
        let began = std::time::Instant::now();
        for i in 0..100_000u32 {
            let key = format!("auth-failures:{}", std::net::Ipv4Addr::from(i));
            assert!(l.count(&key, RULE, t0, true).allowed());
        }
        let took = began.elapsed();
        eprintln!("limiter: 100,000 distinct sources counted in {took:?}");
        assert_eq!(l.len(), 100_000);
        assert!(
            took < std::time::Duration::from_secs(5),
            "100,000 sources took {took:?}"
        );
        // Each is counted: the first key is at 1 of 3.
        assert_eq!(
            l.count("auth-failures:0.0.0.0", RULE, t0, false),
            Decision::Allow { remaining: 1 }
        );
        for i in 100_000..3 * MAX_KEYS as u32 {
            l.count(&format!("k{i}"), RULE, t0, true);
        }
        assert_eq!(l.len(), MAX_KEYS);
        assert!(l.count("late", RULE, t0 + 60, true).allowed());
        assert!(l.len() < 10, "finished windows dropped: {}", l.len());
    }

    /// The shared limiter on the embedded store (the DynamoDB-shaped one):
    /// two limiters over one store share the count, and the counter item
    /// expires after its window.
    #[cfg(feature = "embedded")]
    #[tokio::test]
    async fn store_limiter_shares_the_count() {
        let db = crate::embedded::Embedded::memory().unwrap();
        let store: Arc<dyn Store> = Arc::new(db.store());
        let (a, b) = (
            StoreLimiter::new(store.clone()),
            StoreLimiter::new(store.clone()),
        );
        let t0 = 1_700_000_020;
        assert_eq!(
            a.hit("h", RULE, t0).await.unwrap(),
            Decision::Allow { remaining: 2 }
        );
        assert_eq!(
            b.hit("h", RULE, t0).await.unwrap(),
            Decision::Allow { remaining: 1 }
        );
        assert!(b.peek("h", RULE, t0).await.unwrap().allowed());
        assert_eq!(
            a.hit("h", RULE, t0 + 1).await.unwrap(),
            Decision::Allow { remaining: 0 }
        );
        assert_eq!(
            b.hit("h", RULE, t0 + 10).await.unwrap(),
            Decision::Deny {
                retry_after_secs: 10
            }
        );
        assert!(!a.peek("h", RULE, t0 + 19).await.unwrap().allowed());
        assert!(a.hit("h", RULE, t0 + 20).await.unwrap().allowed());
        let sk = RULE.window_start(t0).to_string();
        let item = store
            .get(Table::Limits, "h", &sk, t0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(item.value["count"], 3);
        assert_eq!(item.expires_at, Some(RULE.window_start(t0) + 120));
        assert!(store
            .get(Table::Limits, "h", &sk, t0 + 200)
            .await
            .unwrap()
            .is_none());
    }

    /// Racing hits on one key never let more than the limit through.
    #[cfg(feature = "embedded")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn store_limiter_under_concurrency() {
        let db = crate::embedded::Embedded::memory().unwrap();
        let limiter = Arc::new(StoreLimiter::new(Arc::new(db.store())));
        let rule = FixedWindow {
            limit: 10,
            window_secs: 60,
        };
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move { l.hit("k", rule, 120).await.unwrap().allowed() })
            })
            .collect();
        let mut allowed = 0;
        for t in tasks {
            allowed += usize::from(t.await.unwrap());
        }
        assert!(allowed <= 10, "{allowed} hits passed a limit of 10");
        assert!(allowed >= 1);
    }

    #[test]
    fn rate_limit_config() {
        let r: RateLimit = serde_json::from_str(r#"{"perMinute": 30}"#).unwrap();
        assert_eq!(
            r.rule(),
            FixedWindow {
                limit: 30,
                window_secs: 60
            }
        );
        assert!(r.check("x").is_empty());
        let zero = RateLimit { per_minute: 0 };
        assert_eq!(
            zero.check("webhooks.handlers[0].rateLimit")[0].to_string(),
            "webhooks.handlers[0].rateLimit.perMinute: must be at least 1; disable the handler to refuse every hook"
        );
        assert!(serde_json::from_str::<RateLimit>(r#"{"perHour": 1}"#).is_err());
    }

    proptest! {
        /// Within one window exactly `limit` hits pass, whatever the timing,
        /// and a refusal's Retry-After lands exactly on the next window.
        #[test]
        fn exactly_limit_hits_per_window(limit in 1u32..50, width in 1u32..3600, start in -10_000_000i64..10_000_000, offsets in proptest::collection::vec(0u32..3600, 1..200)) {
            let rule = FixedWindow { limit, window_secs: width };
            let l = MemoryLimiter::default();
            let w0 = rule.window_start(start);
            let mut allowed = 0u32;
            let n = offsets.len() as u32;
            for off in offsets {
                let now = w0 + i64::from(off % width);
                match l.count("k", rule, now, true) {
                    Decision::Allow { .. } => allowed += 1,
                    Decision::Deny { retry_after_secs } => {
                        prop_assert_eq!(now + retry_after_secs as i64, w0 + i64::from(width));
                    }
                }
            }
            prop_assert_eq!(allowed, n.min(limit));
        }
    }
}
