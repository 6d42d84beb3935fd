//! The real `clawhooks` binary: hooks it accepted survive a `kill -9`, and
//! SIGTERM stops it cleanly.

mod common;

use clawhooks::embedded::{Embedded, QueueOptions};
use clawhooks::event::InboundEvent;
use clawhooks_e2e::wait::SETTLE;
use common::spawned::{post_hooks, serve_with, signal, TempDir};
use std::path::Path;
use std::time::Duration;

async fn post_many(client: &reqwest::Client, base: &str, n: usize) -> Vec<String> {
    let bodies = (0..n).map(|i| serde_json::json!({ "n": i }));
    post_hooks(client, base, "durable", bodies).await
}

fn queued_ids(db: &Path) -> Vec<String> {
    let e = Embedded::open(db).unwrap();
    let q = e.queue(
        "handler",
        QueueOptions {
            fifo: true,
            ..Default::default()
        },
    );
    q.peek_all(10_000)
        .unwrap()
        .into_iter()
        .map(|m| {
            serde_json::from_str::<InboundEvent>(&m.body)
                .unwrap()
                .event_id
        })
        .collect()
}

/// A log written to a file reads as text: no colour codes, and fields
/// print as their values (`handler="durable"`, not `Some("durable")`).
#[tokio::test]
async fn a_log_file_is_plain_text_with_fields_as_values() {
    clawhooks::outbound::http::install_crypto_provider();
    let dir = TempDir::new("restart");
    let config = dir.0.join("config.json");
    let doc = serde_json::json!({"webhooks": {"incoming": {"secret": "s"},
        "handlers": [{"id": "durable"}]}});
    std::fs::write(&config, doc.to_string()).unwrap();
    let db = dir.0.join("clawhooks.db");
    let client = reqwest::Client::new();
    let (mut server, base) = serve_with(&config, &db, &[]);
    post_many(&client, &base, 1).await;
    let log_path = db.with_extension("log");
    let log = clawhooks_e2e::wait::until_sync("the hook logged as done", SETTLE, || {
        let log = std::fs::read_to_string(&log_path).unwrap();
        if log.contains(" done") && log.contains("handler=\"durable\"") {
            Ok(log)
        } else {
            Err(log)
        }
    })
    .await;
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    assert!(log.contains("handler=\"durable\""), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
    assert!(!log.contains("Some("), "{log}");
}

#[tokio::test]
async fn accepted_hooks_survive_kill_9_and_restart() {
    survive_kill_9(None, "NORMAL").await;
}

#[tokio::test]
async fn fsync_durability_is_in_force_and_survives_kill_9() {
    survive_kill_9(Some("fsync"), "FULL").await;
}

/// Posts, kills with SIGKILL, restarts, posts again: every 202 is kept.
/// `synchronous` is what the server must report SQLite running with.
async fn survive_kill_9(durability: Option<&str>, synchronous: &str) {
    clawhooks::outbound::http::install_crypto_provider();
    let dir = TempDir::new("restart");
    let config = dir.0.join("config.json");
    let mut incoming = serde_json::json!({"secret": "s"});
    if let Some(d) = durability {
        incoming["durability"] = d.into();
    }
    let doc = serde_json::json!({"webhooks": {"incoming": incoming}});
    std::fs::write(&config, doc.to_string()).unwrap();
    let db = dir.0.join("clawhooks.db");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let json_logs = ["--no-workers", "--log-json"];
    let (mut first, base) = serve_with(&config, &db, &json_logs);
    let mut accepted = post_many(&client, &base, 40).await;
    first.0.kill().unwrap(); // SIGKILL: no chance to flush anything
    first.0.wait().unwrap();
    assert_eq!(queued_ids(&db), accepted, "every 202 is on disk, in order");
    let log = std::fs::read_to_string(db.with_extension("log")).unwrap();
    assert!(
        log.contains(&format!(r#""synchronous":"{synchronous}""#)),
        "the server does not report synchronous {synchronous}:\n{log}"
    );

    let (mut second, base) = serve_with(&config, &db, &json_logs);
    accepted.extend(post_many(&client, &base, 5).await);
    second.0.kill().unwrap();
    second.0.wait().unwrap();
    assert_eq!(queued_ids(&db), accepted);
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let dir = TempDir::new("restart");
    let config = dir.0.join("config.json");
    std::fs::write(&config, r#"{"webhooks":{"incoming":{"secret":"s"}}}"#).unwrap();
    let (mut s, _) = serve_with(&config, &dir.0.join("db"), &["--log-json"]);
    signal(&s, "TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(code) = s.0.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
