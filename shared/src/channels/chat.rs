//! What Discord and Slack channels share: an incoming-webhook URL, or a bot
//! token that posts to a destination. Exactly one way is needed; a channel
//! with neither fails to load.

use super::{default_timeout_ms, Reach};
use crate::secret::{Secret, TokenUrl};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the service is reached.
#[derive(Debug, Clone)]
pub enum Via {
    /// An incoming-webhook URL (the URL is the credential).
    Webhook(Secret),
    /// A bot token, posting to the peer or `channelId`.
    Bot(Secret),
}

/// A Discord or Slack channel, as load checked it.
#[derive(Debug, Clone)]
pub struct Chat {
    pub via: Via,
    pub channel_id: Option<String>,
    pub api_base: Option<TokenUrl>,
    pub timeout_ms: u64,
    pub peers: BTreeMap<String, String>,
    pub max_length: Option<usize>,
}

/// The keys as written in the config.
#[derive(Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Keys {
    /// The incoming-webhook URL (instead of a bot token); wins when both are given.
    #[serde(default)]
    pub webhook_url: Option<Secret>,
    /// The bot token (instead of an incoming-webhook URL).
    #[serde(default)]
    pub bot_token: Option<Secret>,
    /// Default destination when the handler's `target.peer` does not name one.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The service's API base (tests and proxies).
    #[serde(default)]
    pub api_base: Option<TokenUrl>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Friendly peer names to the service's ids; a peer not listed is the id itself.
    #[serde(default)]
    pub peers: BTreeMap<String, String>,
    /// Longest message; longer text is split into several messages.
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl Chat {
    /// The checked config, or why a `kind` channel cannot run.
    pub fn from_keys(k: Keys, kind: &str) -> Result<Self, String> {
        let via = match (k.webhook_url, k.bot_token) {
            (Some(hook), _) => Via::Webhook(hook),
            (None, Some(token)) => Via::Bot(token),
            (None, None) => return Err(format!("a {kind} channel needs webhookUrl or botToken")),
        };
        Ok(Chat {
            via,
            channel_id: k.channel_id,
            api_base: k.api_base,
            timeout_ms: k.timeout_ms,
            peers: k.peers,
            max_length: k.max_length,
        })
    }

    pub fn reach(&self) -> Reach<'_> {
        Reach {
            peers: &self.peers,
            channel_id: self.channel_id.as_deref(),
            max_length: self.max_length,
            timeout_ms: Some(self.timeout_ms),
        }
    }

    /// `apiBase`, if given, for load to check.
    pub fn urls(&self) -> Vec<(&'static str, &str)> {
        self.api_base
            .iter()
            .map(|u| ("apiBase", u.as_str()))
            .collect()
    }

    /// The API base without a trailing slash, or the service's public one.
    pub fn api_base<'a>(&'a self, default: &'a str) -> &'a str {
        self.api_base
            .as_ref()
            .map_or(default, TokenUrl::as_str)
            .trim_end_matches('/')
    }
}

impl From<Chat> for Keys {
    fn from(c: Chat) -> Self {
        let (webhook_url, bot_token) = match c.via {
            Via::Webhook(hook) => (Some(hook), None),
            Via::Bot(token) => (None, Some(token)),
        };
        Keys {
            webhook_url,
            bot_token,
            channel_id: c.channel_id,
            api_base: c.api_base,
            timeout_ms: c.timeout_ms,
            peers: c.peers,
            max_length: c.max_length,
        }
    }
}

/// The config type of a kind that is a [`Chat`]: loads through [`Keys`],
/// refusing a channel with neither way in.
macro_rules! chat_config {
    ($kind:literal) => {
        /// A channel reached by an incoming-webhook URL or a bot token.
        #[derive(Debug, Clone, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
        #[serde(try_from = "super::chat::Keys", into = "super::chat::Keys")]
        pub struct Config(pub super::chat::Chat);

        impl TryFrom<super::chat::Keys> for Config {
            type Error = String;
            fn try_from(k: super::chat::Keys) -> Result<Self, String> {
                super::chat::Chat::from_keys(k, $kind).map(Config)
            }
        }

        impl From<Config> for super::chat::Keys {
            fn from(c: Config) -> Self {
                c.0.into()
            }
        }
    };
}
pub(crate) use chat_config;
