//! `log`: the message goes to the server's own log instead of a chat
//! service, so a config works end to end with nothing but the binary (the
//! quick start's first hook shows up in the terminal that runs `clawhooks
//! serve`, and on the console's event page as the action's result).
//!
//! It is a real channel kind, not a test aid: a laptop setup with no chat
//! account, or a handler whose output is only audited, uses it as is.

use super::{destination, Post};
use crate::config::Channel;

/// Longest line written (characters): longer text is split into several
/// lines, as a chat service splits a long message, so one hook cannot
/// write an unbounded log line.
pub const LIMIT: usize = 4000;

/// Writes one message as one log line, and returns no message id (a log
/// line has none).
pub fn write(cfg: &Channel, post: &Post<'_>) -> Option<String> {
    tracing::info!(
        target: "clawhooks::channel",
        channel = post.channel,
        peer = destination(cfg, post.peer).as_deref().unwrap_or("-"),
        event = %post.ev.event_id,
        session = %post.ev.session_key,
        "{}",
        post.text
    );
    None
}
