//! Telegram: `POST {apiBase}/bot<token>/sendMessage` with `chat_id` (the
//! handler's peer, or `channelId`). The token is part of the URL, which is
//! why no error of ours ever prints a URL.

use super::{api_base, id_string, json_body, json_post, missing, Post};
use crate::config::Channel;
use crate::handler::failure::ActionError;
use crate::ports::{HttpRequest, HttpResponse};
use serde_json::json;

pub const API_BASE: &str = "https://api.telegram.org";

pub fn request(cfg: &Channel, post: &Post<'_>) -> Result<HttpRequest, ActionError> {
    let token = cfg
        .bot_token
        .as_ref()
        .ok_or_else(|| missing(post.channel, "botToken"))?;
    let chat = super::destination(cfg, post.peer).ok_or_else(|| {
        missing(
            post.channel,
            "a channelId (chat id) or the handler's target.peer",
        )
    })?;
    Ok(json_post(
        format!(
            "{}/bot{}/sendMessage",
            api_base(cfg, API_BASE),
            token.expose()
        ),
        vec![],
        &json!({ "chat_id": chat, "text": post.text }),
        cfg.timeout_ms,
    ))
}

pub fn message_id(resp: &HttpResponse) -> Option<String> {
    id_string(json_body(resp).pointer("/result/message_id"))
}
