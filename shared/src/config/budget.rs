//! A `run_agent` handler's `budget`: at most so many agent runs an hour;
//! past it, hooks are kept and marked `skipped` (`handler::budget`).

use super::error::ConfigError;
use super::{Action, Handler};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// Agent runs per clock hour (UTC), counted across every process.
    pub agent_runs_per_hour: u32,
}

impl Budget {
    /// At least one run, on a handler that runs an agent.
    pub fn check(&self, at: &str, h: &Handler, errors: &mut Vec<ConfigError>) {
        if self.agent_runs_per_hour == 0 {
            errors.push(ConfigError::new(
                format!("{at}.budget.agentRunsPerHour"),
                "must be at least 1 (set \"enabled\": false to stop a handler)",
            ));
        }
        if h.action != Action::RunAgent {
            errors.push(ConfigError::new(
                format!("{at}.budget"),
                "counts agent runs: it needs action \"run_agent\"",
            ));
        }
    }
}
