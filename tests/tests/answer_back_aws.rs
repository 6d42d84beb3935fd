//! The answer back to the caller on the AWS backend (SQS and DynamoDB in
//! the emulator): ingress has no handler in its process to wake it, so it
//! reads the status record with backoff. A caller that waits gets the
//! agent's answer in a 200; one whose agent is slower than its wait gets
//! the 202 with `Location`. The handler stage runs in this process on the
//! handler queue, as its Lambda would.

use clawhooks::api::{serve, Call};
use clawhooks::aws::{bootstrap, BootstrapSettings};
use clawhooks::handler::HandlerStage;
use clawhooks::ingress::Ingress;
use clawhooks::ports::SystemClock;
use clawhooks::worker::process_one;
use clawhooks_e2e::{emulator, Recorder, Reply};
use http::{HeaderMap, Method};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn answer(text: &str) -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": text}}]})
}

fn hook(prefer: &str) -> Call {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("prefer", prefer.parse().unwrap());
    Call {
        method: Method::POST,
        path: "/webhook/ask".into(),
        query: None,
        headers,
        body: r#"{"question": "six times seven?"}"#.into(),
        peer: "198.51.100.7".parse().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_aws_a_waiting_caller_gets_the_answer_and_a_slow_one_the_202() {
    clawhooks::outbound::http::install_crypto_provider();
    let model = Recorder::start_with(Reply::json(200, answer("forty-two"))).await;
    let emu = emulator::shared();
    let clients = emu.clients().await;
    let res = bootstrap(&clients, &BootstrapSettings::new(emulator::unique("wait")))
        .await
        .unwrap_or_else(|e| panic!("bootstrap: {e}\n{}", emu.log_text()));
    let backend = clawhooks::aws::backend(&clients, &res);
    assert!(backend.settled.is_none(), "on AWS ingress polls");
    let cfg = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [{"id": "ask", "action": "run_agent", "agentId": "bot",
                      "template": "{{question}}"}],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
    }});
    let cfg = Arc::new(clawhooks::config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let (http, clock) = (
        Arc::new(clawhooks_e2e::loopback_http()),
        Arc::new(SystemClock),
    );
    let ingress = Ingress {
        config: cfg.clone(),
        backend: backend.clone(),
        clock: clock.clone(),
    };
    let handler = HandlerStage::new(cfg, backend.clone(), http, clock);
    let queue = backend.handler_queue.clone();
    let worker = tokio::spawn(async move {
        loop {
            let got = queue
                .receive(10, Duration::from_secs(30), Duration::from_secs(1))
                .await
                .expect("receive from the handler queue");
            for msg in &got {
                assert!(process_one(queue.as_ref(), &handler, msg).await);
            }
        }
    });

    let answered = serve(&ingress, hook("wait=20")).await;
    assert_eq!(answered.status, 200, "{:?}", answered.body);
    assert_eq!(answered.headers["preference-applied"], "wait=20");
    assert_eq!(answered.body["status"], "done", "{}", answered.body);
    assert_eq!(answered.body["reply"], "forty-two", "{}", answered.body);

    model.set_default(Reply::json(200, answer("late")).delay(Duration::from_secs(3)));
    let started = Instant::now();
    let late = serve(&ingress, hook("wait=1")).await;
    let waited = started.elapsed();
    assert_eq!(late.status, 202, "{:?}", late.body);
    let id = late.body["eventId"].as_str().unwrap();
    assert_eq!(late.headers["location"], format!("/events/{id}").as_str());
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "waited {waited:?}: held for the wait, then answered"
    );
    model.wait_for(2, Duration::from_secs(30)).await;
    worker.abort();
}
