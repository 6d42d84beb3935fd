//! A coalescing handler's turn: the hooks of one session that arrived
//! while its window was open, folded into one agent run whose prompt lists
//! each rendered template in arrival order.
//!
//! The fold is made from the queue, never from memory: the first hook of
//! the turn (its *head*) takes the messages that follow it in its session's
//! FIFO group ([`Followers`]: locally those waiting once the window has
//! closed, on Lambda what the batch holds), and they are deleted only with
//! the head, after every folded event is recorded `done`. A crash anywhere
//! before leaves every hook on the queue.
//!
//! Each folded event joins the session (`message_received`, history) and
//! its progress names the turn; the head's names every event of the turn,
//! saved with the agent's answer, so a redelivered head answers the same
//! events without asking again. A folded hook seen alone later (its turn's
//! batch split across Lambda invocations after a crash) takes its turn's
//! outcome.

use super::context::{self, Prepared};
use super::failure::ActionError;
use super::status::{self, Status};
use super::HandlerStage;
use crate::config::coalesce::Coalesce;
use crate::config::Handler;
use crate::event::{self, EventStatus, InboundEvent};
use crate::ports::Received;
use crate::worker::Followers;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// One hook folded into the head's turn.
pub(super) struct Member {
    pub ev: InboundEvent,
    status: Status,
    /// Its rendered template.
    text: String,
}

/// The hooks a head's turn answers besides the head itself.
#[derive(Default)]
pub(super) struct Fold {
    members: Vec<Member>,
}

/// What became of a hook whose progress says it was folded into another
/// event's turn.
pub(super) enum Elsewhere {
    /// Its turn answered it: recorded with the turn's outcome.
    Settled,
    /// Not (or no longer) part of a finished turn: it makes its own.
    Own,
}

/// A hook folded into another's turn that finished takes its outcome.
pub(super) async fn answered_elsewhere(
    stage: &HandlerStage,
    ev: &InboundEvent,
    status: &mut Status,
    now: DateTime<Utc>,
) -> Result<Elsewhere, ActionError> {
    let Some(turn) = status.progress.turn.clone().filter(|t| *t != ev.event_id) else {
        return Ok(Elsewhere::Own);
    };
    let store = stage.backend.store.as_ref();
    let Some((record, progress)) = status::peek(store, &turn, now.timestamp()).await? else {
        return Ok(Elsewhere::Own);
    };
    if !progress.folded.contains(&ev.event_id) {
        return Ok(Elsewhere::Own);
    }
    match record.status {
        EventStatus::Done => {
            let result = record.result.map(|r| with_turn(r, &turn));
            status.finish(store, result, now).await?;
        }
        EventStatus::Failed => {
            let e = ActionError::permanent("agent", record.error.unwrap_or_default());
            status.fail(store, &e, now).await?;
        }
        EventStatus::Skipped => {
            status.skip(store, record.error.as_deref(), now).await?;
        }
        _ => return Ok(Elsewhere::Own),
    }
    stage.settle(ev);
    Ok(Elsewhere::Settled)
}

/// Takes the turn's other hooks, joins each to the session, and turns
/// `prepared.text` into the turn's prompt. The head joins first.
pub(super) async fn gather(
    stage: &HandlerStage,
    head: &InboundEvent,
    (handler, c): (&Handler, &Coalesce),
    status: &mut Status,
    prepared: &mut Prepared,
    followers: &Followers<'_>,
    now: DateTime<Utc>,
) -> Result<Fold, ActionError> {
    let fixed = status.progress.agent_reply.is_some() && !status.progress.folded.is_empty();
    let taken = if fixed {
        let others = status.progress.folded.len().saturating_sub(1);
        followers.take(others, std::time::Duration::ZERO).await
    } else {
        followers
            .take(c.max.saturating_sub(1), window_left(head, c, now))
            .await
    };
    let fold = members(stage, head, handler, status, &taken, followers, now).await?;
    if !status.progress.message_received {
        stage
            .join_session(head, Some(handler), &prepared.text, status, now)
            .await?;
    }
    let mut texts = vec![prepared.text.clone()];
    let mut fold = fold;
    for m in fold.members.iter_mut() {
        m.status.progress.turn = Some(head.event_id.clone());
        if m.status.record.rendered.is_none() {
            m.status.record.rendered = Some(event::cut(&m.text, event::RENDERED_KEPT).into());
        }
        if m.status.progress.message_received {
            m.status.save(stage.backend.store.as_ref(), now).await?;
        } else {
            stage
                .join_session(&m.ev, Some(handler), &m.text, &mut m.status, now)
                .await?;
        }
        texts.push(m.text.clone());
    }
    if !fixed {
        status.progress.folded = std::iter::once(head.event_id.clone())
            .chain(fold.members.iter().map(|m| m.ev.event_id.clone()))
            .collect();
    }
    status.progress.turn = Some(head.event_id.clone());
    if texts.len() > 1 {
        prepared.text = prompt(&texts);
    }
    Ok(fold)
}

