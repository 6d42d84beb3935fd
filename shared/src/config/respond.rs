//! A handler's `respond`: the caller of this route waits for the answer by
//! default (as with `Prefer: wait`), and the 200 carries a body shaped for
//! it (TwiML for Twilio, `{"text": …}` for a Slack slash command, plain
//! text) from a template over `{{reply}}`, `{{result}}` and `{{event}}`.

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
