//! The README's quick start, as a new user runs it: `clawhooks serve` with
//! `examples/clawhooks.json` and nothing else (no chat account, no agent),
//! then a GitHub-style hook. Its message must show up in the server's log
//! through the example's `log` channel, not end as a failure.

mod common;

use clawhooks_e2e::wait;
use common::spawned::{serve, TempDir};
use std::path::Path;

#[tokio::test]
async fn the_example_configs_first_hook_is_visible_in_the_server_log() {
    clawhooks::outbound::http::install_crypto_provider();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clawhooks.json");
    let dir = TempDir::new("quick-start");
    let db = dir.0.join("clawhooks.db");
    let (server, base) = serve(&example, &db);

    let sent = reqwest::Client::new()
        .post(format!("{base}/webhook/github"))
        .header("X-Webhook-Secret", "your-webhook-secret")
        .header("Content-Type", "application/json")
        .body(r#"{"action": "opened", "pull_request": {"title": "Add a log channel"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let answer: serde_json::Value = sent.json().await.unwrap();
    let event_id = answer["eventId"].as_str().unwrap().to_string();

    let log_path = db.with_extension("log");
    let log = wait::until_sync("the message in the server log", wait::SETTLE, || {
        let log = std::fs::read_to_string(&log_path).unwrap();
        let done = log
            .lines()
            .any(|l| l.contains("clawhooks::handler: done") && l.contains(&event_id));
        if done {
            Ok(log)
        } else {
            Err(log)
        }
    })
    .await;
    drop(server);
    let message = log
        .lines()
        .find(|l| l.contains("clawhooks::channel:"))
        .unwrap_or_else(|| panic!("no channel line in:\n{log}"));
    assert!(
        message.contains("🔔 opened: Add a log channel"),
        "{message}"
    );
    assert!(message.contains(r#"channel="terminal""#), "{message}");
    assert!(message.contains(&event_id), "{message}");
    assert!(!log.contains("permanent failure"), "{log}");
}