/// How long the window of the turn `head` opened is still open.
fn window_left(head: &InboundEvent, c: &Coalesce, now: DateTime<Utc>) -> std::time::Duration {
    let closes = head.received_at + chrono::Duration::seconds(c.window.0 as i64);
    (closes - now).to_std().unwrap_or_default()
}

/// The taken hooks that join the turn, each with its status begun; the
/// first that cannot (another handler's, unreadable, a template that does
/// not render, not in a redelivered turn's list) goes back with all after
/// it, so the session's order holds. Hooks already done are settled with
/// the head and join nothing.
async fn members(
    stage: &HandlerStage,
    head: &InboundEvent,
    handler: &Handler,
    status: &Status,
    taken: &[Received],
    followers: &Followers<'_>,
    now: DateTime<Utc>,
) -> Result<Fold, ActionError> {
    let store = stage.backend.store.as_ref();
    let kept = stage.config.config.webhooks.status_kept_secs();
    let listed = &status.progress.folded;
    let mut fold = Fold::default();
    for (i, msg) in taken.iter().enumerate() {
        let joins = serde_json::from_str::<InboundEvent>(&msg.body)
            .ok()
            .filter(|ev| {
                ev.handler_id == head.handler_id
                    && ev.session_key == head.session_key
                    && (listed.is_empty() || listed.contains(&ev.event_id))
            })
            .map(|ev| {
                let p = context::prepare(&stage.config, Some(handler), &ev, now);
                (ev, p)
            })
            .filter(|(_, p)| p.render_error.is_none());
        let Some((ev, p)) = joins else {
            followers.release(&taken[i..]).await;
            break;
        };
        let status = Status::begin(store, &ev, now, kept).await?;
        if !status.is_done() {
            fold.members.push(Member {
                ev,
                status,
                text: p.text,
            });
        }
    }
    Ok(fold)
}

/// The turn's prompt: each hook's text, numbered, in arrival order.
pub fn prompt(texts: &[String]) -> String {
    let n = texts.len();
    let mut out = format!("{n} events arrived together, oldest first:\n");
    for (i, t) in texts.iter().enumerate() {
        out.push_str(&format!("\n[{}/{n}]\n{t}\n", i + 1));
    }
    out
}

fn with_turn(mut result: Value, turn: &str) -> Value {
    if let Some(obj) = result.as_object_mut() {
        obj.insert("turn".into(), json!(turn));
    }
    result
}

impl Fold {
    /// The head's result names the turn and every event it answered
    /// (`folded`, from its progress; empty when the handler does not
    /// coalesce).
    pub fn head_result(
        &self,
        head: &InboundEvent,
        folded: &[String],
        result: Option<Value>,
    ) -> Option<Value> {
        if folded.is_empty() {
            return result;
        }
        result.map(|r| {
            let mut r = with_turn(r, &head.event_id);
            r["folded"] = json!(folded);
            r
        })
    }

    /// Each folded hook is done with the turn's result, naming the turn.
    pub async fn finish(
        &mut self,
        stage: &HandlerStage,
        head: &InboundEvent,
        result: Option<&Value>,
        now: DateTime<Utc>,
    ) -> Result<(), ActionError> {
        let store = stage.backend.store.as_ref();
        let mut result = result.cloned();
        if let Some(r) = result.as_mut().and_then(Value::as_object_mut) {
            r.remove("folded"); // the head's alone: it lists the turn's events
        }
        for m in &mut self.members {
            let r = result.clone().map(|r| with_turn(r, &head.event_id));
            m.status.finish(store, r, now).await?;
            stage.settle(&m.ev);
        }
        Ok(())
    }

    /// Each folded hook is skipped with the turn.
    pub async fn skip(
        &mut self,
        stage: &HandlerStage,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ActionError> {
        let store = stage.backend.store.as_ref();
        for m in &mut self.members {
            m.status.skip(store, Some(reason), now).await?;
            stage.settle(&m.ev);
        }
        Ok(())
    }

    /// Each folded hook fails with the turn.
    pub async fn fail(
        &mut self,
        stage: &HandlerStage,
        e: &ActionError,
        now: DateTime<Utc>,
    ) -> Result<(), ActionError> {
        let store = stage.backend.store.as_ref();
        for m in &mut self.members {
            m.status.fail(store, e, now).await?;
            stage.settle(&m.ev);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_lists_each_text_in_order() {
        let p = prompt(&["a".into(), "b".into()]);
        assert!(p.starts_with("2 events arrived together"), "{p}");
        let (a, b) = (p.find("[1/2]\na").unwrap(), p.find("[2/2]\nb").unwrap());
        assert!(a < b, "{p}");
    }
}
