//! `webhooks.outgoing[].rateLimit`: how fast one subscription's receiver
//! may be called, and its check.

use super::error::ConfigError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The most deliveries per second a limit may name; faster is "unlimited".
pub const MAX_PER_SECOND: u32 = 10_000;

/// At most `perSecond` deliveries a second, or `perMinute` a minute,
/// spread evenly: one every `1/perSecond` s (or `60/perMinute` s). Exactly
/// one of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_second: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u32>,
}

impl RateLimit {
    /// The spacing between two deliveries (checked: a valid limit has one).
    pub fn interval(&self) -> Duration {
        match (self.per_second, self.per_minute) {
            (Some(n), _) if n > 0 => Duration::from_secs(1) / n,
            (_, Some(n)) if n > 0 => Duration::from_secs(60) / n,
            _ => Duration::ZERO,
        }
    }

    /// The errors of the limit at `at` (`webhooks.outgoing[i].rateLimit`).
    pub fn check(&self, at: &str) -> Vec<ConfigError> {
        let error = |key: &str, rule: &str| vec![ConfigError::new(format!("{at}.{key}"), rule)];
        match (self.per_second, self.per_minute) {
            (Some(_), Some(_)) | (None, None) => error(
                "perSecond",
                "give exactly one of rateLimit.perSecond and rateLimit.perMinute",
            ),
            (Some(n), None) if n == 0 || n > MAX_PER_SECOND => {
                error("perSecond", "must be from 1 to 10000")
            }
            (None, Some(n)) if n == 0 || n > MAX_PER_SECOND * 60 => {
                error("perMinute", "must be from 1 to 600000")
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(json: &str) -> RateLimit {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_limit_spaces_deliveries_evenly() {
        let ten = limit(r#"{"perSecond": 10}"#);
        assert!(ten.check("r").is_empty());
        assert_eq!(ten.interval(), Duration::from_millis(100));
        assert_eq!(
            limit(r#"{"perMinute": 30}"#).interval(),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_limit_names_exactly_one_positive_rate() {
        for bad in [
            "{}",
            r#"{"perSecond": 1, "perMinute": 1}"#,
            r#"{"perSecond": 0}"#,
            r#"{"perMinute": 0}"#,
            r#"{"perSecond": 10001}"#,
        ] {
            let errors = limit(bad).check("webhooks.outgoing[0].rateLimit");
            assert_eq!(errors.len(), 1, "{bad}");
            assert!(
                errors[0]
                    .to_string()
                    .contains("webhooks.outgoing[0].rateLimit.per"),
                "{}",
                errors[0]
            );
        }
        assert!(serde_json::from_str::<RateLimit>(r#"{"perHour": 1}"#).is_err());
    }
}

/// `webhooks.outgoing[].breaker`: after `failures` failed attempts in a
/// row, no request for `cooldown` (doubling after each failed probe, up to
/// [`MAX_COOLDOWN`]), then one probe; a success closes it. On by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Breaker {
    #[serde(default = "default_failures")]
    pub failures: u32,
    #[serde(default = "default_cooldown")]
    pub cooldown: super::duration::Seconds,
    #[serde(default = "on")]
    pub enabled: bool,
}

/// The longest cool-down a breaker doubles to.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(600);

fn on() -> bool {
    true
}

fn default_failures() -> u32 {
    5
}

fn default_cooldown() -> super::duration::Seconds {
    super::duration::Seconds(30)
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            failures: default_failures(),
            cooldown: default_cooldown(),
            enabled: true,
        }
    }
}

impl Breaker {
    pub fn check(&self, at: &str) -> Vec<ConfigError> {
        if self.failures == 0 {
            return vec![ConfigError::new(
                format!("{at}.failures"),
                "must be at least 1 (set breaker.enabled false to turn it off)",
            )];
        }
        vec![]
    }
}

/// `webhooks.outgoing[].disableAfter`'s default: five days of failures
/// without a success disable a subscription (its deliveries are held).
pub fn default_disable_after() -> Option<super::duration::Seconds> {
    Some(super::duration::Seconds(5 * 24 * 3600))
}

/// A `disableAfter` of zero would disable at the first failure.
pub fn check_disable_after(after: Option<super::duration::Seconds>, at: &str) -> Vec<ConfigError> {
    match after {
        Some(super::duration::Seconds(0)) => vec![ConfigError::new(
            format!("{at}.disableAfter"),
            "must be at least 1s (null: never disable)",
        )],
        _ => vec![],
    }
}
