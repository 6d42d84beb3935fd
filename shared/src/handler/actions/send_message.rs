//! `send_message`: the hook's text (its template rendered) to the
//! handler's `target {channel, peer, thread}`. Also used by `run_agent` and
//! `custom` to deliver what they produced.
//!
//! Text over the channel's limit goes out as several messages; the ids of
//! the parts already posted are saved after each one, so a retry (say,
//! after a 429 on part 3) posts only the parts still missing.

use super::Run;
use crate::config::Target;
use crate::handler::channels::{self, place::place, place::Place, split::split, Post};
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

/// Posts `text` to `target` (its peer and thread rendered for this hook);
/// when its channel fails for good, or on the hook's last attempt, to the
/// target's `fallback` instead. The result names the channel that took it
/// (`fallback: true` and the primary's error when it was the fallback).
pub async fn deliver(
    run: &Run<'_>,
    status: &mut Status,
    target: &Target,
    text: &str,
) -> Result<Value, ActionError> {
    let stage = run.stage;
    let place = place(
        &stage.config,
        &run.handler.id,
        target,
        &run.prepared.context,
    )?;
    let first = post_to(run, status, &target.channel, &place, text).await;
    let (Err(e), Some(fb)) = (&first, &target.fallback) else {
        return first;
    };
    if e.is_transient() && !status.last_attempt {
        return first;
    }
    tracing::warn!(event_id = %run.ev.event_id, channel = %target.channel, fallback = %fb.channel, error = %e, "channel failed; the message goes to the fallback channel");
    // The parts posted were the primary's: the fallback gets them all.
    status.progress.parts_sent.clear();
    let at = Place {
        peer: fb.peer.clone(),
        thread: None,
    };
    let mut result = post_to(run, status, &fb.channel, &at, text).await?;
    result["fallback"] = json!(true);
    result["primaryChannel"] = json!(target.channel);
    result["primaryError"] = json!(e.to_string());
    Ok(result)
}

/// Posts `text` to `channel` at `place`, split as the channel needs.
async fn post_to(
    run: &Run<'_>,
    status: &mut Status,
    channel: &str,
    place: &Place,
    text: &str,
) -> Result<Value, ActionError> {
    let stage = run.stage;
    let cfg = stage
        .config
        .config
        .webhooks
        .channels
        .get(channel)
        .ok_or_else(|| {
            ActionError::permanent(
                "channel",
                format!("channel {channel:?} is not configured under webhooks.channels"),
            )
        })?;
    if text.trim().is_empty() {
        return Err(ActionError::permanent(
            "channel",
            "nothing to send: the message text is empty (check the handler's template)",
        ));
    }
    let parts = match cfg.kind().limit() {
        Some(limit) => split(text, limit),
        None => vec![text.to_string()],
    };
    for (i, part) in parts.iter().enumerate() {
        if i < status.progress.parts_sent.len() {
            continue; // posted by an earlier attempt
        }
        let post = Post {
            channel,
            text: part,
            peer: place.peer.as_deref(),
            thread: place.thread.as_deref(),
            part: i,
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
    let peer = cfg.kind().destination(place.peer.as_deref());
    let mut result = json!({
        "channel": channel,
        "type": cfg.kind_name(),
        "peer": peer.map(|d| cfg.kind().shown(&d)),
        "messageId": ids.first().cloned().unwrap_or(Value::Null),
        "messageIds": ids,
        "parts": parts.len(),
    });
    if let Some(thread) = &place.thread {
        result["thread"] = Value::String(thread.clone());
    }
    Ok(result)
}
