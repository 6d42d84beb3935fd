//! A `dedupWindow` longer than a week: a repeat of a handled hook's
//! idempotency key eight days later is recognised and not handled again,
//! and the event's status record is kept as long as the window (past the
//! week an event record used to live), so the repeat sees the hook was
//! done rather than taking it for one never started, and
//! `GET /events/<id>` still answers.

use clawhooks::config;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::ingress::Ingress;
use clawhooks::ports::{Backend, Clock, TestClock};
use clawhooks_e2e::{Recorder, Reply};
use clawhooks_local::{start, Running, ServerOptions};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn running(
    cfg: &Arc<config::CompiledConfig>,
    backend: &Backend,
    clock: Arc<dyn Clock>,
    workers: bool,
) -> Running {
    let consumers = if workers {
        let http = Arc::new(clawhooks_e2e::loopback_http());
        clawhooks_local::stages::consumers(cfg.clone(), backend, http, clock.clone(), 5).await
    } else {
        Vec::new()
    };
    start(ServerOptions {
        ingress: Ingress {
            config: cfg.clone(),
            backend: backend.clone(),
            clock,
        },
        addr: "127.0.0.1:0".parse().unwrap(),
        consumers,
        poll: Default::default(),
        sweep_every: None,
        limits: Default::default(),
    })
    .await
    .unwrap()
}

async fn post(base: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}/webhook/ask"))
        .header("Idempotency-Key", "order-42")
        .json(&json!({"q": "once"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_repeat_key_past_a_week_inside_a_longer_window_is_not_handled_again() {
    clawhooks::outbound::http::install_crypto_provider();
    let answer = json!({"choices": [{"message": {"role": "assistant", "content": "ok"}}]});
    let model = Recorder::start_with(Reply::json(200, answer)).await;
    let cfg = json!({"webhooks": {
        "incoming": {"dedupWindow": "30d"},
        "network": {"allowPrivate": true},
        "handlers": [{"id": "ask", "action": "run_agent", "agentId": "bot"}],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let clock = Arc::new(TestClock::new(chrono::Utc::now()));
    let backend = Embedded::memory()
        .unwrap()
        .with_clock(clock.clone())
        .backend(BackendOptions::default());

    let first_server = running(&cfg, &backend, clock.clone(), true).await;
    let first = post(&format!("http://{}", first_server.addr)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while model.count() == 0 || backend.handler_queue.approximate_len().await.unwrap() > 0 {
        assert!(
            Instant::now() < deadline,
            "the hook was not handled in 60 s ({} agent calls)",
            model.count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first_server.shutdown().await;

    // Eight days on, inside the 30-day window: the same key again, to a
    // server that only accepts, so whatever it queues stays to be seen.
    clock.advance(chrono::Duration::days(8));
    let second_server = running(&cfg, &backend, clock.clone(), false).await;
    let repeat = post(&format!("http://{}", second_server.addr)).await;
    assert_eq!(repeat["eventId"], first["eventId"], "{repeat}");
    assert_eq!(
        backend.handler_queue.approximate_len().await.unwrap(),
        0,
        "the repeat queued the handled hook again"
    );
    assert_eq!(model.count(), 1);
    let id = first["eventId"].as_str().unwrap();
    let record = reqwest::get(format!("http://{}/events/{id}", second_server.addr))
        .await
        .unwrap();
    assert_eq!(record.status(), 200, "the event's record after eight days");
    let record: Value = record.json().await.unwrap();
    assert_eq!(record["event"]["status"], "done", "{record}");
    second_server.shutdown().await;
}
