//! What may be shown of a loaded config (`/config`, the console), and the
//! test that nothing else is. Every credential redacts itself by its type:
//! [`crate::Secret`] (tokens, keys, header values), [`TokenUrl`] (URLs
//! whose path or query may be a token: shown by their shape) and
//! [`Redacted`] (free-form values such as `custom.options`), so a `{:?}`
//! or a serialization of the config shows none of them and no hand-kept
//! list of fields can miss one. What is shown beyond that is picked out
//! here: the options `publicOptions` names.
//!
//! [`TokenUrl`]: crate::secret::TokenUrl
//! [`Redacted`]: crate::secret::Redacted

use crate::secret::REDACTED;

/// What may be shown of a loaded config: `/config`, the console.
impl super::CompiledConfig {
    /// The config as JSON with every secret hidden: typed secrets, header
    /// values and token URLs by their own serialization; `custom.options`
    /// values not named in `publicOptions`; and every value a `${VAR}`
    /// put anywhere (a template, a prompt, an option, part of a URL).
    pub fn shown(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null);
        let handlers = &self.config.webhooks.handlers;
        if let Some(shown) = v["webhooks"]["handlers"].as_array_mut() {
            for (h, shown) in handlers.iter().zip(shown) {
                if let Some(c) = &h.custom {
                    shown["custom"]["options"] = public_options(c);
                }
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

/// `custom.options` as `/config` shows it: each value `[redacted]` unless
/// `publicOptions` names it; options that are not an object, `[redacted]`
/// as a whole.
fn public_options(c: &super::Custom) -> serde_json::Value {
    use serde_json::Value;
    match c.options.expose() {
        Value::Object(options) => Value::Object(
            options
                .iter()
                .map(|(name, value)| {
                    let shown = match c.public_options.contains(name) {
                        true => value.clone(),
                        false => Value::String(REDACTED.into()),
                    };
                    (name.clone(), shown)
                })
                .collect(),
        ),
        Value::Null => Value::Null,
        _ => Value::String(REDACTED.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every credential the config can hold, each a value of its own: one
    /// per kind of secret (typed secrets in each section, header values,
    /// URLs that are credentials, free-form options).
    const CREDENTIALS: [&str; 20] = [
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
        "admin-secret-18",
        "admin-rotated-19",
        "option-token-20",
        "options-not-an-object-21",
        "telegram-token-22",
        "generic-webhook-url-23",
        "gateway-token-24",
        "slack-bot-token-25",
    ];

    /// Parts of URLs that may be tokens: shown only by the URL's shape.
    const IN_URLS: [&str; 6] = [
        "forward-url-13",
        "outgoing-url-14",
        "api-base-15",
        "channel-url-16",
        "agent-url-17",
        "gateway-url-26",
    ];

    fn config_with_every_credential() -> serde_json::Value {
        let c = CREDENTIALS;
        serde_json::json!({"webhooks": {
            "incoming": {"secret": c[0]},
            "admin": {"secret": c[12], "secrets": [c[13]]},
            "handlers": [
                {"id": "own", "secret": c[1]},
                {"id": "signed", "verify": {"scheme": "github", "secret": c[2], "secrets": [c[3]]}},
                {"id": "relay", "action": "forward", "forward": {
                    "url": "https://relay.example/in?token=forward-url-13",
                    "secret": c[4], "headers": {"X-Api-Key": c[5]}}},
                {"id": "fn", "action": "custom", "custom": {"function": "extract_fields",
                    "options": {"token": c[14], "fields": {"a": "b"}}, "publicOptions": ["fields"]}},
                {"id": "fn2", "action": "custom", "custom": {"lambda": "f", "options": c[15]}}
            ],
            "outgoing": [{"id": "o", "url": "https://hooks.example/t/outgoing-url-14",
                          "secret": c[6], "headers": {"Authorization": c[7]}}],
            "channels": {
                "slack": {"type": "slack", "webhookUrl": c[8]},
                "slackbot": {"type": "slack", "botToken": c[19]},
                "discord": {"type": "discord", "botToken": c[9], "apiBase": "https://discord.example/api-base-15"},
                "telegram": {"type": "telegram", "botToken": c[16]},
                "generic": {"type": "webhook", "url": "https://generic.example/channel-url-16",
                            "headers": {"X-Auth-Token": c[10]}},
                "generic2": {"type": "webhook", "webhookUrl": c[17]}
            },
            "agents": {
                "bot": {"type": "openai", "url": "https://models.example/v1?key=agent-url-17", "model": "m", "apiKey": c[11]},
                "gw": {"type": "openclaw", "url": "https://gw.example/gateway-url-26", "apiKey": c[18]}
            }
        }})
    }

    #[test]
    fn a_serialized_or_printed_config_holds_no_credential() {
        let doc = config_with_every_credential().to_string();
        let cfg = crate::config::load_str(&doc, &|_| None).expect("test config loads");
        let plans: Vec<_> = cfg
            .config
            .webhooks
            .handlers
            .iter()
            .map(|h| cfg.plan(h))
            .collect();
        for shown in [
            serde_json::to_string(&cfg.config).expect("config serializes"),
            format!("{:?}", cfg.config),
            format!("{cfg:?}"),
            format!("{plans:?}"),
            cfg.shown().to_string(),
        ] {
            for credential in CREDENTIALS.iter().chain(&IN_URLS) {
                assert!(!shown.contains(credential), "{credential} leaked: {shown}");
            }
        }
        let w = &cfg.shown()["webhooks"];
        assert_eq!(w["incoming"]["secret"], REDACTED);
        assert_eq!(
            w["handlers"][2]["forward"]["headers"]["X-Api-Key"],
            REDACTED
        );
        assert_eq!(w["outgoing"][0]["url"], "https://hooks.example/[redacted]");
        assert_eq!(
            w["handlers"][3]["custom"]["options"],
            serde_json::json!({"token": REDACTED, "fields": {"a": "b"}}),
            "publicOptions are shown"
        );
        assert_eq!(w["handlers"][4]["custom"]["options"], REDACTED);
        assert_eq!(
            w["channels"]["generic"]["timeoutMs"], 15_000,
            "the rest is shown as is"
        );
    }
}
