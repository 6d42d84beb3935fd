//! The egress stage: lifecycle events out to the `webhooks.outgoing`
//! subscriptions, signed, retried with backoff, logged, dead-lettered.
//!
//! Two kinds of message reach it: a [`LifecycleEvent`] from the events
//! queue is fanned out ([`fanout`]) into one [`DeliveryJob`] per interested
//! subscription on the delivery queue; a job is attempted ([`delivery`]) and,
//! when it fails, put back with its backoff ([`schedule`]) until it succeeds
//! or runs out of attempts and goes to the dead-letter queue, from which
//! [`replay`] puts it back. Every attempt is written to the delivery log
//! ([`log`]).
//!
//! [`LifecycleEvent`]: crate::event::LifecycleEvent

pub mod breaker;
pub mod control;
pub mod delivery;
pub mod disabled;
pub mod fanout;
pub mod fast_path;
pub mod gone_cache;
pub mod job;
pub mod log;
pub mod rate;
pub mod replay;
pub mod schedule;
pub mod signing;
pub mod transform;
pub mod wanted_events;

pub use job::{DeliveryJob, EgressMessage};

use crate::config::{CompiledConfig, Outgoing};
use crate::ports::{Backend, Clock, HttpSender, Received};
use crate::protocol::standard_webhooks::KeyError;
use crate::worker::{Stage, StageError};
use async_trait::async_trait;
use schedule::{FastRandom, Random};
use signing::Signer;
use std::collections::HashMap;
use std::sync::Arc;

/// A subscription as the stage runs it: its config and its decoded signer.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub config: Outgoing,
    pub signer: Option<Signer>,
    /// The rate-limit slots this process holds ([`rate::Block`]): the
    /// store's schedule is one record written only if unchanged, and 64
    /// tasks racing for it per delivery would spend the store on retries
    /// that every other subscription's deliveries wait behind.
    pub(crate) slots: Arc<tokio::sync::Mutex<rate::Block>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("webhooks.outgoing[{index}].secret: {source}")]
    Secret {
        index: usize,
        #[source]
        source: KeyError,
    },
}

/// Handles messages of the events queue and of the delivery queue.
pub struct EgressStage {
    pub(crate) config: Arc<CompiledConfig>,
    pub(crate) subscriptions: HashMap<String, Subscription>,
    pub(crate) backend: Backend,
    pub(crate) http: Arc<dyn HttpSender>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    pub(crate) gone: gone_cache::GoneCache,
    pub(crate) fast: fast_path::FastPath,
}

impl EgressStage {
    /// How long the delivery log keeps an attempt (`retention.deliveries`).
    pub(crate) fn log_kept(&self) -> chrono::Duration {
        self.config.config.webhooks.retention.deliveries_span()
    }

    /// Decodes every subscription's signing secret once; a bad `whsec_`
    /// secret is an error here (config validation reports it first).
    pub fn new(
        config: Arc<CompiledConfig>,
        backend: Backend,
        http: Arc<dyn HttpSender>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EgressError> {
        let mut subscriptions = HashMap::new();
        for (index, o) in config.config.webhooks.outgoing.iter().enumerate() {
            let signer = o
                .secret
                .as_ref()
                .map(|s| Signer::new(s, o.signing))
                .transpose()
                .map_err(|source| EgressError::Secret { index, source })?;
            subscriptions.insert(
                o.id.clone(),
                Subscription {
                    config: o.clone(),
                    signer,
                    slots: Default::default(),
                },
            );
        }
        Ok(EgressStage {
            config,
            subscriptions,
            backend,
            http,
            clock,
            random: Arc::new(FastRandom),
            gone: Default::default(),
            fast: Default::default(),
        })
    }

    /// Replaces the jitter source (tests pin it).
    pub fn with_random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }
}

impl EgressStage {
    /// The dead-letter queue of the queue `msg` came from, told by what it
    /// says it is: delivery jobs carry the `kind` attribute and body tag,
    /// anything else counts as from the events queue. One stage reads both
    /// queues, and a message does not say where it was received.
    fn dead_letters_for(&self, msg: &Received) -> &dyn crate::ports::Queue {
        if job::claims_to_be_a_job(msg) {
            self.backend.delivery_dlq.as_ref()
        } else {
            self.backend.events_dlq.as_ref()
        }
    }

    async fn fan_out(&self, ev: &crate::event::LifecycleEvent) -> Result<(), StageError> {
        let now = self.clock.now();
        let subs = &self.config.config.webhooks.outgoing;
        // The 410 markers are read only when some subscription wants the event.
        if fanout::plan(subs, ev, &HashMap::new()).is_empty() {
            return Ok(());
        }
        let retry = |e: &dyn std::fmt::Display| StageError::retry(e.to_string());
        let markers = self
            .gone
            .get(self.backend.store.as_ref(), now)
            .await
            .map_err(|e| retry(&e))?;
        let targets = fanout::plan(subs, ev, &markers);
        let (direct, queued): (Vec<_>, Vec<_>) =
            targets.into_iter().partition(|s| self.fast.allows(&s.id));
        if !queued.is_empty() {
            fanout::fan_out(&self.backend, &queued, ev, now)
                .await
                .map_err(|e| retry(&e))?;
        }
        if direct.is_empty() {
            return Ok(());
        }
        let attempts = direct
            .iter()
            .map(|s| delivery::deliver(self, job::DeliveryJob::first(ev.clone(), s.id.clone())));
        let outcomes = futures_util::future::join_all(attempts).await;
        // An attempt that could not run or be logged (the store failed)
        // goes the queued way; if that fails too, the event is retried and
        // the pairs already delivered are skipped then.
        let unsettled: Vec<_> = direct
            .into_iter()
            .zip(outcomes)
            .filter(|(_, outcome)| outcome.is_err())
            .map(|(s, _)| s)
            .collect();
        if !unsettled.is_empty() {
            fanout::fan_out(&self.backend, &unsettled, ev, now)
                .await
                .map_err(|e| retry(&e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Stage for EgressStage {
    fn name(&self) -> &'static str {
        "egress"
    }

    async fn process(&self, msg: &Received) -> Result<(), StageError> {
        match EgressMessage::parse(&msg.body) {
            Ok(EgressMessage::Event(ev)) => self.fan_out(&ev).await,
            Ok(EgressMessage::Delivery(job)) => delivery::deliver(self, *job).await,
            Err(e) => {
                let reason = format!("not a lifecycle event nor a delivery job: {e}");
                crate::worker::dead_letter(self.dead_letters_for(msg), self.name(), msg, &reason)
                    .await
            }
        }
    }
}
