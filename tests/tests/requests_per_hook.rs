//! What one `send_message` hook with one outgoing subscription costs on AWS,
//! in requests: SQS and DynamoDB counted at our adapters (over ministack),
//! each stage run as its Lambda runs it (one message per batch, the worst
//! case), so `docs/operations.md`'s cost figures have a test behind them.
//! Prints the counts; asserts the figures the doc prices.

use async_trait::async_trait;
use clawhooks::api::{serve, Call};
use clawhooks::aws::intake::SequencedIntake;
use clawhooks::aws::{bootstrap, BootstrapSettings};
use clawhooks::egress::EgressStage;
use clawhooks::handler::HandlerStage;
use clawhooks::ingress::Ingress;
use clawhooks::ports::{
    Backend, NewMessage, PeekPage, Queue, QueueError, Received, Store, SystemClock,
};
use clawhooks::telemetry::store_ops::CountingStore;
use clawhooks::worker::{process_one, Stage};
use clawhooks_e2e::{emulator, Recorder};
use http::{HeaderMap, Method};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A queue that counts the SQS requests passing through it.
struct Counting {
    inner: Arc<dyn Queue>,
    calls: Arc<AtomicU64>,
}

impl Counting {
    fn wrap(inner: Arc<dyn Queue>, calls: &Arc<AtomicU64>) -> Arc<dyn Queue> {
        Arc::new(Counting {
            inner,
            calls: calls.clone(),
        })
    }
    fn one(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Queue for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn send(&self, msg: NewMessage) -> Result<String, QueueError> {
        self.one();
        self.inner.send(msg).await
    }
    async fn send_batch(&self, msgs: Vec<NewMessage>) -> Result<Vec<String>, QueueError> {
        self.one();
        self.inner.send_batch(msgs).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        self.one();
        self.inner.receive(max, visibility, wait).await
    }
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.one();
        self.inner.delete(receipt).await
    }
    async fn delete_batch(&self, receipts: &[String]) -> Result<(), QueueError> {
        self.one();
        self.inner.delete_batch(receipts).await
    }
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        self.one();
        self.inner.change_visibility(receipt, timeout).await
    }
    async fn peek(&self, max: usize) -> Result<Vec<Received>, QueueError> {
        self.one();
        self.inner.peek(max).await
    }
    async fn peek_page(&self, cursor: Option<&str>, max: usize) -> Result<PeekPage, QueueError> {
        self.one();
        self.inner.peek_page(cursor, max).await
    }
    async fn approximate_len(&self) -> Result<usize, QueueError> {
        self.one();
        self.inner.approximate_len().await
    }
}

/// Runs `stage` on every message waiting on `queue`, one receive per
/// message as a Lambda batch of one: the receive and the delete are what
/// the event source mapping makes for it. The last, empty receive is not
/// counted: the mapping's idle polling is a standing cost, not a hook's.
/// How many messages it ran.
async fn drain(queue: &dyn Queue, stage: &dyn Stage, sqs: &AtomicU64) -> usize {
    let mut ran = 0;
    loop {
        let got = queue
            .receive(1, Duration::from_secs(30), Duration::from_secs(2))
            .await
            .unwrap();
        let Some(msg) = got.first() else {
            sqs.fetch_sub(1, Ordering::Relaxed);
            return ran;
        };
        assert!(process_one(queue, stage, msg).await, "{}", queue.name());
        ran += 1;
    }
}

