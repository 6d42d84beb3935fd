//! A handler's `budget`: at most `agentRunsPerHour` agent runs per clock
//! hour (UTC). Past it, a hook is kept (its record, its session, its
//! `message_received`) and marked `skipped` with the reason, and one
//! `error` event a window says so.
//!
//! Counted in the store, so every process and Lambda instance spends the
//! same budget: table `limits`, pk [`BUDGET_PK`], sk `<handler>#<hour>`,
//! value `{"runs", "announced"}`, written only if unchanged since read,
//! kept an hour past its window. A run is counted once per event (its
//! progress remembers it), so a redelivery does not spend twice.

use super::coalesce::Fold;
use super::failure::ActionError;
use super::lifecycle;
use super::status::Status;
use super::HandlerStage;
use crate::config::budget::Budget;
use crate::config::{Action, Handler};
use crate::event::{self, InboundEvent};
use crate::ports::{Item, Store, StoreError, Table};
use chrono::{DateTime, Utc};

/// Partition of the budget counters.
pub const BUDGET_PK: &str = "agent-budget";
/// Tries of one read-modify-write before the hook is retried.
const TRIES: usize = 50;
const HOUR: i64 = 3600;

/// What spending one run from a budget found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spend {
    Within,
    /// Spent: `announce` when nobody has said so yet this window.
    Over {
        announce: bool,
    },
}

/// The decision on a window's counter, without I/O: the spend, and the
/// runs to store (`None`: nothing to write).
pub fn decide(runs: u64, announced: bool, limit: u32) -> (Spend, Option<u64>) {
    if runs < u64::from(limit) {
        (Spend::Within, Some(runs + 1))
    } else {
        (
            Spend::Over {
                announce: !announced,
            },
            None,
        )
    }
}

fn key(handler: &str, now: i64) -> (String, i64) {
    let hour = now.div_euclid(HOUR) * HOUR;
    (format!("{handler}#{hour}"), hour)
}

/// Spends one run of `handler`'s budget for the hour of `now`.
pub async fn spend(
    store: &dyn Store,
    handler: &str,
    limit: u32,
    now: i64,
) -> Result<Spend, StoreError> {
    let (sk, hour) = key(handler, now);
    for _ in 0..TRIES {
        let stored = store.get(Table::Limits, BUDGET_PK, &sk, now).await?;
        let (runs, announced, version) = match &stored {
            Some(i) => (
                i.value["runs"].as_u64().unwrap_or(0),
                i.value["announced"].as_bool().unwrap_or(false),
                i.version,
            ),
            None => (0, false, 0),
        };
        let (spend, write) = decide(runs, announced, limit);
        let Some(runs) = write else {
            return Ok(spend);
        };
        let value = serde_json::json!({ "runs": runs, "announced": announced });
        let item = Item::new(BUDGET_PK, sk.as_str(), value).expires_at(hour + 2 * HOUR);
        if store
            .put_if_version(Table::Limits, item, version, now)
            .await?
            .is_some()
        {
            return Ok(spend);
        }
    }
    Err(contended(handler))
}

