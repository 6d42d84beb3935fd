//! Telegram: `POST {apiBase}/bot<token>/sendMessage` with `chat_id` (the
//! handler's peer, or `channelId`), a thread being the message answered
//! (`reply_parameters`). The token is part of the URL, which is
//! why no error of ours ever prints a URL.

use super::{
    default_timeout_ms, id_string, json_body, json_post, no_destination, Dispatch, Kind, Post,
    Reach, Refusal,
};
use crate::ports::HttpResponse;
use crate::secret::{Secret, TokenUrl};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

pub const API_BASE: &str = "https://api.telegram.org";

/// Telegram's longest message (characters).
pub const LIMIT: usize = 4096;

/// A Telegram bot posting to a chat.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The bot token (part of every request's URL).
    pub bot_token: Secret,
    /// Default chat id when the handler's `target.peer` does not name one.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The Bot API base (tests and proxies).
    #[serde(default)]
    pub api_base: Option<TokenUrl>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Friendly peer names to chat ids; a peer not listed is the id itself.
    #[serde(default)]
    pub peers: BTreeMap<String, String>,
    /// Longest message; longer text is split into several messages.
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl Kind for Config {
    fn service_limit(&self) -> Option<usize> {
        Some(LIMIT)
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
        let chat = self
            .destination(post.peer)
            .ok_or_else(|| no_destination(post))?;
        let base = self.api_base.as_ref().map_or(API_BASE, TokenUrl::as_str);
        let mut body = json!({ "chat_id": chat, "text": post.text });
        if let Some(message) = post.thread {
            // Telegram's message ids are integers; a reply still posts if
            // the message is gone.
            let id = message
                .parse::<i64>()
                .map_or_else(|_| json!(message), |n| json!(n));
            body["reply_parameters"] =
                json!({ "message_id": id, "allow_sending_without_reply": true });
        }
        Ok(Dispatch::Request(json_post(
            format!(
                "{}/bot{}/sendMessage",
                base.trim_end_matches('/'),
                self.bot_token.expose()
            ),
            vec![],
            &body,
            self.timeout_ms,
        )))
    }

    fn urls(&self) -> Vec<(&'static str, &str)> {
        self.api_base
            .iter()
            .map(|u| ("apiBase", u.as_str()))
            .collect()
    }

    fn message_id(&self, resp: &HttpResponse) -> Result<Option<String>, Refusal> {
        Ok(id_string(json_body(resp).pointer("/result/message_id")))
    }
}
