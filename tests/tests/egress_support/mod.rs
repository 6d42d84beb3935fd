//! A rig for the egress suites: the real egress stage on the embedded
//! backend (SQLite), a test clock that drives the queue's delays, the real
//! reqwest sender, and helpers that run the queues dry at the current time.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use clawhooks::api::{Answer, Call};
use clawhooks::config::{load_str, CompiledConfig, EventType};
use clawhooks::egress::log::{self, Attempt};
use clawhooks::egress::schedule::FixedRandom;
use clawhooks::egress::EgressStage;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::{self, LifecycleEvent, Message};
use clawhooks::ingress::Ingress;
use clawhooks::ports::{Backend, TestClock};
use clawhooks::worker::process_one;
use clawhooks_e2e::ingress_kit::Serve;
use std::path::Path;
use std::sync::Arc;

pub fn start() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

pub struct Rig {
    pub clock: Arc<TestClock>,
    pub config: Arc<CompiledConfig>,
    pub backend: Backend,
    pub stage: EgressStage,
}

impl Rig {
    /// `config` is a whole config document.
    pub fn new(config: &str) -> Self {
        Self::build(config, Embedded::memory().unwrap(), start())
    }

    /// On a database file, to see what survives a restart.
    pub fn on_file(config: &str, path: &Path, now: DateTime<Utc>) -> Self {
        Self::build(config, Embedded::open(path).unwrap(), now)
    }

    fn build(config: &str, db: Embedded, now: DateTime<Utc>) -> Self {
        let clock = Arc::new(TestClock::new(now));
        let db = db.with_clock(clock.clone());
        let backend = db.backend(BackendOptions::default());
        let config = Arc::new(load_str(config, &|_| None).expect("config loads"));
        let http = Arc::new(clawhooks_e2e::loopback_http());
        let stage = EgressStage::new(config.clone(), backend.clone(), http, clock.clone())
            .unwrap()
            .with_random(Arc::new(FixedRandom(1.0)));
        Rig {
            clock,
            config,
            backend,
            stage,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        use clawhooks::ports::Clock;
        self.clock.now()
    }

    pub fn advance_ms(&self, ms: i64) {
        self.clock.advance(Duration::milliseconds(ms));
    }

    pub async fn emit(&self, ev: &LifecycleEvent) {
        event::emit(self.backend.events_queue.as_ref(), ev)
            .await
            .unwrap();
    }

    /// Processes what is visible now on the events and delivery queues,
    /// again and again, until both are empty. Returns messages processed.
    pub async fn drain(&self) -> usize {
        self.drain_with(&self.stage).await
    }

    /// [`Rig::drain`] with another egress stage on the same queues (one
    /// built on a store that fails on purpose, say).
    pub async fn drain_with(&self, stage: &EgressStage) -> usize {
        let mut n = 0;
        loop {
            let mut got = 0;
            for q in [&self.backend.events_queue, &self.backend.delivery_queue] {
                let msgs = visible(q.as_ref()).await;
                got += msgs.len();
                for m in msgs {
                    process_one(q.as_ref(), stage, &m).await;
                }
            }
            if got == 0 {
                return n;
            }
            n += got;
        }
    }

    /// Attempts what is visible now on the delivery queue, again and again,
    /// and nothing more: the events queue is left as it is.
    pub async fn drain_deliveries(&self) -> usize {
        let q = &self.backend.delivery_queue;
        let mut n = 0;
        loop {
            let msgs = visible(q.as_ref()).await;
            if msgs.is_empty() {
                return n;
            }
            n += msgs.len();
            for m in &msgs {
                process_one(q.as_ref(), &self.stage, m).await;
            }
        }
    }

    /// Fans out what is visible now on the events queue, and nothing more:
    /// the delivery queue is left as it is.
    pub async fn fan_out_only(&self) -> usize {
        let q = &self.backend.events_queue;
        let msgs = visible(q.as_ref()).await;
        for m in &msgs {
            process_one(q.as_ref(), &self.stage, m).await;
        }
        msgs.len()
    }

    /// Jobs waiting on the delivery queue, visible or not.
    pub async fn queued_deliveries(&self) -> usize {
        self.backend.delivery_queue.approximate_len().await.unwrap()
    }

    pub async fn attempts(&self, event_id: &str) -> Vec<Attempt> {
        log::for_event(self.backend.store.as_ref(), event_id, self.now())
            .await
            .unwrap()
            .attempts
    }

    pub fn ingress(&self) -> Ingress {
        Ingress {
            config: self.config.clone(),
            backend: self.backend.clone(),
            clock: self.clock.clone(),
        }
    }

    /// An admin call from loopback.
    pub async fn admin(&self, method: &str, path_and_query: &str, body: &str) -> Answer {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (path_and_query.to_string(), None),
        };
        self.ingress()
            .handle(Call {
                method: method.parse().unwrap(),
                path,
                query,
                headers: Default::default(),
                body: bytes::Bytes::from(body.to_string()),
                peer: "127.0.0.1".parse().unwrap(),
            })
            .await
    }
}

/// Up to ten messages visible now, received for a minute.
async fn visible(q: &dyn clawhooks::ports::Queue) -> Vec<clawhooks::ports::Received> {
    let minute = std::time::Duration::from_secs(60);
    q.receive(10, minute, std::time::Duration::ZERO)
        .await
        .unwrap()
}

/// A lifecycle event as the handler stage would emit it.
pub fn lifecycle(kind: EventType, text: &str) -> LifecycleEvent {
    let ts = event::timestamp(start());
    LifecycleEvent {
        id: event::new_id(),
        kind,
        session: "hook:3f1c".into(),
        message: Message {
            from: "+15551234567".into(),
            text: text.into(),
            timestamp: ts.clone(),
        },
        timestamp: ts,
        event_id: Some(event::new_id()),
        hook_id: Some("my-hook".into()),
        handler_id: None,
        error: None,
        folded_event_ids: Vec::new(),
    }
}

/// A config with these outgoing subscriptions (a JSON array).
pub fn config(outgoing: serde_json::Value) -> String {
    serde_json::json!({ "webhooks": { "outgoing": outgoing } }).to_string()
}
