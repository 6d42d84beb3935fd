//! When to try a failed delivery again: a pure function of the
//! subscription's `retry` settings, the attempt that just failed, the
//! receiver's `Retry-After` (if any) and a random draw for jitter.
//!
//! The random source is a parameter so tests can pin it; nothing here
//! reads a clock or sleeps.

use crate::config::{Backoff, Retry};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest `Retry-After` we accept. A receiver asking for more is
/// answered sooner rather than leaving a delivery parked for weeks.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A source of uniform draws in `[0, 1)`, for jitter.
pub trait Random: Send + Sync {
    fn unit(&self) -> f64;
}

/// The process-wide generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastRandom;

impl Random for FastRandom {
    fn unit(&self) -> f64 {
        fastrand::f64()
    }
}

/// Always the same draw; `Fixed(1.0)` makes jitter pick the full backoff.
#[derive(Debug, Clone, Copy)]
pub struct FixedRandom(pub f64);

impl Random for FixedRandom {
    fn unit(&self) -> f64 {
        self.0
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this wait.
    RetryIn(Duration),
    /// `maxAttempts` reached: record the failure and dead-letter.
    GiveUp,
}

/// The backoff ceiling before attempt `failed + 1`, jitter not applied:
/// `initialDelayMs` times 2^(failed-1) (exponential), times `failed`
/// (linear) or as is (fixed), never above `maxDelayMs`.
pub fn backoff(retry: &Retry, failed: u32) -> Duration {
    let n = failed.max(1);
    let initial = retry.initial_delay_ms;
    let ms = match retry.backoff {
        Backoff::Fixed => initial,
        Backoff::Linear => initial.saturating_mul(u64::from(n)),
        Backoff::Exponential => {
            let factor = 1u64.checked_shl(n - 1).unwrap_or(u64::MAX);
            initial.saturating_mul(factor)
        }
    };
    Duration::from_millis(ms.min(retry.max_delay_ms))
}

/// The wait before attempt `failed + 1` with full jitter (uniform in
/// `[0, backoff]`) when `retry.jitter` is on.
pub fn delay(retry: &Retry, failed: u32, random: &dyn Random) -> Duration {
    let ceiling = backoff(retry, failed);
    if !retry.jitter {
        return ceiling;
    }
    let u = random.unit().clamp(0.0, 1.0);
    Duration::from_millis((ceiling.as_millis() as f64 * u).round() as u64)
}

/// The decision after attempt number `failed` (1-based) failed. A
/// receiver's `Retry-After` replaces the backoff (capped at a day).
pub fn next(
    retry: &Retry,
    failed: u32,
    retry_after: Option<Duration>,
    random: &dyn Random,
) -> Next {
    if failed >= retry.max_attempts {
        return Next::GiveUp;
    }
    match retry_after {
        Some(wait) => Next::RetryIn(wait.min(MAX_RETRY_AFTER)),
        None => Next::RetryIn(delay(retry, failed, random)),
    }
}

/// Reads a `Retry-After` value: delay seconds or an HTTP date (see
/// [`crate::protocol::retry_after`], which the handler's calls read too).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    crate::protocol::retry_after::from_header(value, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn retry(backoff: Backoff, initial: u64, max: u64, attempts: u32, jitter: bool) -> Retry {
        Retry {
            max_attempts: attempts,
            backoff,
            initial_delay_ms: initial,
            max_delay_ms: max,
            jitter,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_three_backoffs_grow_as_named() {
        let e = retry(Backoff::Exponential, 1000, 3_600_000, 10, false);
        let l = retry(Backoff::Linear, 1000, 3_600_000, 10, false);
        let f = retry(Backoff::Fixed, 1000, 3_600_000, 10, false);
        let take = |r: &Retry| (1..=4).map(|n| backoff(r, n)).collect::<Vec<_>>();
        assert_eq!(take(&e), [ms(1000), ms(2000), ms(4000), ms(8000)]);
        assert_eq!(take(&l), [ms(1000), ms(2000), ms(3000), ms(4000)]);
        assert_eq!(take(&f), [ms(1000), ms(1000), ms(1000), ms(1000)]);
    }

    #[test]
    fn seed_defaults_give_three_attempts_then_up() {
        let r: Retry =
            serde_json::from_str(r#"{"maxAttempts":3,"backoff":"exponential"}"#).unwrap();
        let rnd = FixedRandom(1.0);
        assert_eq!(next(&r, 1, None, &rnd), Next::RetryIn(ms(1000)));
        assert_eq!(next(&r, 2, None, &rnd), Next::RetryIn(ms(2000)));
        assert_eq!(next(&r, 3, None, &rnd), Next::GiveUp);
    }

    #[test]
    fn full_jitter_scales_the_backoff_by_the_draw() {
        let r = retry(Backoff::Exponential, 1000, 60_000, 10, true);
        assert_eq!(delay(&r, 3, &FixedRandom(0.0)), Duration::ZERO);
        assert_eq!(delay(&r, 3, &FixedRandom(0.5)), ms(2000));
        assert_eq!(delay(&r, 3, &FixedRandom(1.0)), ms(4000));
    }

    #[test]
    fn retry_after_replaces_the_backoff_but_not_the_attempt_limit() {
        let r = retry(Backoff::Fixed, 1000, 60_000, 2, false);
        let rnd = FixedRandom(1.0);
        assert_eq!(
            next(&r, 1, Some(Duration::from_secs(120)), &rnd),
            Next::RetryIn(Duration::from_secs(120))
        );
        assert_eq!(
            next(&r, 1, Some(Duration::from_secs(10 * 86400)), &rnd),
            Next::RetryIn(MAX_RETRY_AFTER)
        );
        assert_eq!(
            next(&r, 2, Some(Duration::from_secs(1)), &rnd),
            Next::GiveUp
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    fn any_backoff() -> impl Strategy<Value = Backoff> {
        prop_oneof![
            Just(Backoff::Exponential),
            Just(Backoff::Linear),
            Just(Backoff::Fixed)
        ]
    }

    proptest! {
        #[test]
        fn a_wait_never_exceeds_max_delay_nor_its_backoff(
            b in any_backoff(),
            initial in 0u64..10_000_000,
            extra in 0u64..10_000_000,
            failed in 1u32..200,
            u in 0.0f64..1.0,
            jitter in any::<bool>(),
        ) {
            let r = retry(b, initial, initial + extra, 1000, jitter);
            let d = delay(&r, failed, &FixedRandom(u));
            prop_assert!(d <= backoff(&r, failed));
            prop_assert!(d <= ms(r.max_delay_ms));
        }

        #[test]
        fn without_jitter_waits_never_shrink(
            b in any_backoff(),
            initial in 0u64..100_000,
            extra in 0u64..100_000_000,
            failed in 1u32..100,
        ) {
            let r = retry(b, initial, initial + extra, 1000, false);
            prop_assert!(delay(&r, failed + 1, &FixedRandom(0.3)) >= delay(&r, failed, &FixedRandom(0.3)));
        }

        #[test]
        fn exactly_max_attempts_are_made(
            b in any_backoff(),
            attempts in 1u32..50,
            u in 0.0f64..1.0,
            retry_after in proptest::option::of(0u64..1_000_000),
        ) {
            let r = retry(b, 500, 60_000, attempts, true);
            let rnd = FixedRandom(u);
            let ra = retry_after.map(Duration::from_secs);
            let made = (1..=attempts + 5)
                .take_while(|&n| matches!(next(&r, n, ra, &rnd), Next::RetryIn(_)))
                .count() as u32
                + 1;
            prop_assert_eq!(made, attempts);
        }

        #[test]
        fn full_jitter_is_the_draw_times_the_backoff(
            initial in 1u64..1_000_000,
            failed in 1u32..40,
            u in 0.0f64..1.0,
        ) {
            let on = retry(Backoff::Exponential, initial, 3_600_000, 100, true);
            let ceiling = backoff(&on, failed).as_millis() as f64;
            let d = delay(&on, failed, &FixedRandom(u)).as_millis() as f64;
            prop_assert!((d - u * ceiling).abs() <= 0.5, "{} vs {}", d, u * ceiling);
        }
    }
}
