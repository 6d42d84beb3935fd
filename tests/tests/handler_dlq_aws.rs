//! On SQS the handler's dead-letter queue is FIFO, which cannot be listed
//! without receiving: `GET /dlq/handler` answers a 501 that says so (not a
//! 503 "retry", and not an empty list), while the delivery listing (a
//! standard queue) works and a replay of the handler's dead letters puts
//! them back on the handler queue.

use clawhooks::api::{serve, Call};
use clawhooks::aws::{bootstrap, BootstrapSettings};
use clawhooks::ingress::Ingress;
use clawhooks::ports::{NewMessage, SystemClock};
use clawhooks_e2e::emulator;
use http::{HeaderMap, Method};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const ADMIN: &str = "aws-dlq-admin";

fn call(method: Method, path: &str, body: &str) -> Call {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {ADMIN}").parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    Call {
        method,
        path: path.into(),
        query: None,
        headers,
        body: body.to_string().into(),
        peer: "127.0.0.1".parse().unwrap(),
    }
}

#[tokio::test]
async fn the_handler_dead_letters_on_sqs_answer_a_clear_refusal_and_replay() {
    let emu = emulator::shared();
    let clients = emu.clients().await;
    let res = bootstrap(&clients, &BootstrapSettings::new(emulator::unique("hdlq")))
        .await
        .unwrap_or_else(|e| panic!("bootstrap: {e}\n{}", emu.log_text()));
    let backend = clawhooks::aws::backend(&clients, &res);
    let cfg = json!({"webhooks": {"admin": {"secret": ADMIN}}}).to_string();
    let ingress = Ingress {
        config: Arc::new(clawhooks::config::load_str(&cfg, &|_| None).unwrap()),
        backend: backend.clone(),
        clock: Arc::new(SystemClock),
    };
    let event = clawhooks::event::InboundEvent {
        event_id: "ev-dead-1".into(),
        hook_id: "h".into(),
        handler_id: None,
        session_key: "hook:ev-dead-1".into(),
        persistent: false,
        received_at: chrono::Utc::now(),
        source_ip: "127.0.0.1".into(),
        headers: Default::default(),
        query: Default::default(),
        content_type: None,
        body: clawhooks::event::Body::Empty,
    };
    backend
        .handler_dlq
        .send(
            NewMessage::new(serde_json::to_string(&event).unwrap())
                .group(event.session_key.clone()),
        )
        .await
        .unwrap();

    let listed = serve(&ingress, call(Method::GET, "/dlq/handler", "")).await;
    assert_eq!(listed.status, 501, "{:?}", listed.body);
    let error = listed.body["error"].as_str().unwrap_or_default();
    assert!(error.contains("FIFO"), "{error}");

    let deliveries = serve(&ingress, call(Method::GET, "/dlq", "")).await;
    assert_eq!(deliveries.status, 200, "{:?}", deliveries.body);

    let replayed = serve(
        &ingress,
        call(
            Method::POST,
            "/dlq/handler/replay",
            r#"{"event": "ev-dead-1"}"#,
        ),
    )
    .await;
    assert_eq!(replayed.status, 200, "{:?}", replayed.body);
    assert_eq!(replayed.body["replayed"], 1, "{:?}", replayed.body);
    let back = backend
        .handler_queue
        .receive(10, Duration::from_secs(30), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(back.len(), 1, "the replayed hook on the handler queue");
    assert!(back[0].body.contains("ev-dead-1"), "{}", back[0].body);
}
