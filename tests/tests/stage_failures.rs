//! The handler stage when a failure path fails too: an unreadable message
//! that the dead-letter queue refuses, and a last attempt whose `error`
//! event cannot be emitted. Nothing may be deleted, and what an operator
//! can only learn from the log must be in it, so the log is captured.
//!
//! Every test installs the one process-wide subscriber before it logs
//! anything, so no callsite's interest is cached without it.

mod handler_support;

use clawhooks::aws::SqsQueue;
use clawhooks::handler::HandlerStage;
use clawhooks::ports::{NewMessage, Queue};
use clawhooks::worker::Stage;
use clawhooks_e2e::logs::Captured;
use handler_support::*;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        captured
    })
}

/// An SQS queue at a closed port on 127.0.0.1: every send fails at once,
/// the way an unreachable queue fails.
async fn unreachable_queue() -> Arc<dyn Queue> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let config = clawhooks::aws::clients::config_loader()
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let client = aws_sdk_sqs::Client::new(&config);
    Arc::new(SqsQueue::new(
        client,
        format!("{endpoint}/000000000000/events.fifo"),
    ))
}

const WAIT: Duration = Duration::from_secs(31);

/// Too large for the dead-letter queue once the reason is attached, so
/// the stage cannot dead-letter it: it stays on the handler queue, and the
/// queue's own redrive moves it, body intact, after `maxReceiveCount`.
#[tokio::test]
async fn an_unreadable_hook_the_dead_letter_queue_refuses_stays_until_redrive() {
    let logs = logs();
    let h = Harness::new(r#"{"webhooks": {}}"#);
    let body = "x".repeat(1024 * 1024 - 64);
    h.backend
        .handler_queue
        .send(NewMessage::new(body.clone()).group("s"))
        .await
        .unwrap();
    for attempt in 1..=MAX_RECEIVE {
        let out = h.run_handler().await;
        assert_eq!(out.len(), 1, "attempt {attempt}");
        let reason = out[0].as_ref().expect_err("kept for another attempt");
        assert!(reason.contains("not dead-lettered"), "{reason}");
        assert_eq!(h.backend.handler_dlq.approximate_len().await.unwrap(), 0);
        h.clock.advance(chrono::Duration::from_std(WAIT).unwrap());
    }
    assert!(h.run_handler().await.is_empty(), "moved by the redrive");
    let dead = h.backend.handler_dlq.peek(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].body == body, "body intact");
    let errors = logs
        .text()
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("could not be dead-lettered"))
        .count();
    assert!(errors >= MAX_RECEIVE as usize, "one error line per attempt");
}

/// With the events queue unreachable, no attempt can announce anything.
/// The last attempt still ends in a retry, so the hook goes to the
/// dead-letter queue (recorded `failed`), and the lost announcement is an
/// error line naming the event; earlier attempts' lost `retrying` events
/// are warnings.
#[tokio::test]
async fn a_last_attempt_that_cannot_announce_its_failure_logs_it_and_keeps_the_hook() {
    let logs = logs();
    let h = Harness::new(r#"{"webhooks": {}}"#);
    let event_id = h.post("anything", &[], r#"{"x": 1}"#).await.event_id();
    let mut backend = h.backend.clone();
    backend.events_queue = unreachable_queue().await;
    let stage = HandlerStage::new(
        h.config.clone(),
        backend,
        Arc::new(clawhooks_e2e::loopback_http()),
        h.clock.clone(),
    )
    .with_max_receive_count(MAX_RECEIVE);

    let q = h.backend.handler_queue.as_ref();
    for attempt in 1..=MAX_RECEIVE {
        let got = q.receive(10, WAIT, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 1, "attempt {attempt}");
        assert!(stage.process(&got[0]).await.is_err(), "attempt {attempt}");
        h.clock.advance(chrono::Duration::from_std(WAIT).unwrap());
    }
    assert!(q
        .receive(10, WAIT, Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(h.backend.handler_dlq.approximate_len().await.unwrap(), 1);
    assert_eq!(h.status(&event_id).await["status"], "failed");

    let text = logs.text();
    let about = |level: &str, what: &str| {
        text.lines()
            .filter(|l| l.contains(level) && l.contains(&event_id) && l.contains(what))
            .count()
    };
    assert_eq!(
        about("ERROR", "final error event could not be emitted"),
        1,
        "{text}"
    );
    assert_eq!(
        about("WARN", "could not emit the retrying error event"),
        MAX_RECEIVE as usize - 1
    );
}