#[tokio::test]
async fn a_send_message_hook_with_one_subscription_costs_a_bounded_number_of_requests() {
    clawhooks::outbound::http::install_crypto_provider();
    let chat = Recorder::start().await;
    let sink = Recorder::start().await;
    let emu = emulator::shared();
    let clients = emu.clients().await;
    let res = bootstrap(&clients, &BootstrapSettings::new(emulator::unique("cost")))
        .await
        .unwrap_or_else(|e| panic!("bootstrap: {e}\n{}", emu.log_text()));
    let aws = clawhooks::aws::backend(&clients, &res);
    let sqs = Arc::new(AtomicU64::new(0));
    let store = Arc::new(CountingStore::new(aws.store.clone()));
    let counted: Arc<dyn Store> = store.clone();
    let handler_queue = Counting::wrap(aws.handler_queue.clone(), &sqs);
    let backend = Backend {
        intake: Arc::new(SequencedIntake::new(counted.clone(), handler_queue.clone())),
        limiter: Arc::new(clawhooks::limits::StoreLimiter::new(counted.clone())),
        handler_queue,
        handler_dlq: Counting::wrap(aws.handler_dlq.clone(), &sqs),
        events_queue: Counting::wrap(aws.events_queue.clone(), &sqs),
        events_dlq: Counting::wrap(aws.events_dlq.clone(), &sqs),
        delivery_queue: Counting::wrap(aws.delivery_queue.clone(), &sqs),
        delivery_dlq: Counting::wrap(aws.delivery_dlq.clone(), &sqs),
        store: counted,
        settled: None,
    };
    let cfg = json!({"webhooks": {
        "incoming": {"secret": "s"},
        "network": {"allowPrivate": true},
        "channels": {"chat": {"type": "webhook", "url": chat.url("/in")}},
        "handlers": [{"id": "notify", "action": "send_message", "template": "n={{n}}",
                      "target": {"channel": "chat", "peer": "ops"}}],
        "outgoing": [{"id": "sink", "url": sink.url("/hook"), "events": ["message_received"]}]
    }});
    let cfg = Arc::new(clawhooks::config::load_str(&cfg.to_string(), &|_| None).unwrap());
    // As the Lambda init wraps it: event types no subscription takes are
    // not queued.
    let backend =
        clawhooks::egress::wanted_events::only_wanted(backend, &cfg.config.webhooks.outgoing);
    let http = Arc::new(clawhooks_e2e::loopback_http());
    let clock = Arc::new(SystemClock);
    let ingress = Ingress {
        config: cfg.clone(),
        backend: backend.clone(),
        clock: clock.clone(),
    };
    let handler = HandlerStage::new(cfg.clone(), backend.clone(), http.clone(), clock.clone());
    let egress = EgressStage::new(cfg, backend.clone(), http, clock).unwrap();

    let mut counts = Vec::new();
    let mut take = |stage: &str| {
        let (queue, table) = (sqs.swap(0, Ordering::Relaxed), store.take());
        eprintln!("{stage}: {queue} SQS requests, DynamoDB {table}");
        counts.push((queue, table.total()));
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-webhook-secret", "s".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    let accepted = serve(
        &ingress,
        Call {
            method: Method::POST,
            path: "/webhook/notify".into(),
            query: None,
            headers,
            body: r#"{"n": 1}"#.into(),
            peer: "198.51.100.7".parse().unwrap(),
        },
    )
    .await;
    assert_eq!(accepted.status, 202, "{:?}", accepted.body);
    take("ingress");
    let hooks = drain(backend.handler_queue.as_ref(), &handler, &sqs).await;
    take("handler");
    let events = drain(backend.events_queue.as_ref(), &egress, &sqs).await;
    take("egress, lifecycle events");
    let jobs = drain(backend.delivery_queue.as_ref(), &egress, &sqs).await;
    take("egress, queued deliveries");
    eprintln!("messages: {hooks} hook, {events} lifecycle events, {jobs} delivery jobs");
    assert_eq!(hooks, 1);
    assert_eq!(chat.count(), 1, "the message posted");
    assert_eq!(sink.count(), 1, "the event delivered");

    let sqs_total: u64 = counts.iter().map(|c| c.0).sum();
    let dynamo_total: u64 = counts.iter().map(|c| c.1).sum();
    let invocations = 1 + hooks + events + jobs;
    eprintln!("per hook: {sqs_total} SQS requests, {dynamo_total} DynamoDB requests, {invocations} Lambda invocations");
    // The figures docs/operations.md prices: a change here changes them.
    // The delivery's (2, 4) holds a read and a write of the subscription's
    // record of its last success, made by the first success in a minute per
    // process only: a steady stream pays them once a minute, not per hook.
    assert_eq!(
        counts,
        [(1, 1), (3, 6), (3, 1), (2, 4)],
        "(SQS, DynamoDB) requests of ingress, the handler, egress's event and delivery"
    );
    assert_eq!((sqs_total, dynamo_total, invocations), (9, 12, 4));
}
