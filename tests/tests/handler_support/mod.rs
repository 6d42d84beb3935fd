//! The whole handler path on the real embedded backend: hooks go in
//! through ingress (as `clawhooks serve` and the Lambda do), the handler
//! stage consumes the handler queue, and tests read what landed on the
//! events queue, in the store, and at the recording servers.
#![allow(dead_code)]

use bytes::Bytes;
use chrono::{TimeZone, Utc};

use clawhooks::api::Call;
use clawhooks::config::{load_str, CompiledConfig};
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::LifecycleEvent;
use clawhooks::handler::session::SessionRecord;
use clawhooks::handler::HandlerStage;
use clawhooks::ingress::Ingress;
use clawhooks::ports::{Backend, Clock, Queue, Received, TestClock};
use clawhooks::telemetry::store_ops::CountingStore;
use clawhooks::worker::StageError;
use clawhooks_e2e::ingress_kit::Serve;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub const MAX_RECEIVE: u32 = 3;
const VISIBILITY: Duration = Duration::from_secs(30);

pub fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub struct Harness {
    pub config: Arc<CompiledConfig>,
    pub backend: Backend,
    pub clock: Arc<TestClock>,
    pub ingress: Ingress,
    pub stage: Arc<HandlerStage>,
    /// Counts what everything above does to the store.
    pub store_ops: Arc<CountingStore>,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn event_id(&self) -> String {
        self.body["eventId"].as_str().expect("eventId").to_string()
    }
    pub fn session(&self) -> String {
        self.body["sessionKey"]
            .as_str()
            .expect("sessionKey")
            .to_string()
    }
}

impl Harness {
    /// `config` is a full config document; `webhooks.network.allowPrivate`
    /// is set so the outbound guard lets calls reach 127.0.0.1.
    pub fn new(config: &str) -> Self {
        Self::new_with(config, |stage| stage)
    }

    /// As [`Harness::new`], with a last word on the stage (`with_lambda`…).
    pub fn new_with(config: &str, finish: impl FnOnce(HandlerStage) -> HandlerStage) -> Self {
        let mut doc: Value = serde_json::from_str(config).expect("test config is JSON");
        doc["webhooks"]["network"]["allowPrivate"] = Value::Bool(true);
        let config = Arc::new(
            load_str(&doc.to_string(), &|_| None)
                .unwrap_or_else(|e| panic!("test config does not load:\n{e}")),
        );
        let clock = Arc::new(TestClock::new(
            Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap(),
        ));
        let db = Embedded::memory().unwrap().with_clock(clock.clone());
        let mut backend = db.backend(BackendOptions {
            max_receive_count: MAX_RECEIVE,
        });
        let store_ops = Arc::new(CountingStore::new(backend.store.clone()));
        backend.store = store_ops.clone();
        let http = Arc::new(clawhooks_e2e::loopback_http());
        let stage = Arc::new(finish(
            HandlerStage::new(config.clone(), backend.clone(), http, clock.clone())
                .with_max_receive_count(MAX_RECEIVE),
        ));
        let ingress = Ingress {
            config: config.clone(),
            backend: backend.clone(),
            clock: clock.clone(),
        };
        Harness {
            config,
            backend,
            clock,
            ingress,
            stage,
            store_ops,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (path.to_string(), None),
        };
        let resp = self
            .ingress
            .handle(Call {
                method,
                path,
                query,
                headers: map,
                body: Bytes::from(body.to_string()),
                peer: "127.0.0.1".parse().unwrap(),
            })
            .await;
        Answer {
            status: resp.status.as_u16(),
            body: resp.body,
        }
    }

    /// Posts a JSON hook; panics unless ingress accepted it.
    pub async fn post(&self, hook: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut hs = vec![("content-type", "application/json")];
        hs.extend_from_slice(headers);
        let a = self
            .request(Method::POST, &format!("/webhook/{hook}"), &hs, body)
            .await;
        assert_eq!(a.status, 202, "ingress refused the hook: {}", a.body);
        a
    }

    /// Feeds the handler stage every message visible now, the way the
    /// consumer loop does (delete on Ok, leave on Retry); returns the
    /// outcomes in order.
    pub async fn run_handler(&self) -> Vec<Result<(), String>> {
        let mut outcomes = Vec::new();
        loop {
            let msgs = next_batch(self.backend.handler_queue.as_ref()).await;
            if msgs.is_empty() {
                return outcomes;
            }
            for m in msgs {
                outcomes.push(self.process(&m).await);
            }
        }
    }

    /// One message through the stage, acted on as `worker::process_one`
    /// does (delete on Ok; on Retry, the delay it asks for), but keeping the
    /// outcome for the test.
    pub async fn process(&self, m: &Received) -> Result<(), String> {
        use clawhooks::worker::Stage;
        let q = self.backend.handler_queue.as_ref();
        let outcome = self.stage.process(m).await;
        match outcome {
            Ok(()) => {
                q.delete(&m.receipt).await.unwrap();
                Ok(())
            }
            Err(StageError::Retry { reason, after }) => {
                if let Some(after) = after {
                    q.change_visibility(&m.receipt, after).await.unwrap();
                }
                Err(reason)
            }
        }
    }

    /// Takes every lifecycle event off the events queue, in order.
    pub async fn events(&self) -> Vec<LifecycleEvent> {
        let mut out = Vec::new();
        loop {
            let msgs = next_batch(self.backend.events_queue.as_ref()).await;
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                out.push(serde_json::from_str(&m.body).expect("events carry LifecycleEvents"));
                self.backend.events_queue.delete(&m.receipt).await.unwrap();
            }
        }
    }

    pub async fn session(&self, key: &str) -> Option<SessionRecord> {
        clawhooks::handler::session::get(
            self.backend.store.as_ref(),
            key,
            self.clock.now().timestamp(),
        )
        .await
        .unwrap()
        .map(|(s, _)| s)
    }

    /// `GET /events/<id>`'s `event` object.
    pub async fn status(&self, event_id: &str) -> Value {
        let a = self
            .request(Method::GET, &format!("/events/{event_id}"), &[], "")
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["event"].clone()
    }
}

/// What a queue shows now, without waiting.
async fn next_batch(q: &dyn Queue) -> Vec<Received> {
    q.receive(10, VISIBILITY, Duration::ZERO).await.unwrap()
}

/// The types of `events`, in order.
pub fn kinds(events: &[LifecycleEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

pub fn of_kind<'a>(events: &'a [LifecycleEvent], kind: &str) -> Vec<&'a LifecycleEvent> {
    events.iter().filter(|e| e.kind.as_str() == kind).collect()
}
