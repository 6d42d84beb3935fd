//! The handler stage: turns an accepted hook into work. For each inbound
//! event it resolves the session, renders the template, runs the action,
//! and emits lifecycle events, recording where the event is in
//! `GET /events/<id>`'s record.
//!
//! Built once per process (Lambda init, or `clawhooks serve`):
//!
//! ```ignore
//! let stage = HandlerStage::new(config, backend, http, clock)
//!     .with_max_receive_count(5);         // the handler queue's redrive setting
//! // feature "lambda-invoke": .with_lambda(LambdaInvoker::from_env().await)
//! worker::run(backend.handler_queue.clone(), Arc::new(stage), settings, shutdown).await;
//! ```
//!
//! Failures: transient ones (timeouts, 5xx, 429, store hiccups) return
//! [`StageError::Retry`], so the queue redelivers and finally dead-letters;
//! permanent ones (4xx, unknown agent or channel, a template that does not
//! render) are recorded on the event, announced with an `error` event, and
//! the message is done. Every step is resumable (see [`status::Progress`]).

pub mod actions;
pub mod agents;
pub mod budget;
pub mod channels;
pub mod coalesce;
pub mod context;
pub mod custom;
pub mod failure;
pub mod lifecycle;
pub mod session;
pub mod status;
pub mod sweeper;
pub mod transform;

pub use failure::ActionError;
pub use sweeper::{sweep_sessions, SweepReport};

