//! The four actions a handler runs: `send_message`, `run_agent`,
//! `forward`, `custom`. Each takes the run's context, the event's
//! [`Status`] and its part of the handler's [`ActionPlan`] (what load
//! checked it needs, nothing optional left to check), records its progress
//! in the status (so a redelivery resumes instead of repeating), and
//! returns the result for the event record.
//!
//! # Adding an action
//!
//! 1. Add its variant to [`crate::config::Action`], the `action` users
//!    write (its serde name), and to `Action::ALL`: a test fails on a
//!    variant missing there.
//! 2. Add its variant to [`ActionPlan`] (`config/plan.rs`) holding what it
//!    needs, required parts not `Option`, and build it from the wire keys
//!    in `ActionPlan::of`, with an error naming the JSON path of a key it
//!    lacks. Keep its wire keys in `config::Handler` (they are
//!    `deny_unknown_fields`). The compiler then names every match that
//!    must learn it: `ActionPlan::of` and `ActionPlan::action`, [`run`]
//!    below, and `config::function_timeout` (how long one hook of it may take on Lambda).
//! 3. Write `handler/actions/<action>.rs` with
//!    `pub async fn run(run, status, <its plan>)`: pure request builders
//!    beside it, its progress saved in [`Status`] before any step that must
//!    not repeat.
//! 4. Secrets among its keys are typed [`crate::secret::Secret`] (or
//!    `Redacted`), and `config::scope` must hand them to the handler
//!    function.
//! 5. Add its fixture test (a real recording server, in
//!    `tests/tests/handler_actions.rs`) to [`FIXTURES`], and a row in
//!    `docs/handlers.md`'s table of actions; a unit test fails until both
//!    are there.

pub mod custom;
pub mod forward;
pub mod run_agent;
pub mod send_message;

use super::context::Prepared;
use super::failure::ActionError;
use super::status::Status;
use super::HandlerStage;
use crate::config::{ActionPlan, Handler};
use crate::event::InboundEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// What an action works with.
pub struct Run<'a> {
    pub stage: &'a HandlerStage,
    pub ev: &'a InboundEvent,
    pub handler: &'a Handler,
    pub prepared: &'a Prepared,
    pub now: DateTime<Utc>,
}

impl Run<'_> {
    /// Saves the progress made so far.
    pub async fn save(&self, status: &mut Status) -> Result<(), ActionError> {
        status
            .save(self.stage.backend.store.as_ref(), self.now)
            .await
    }
}

/// Runs the handler's action; `None` for `action: "none"`.
pub async fn run(run: &Run<'_>, status: &mut Status) -> Result<Option<Value>, ActionError> {
    let Some(plan) = run.stage.config.plan(run.handler) else {
        return Ok(None);
    };
    match plan {
        ActionPlan::SendMessage { target } => send_message::run(run, status, target).await,
        ActionPlan::RunAgent { agent_id, target } => {
            run_agent::run(run, status, agent_id, target.as_ref()).await
        }
        ActionPlan::Forward(f) => forward::run(run, status, f).await,
        ActionPlan::Custom(c) => custom::run(run, status, c).await,
    }
    .map(Some)
}

/// Each action's fixture test, against real HTTP servers, as
/// `(action, file, test)`. An action in `Action::ALL` missing here fails
/// `every_action_has_its_fixture_test_and_its_doc`.
pub const FIXTURES: &[(&str, &str, &str)] = &[
    (
        "send_message",
        "tests/tests/handler_seed.rs",
        "github_integration_posts_to_the_discord_dev_channel",
    ),
    (
        "run_agent",
        "tests/tests/handler_seed.rs",
        "github_events_runs_the_devops_agent_with_the_rendered_prompt",
    ),
    (
        "forward",
        ACTION_TESTS,
        "forward_passes_the_body_as_received_with_chosen_headers_and_a_signature",
    ),
    (
        "custom",
        ACTION_TESTS,
        "custom_github_summary_posts_its_line_to_the_target",
    ),
    (
        "none",
        ACTION_TESTS,
        "action_none_only_joins_its_session_and_emits_message_received",
    ),
];

const ACTION_TESTS: &str = "tests/tests/handler_actions.rs";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Action;

    #[test]
    fn every_action_has_its_fixture_test_and_its_doc() {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        crate::channels::assert_fixture_tests("action", &names, FIXTURES);
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let doc = std::fs::read_to_string(repo.join("docs/handlers.md")).unwrap();
        for name in names {
            assert!(
                doc.contains(&format!("| `{name}`")),
                "docs/handlers.md's table of actions has no row for {name:?}"
            );
        }
    }
}
