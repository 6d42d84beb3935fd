//! A generic JSON webhook: `POST url` with the channel's headers and
//! `{"text", "channel", "peer", "session", "eventId", "hookId", "handlerId"}`,
//! for chat bridges and services without an adapter of their own.

use super::{
    default_timeout_ms, id_string, json_body, json_post, Dispatch, Kind, Post, Reach, Refusal,
};
use crate::ports::HttpResponse;
use crate::secret::{Secret, TokenUrl};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Where the POST goes.
#[derive(Debug, Clone)]
pub enum Address {
    /// `url`: shown by its shape.
    Url(TokenUrl),
    /// `webhookUrl`: a secret as a whole.
    WebhookUrl(Secret),
}

/// A generic JSON webhook, as load checked it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(try_from = "Keys", into = "Keys")]
pub struct Config {
    pub address: Address,
    pub headers: BTreeMap<String, Secret>,
    pub channel_id: Option<String>,
    pub timeout_ms: u64,
    pub peers: BTreeMap<String, String>,
    pub max_length: Option<usize>,
}

/// The keys as written in the config.
#[derive(Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Keys {
    /// The URL posted to.
    #[serde(default)]
    pub url: Option<TokenUrl>,
    /// The URL posted to, when it is itself a credential (used when `url` is absent).
    #[serde(default)]
    pub webhook_url: Option<Secret>,
    /// Headers set on every request (values are secrets).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Sent as `peer` when the handler's `target.peer` does not name one.
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Friendly peer names to ids; a peer not listed is the id itself.
    #[serde(default)]
    pub peers: BTreeMap<String, String>,
    /// Longest message; longer text is split. No limit by default.
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl TryFrom<Keys> for Config {
    type Error = String;
    fn try_from(k: Keys) -> Result<Self, String> {
        let address = match (k.url, k.webhook_url) {
            (Some(url), _) => Address::Url(url),
            (None, Some(hook)) => Address::WebhookUrl(hook),
            (None, None) => return Err("a webhook channel needs url".into()),
        };
        Ok(Config {
            address,
            headers: k.headers,
            channel_id: k.channel_id,
            timeout_ms: k.timeout_ms,
            peers: k.peers,
            max_length: k.max_length,
        })
    }
}

impl From<Config> for Keys {
    fn from(c: Config) -> Self {
        let (url, webhook_url) = match c.address {
            Address::Url(url) => (Some(url), None),
            Address::WebhookUrl(hook) => (None, Some(hook)),
        };
        Keys {
            url,
            webhook_url,
            headers: c.headers,
            channel_id: c.channel_id,
            timeout_ms: c.timeout_ms,
            peers: c.peers,
            max_length: c.max_length,
        }
    }
}

impl Kind for Config {
    fn service_limit(&self) -> Option<usize> {
        None
    }

    fn reach(&self) -> Reach<'_> {
        Reach {
            peers: &self.peers,
            channel_id: self.channel_id.as_deref(),
            max_length: self.max_length,
            timeout_ms: Some(self.timeout_ms),
        }
    }

    fn send(&self, post: &Post<'_>) -> Result<Dispatch, Refusal> {
        let url = match &self.address {
            Address::Url(url) => url.as_str(),
            Address::WebhookUrl(hook) => hook.expose(),
        };
        let headers = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.expose().to_string()))
            .collect();
        let body = json!({
            "text": post.text,
            "channel": post.channel,
            "peer": self.destination(post.peer),
            "session": post.ev.session_key,
            "eventId": post.ev.event_id,
            "hookId": post.ev.hook_id,
            "handlerId": post.ev.handler_id,
        });
        Ok(Dispatch::Request(json_post(
            url.to_string(),
            headers,
            &body,
            self.timeout_ms,
        )))
    }

    fn urls(&self) -> Vec<(&'static str, &str)> {
        match &self.address {
            Address::Url(url) => vec![("url", url.as_str())],
            Address::WebhookUrl(_) => vec![],
        }
    }

    fn message_id(&self, resp: &HttpResponse) -> Result<Option<String>, Refusal> {
        let body = json_body(resp);
        Ok(id_string(
            body.get("id")
                .or_else(|| body.get("messageId"))
                .or_else(|| body.get("message_id")),
        ))
    }
}
