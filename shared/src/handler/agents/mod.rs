//! Agents for `run_agent`, configured under `webhooks.agents`: any
//! OpenAI-compatible chat-completions endpoint, and an OpenClaw/Clawdbot
//! gateway's `/hooks/agent`.
//!
//! As with channels, each provider is a pair of pure functions (request,
//! reply) and [`run`] is the only I/O.

pub mod openai;
pub mod openclaw;

use super::failure::{send_checked, ActionError};
use super::session::HistoryEntry;
use crate::config::{Agent, AgentKind};
use crate::ports::{Clock, HttpRequest, HttpResponse, HttpSender};
use serde_json::Value;

/// One run of an agent.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub agent_id: &'a str,
    pub prompt: &'a str,
    /// Earlier messages of the session, oldest first, without this one.
    pub history: &'a [HistoryEntry],
    pub session_key: &'a str,
    /// A name for the run (the handler id), shown by gateways in summaries.
    pub name: &'a str,
}

/// What an agent gave back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The answer, when the provider answers synchronously (chat
    /// completions always do; an OpenClaw gateway usually only accepts the
    /// run and delivers the answer itself).
    pub answer: Option<String>,
    /// Provider details worth keeping in the event record (model, usage,
    /// run id).
    pub detail: Value,
}

pub fn request(cfg: &Agent, call: &Call<'_>) -> Result<HttpRequest, ActionError> {
    match cfg.kind {
        AgentKind::Openai => openai::request(cfg, call),
        AgentKind::Openclaw => Ok(openclaw::request(cfg, call)),
    }
}

pub fn reply(cfg: &Agent, resp: &HttpResponse) -> Result<Reply, ActionError> {
    match cfg.kind {
        AgentKind::Openai => openai::reply(resp),
        AgentKind::Openclaw => Ok(openclaw::reply(resp)),
    }
}

pub async fn run(
    http: &dyn HttpSender,
    clock: &dyn Clock,
    cfg: &Agent,
    call: &Call<'_>,
) -> Result<Reply, ActionError> {
    let what = format!("agent {:?}", call.agent_id);
    let resp = send_checked(http, clock, "agent", &what, request(cfg, call)?).await?;
    reply(cfg, &resp)
}

/// The agent's base URL without a trailing slash.
pub(crate) fn base(cfg: &Agent) -> &str {
    cfg.url.trim_end_matches('/')
}
