//! Deliveries an assistant must not act on, decided without I/O from an
//! authenticated body: a message a bot posted on Slack or Discord (the
//! assistant's own answer coming back would run it again, in a loop),
//! unless the handler sets `allowBots`. Slack's retries of an event
//! already taken are known by its `event_id` (`verify/slack.rs`'s replay
//! key) and answered 200 here, so Slack stops retrying.

use crate::config::Handler;
use crate::verify::Scheme;
use http::StatusCode;
use serde_json::Value;

/// Why a delivery is acknowledged and not kept.
pub const BOT_MESSAGE: &str = "a message posted by a bot (allowBots is off)";

/// The reason to ignore this delivery, or `None` to keep it.
pub fn ignored(handler: &Handler, body: &[u8]) -> Option<&'static str> {
    let scheme = handler.verify.as_ref()?.scheme;
    if handler.allow_bots || !matches!(scheme, Scheme::Slack | Scheme::Discord) {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let by_bot = match scheme {
        Scheme::Slack => slack_bot(&v["event"]),
        _ => discord_bot(&v),
    };
    by_bot.then_some(BOT_MESSAGE)
}

/// An Events API message from a bot: `bot_id` set, or `subtype: bot_message`.
fn slack_bot(event: &Value) -> bool {
    let bot_id = event["bot_id"].as_str().is_some_and(|id| !id.is_empty());
    bot_id || event["subtype"] == "bot_message"
}

/// A Discord message whose `author.bot` is true: the message itself, a
/// gateway dispatch (`d`), or an interaction's message.
fn discord_bot(v: &Value) -> bool {
    [&v["author"], &v["d"]["author"], &v["message"]["author"]]
        .iter()
        .any(|author| author["bot"] == true)
}

/// The status of a repeat: 200 for Slack, whose retries (`X-Slack-Retry-Num`)
/// stop only at a 200; the configured success status otherwise.
pub fn repeat_status(handler: Option<&Handler>, success: StatusCode) -> StatusCode {
    let slack = handler
        .and_then(|h| h.verify.as_ref())
        .is_some_and(|v| v.scheme == Scheme::Slack);
    if slack {
        StatusCode::OK
    } else {
        success
    }
}
