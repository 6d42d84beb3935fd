//! A `send_message` or `run_agent` target's `fallback`: the channel a
//! message goes to when the target's own channel fails for good (a 4xx, a
//! revoked token) or on the hook's last attempt. The handler's
//! `send_message` does the switch; this is its config and check.

use super::error::ConfigError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `target.fallback`: `{"channel", "peer"}`, as a target's own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fallback {
    pub channel: String,
    #[serde(default)]
    pub peer: Option<String>,
}

/// A fallback must name a configured channel other than the target's.
pub fn check(w: &super::Webhooks, target: Option<&super::Target>, at: &str) -> Vec<ConfigError> {
    let Some((target, fb)) = target.and_then(|t| Some((t, t.fallback.as_ref()?))) else {
        return vec![];
    };
    let path = format!("{at}.target.fallback.channel");
    if !w.channels.contains_key(&fb.channel) {
        let why = format!(
            "channel {:?} is not configured under webhooks.channels",
            fb.channel
        );
        return vec![ConfigError::new(path, why)];
    }
    if fb.channel == target.channel && fb.peer == target.peer {
        return vec![ConfigError::new(path, "the fallback is the target itself")];
    }
    vec![]
}