use crate::config::{CompiledConfig, Handler};
use crate::event::{self, InboundEvent};
use crate::ports::{Backend, Clock, HttpSender, Received};
use crate::worker::{Followers, Stage, StageError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use status::Status;
use std::sync::Arc;

/// SQS's usual `maxReceiveCount` for the handler queue; tell the stage the
/// real one with [`HandlerStage::with_max_receive_count`].
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;

pub struct HandlerStage {
    pub(crate) config: Arc<CompiledConfig>,
    pub(crate) backend: Backend,
    pub(crate) http: Arc<dyn HttpSender>,
    pub(crate) clock: Arc<dyn Clock>,
    max_receive_count: u32,
    #[cfg(feature = "lambda-invoke")]
    pub(crate) lambda: Option<custom::lambda::LambdaInvoker>,
}

impl HandlerStage {
    pub fn new(
        config: Arc<CompiledConfig>,
        backend: Backend,
        http: Arc<dyn HttpSender>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        HandlerStage {
            config,
            backend,
            http,
            clock,
            max_receive_count: DEFAULT_MAX_RECEIVE_COUNT,
            #[cfg(feature = "lambda-invoke")]
            lambda: None,
        }
    }

    /// The handler queue's `maxReceiveCount`: on that attempt a transient
    /// failure is the last one, so it is recorded as `failed` and announced
    /// with `retrying: false` before the queue dead-letters the message.
    pub fn with_max_receive_count(mut self, n: u32) -> Self {
        self.max_receive_count = n.max(1);
        self
    }

    /// Lets `custom.lambda` handlers invoke AWS Lambda functions.
    #[cfg(feature = "lambda-invoke")]
    pub fn with_lambda(mut self, lambda: custom::lambda::LambdaInvoker) -> Self {
        self.lambda = Some(lambda);
        self
    }

    /// Handles one inbound event; `receive_count` is the queue's (1 on the
    /// first delivery).
    pub async fn handle(&self, ev: &InboundEvent, receive_count: u32) -> Result<(), StageError> {
        self.handle_following(ev, receive_count, &Followers::none())
            .await
    }

    /// [`HandlerStage::handle`], folding the hooks of `followers` into a
    /// coalescing handler's turn.
    async fn handle_following(
        &self,
        ev: &InboundEvent,
        receive_count: u32,
        followers: &Followers<'_>,
    ) -> Result<(), StageError> {
        let now = self.clock.now();
        let store = self.backend.store.as_ref();
        let kept = self.config.config.webhooks.status_kept_secs();
        let mut status = Status::begin(store, ev, now, kept).await.map_err(retry)?;
        if status.is_done() {
            return Ok(()); // finished before; the delete was lost
        }
        status.last_attempt = receive_count >= self.max_receive_count;
        crate::faults::check(crate::faults::HANDLER_AFTER_BEGIN)
            .map_err(|e| StageError::retry(e.to_string()))?;
        let handler = ev
            .handler_id
            .as_deref()
            .and_then(|id| self.config.handler_by_id(id));
        let mut prepared = context::prepare(&self.config, handler, ev, now);
        if prepared.skip {
            return self.skipped(ev, &mut status, now).await;
        }
        // The session its transform put the hook in.
        let moved = prepared.session_key.as_deref().map(|k| ev.in_session(k));
        let ev = moved.as_ref().unwrap_or(ev);
        if handler.is_some() && status.record.rendered.is_none() {
            let rendered = event::cut(&prepared.text, event::RENDERED_KEPT);
            status.record.rendered = Some(rendered.to_string());
        }
        let fold = self.fold(ev, handler, &mut status, &mut prepared, followers, now);
        let Some(mut fold) = fold.await.map_err(retry)? else {
            return Ok(()); // answered by the turn it was folded into
        };
        let over = budget::check(self, ev, handler, &mut status, now);
        if let Some(reason) = over.await.map_err(retry)? {
            let parts = (&mut status, &mut fold);
            let skipped = budget::skip(self, ev, handler, &prepared.text, parts, &reason, now);
            return skipped.await.map_err(retry);
        }

        let mut joined = None;
        let started = std::time::Instant::now();
        let outcome = self
            .steps(ev, handler, &prepared, &mut status, &mut joined, now)
            .await;
        let action = handler.map_or(crate::config::Action::None, |h| h.action);
        crate::telemetry::handler_ran(
            action.as_str(),
            match &outcome {
                Ok(_) => "done",
                Err(e) if e.is_transient() => "retry",
                Err(_) => "failed",
            },
            started.elapsed(),
        );
        let ended = Ended {
            status,
            joined,
            fold,
            receive_count,
        };
        self.conclude(ev, outcome, ended).await
    }

    /// A coalescing handler's turn: `None` when the hook was answered by
    /// the turn it was folded into before; otherwise the hooks folded with
    /// it (none for any other handler).
    async fn fold(
        &self,
        ev: &InboundEvent,
        handler: Option<&Handler>,
        status: &mut Status,
        prepared: &mut context::Prepared,
        followers: &Followers<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<coalesce::Fold>, ActionError> {
        let coalescing = handler.and_then(|h| Some((h, h.coalesce.as_ref()?)));
        let Some(hc) = coalescing.filter(|_| ev.persistent) else {
            return Ok(Some(Default::default()));
        };
        if let coalesce::Elsewhere::Settled =
            coalesce::answered_elsewhere(self, ev, status, now).await?
        {
            return Ok(None);
        }
        if prepared.render_error.is_some() {
            return Ok(Some(Default::default())); // it fails alone
        }
        let fold = coalesce::gather(self, ev, hc, status, prepared, followers, now).await?;
        Ok(Some(fold))
    }

    /// Records the outcome on the event (and on the hooks folded with it)
    /// and settles the message.
    async fn conclude(
        &self,
        ev: &InboundEvent,
        outcome: Result<Option<Value>, ActionError>,
        ended: Ended,
    ) -> Result<(), StageError> {
        let store = self.backend.store.as_ref();
        let Ended {
            mut status,
            joined,
            mut fold,
            receive_count,
        } = ended;
        let now = self.clock.now();
        match outcome {
            Ok(result) => {
                crate::faults::check(crate::faults::HANDLER_AFTER_ACTION)
                    .map_err(|e| StageError::retry(e.to_string()))?;
                self.end_hook_session(ev, &mut status, joined.as_ref(), now)
                    .await
                    .map_err(retry)?;
                let result = fold.head_result(ev, &status.progress.folded, result);
                fold.finish(self, ev, result.as_ref(), now)
                    .await
                    .map_err(retry)?;
                status.finish(store, result, now).await.map_err(retry)?;
                self.settle(ev);
                tracing::info!(event_id = %ev.event_id, handler = ev.handler_id.as_deref(), session = %ev.session_key, "done");
                Ok(())
            }
            Err(e) if e.is_transient() => {
                self.record_transient(ev, &e, &mut status, receive_count, now)
                    .await;
                Err(retry(e))
            }
            Err(e) => {
                tracing::warn!(event_id = %ev.event_id, error = %e, "permanent failure");
                event::emit(
                    self.backend.events_queue.as_ref(),
                    &lifecycle::error(ev, e.stage(), e.message(), None, now),
                )
                .await
                .map_err(|q| StageError::retry(q.to_string()))?;
                self.end_hook_session(ev, &mut status, joined.as_ref(), now)
                    .await
                    .map_err(retry)?;
                fold.fail(self, &e, now).await.map_err(retry)?;
                status.fail(store, &e, now).await.map_err(retry)?;
                self.settle(ev);
                Ok(())
            }
        }
    }

    /// Records and announces a transient failure; the message goes back to
    /// the queue whatever happens here, so a failed save or emit is logged
    /// and never turns the retry into a delete.
    ///
    /// On the last attempt (`maxReceiveCount`) the record turns `failed` and
    /// the `error` event with `retrying: false` is the only announcement of
    /// the failure. If it cannot be emitted, the message still goes back,
    /// so the queue moves the hook to the handler's dead-letter queue rather
    /// than anything deleting it, and the loss of the announcement is logged
    /// at error level with the event id: redriving the hook from there runs
    /// it again (a `failed` record is not `done`), and a new last attempt
    /// announces it with the same event id.
    async fn record_transient(
        &self,
        ev: &InboundEvent,
        e: &ActionError,
        status: &mut Status,
        receive_count: u32,
        now: DateTime<Utc>,
    ) {
        let last = status.last_attempt;
        tracing::warn!(event_id = %ev.event_id, error = %e, receive_count, last, "transient failure");
        status.record.error = Some(if last {
            format!("gave up after {receive_count} attempts: {e}")
        } else {
            e.to_string()
        });
        if last {
            status.record.status = crate::event::EventStatus::Failed;
        }
        match status.save(self.backend.store.as_ref(), now).await {
            Err(save) => {
                tracing::warn!(event_id = %ev.event_id, error = %save, last, "could not record the transient failure on the event")
            }
            Ok(()) if last => self.settle(ev),
            Ok(()) => {}
        }
        let retrying_attempt = (!last).then_some(status.record.attempts);
        let announcement = lifecycle::error(ev, e.stage(), e.message(), retrying_attempt, now);
        let emitted = event::emit(self.backend.events_queue.as_ref(), &announcement).await;
        match emitted {
            Err(q) if last => {
                tracing::error!(event_id = %ev.event_id, error_event_id = %announcement.id, error = %q, "the final error event could not be emitted; the hook goes to the dead-letter queue unannounced")
            }
            Err(q) => {
                tracing::warn!(event_id = %ev.event_id, error_event_id = %announcement.id, error = %q, "could not emit the retrying error event; the next attempt announces its own")
            }
            Ok(()) => {}
        }
    }

    /// A hook its transform skipped: recorded `skipped`, nothing run, no
    /// session joined.
    async fn skipped(
        &self,
        ev: &InboundEvent,
        status: &mut Status,
        now: DateTime<Utc>,
    ) -> Result<(), StageError> {
        let store = self.backend.store.as_ref();
        status.skip(store, None, now).await.map_err(retry)?;
        self.settle(ev);
        tracing::info!(event_id = %ev.event_id, handler = ev.handler_id.as_deref(), "skipped by its transform");
        Ok(())
    }

    /// Wakes a caller in this process waiting on the event (`Prefer:
    /// wait`): its record is written `done` or `failed`.
    fn settle(&self, ev: &InboundEvent) {
        if let Some(settled) = &self.backend.settled {
            settled.settle(&ev.event_id);
        }
    }

    /// Session, `message_received`, then the action. `joined` keeps the
    /// session as this attempt left it, so ending a `hook:` session needs
    /// no read.
    async fn steps(
        &self,
        ev: &InboundEvent,
        handler: Option<&Handler>,
        prepared: &context::Prepared,
        status: &mut Status,
        joined: &mut Option<session::Joined>,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, ActionError> {
        if !status.progress.message_received {
            *joined = Some(
                self.join_session(ev, handler, &prepared.text, status, now)
                    .await?,
            );
        }
        if let Some(e) = &prepared.render_error {
            return Err(e.clone());
        }
        let Some(handler) = handler else {
            return match &ev.handler_id {
                Some(id) => Err(ActionError::permanent(
                    "handler",
                    format!("handler {id:?} is no longer configured"),
                )),
                None => Ok(None), // a hook no handler names: message_received only
            };
        };
        let run = actions::Run {
            stage: self,
            ev,
            handler,
            prepared,
            now,
        };
        actions::run(&run, status).await
    }

    async fn join_session(
        &self,
        ev: &InboundEvent,
        handler: Option<&Handler>,
        text: &str,
        status: &mut Status,
        now: DateTime<Utc>,
    ) -> Result<session::Joined, ActionError> {
        let store = self.backend.store.as_ref();
        let events = self.backend.events_queue.as_ref();
        let sessions = &self.config.config.webhooks.sessions;
        let to_action = |e: session::SessionError| ActionError::transient("handler", e.to_string());

        // A session idle past its timeout that the sweeper has not reached
        // yet ends now, so this hook starts a fresh one.
        let read = || session::get(store, &ev.session_key, now.timestamp());
        let mut current = read().await.map_err(to_action)?;
        let stale = current.as_ref().is_some_and(|(s, _)| {
            s.is_idle(now.timestamp()) || s.ended.as_ref().is_some_and(|e| !e.announced)
        });
        if stale {
            session::close(
                store,
                events,
                &ev.session_key,
                "idle timeout",
                session::When::Idle,
                now,
                self.config.config.webhooks.status_kept_secs(),
            )
            .await
            .map_err(to_action)?;
            current = read().await.map_err(to_action)?;
        }
        let joined = session::record_message(
            store,
            &session::NewMessage {
                ev,
                text,
                timeout: self.config.session_timeout(handler),
                history_cap: sessions.history,
            },
            current,
            now,
        )
        .await
        .map_err(to_action)?;
        let emit_err =
            |e: crate::ports::QueueError| ActionError::transient("handler", e.to_string());
        if joined.created && !status.progress.session_started {
            event::emit(
                events,
                &lifecycle::session_started(ev, joined.session.facts()),
            )
            .await
            .map_err(emit_err)?;
            status.progress.session_started = true;
        }
        event::emit(events, &lifecycle::message_received(ev, text))
            .await
            .map_err(emit_err)?;
        status.progress.message_received = true;
        status.save(store, now).await?;
        Ok(joined)
    }

    /// A `hook:<uuid>` session lives for one hook: it ends when the hook is
    /// handled, whatever the outcome. With the session as this attempt
    /// joined it, one write; a redelivery that joined earlier reads it.
    async fn end_hook_session(
        &self,
        ev: &InboundEvent,
        status: &mut Status,
        joined: Option<&session::Joined>,
        now: DateTime<Utc>,
    ) -> Result<(), ActionError> {
        if ev.persistent || status.progress.session_ended || !status.progress.message_received {
            return Ok(());
        }
        let store = self.backend.store.as_ref();
        let events = self.backend.events_queue.as_ref();
        let (reason, always) = ("finished", session::When::Always);
        let kept = self.config.config.webhooks.status_kept_secs();
        let key = &ev.session_key;
        match joined {
            Some(j) => session::end_joined(store, events, j, reason, now, kept).await,
            None => session::close(store, events, key, reason, always, now, kept).await,
        }
        .map_err(|e| ActionError::transient("handler", e.to_string()))?;
        status.progress.session_ended = true;
        Ok(())
    }
}

/// Where an attempt left its event, for [`HandlerStage::conclude`].
struct Ended {
    status: Status,
    joined: Option<session::Joined>,
    fold: coalesce::Fold,
    receive_count: u32,
}

fn retry(e: ActionError) -> StageError {
    match e {
        ActionError::Transient {
            message,
            stage,
            retry_after,
        } => StageError::Retry {
            reason: format!("{stage}: {message}"),
            after: retry_after,
        },
        other => StageError::retry(other.to_string()),
    }
}

#[async_trait]
impl Stage for HandlerStage {
    fn name(&self) -> &'static str {
        "handler"
    }

    async fn process(&self, msg: &Received) -> Result<(), StageError> {
        self.process_following(msg, &Followers::none()).await
    }

    async fn process_following(
        &self,
        msg: &Received,
        followers: &Followers<'_>,
    ) -> Result<(), StageError> {
        match serde_json::from_str::<InboundEvent>(&msg.body) {
            Ok(ev) => {
                self.handle_following(&ev, msg.receive_count, followers)
                    .await
            }
            Err(e) => {
                let dlq = self.backend.handler_dlq.as_ref();
                let reason = format!("not an inbound event: {e}");
                crate::worker::dead_letter(dlq, self.name(), msg, &reason).await
            }
        }
    }
}
