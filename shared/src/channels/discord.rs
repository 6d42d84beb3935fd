//! Discord: an incoming webhook URL (`webhookUrl`, posted with `?wait=true`
//! so Discord answers with the message), or a bot token and a channel id
//! through the REST API (`POST /channels/{id}/messages`), where a thread
//! is the id of the message answered (`message_reference`).

use super::chat::Via;
use super::{
    id_string, json_body, json_post, no_destination, Dispatch, Kind, Post, Reach, Refusal,
};
use crate::ports::HttpResponse;
use serde_json::json;

pub const API_BASE: &str = "https://discord.com/api/v10";

/// Discord's longest message (characters).
pub const LIMIT: usize = 2000;

super::chat::chat_config!("discord");

/// A message's body; text from outside must not ping @everyone or roles.
pub fn message(text: &str) -> serde_json::Value {
    json!({ "content": text, "allowed_mentions": { "parse": [] } })
}

impl Kind for Config {
    fn service_limit(&self) -> Option<usize> {
        Some(LIMIT)
    }

    fn reach(&self) -> Reach<'_> {
        self.0.reach()
    }

    fn send(&self, post: &Post<'_>) -> Result<Dispatch, Refusal> {
        let c = &self.0;
        let mut body = message(post.text);
        let (url, headers) = match &c.via {
            Via::Webhook(hook) => {
                let url = hook.expose();
                let sep = if url.contains('?') { '&' } else { '?' };
                (format!("{url}{sep}wait=true"), vec![])
            }
            Via::Bot(token) => {
                let dest = self
                    .destination(post.peer)
                    .ok_or_else(|| no_destination(post))?;
                if let Some(message) = post.thread {
                    // A reply that still posts if the message is gone.
                    body["message_reference"] =
                        json!({ "message_id": message, "fail_if_not_exists": false });
                }
                (
                    format!("{}/channels/{dest}/messages", c.api_base(API_BASE)),
                    vec![("authorization".into(), format!("Bot {}", token.expose()))],
                )
            }
        };
        Ok(Dispatch::Request(json_post(
            url,
            headers,
            &body,
            c.timeout_ms,
        )))
    }

    fn urls(&self) -> Vec<(&'static str, &str)> {
        self.0.urls()
    }

    fn message_id(&self, resp: &HttpResponse) -> Result<Option<String>, Refusal> {
        Ok(id_string(json_body(resp).get("id")))
    }
}
