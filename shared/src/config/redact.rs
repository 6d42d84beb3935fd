//! `Debug` and `Serialize` for the config sections that hold credentials in
//! plain strings: header values (`Authorization: Bearer …`, `X-Api-Key`) and
//! URLs whose path or query is a token (Slack and Discord webhook URLs). A
//! `{:?}` of the config, in a log line or a panic, and a serialized config
//! show their shape, not their value. Fields typed [`crate::Secret`] redact
//! themselves.

use super::{Forward, Outgoing};
use crate::secret::REDACTED;
use serde::Serializer;
use std::collections::BTreeMap;
use std::fmt;

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

impl UrlShape<'_> {
    fn shown(&self) -> String {
        crate::secret::url_shape(self.0)
    }
}

impl fmt::Debug for UrlShape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

/// `serialize_with` for header maps: names kept, values `[redacted]`.
pub(super) fn header_values<S: Serializer>(
    h: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(h.keys().map(|k| (k, REDACTED)))
}

/// `serialize_with` for URLs: their shape, as `Debug` shows them.
pub(super) fn url<S: Serializer>(u: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&UrlShape(u).shown())
}

/// `serialize_with` for optional URLs.
pub(super) fn url_opt_shape<S: Serializer>(u: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match u {
        Some(u) => url(u, s),
        None => s.serialize_none(),
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

/// What may be shown of a loaded config: `/config`, the console.
impl super::CompiledConfig {
    /// The config as JSON with every secret hidden: typed secrets, header
    /// values and token URLs by their own serialization; `custom.options`
    /// values not named in `publicOptions`; and every value a `${VAR}`
    /// put anywhere (a template, a prompt, an option, part of a URL).
    pub fn shown(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null);
        if let Some(handlers) = v["webhooks"]["handlers"].as_array_mut() {
            for h in handlers {
                hide_options(&mut h["custom"]);
            }
        }
        self.scrub_value(&mut v);
        v
    }

    /// `text` with every value a `${VAR}` took replaced by `[redacted]`:
    /// for warnings and anything else quoting the config.
    pub fn scrubbed(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in self.substituted_longest_first() {
            if value.len() >= MIN_SCRUBBED {
                out = out.replace(value, REDACTED);
            }
        }
        out
    }

    fn substituted_longest_first(&self) -> Vec<&str> {
        let mut values: Vec<&str> = self
            .substituted
            .iter()
            .map(|s| s.expose())
            .filter(|s| !s.is_empty())
            .collect();
        values.sort_by_key(|s| std::cmp::Reverse(s.len()));
        values
    }

    fn scrub_value(&self, v: &mut serde_json::Value) {
        use serde_json::Value;
        match v {
            Value::String(s) => {
                let whole = self.substituted.iter().any(|x| x.expose() == s.as_str());
                *s = if whole {
                    REDACTED.to_string()
                } else {
                    self.scrubbed(s)
                };
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.scrub_value(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.scrub_value(i)),
            _ => {}
        }
    }
}

/// Values shorter than this are hidden only where they are a whole
/// string: replacing every `a` or `10` inside other text would show
/// nothing useful and hide nothing.
const MIN_SCRUBBED: usize = 4;

/// `custom.options`, each value `[redacted]` unless `publicOptions` names it.
fn hide_options(custom: &mut serde_json::Value) {
    let public: Vec<String> = custom["publicOptions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    match custom.get_mut("options") {
        Some(serde_json::Value::Object(options)) => {
            for (name, value) in options.iter_mut() {
                if !public.contains(name) {
                    *value = serde_json::Value::String(REDACTED.into());
                }
            }
        }
        Some(other) if !other.is_null() => *other = serde_json::Value::String(REDACTED.into()),
        _ => {}
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

    /// Every credential the config can hold, each a value of its own.
    const CREDENTIALS: [&str; 12] = [
        "incoming-secret-1",
        "handler-secret-2",
        "verify-secret-3",
        "verify-rotated-4",
        "forward-secret-5",
        "forward-header-6",
        "outgoing-secret-7",
        "outgoing-header-8",
        "channel-webhook-url-9",
        "channel-bot-token-10",
        "channel-header-11",
        "agent-api-key-12",
    ];

    fn config_with_every_credential() -> serde_json::Value {
        let c = CREDENTIALS;
        serde_json::json!({"webhooks": {
            "incoming": {"secret": c[0]},
            "handlers": [
                {"id": "own", "secret": c[1]},
                {"id": "signed", "verify": {"scheme": "github", "secret": c[2], "secrets": [c[3]]}},
                {"id": "relay", "action": "forward", "forward": {
                    "url": "https://relay.example/in?token=forward-url-13",
                    "secret": c[4], "headers": {"X-Api-Key": c[5]}}}
            ],
            "outgoing": [{"id": "o", "url": "https://hooks.example/t/outgoing-url-14",
                          "secret": c[6], "headers": {"Authorization": c[7]}}],
            "channels": {
                "slack": {"type": "slack", "webhookUrl": c[8]},
                "discord": {"type": "discord", "botToken": c[9], "apiBase": "https://discord.example/api-base-15"},
                "generic": {"type": "webhook", "url": "https://generic.example/channel-url-16",
                            "headers": {"X-Auth-Token": c[10]}}
            },
            "agents": {"bot": {"type": "openai", "url": "https://models.example/v1?key=agent-url-17", "model": "m", "apiKey": c[11]}}
        }})
    }

    #[test]
    fn a_serialized_or_printed_config_holds_no_credential() {
        let doc = config_with_every_credential().to_string();
        let cfg = crate::config::load_str(&doc, &|_| None).expect("test config loads");
        let serialized = serde_json::to_string(&cfg.config).expect("config serializes");
        let printed = format!("{:?}", cfg.config);
        let in_urls = [
            "forward-url-13",
            "outgoing-url-14",
            "api-base-15",
            "channel-url-16",
            "agent-url-17",
        ];
        for shown in [&serialized, &printed] {
            for credential in CREDENTIALS.iter().chain(&in_urls) {
                assert!(!shown.contains(credential), "{credential} leaked: {shown}");
            }
        }
        let value: serde_json::Value = serde_json::from_str(&serialized).unwrap();
        let w = &value["webhooks"];
        assert_eq!(w["incoming"]["secret"], REDACTED);
        assert_eq!(
            w["handlers"][2]["forward"]["headers"]["X-Api-Key"],
            REDACTED
        );
        assert_eq!(w["outgoing"][0]["url"], "https://hooks.example/[redacted]");
        assert_eq!(
            w["channels"]["generic"]["timeoutMs"], 15_000,
            "the rest is shown as is"
        );
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
