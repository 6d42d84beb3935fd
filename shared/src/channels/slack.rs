//! Slack: an incoming webhook URL (`webhookUrl`, answers `ok`), or a bot
//! token with `chat.postMessage` (answers `{"ok": true, "ts": …}`, or
//! `{"ok": false, "error": …}` with status 200). A post with a thread goes
//! into it (`thread_ts`); an incoming webhook posts where it was made for.

use super::chat::Via;
use super::{json_body, json_post, no_destination, Dispatch, Kind, Post, Reach, Refusal};
use crate::ports::HttpResponse;
use serde_json::{json, Value};

pub const API_BASE: &str = "https://slack.com/api";

/// Slack's longest message (characters).
pub const LIMIT: usize = 4000;

super::chat::chat_config!("slack");

impl Kind for Config {
    fn service_limit(&self) -> Option<usize> {
        Some(LIMIT)
    }

    fn reach(&self) -> Reach<'_> {
        self.0.reach()
    }

    fn send(&self, post: &Post<'_>) -> Result<Dispatch, Refusal> {
        let c = &self.0;
        let req = match &c.via {
            Via::Webhook(hook) => json_post(
                hook.expose().to_string(),
                vec![],
                &json!({ "text": post.text }),
                c.timeout_ms,
            ),
            Via::Bot(token) => {
                let dest = self
                    .destination(post.peer)
                    .ok_or_else(|| no_destination(post))?;
                let mut body = json!({ "channel": dest, "text": post.text });
                if let Some(thread) = post.thread {
                    body["thread_ts"] = thread.into();
                }
                json_post(
                    format!("{}/chat.postMessage", c.api_base(API_BASE)),
                    vec![("authorization".into(), format!("Bearer {}", token.expose()))],
                    &body,
                    c.timeout_ms,
                )
            }
        };
        Ok(Dispatch::Request(req))
    }

    fn urls(&self) -> Vec<(&'static str, &str)> {
        self.0.urls()
    }

    fn message_id(&self, resp: &HttpResponse) -> Result<Option<String>, Refusal> {
        let body = json_body(resp);
        match body.get("ok").and_then(Value::as_bool) {
            Some(false) => {
                let error = body
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown_error");
                let message = format!("slack answered ok=false: {error}");
                if error == "ratelimited" {
                    Err(Refusal::Transient(message))
                } else {
                    Err(Refusal::Permanent(message))
                }
            }
            _ => Ok(body.get("ts").and_then(Value::as_str).map(str::to_string)),
        }
    }
}