/// Notes that the window's `error` event went out.
async fn mark_announced(store: &dyn Store, handler: &str, now: i64) -> Result<(), StoreError> {
    let (sk, hour) = key(handler, now);
    for _ in 0..TRIES {
        let Some(mut item) = store.get(Table::Limits, BUDGET_PK, &sk, now).await? else {
            return Ok(());
        };
        if item.value["announced"].as_bool() == Some(true) {
            return Ok(());
        }
        item.value["announced"] = true.into();
        let version = item.version;
        let item = Item::new(BUDGET_PK, sk.as_str(), item.value).expires_at(hour + 2 * HOUR);
        if store
            .put_if_version(Table::Limits, item, version, now)
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    Err(contended(handler))
}

fn contended(handler: &str) -> StoreError {
    StoreError::Backend {
        table: "limits",
        message: format!("the agent budget of {handler:?} stayed contended"),
    }
}

/// Spends this event's run, unless it spent it on an earlier attempt or
/// has its agent's answer already: the reason to skip it when the budget
/// is spent.
pub(super) async fn check(
    stage: &HandlerStage,
    ev: &InboundEvent,
    handler: Option<&Handler>,
    status: &mut Status,
    now: DateTime<Utc>,
) -> Result<Option<String>, ActionError> {
    let Some((h, b)) = handler.and_then(|h| Some((h, h.budget?))) else {
        return Ok(None);
    };
    let asked = status.progress.agent_reply.is_some() || status.progress.budget_spent;
    if h.action != Action::RunAgent || asked {
        return Ok(None);
    }
    let store = stage.backend.store.as_ref();
    let to_action = |e: StoreError| ActionError::transient("handler", e.to_string());
    let spent = spend(store, &h.id, b.agent_runs_per_hour, now.timestamp());
    match spent.await.map_err(to_action)? {
        Spend::Within => {
            status.progress.budget_spent = true;
            Ok(None)
        }
        Spend::Over { announce } => {
            let reason = reason(&h.id, b, now);
            if announce {
                announce_spent(stage, ev, &h.id, &reason, now).await?;
                let marked = mark_announced(store, &h.id, now.timestamp()).await;
                marked.map_err(to_action)?;
            }
            Ok(Some(reason))
        }
    }
}

fn reason(handler: &str, b: Budget, now: DateTime<Utc>) -> String {
    let (_, hour) = key(handler, now.timestamp());
    let until = DateTime::from_timestamp(hour + HOUR, 0).unwrap_or(now);
    format!(
        "handler {handler:?} has used its budget of {} agent runs this hour; hooks are kept and skipped until {}",
        b.agent_runs_per_hour,
        event::timestamp(until)
    )
}

/// The window's one `error` event: its id is the handler's and the
/// hour's, so a second announcer (another instance) repeats the same one.
async fn announce_spent(
    stage: &HandlerStage,
    ev: &InboundEvent,
    handler: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ActionError> {
    let (sk, hour) = key(handler, now.timestamp());
    let at = DateTime::from_timestamp(hour, 0).unwrap_or(now);
    let mut e = lifecycle::error(ev, "budget", reason, None, now);
    e.id = lifecycle::stable_id(at, &[&sk, "budget"]);
    event::emit(stage.backend.events_queue.as_ref(), &e)
        .await
        .map_err(|q| ActionError::transient("handler", q.to_string()))
}

/// Records a skipped hook: it joins its session as any hook (and a
/// `hook:` session ends, as after any hook), then it and the hooks folded
/// with it are `skipped` with the reason.
pub(super) async fn skip(
    stage: &HandlerStage,
    ev: &InboundEvent,
    handler: Option<&Handler>,
    text: &str,
    (status, fold): (&mut Status, &mut Fold),
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ActionError> {
    let mut joined = None;
    if !status.progress.message_received {
        joined = Some(stage.join_session(ev, handler, text, status, now).await?);
    }
    stage
        .end_hook_session(ev, status, joined.as_ref(), now)
        .await?;
    let store = stage.backend.store.as_ref();
    fold.skip(stage, reason, now).await?;
    status.skip(store, Some(reason), now).await?;
    stage.settle(ev);
    tracing::info!(event_id = %ev.event_id, handler = ev.handler_id.as_deref(), "skipped: budget spent");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_counted_to_the_limit_and_the_first_past_it_announces() {
        assert_eq!(decide(0, false, 2), (Spend::Within, Some(1)));
        assert_eq!(decide(1, false, 2), (Spend::Within, Some(2)));
        assert_eq!(decide(2, false, 2), (Spend::Over { announce: true }, None));
        assert_eq!(decide(5, true, 2), (Spend::Over { announce: false }, None));
        assert_eq!(key("h", 7199), ("h#3600".to_string(), 3600));
    }
}
