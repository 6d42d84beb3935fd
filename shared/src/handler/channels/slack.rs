//! Slack: an incoming webhook URL (`webhookUrl`, answers `ok`), or a bot
//! token with `chat.postMessage` (answers `{"ok": true, "ts": …}`, or
//! `{"ok": false, "error": …}` with status 200).

use super::{api_base, json_body, json_post, Post};
use crate::config::Channel;
use crate::handler::failure::ActionError;
use crate::ports::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub const API_BASE: &str = "https://slack.com/api";

pub fn request(cfg: &Channel, post: &Post<'_>) -> Result<HttpRequest, ActionError> {
    if let Some(hook) = &cfg.webhook_url {
        return Ok(json_post(
            hook.expose().to_string(),
            vec![],
            &json!({ "text": post.text }),
            cfg.timeout_ms,
        ));
    }
    let (token, dest) = super::bot(cfg, post)?;
    Ok(json_post(
        format!("{}/chat.postMessage", api_base(cfg, API_BASE)),
        vec![("authorization".into(), format!("Bearer {}", token.expose()))],
        &json!({ "channel": dest, "text": post.text }),
        cfg.timeout_ms,
    ))
}

pub fn message_id(resp: &HttpResponse) -> Result<Option<String>, ActionError> {
    let body = json_body(resp);
    match body.get("ok").and_then(Value::as_bool) {
        Some(false) => {
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown_error");
            let message = format!("slack answered ok=false: {error}");
            if error == "ratelimited" {
                Err(ActionError::transient("channel", message))
            } else {
                Err(ActionError::permanent("channel", message))
            }
        }
        _ => Ok(body.get("ts").and_then(Value::as_str).map(str::to_string)),
    }
}
