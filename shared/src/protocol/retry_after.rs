//! `Retry-After`: how long a service asks us to wait before trying again.
//! One reading for every outbound call (channels and agents in the handler,
//! subscriptions in egress), so a receiver gets the same answer whichever
//! stage called it.
//!
//! The header is delay seconds or an HTTP date (RFC 9110 §10.2.3). Seconds
//! may have a fraction (`1.5`): Discord and others send them, and reading
//! them as "unparsable" would drop the wait altogether. A date in the past
//! means "now". Discord and Telegram also put the wait in a JSON body
//! (`retry_after`, `parameters.retry_after`), which [`from_body`] reads.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// The wait a `Retry-After` header value asks for; `None` when it is
/// neither non-negative seconds nor an HTTP date.
pub fn from_header(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The wait a JSON answer asks for: `retry_after` (Discord, seconds as a
/// float) or `parameters.retry_after` (Telegram).
pub fn from_body(body: &[u8]) -> Option<Duration> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    body.get("retry_after")
        .or_else(|| body.pointer("/parameters/retry_after"))
        .and_then(serde_json::Value::as_f64)
        .and_then(seconds)
}

/// Non-negative, finite seconds that fit a `Duration` (`1e300` does not,
/// and must not panic).
fn seconds(secs: f64) -> Option<Duration> {
    if secs.is_finite() && secs >= 0.0 {
        Duration::try_from_secs_f64(secs).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn header_reads_seconds_and_http_dates() {
        assert_eq!(from_header("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(from_header(" 7 ", now()), Some(Duration::from_secs(7)));
        assert_eq!(from_header("0", now()), Some(Duration::ZERO));
        assert_eq!(
            from_header("Wed, 21 Oct 2015 07:29:30 GMT", now()),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            from_header("Wed, 21 Oct 2015 07:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn header_reads_fractional_seconds() {
        assert_eq!(from_header("1.5", now()), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn header_refuses_what_is_no_wait() {
        for v in ["soon", "-5", "-0.5", "NaN", "inf", "1e300", ""] {
            assert_eq!(from_header(v, now()), None, "{v:?}");
        }
    }

    #[test]
    fn body_reads_discord_and_telegram_fields() {
        assert_eq!(
            from_body(br#"{"retry_after": 1.5}"#),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            from_body(br#"{"ok":false,"parameters":{"retry_after":12}}"#),
            Some(Duration::from_secs(12))
        );
        assert_eq!(from_body(br#"{"retry_after": -1}"#), None);
        assert_eq!(from_body(b"slow down"), None);
    }
}
