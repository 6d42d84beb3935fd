//! The four actions a handler runs: `send_message`, `run_agent`,
//! `forward`, `custom`. Each takes the run's context and the event's
//! [`Status`], records its progress there (so a redelivery resumes instead
//! of repeating), and returns the result for the event record.

pub mod custom;
pub mod forward;
pub mod run_agent;
pub mod send_message;

use super::context::Prepared;
use super::failure::ActionError;
use super::status::Status;
use super::HandlerStage;
use crate::config::{Action, Handler};
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
    match run.handler.action {
        Action::SendMessage => send_message::run(run, status).await.map(Some),
        Action::RunAgent => run_agent::run(run, status).await.map(Some),
        Action::Forward => forward::run(run, status).await.map(Some),
        Action::Custom => custom::run(run, status).await.map(Some),
        Action::None => Ok(None),
    }
}
