//! The handler stage when a failure path fails too: an unreadable message
//! that the dead-letter queue refuses. Nothing may be deleted, and what an operator
//! can only learn from the log must be in it, so the log is captured.
//!
//! Every test installs the one process-wide subscriber before it logs
//! anything, so no callsite's interest is cached without it.

mod handler_support;

use clawhooks::ports::NewMessage;
use clawhooks_e2e::logs::Captured;
use handler_support::*;
use std::sync::OnceLock;
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
