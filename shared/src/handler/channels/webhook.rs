//! A generic JSON webhook: `POST url` with the channel's headers and
//! `{"text", "channel", "peer", "session", "eventId", "hookId", "handlerId"}`,
//! for chat bridges and services without an adapter of their own.

use super::{id_string, json_body, json_post, missing, Post};
use crate::config::Channel;
use crate::handler::failure::ActionError;
use crate::ports::{HttpRequest, HttpResponse};
use serde_json::json;

pub fn request(cfg: &Channel, post: &Post<'_>) -> Result<HttpRequest, ActionError> {
    let url = cfg
        .url
        .clone()
        .or_else(|| cfg.webhook_url.as_ref().map(|s| s.expose().to_string()))
        .ok_or_else(|| missing(post.channel, "url"))?;
    let headers = cfg
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let body = json!({
        "text": post.text,
        "channel": post.channel,
        "peer": super::destination(cfg, post.peer),
        "session": post.ev.session_key,
        "eventId": post.ev.event_id,
        "hookId": post.ev.hook_id,
        "handlerId": post.ev.handler_id,
    });
    Ok(json_post(url, headers, &body, cfg.timeout_ms))
}

pub fn message_id(resp: &HttpResponse) -> Option<String> {
    let body = json_body(resp);
    id_string(
        body.get("id")
            .or_else(|| body.get("messageId"))
            .or_else(|| body.get("message_id")),
    )
}
