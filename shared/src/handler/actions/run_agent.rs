//! `run_agent`: the hook's text as a prompt to the handler's agent, with
//! the session's history. The answer is kept in the event's progress (a
//! retry never asks the agent twice), appended to the session history,
//! emitted as `agent_response`, and posted to the handler's `target` when
//! it has one.

use super::{send_message, Run};
use crate::agents::{Agent, Call, Reply, Role, Turn};
use crate::config::Target;
use crate::event;
use crate::handler::agents;
use crate::handler::failure::ActionError;
use crate::handler::lifecycle;
use crate::handler::session;
use crate::handler::status::Status;
use serde_json::{json, Value};

pub async fn run(
    run: &Run<'_>,
    status: &mut Status,
    agent_id: &str,
    target: Option<&Target>,
) -> Result<Value, ActionError> {
    let cfg = run
        .stage
        .config
        .config
        .webhooks
        .agents
        .get(agent_id)
        .ok_or_else(|| {
            ActionError::permanent(
                "agent",
                format!("agent {agent_id:?} is not configured under webhooks.agents"),
            )
        })?;
    let reply = match &status.progress.agent_reply {
        Some(saved) => Reply {
            answer: saved
                .get("answer")
                .and_then(Value::as_str)
                .map(str::to_string),
            detail: saved.get("detail").cloned().unwrap_or(Value::Null),
        },
        None => ask(run, status, agent_id, cfg).await?,
    };
    if let Some(answer) = &reply.answer {
        if !status.progress.agent_response {
            announce(run, agent_id, answer, &status.progress.folded).await?;
            status.progress.agent_response = true;
            run.save(status).await?;
        }
    }
    let mut result = json!({ "agent": agent_id, "answer": reply.answer, "detail": reply.detail });
    if let (Some(target), Some(answer)) = (target, &reply.answer) {
        result["delivery"] = send_message::deliver(run, status, target, answer).await?;
    }
    Ok(result)
}

/// Asks the agent, with the session's earlier messages, and saves its reply
/// before anything else, so a retry never asks twice.
async fn ask(
    run: &Run<'_>,
    status: &mut Status,
    agent_id: &str,
    cfg: &Agent,
) -> Result<Reply, ActionError> {
    let (stage, ev) = (run.stage, run.ev);
    let history = session::get(
        stage.backend.store.as_ref(),
        &ev.session_key,
        run.now.timestamp(),
    )
    .await
    .map_err(transient)?
    .map(|(s, _)| s.history)
    .unwrap_or_default();
    let earlier: Vec<Turn<'_>> = history
        .iter()
        .filter(|h| h.event_id != ev.event_id && !status.progress.folded.contains(&h.event_id))
        .map(|h| Turn {
            role: match h.role {
                session::Role::User => Role::User,
                session::Role::Assistant => Role::Assistant,
            },
            text: &h.text,
        })
        .collect();
    let call = Call {
        agent_id,
        prompt: &run.prepared.text,
        history: &earlier,
        session_key: &ev.session_key,
        name: &run.handler.id,
    };
    let reply = agents::run(stage.http.as_ref(), stage.clock.as_ref(), cfg, &call).await?;
    status.progress.agent_reply = Some(json!({ "answer": reply.answer, "detail": reply.detail }));
    run.save(status).await?;
    Ok(reply)
}

/// The answer joins the session's history and goes out as `agent_response`
/// (naming the events of a coalesced turn).
async fn announce(
    run: &Run<'_>,
    agent_id: &str,
    answer: &str,
    folded: &[String],
) -> Result<(), ActionError> {
    let (stage, ev) = (run.stage, run.ev);
    let now = stage.clock.now();
    session::record_answer(
        stage.backend.store.as_ref(),
        &ev.session_key,
        &ev.event_id,
        answer,
        stage.config.config.webhooks.sessions.history,
        now,
    )
    .await
    .map_err(transient)?;
    let mut response = lifecycle::agent_response(ev, agent_id, answer, now);
    response.folded_event_ids = folded.to_vec();
    event::emit(stage.backend.events_queue.as_ref(), &response)
        .await
        .map_err(transient)
}

fn transient(e: impl ToString) -> ActionError {
    ActionError::transient("handler", e.to_string())
}
