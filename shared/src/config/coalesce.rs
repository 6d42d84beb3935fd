//! A persistent `run_agent` handler's `coalesce`: the hooks that arrive for
//! one session while a window is open go to the agent as one turn, whose
//! prompt lists each rendered template in arrival order.

use super::duration::Seconds;
use super::error::ConfigError;
use super::{Action, Handler, SessionMode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The longest window: the handler holds the session's first hook that
/// long before its turn, and a caller waits at most `incoming.maxWait`.
pub const MAX_WINDOW: Seconds = Seconds(300);

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Coalesce {
    /// From the first hook of a turn, how long later hooks join it.
    pub window: Seconds,
    /// Most hooks in one turn (the first included).
    #[serde(default = "fifty")]
    pub max: usize,
}

fn fifty() -> usize {
    50
}

impl Coalesce {
    /// A window of `1s..=5m`, `max` of at least 2, and a handler that runs
    /// an agent in a persistent session (an ephemeral session never sees a
    /// second hook).
    pub fn check(&self, at: &str, h: &Handler, errors: &mut Vec<ConfigError>) {
        let at = format!("{at}.coalesce");
        if self.window.0 == 0 || self.window > MAX_WINDOW {
            errors.push(ConfigError::new(
                format!("{at}.window"),
                format!("must be between 1s and 5m, not {}s", self.window.0),
            ));
        }
        if !(2..=1000).contains(&self.max) {
            errors.push(ConfigError::new(
                format!("{at}.max"),
                format!("must be between 2 and 1000, not {}", self.max),
            ));
        }
        if h.action != Action::RunAgent || h.session_mode != SessionMode::Persistent {
            errors.push(ConfigError::new(
                at,
                "folds hooks into one agent turn: it needs action \"run_agent\" and sessionMode \"persistent\"",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    fn load(handler: &str) -> Result<(), String> {
        let cfg = format!(
            r#"{{"webhooks": {{"agents": {{"a": {{"type": "openai", "url": "https://x.example/v1", "model": "m"}}}},
                "handlers": [{handler}]}}}}"#
        );
        crate::config::load_str(&cfg, &|_| None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn coalesce_needs_a_persistent_agent_handler_and_a_sane_window() {
        let ok = r#"{"id": "h", "action": "run_agent", "agentId": "a", "sessionMode": "persistent",
                     "coalesce": {"window": "10s"}}"#;
        load(ok).expect("loads");
        let ephemeral = r#"{"id": "h", "action": "run_agent", "agentId": "a",
                            "coalesce": {"window": "10s"}}"#;
        let err = load(ephemeral).expect_err("an ephemeral session never folds");
        assert!(err.contains("webhooks.handlers[0].coalesce"), "{err}");
        let long = r#"{"id": "h", "action": "run_agent", "agentId": "a", "sessionMode": "persistent",
                       "coalesce": {"window": "1h", "max": 1}}"#;
        let err = load(long).expect_err("too long a window, too few hooks");
        assert!(
            err.contains("coalesce.window") && err.contains("coalesce.max"),
            "{err}"
        );
    }
}
