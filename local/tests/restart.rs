//! The real `clawhooks` binary: hooks it accepted survive a `kill -9`, and
//! SIGTERM stops it cleanly.

use clawhooks::embedded::{Embedded, QueueOptions};
use clawhooks::event::InboundEvent;
use clawhooks_e2e::wait::SETTLE;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Spawned {
    child: Child,
    base: String,
}

/// Starts `clawhooks serve` with JSON logs; its log goes to `<db>.log`.
fn spawn(config: &Path, db: &Path, extra: &[&str]) -> Spawned {
    spawn_logging(config, db, &[&["--log-json"], extra].concat())
}

/// Starts `clawhooks serve`; its log goes to `<db>.log`.
fn spawn_logging(config: &Path, db: &Path, extra: &[&str]) -> Spawned {
    let log = std::fs::File::create(db.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(["serve", "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .args(["--port", "0"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start clawhooks");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("clawhooks listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Spawned { child, base }
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clawhooks-restart-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn post_many(client: &reqwest::Client, base: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = client
            .post(format!("{base}/webhook/durable"))
            .header("X-Webhook-Secret", "s")
            .json(&serde_json::json!({ "n": i }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let body: serde_json::Value = r.json().await.unwrap();
        ids.push(body["eventId"].as_str().unwrap().to_string());
    }
    ids
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
    let dir = temp_dir();
    let config = dir.join("config.json");
    let doc = serde_json::json!({"webhooks": {"incoming": {"secret": "s"},
        "handlers": [{"id": "durable"}]}});
    std::fs::write(&config, doc.to_string()).unwrap();
    let db = dir.join("clawhooks.db");
    let client = reqwest::Client::new();
    let mut server = spawn_logging(&config, &db, &[]);
    post_many(&client, &server.base, 1).await;
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
    server.child.kill().unwrap();
    server.child.wait().unwrap();
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
    let dir = temp_dir();
    let config = dir.join("config.json");
    let mut incoming = serde_json::json!({"secret": "s"});
    if let Some(d) = durability {
        incoming["durability"] = d.into();
    }
    let doc = serde_json::json!({"webhooks": {"incoming": incoming}});
    std::fs::write(&config, doc.to_string()).unwrap();
    let db = dir.join("clawhooks.db");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let mut first = spawn(&config, &db, &["--no-workers"]);
    let mut accepted = post_many(&client, &first.base, 40).await;
    first.child.kill().unwrap(); // SIGKILL: no chance to flush anything
    first.child.wait().unwrap();
    assert_eq!(queued_ids(&db), accepted, "every 202 is on disk, in order");
    let log = std::fs::read_to_string(db.with_extension("log")).unwrap();
    assert!(
        log.contains(&format!(r#""synchronous":"{synchronous}""#)),
        "the server does not report synchronous {synchronous}:\n{log}"
    );

    let mut second = spawn(&config, &db, &["--no-workers"]);
    accepted.extend(post_many(&client, &second.base, 5).await);
    second.child.kill().unwrap();
    second.child.wait().unwrap();
    assert_eq!(queued_ids(&db), accepted);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let dir = temp_dir();
    let config = dir.join("config.json");
    std::fs::write(&config, r#"{"webhooks":{"incoming":{"secret":"s"}}}"#).unwrap();
    let mut s = spawn(&config, &dir.join("db"), &[]);
    let status = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(code) = s.child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = &s.base;
    std::fs::remove_dir_all(dir).ok();
}
