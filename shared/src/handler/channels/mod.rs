//! Channel adapters for `send_message`: Discord, Slack, Telegram, a
//! generic JSON webhook, and the server's own log, configured under
//! `webhooks.channels`.
//!
//! Each service is a pair of pure functions (build the request for one
//! message, read the message id from the answer); [`post`] is the only
//! I/O. Every service's API base is configurable (`apiBase`), so tests
//! point it at a recording server and self-hosted setups at a proxy.

pub mod discord;
pub mod log;
pub mod slack;
pub mod split;
pub mod telegram;
pub mod webhook;

use super::failure::{send_checked, ActionError};
use crate::config::{Channel, ChannelKind};
use crate::event::InboundEvent;
use crate::ports::{Clock, HttpRequest, HttpResponse, HttpSender};
use std::time::Duration;

/// One message for one channel.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    /// The channel's name under `webhooks.channels`.
    pub channel: &'a str,
    pub text: &'a str,
    /// The handler's `target.peer`, before alias resolution.
    pub peer: Option<&'a str>,
    pub ev: &'a InboundEvent,
}

/// The longest message a service takes (characters), unless `maxLength`
/// says otherwise; `None`: no limit.
pub fn limit(cfg: &Channel) -> Option<usize> {
    cfg.max_length.or(match cfg.kind {
        ChannelKind::Discord => Some(2000),
        ChannelKind::Slack => Some(4000),
        ChannelKind::Telegram => Some(4096),
        ChannelKind::Webhook => None,
        ChannelKind::Log => Some(log::LIMIT),
    })
}

/// Where a message goes: the peer (through the channel's `peers` aliases),
/// else the channel's `channelId`.
pub fn destination(cfg: &Channel, peer: Option<&str>) -> Option<String> {
    peer.map(|p| cfg.peers.get(p).cloned().unwrap_or_else(|| p.to_string()))
        .or_else(|| cfg.channel_id.clone())
}

/// The request that posts one message (already short enough).
pub fn request(cfg: &Channel, post: &Post<'_>) -> Result<HttpRequest, ActionError> {
    match cfg.kind {
        ChannelKind::Discord => discord::request(cfg, post),
        ChannelKind::Slack => slack::request(cfg, post),
        ChannelKind::Telegram => telegram::request(cfg, post),
        ChannelKind::Webhook => webhook::request(cfg, post),
        ChannelKind::Log => Err(ActionError::permanent(
            "channel",
            format!("{:?} is a log channel: it sends no request", post.channel),
        )),
    }
}

/// The posted message's id from a 2xx answer; an error where the service
/// answers 200 but says it failed (Slack's `{"ok": false}`).
pub fn message_id(cfg: &Channel, resp: &HttpResponse) -> Result<Option<String>, ActionError> {
    match cfg.kind {
        ChannelKind::Discord => Ok(discord::message_id(resp)),
        ChannelKind::Slack => slack::message_id(resp),
        ChannelKind::Telegram => Ok(telegram::message_id(resp)),
        ChannelKind::Webhook => Ok(webhook::message_id(resp)),
        ChannelKind::Log => Ok(None),
    }
}

/// Posts one message and returns its id, if the service gives one.
pub async fn post(
    http: &dyn HttpSender,
    clock: &dyn Clock,
    cfg: &Channel,
    post: &Post<'_>,
) -> Result<Option<String>, ActionError> {
    if cfg.kind == ChannelKind::Log {
        return Ok(log::write(cfg, post));
    }
    let what = format!("{} channel {:?}", kind_name(cfg.kind), post.channel);
    let resp = send_checked(http, clock, "channel", &what, request(cfg, post)?).await?;
    message_id(cfg, &resp)
}

pub fn kind_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Discord => "discord",
        ChannelKind::Slack => "slack",
        ChannelKind::Telegram => "telegram",
        ChannelKind::Webhook => "webhook",
        ChannelKind::Log => "log",
    }
}

/// A JSON POST with the channel's timeout.
pub(crate) fn json_post(
    url: String,
    headers: Vec<(String, String)>,
    body: &serde_json::Value,
    timeout_ms: u64,
) -> HttpRequest {
    let mut all = vec![("content-type".to_string(), "application/json".to_string())];
    all.extend(headers);
    HttpRequest {
        method: "POST".into(),
        url,
        headers: all,
        body: serde_json::to_vec(body).expect("json serializes"),
        timeout: Duration::from_millis(timeout_ms),
    }
}

/// `apiBase` without a trailing slash, or the service's public API.
pub(crate) fn api_base<'a>(cfg: &'a Channel, default: &'a str) -> &'a str {
    cfg.api_base
        .as_deref()
        .unwrap_or(default)
        .trim_end_matches('/')
}

/// A bot token and the destination it posts to (Discord and Slack bots).
pub(crate) fn bot<'a>(
    cfg: &'a Channel,
    post: &Post<'_>,
) -> Result<(&'a crate::Secret, String), ActionError> {
    let token = cfg
        .bot_token
        .as_ref()
        .ok_or_else(|| missing(post.channel, "webhookUrl or botToken"))?;
    let dest = destination(cfg, post.peer)
        .ok_or_else(|| missing(post.channel, "a channelId (or the handler's target.peer)"))?;
    Ok((token, dest))
}

pub(crate) fn missing(channel: &str, what: &str) -> ActionError {
    ActionError::permanent("channel", format!("channel {channel:?} is missing {what}"))
}

pub(crate) fn json_body(resp: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null)
}

/// An id that may be a JSON string or number.
pub(crate) fn id_string(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
