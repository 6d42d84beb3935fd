//! `send_message`: the hook's text (its template rendered) to the
//! handler's `target {channel, peer}`. Also used by `run_agent` and
//! `custom` to deliver what they produced.
//!
//! Text over the channel's limit goes out as several messages; the ids of
//! the parts already posted are saved after each one, so a retry (say,
//! after a 429 on part 3) posts only the parts still missing.

use super::Run;
use crate::config::Target;
use crate::handler::channels::{self, place::place, split::split, Post};
use crate::handler::failure::ActionError;
use crate::handler::status::Status;
use serde_json::{json, Value};

pub async fn run(
    run: &Run<'_>,
    status: &mut Status,
    target: &Target,
) -> Result<Value, ActionError> {
    deliver(run, status, target, &run.prepared.text).await
}

/// Posts `text` to `target`, split as the channel needs.
pub async fn deliver(
    run: &Run<'_>,
    status: &mut Status,
    target: &Target,
    text: &str,
) -> Result<Value, ActionError> {
    let stage = run.stage;
    let cfg = stage
        .config
        .config
        .webhooks
        .channels
        .get(&target.channel)
        .ok_or_else(|| {
            ActionError::permanent(
                "channel",
                format!(
                    "channel {:?} is not configured under webhooks.channels",
                    target.channel
                ),
            )
        })?;
    if text.trim().is_empty() {
        return Err(ActionError::permanent(
            "channel",
            "nothing to send: the message text is empty (check the handler's template)",
        ));
    }
    let place = place(
        &stage.config,
        &run.handler.id,
        target,
        &run.prepared.context,
    )?;
    let parts = match cfg.kind().limit() {
        Some(limit) => split(text, limit),
        None => vec![text.to_string()],
    };
    for (i, part) in parts.iter().enumerate() {
        if i < status.progress.parts_sent.len() {
            continue; // posted by an earlier attempt
        }
        let post = Post {
            channel: &target.channel,
            text: part,
            peer: place.peer.as_deref(),
            thread: place.thread.as_deref(),
            ev: run.ev,
        };
        let id = channels::post(stage.http.as_ref(), stage.clock.as_ref(), cfg, &post).await?;
        status.progress.parts_sent.push(id);
        if parts.len() > 1 && i + 1 < parts.len() {
            run.save(status).await?;
        }
    }
    let ids: Vec<Value> = status
        .progress
        .parts_sent
        .iter()
        .map(|id| id.clone().map(Value::String).unwrap_or(Value::Null))
        .collect();
    let mut result = json!({
        "channel": target.channel,
        "type": cfg.kind_name(),
        "peer": cfg.kind().destination(place.peer.as_deref()).map(|d| cfg.kind().shown(&d)),
        "messageId": ids.first().cloned().unwrap_or(Value::Null),
        "messageIds": ids,
        "parts": parts.len(),
    });
    if let Some(thread) = place.thread {
        result["thread"] = Value::String(thread);
    }
    Ok(result)
}
