//! A handler's `respond`: the caller of this route waits for the answer by
//! default (as with `Prefer: wait`), and the 200 carries a body shaped for
//! it (TwiML for Twilio, `{"text": …}` for a Slack slash command, plain
//! text) from a template over `{{reply}}`, `{{result}}` and `{{event}}`.
//! Or, for a provider that must hear back within seconds whatever the
//! agent takes (Discord's deferred `{"type":5}`), an `immediate` body
//! answered at once while the hook is kept and handled as usual.

use super::duration::Seconds;
use super::error::ConfigError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Respond {
    /// Callers wait without asking (`Prefer: wait=N` still sets the wait).
    #[serde(default = "yes")]
    pub wait: bool,
    /// How long they wait; `incoming.maxWait` when absent, never more.
    #[serde(default)]
    pub timeout: Option<Seconds>,
    /// The 200's body; the usual JSON answer when absent.
    #[serde(default)]
    pub template: Option<String>,
    /// The 200's `Content-Type` with a template (`text/plain; charset=utf-8`
    /// when absent). An XML or HTML type escapes `{{reply}}` and the other
    /// values for markup.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The 200's body answered at once, without waiting (the hook is still
    /// kept and handled); not with `template` or `timeout`.
    #[serde(default)]
    pub immediate: Option<String>,
}

fn yes() -> bool {
    true
}

impl Respond {
    pub const DEFAULT_CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

    /// The 200's `Content-Type`.
    pub fn content_type(&self) -> &str {
        self.content_type
            .as_deref()
            .unwrap_or(Self::DEFAULT_CONTENT_TYPE)
    }

    /// Whether callers of this route wait for the settled event: not when
    /// an `immediate` body answers them.
    pub fn waits(&self) -> bool {
        self.wait && self.immediate.is_none()
    }

    /// Values are escaped for markup under an XML or HTML type.
    pub fn is_markup(&self) -> bool {
        let ct = self.content_type().to_ascii_lowercase();
        ct.contains("xml") || ct.contains("html")
    }

    /// A timeout within `1..=maxWait` and a content type that is a header
    /// value; the template compiles with the handler's others.
    pub fn check(&self, at: &str, max_wait: Seconds, errors: &mut Vec<ConfigError>) {
        if let Some(t) = self.timeout.filter(|t| t.0 == 0 || *t > max_wait) {
            errors.push(ConfigError::new(
                format!("{at}.respond.timeout"),
                format!(
                    "must be between 1s and webhooks.incoming.maxWait ({}s), not {}s",
                    max_wait.0, t.0
                ),
            ));
        }
        if self.immediate.is_some() && (self.template.is_some() || self.timeout.is_some()) {
            errors.push(ConfigError::new(
                format!("{at}.respond.immediate"),
                "answers at once: not with template or timeout, which shape a waited answer",
            ));
        }
        let bad_type = self
            .content_type
            .as_deref()
            .is_some_and(|c| c.is_empty() || http::HeaderValue::from_str(c).is_err());
        if bad_type {
            errors.push(ConfigError::new(
                format!("{at}.respond.contentType"),
                "must be a media type such as \"text/xml\"",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    fn load(respond: &str) -> Result<(), String> {
        let text = format!(r#"{{"webhooks":{{"handlers":[{{"id":"d","respond":{respond}}}]}}}}"#);
        crate::config::load_str(&text, &|_| None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_immediate_answer_does_not_wait_and_takes_no_template() {
        load(r#"{"immediate":"{\"type\":5}","contentType":"application/json"}"#).unwrap();
        let err = load(r#"{"immediate":"ok","template":"{{reply}}"}"#).unwrap_err();
        assert!(
            err.contains("webhooks.handlers[0].respond.immediate"),
            "{err}"
        );
        let r: super::Respond = serde_json::from_str(r#"{"immediate":"ok"}"#).unwrap();
        assert!(!r.waits());
    }
}
