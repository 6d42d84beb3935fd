//! Discord: an incoming webhook URL (`webhookUrl`, posted with `?wait=true`
//! so Discord answers with the message), or a bot token and a channel id
//! through the REST API (`POST /channels/{id}/messages`).

use super::{api_base, id_string, json_body, json_post, Post};
use crate::config::Channel;
use crate::handler::failure::ActionError;
use crate::ports::{HttpRequest, HttpResponse};
use serde_json::json;

pub const API_BASE: &str = "https://discord.com/api/v10";

pub fn request(cfg: &Channel, post: &Post<'_>) -> Result<HttpRequest, ActionError> {
    // Text from outside must not ping @everyone or roles.
    let body = json!({ "content": post.text, "allowed_mentions": { "parse": [] } });
    if let Some(hook) = &cfg.webhook_url {
        let url = hook.expose();
        let sep = if url.contains('?') { '&' } else { '?' };
        return Ok(json_post(
            format!("{url}{sep}wait=true"),
            vec![],
            &body,
            cfg.timeout_ms,
        ));
    }
    let (token, dest) = super::bot(cfg, post)?;
    Ok(json_post(
        format!("{}/channels/{dest}/messages", api_base(cfg, API_BASE)),
        vec![("authorization".into(), format!("Bot {}", token.expose()))],
        &body,
        cfg.timeout_ms,
    ))
}

pub fn message_id(resp: &HttpResponse) -> Option<String> {
    id_string(json_body(resp).get("id"))
}
