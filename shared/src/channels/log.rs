//! `log`: the message goes to the server's own log instead of a chat
//! service, so a config works end to end with nothing but the binary (the
//! quick start's first hook shows up in the terminal that runs `clawhooks
//! serve`, and on the console's event page as the action's result).
//!
//! It is a real channel kind, not a test aid: a laptop setup with no chat
//! account, or a handler whose output is only audited, uses it as is. It
//! takes no address or credentials: a key of a service's would be ignored,
//! and the user would believe the messages went there, so it fails to load.

use super::{Dispatch, Kind, Post, Reach, Refusal};
use crate::ports::HttpResponse;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest line written (characters): longer text is split into several
/// lines, as a chat service splits a long message, so one hook cannot
/// write an unbounded log line.
pub const LIMIT: usize = 4000;

/// The server's own log: for a setup with no chat service.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Written as the line's `peer` when the handler's `target.peer` does not name one.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// Friendly peer names to what the line shows.
    #[serde(default)]
    pub peers: BTreeMap<String, String>,
    /// Longest line; longer text is written as several lines.
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl Kind for Config {
    fn service_limit(&self) -> Option<usize> {
        Some(LIMIT)
    }

    fn reach(&self) -> Reach<'_> {
        Reach {
            peers: &self.peers,
            channel_id: self.channel_id.as_deref(),
            max_length: self.max_length,
            timeout_ms: None,
        }
    }

    /// Writes one message as one log line; a log line has no message id.
    fn send(&self, post: &Post<'_>) -> Result<Dispatch, Refusal> {
        tracing::info!(
            target: "clawhooks::channel",
            channel = post.channel,
            peer = self.destination(post.peer).as_deref().unwrap_or("-"),
            event = %post.ev.event_id,
            session = %post.ev.session_key,
            "{}",
            post.text
        );
        Ok(Dispatch::Done(None))
    }

    fn message_id(&self, _resp: &HttpResponse) -> Result<Option<String>, Refusal> {
        Ok(None)
    }
}
