//! `Debug` for the config sections that hold credentials in plain strings:
//! header values (`Authorization: Bearer …`, `X-Api-Key`) and URLs whose
//! path or query is a token (Slack and Discord webhook URLs). A `{:?}` of
//! the config, in a log line or a panic, shows their shape, not their value.
//! Fields typed [`crate::Secret`] redact themselves.

use super::{Agent, Channel, Forward, Outgoing};
use std::collections::BTreeMap;
use std::fmt;

const REDACTED: &str = "[redacted]";

/// Prints `[redacted]` in place of a value.
struct Hidden;

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Header names with their values hidden.
struct HeaderValues<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for HeaderValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, Hidden)))
            .finish()
    }
}

/// A URL as scheme, host and port; any path or query becomes `[redacted]`.
struct UrlShape<'a>(&'a str);

impl fmt::Debug for UrlShape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(u) = reqwest::Url::parse(self.0) else {
            return write!(f, "\"[unparsable URL {REDACTED}]\"");
        };
        let mut shown = format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
        if let Some(port) = u.port() {
            shown.push_str(&format!(":{port}"));
        }
        if u.path() != "/" || u.query().is_some() {
            shown.push('/');
            shown.push_str(REDACTED);
        }
        write!(f, "{shown:?}")
    }
}

fn url_opt(u: &Option<String>) -> Option<UrlShape<'_>> {
    u.as_deref().map(UrlShape)
}

impl fmt::Debug for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forward")
            .field("url", &UrlShape(&self.url))
            .field("method", &self.method)
            .field("headers", &HeaderValues(&self.headers))
            .field("pass_headers", &self.pass_headers)
            .field("body_template", &self.body_template)
            .field("secret", &self.secret)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("id", &self.id)
            .field("url", &url_opt(&self.url))
            .field("events", &self.events)
            .field("method", &self.method)
            .field("retry", &self.retry)
            .field("headers", &HeaderValues(&self.headers))
            .field("secret", &self.secret)
            .field("signing", &self.signing)
            .field("timeout_ms", &self.timeout_ms)
            .field("dead_letter", &self.dead_letter)
            .field("filter", &self.filter)
            .field("enabled", &self.enabled)
            .finish()
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("kind", &self.kind)
            .field("webhook_url", &self.webhook_url)
            .field("bot_token", &self.bot_token)
            .field("channel_id", &self.channel_id)
            .field("api_base", &url_opt(&self.api_base))
            .field("url", &url_opt(&self.url))
            .field("headers", &HeaderValues(&self.headers))
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("kind", &self.kind)
            .field("url", &UrlShape(&self.url))
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("system_prompt", &self.system_prompt)
            .field("history", &self.history)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_shape_only() {
        for (url, shown) in [
            (
                "https://hooks.slack.com/services/T0/B0/token",
                "\"https://hooks.slack.com/[redacted]\"",
            ),
            ("http://127.0.0.1:8080/", "\"http://127.0.0.1:8080\""),
            (
                "https://api.example.com?key=abc",
                "\"https://api.example.com/[redacted]\"",
            ),
            ("not a url", "\"[unparsable URL [redacted]]\""),
        ] {
            assert_eq!(format!("{:?}", UrlShape(url)), shown);
        }
    }

    #[test]
    fn header_values_are_hidden() {
        let h = BTreeMap::from([("Authorization".to_string(), "Bearer abc".to_string())]);
        assert_eq!(
            format!("{:?}", HeaderValues(&h)),
            "{\"Authorization\": [redacted]}"
        );
    }
}
