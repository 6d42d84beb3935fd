//! `clawhooks deliveries list`, `clawhooks dlq list` and `clawhooks dlq
//! replay` on the database file, and `clawhooks serve` delivering what
//! lands on its events queue (the egress consumers are wired in).

mod common;

use clawhooks::config::load_str;
use clawhooks::egress::EgressStage;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::{self, LifecycleEvent};
use clawhooks::ports::SystemClock;
use clawhooks_e2e::{wait, Recorder, Reply};
use common::egress::{drain, message_received};
use common::spawned::run_cli as clawhooks;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

fn lifecycle(text: &str) -> LifecycleEvent {
    message_received("hook:cli", text)
}

/// Stops the server even when an assertion fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_db(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("clawhooks-{name}-{}.db", uuid::Uuid::new_v4()))
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn deliveries_and_dead_letters_from_the_command_line() {
    let sink = Recorder::start_with(Reply::status(500)).await;
    let db = temp_db("egress-cli");
    let cfg = Arc::new(
        load_str(
            &serde_json::json!({"webhooks": {"outgoing": [
                {"id": "a", "url": sink.url("/a"), "events": ["message_received"], "retry": {"maxAttempts": 1}},
                {"id": "b", "url": sink.url("/b"), "events": ["message_received"], "retry": {"maxAttempts": 1}},
            ]}})
            .to_string(),
            &|_| None,
        )
        .unwrap(),
    );
    let backend = Embedded::open(&db)
        .unwrap()
        .backend(BackendOptions::default());
    let http = Arc::new(clawhooks_e2e::loopback_http());
    let stage = EgressStage::new(cfg, backend.clone(), http, Arc::new(SystemClock)).unwrap();
    let ev = lifecycle("hello");
    event::emit(backend.events_queue.as_ref(), &ev)
        .await
        .unwrap();
    drain(&backend, &stage).await;
    assert_eq!(sink.count(), 2);
    let dbs = db.to_str().unwrap();

    let (ok, out, err) = clawhooks(&["deliveries", "list", "--event", &ev.id, "--db", dbs]);
    assert!(ok, "{err}");
    assert!(out.starts_with("TIME"), "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.contains(&ev.id) && out.contains("HTTP 500") && out.contains("failed"),
        "{out}"
    );

    let (ok, out, _) = clawhooks(&["deliveries", "list", "--json", "--db", dbs]);
    assert!(ok);
    let attempts: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(attempts.as_array().unwrap().len(), 2);

    let (ok, out, _) = clawhooks(&["dlq", "list", "--db", dbs]);
    assert!(ok);
    assert_eq!(out.lines().count(), 3, "{out}");
    // A page at a time: the first, then the rest from the cursor it names.
    let (ok, first, err) = clawhooks(&["dlq", "list", "--limit", "1", "--db", dbs]);
    assert!(ok, "{err}");
    assert_eq!(first.lines().count(), 2, "{first}");
    let cursor = err
        .trim()
        .rsplit("--cursor ")
        .next()
        .filter(|_| err.contains("--cursor "))
        .unwrap_or_else(|| panic!("no cursor named: {err}"));
    let (ok, rest, err) = clawhooks(&["dlq", "list", "--cursor", cursor, "--db", dbs]);
    assert!(ok, "{err}");
    assert_eq!(rest.lines().count(), 2, "{rest}");
    assert!(!err.contains("--cursor"), "{err}");
    assert_ne!(first.lines().nth(1), rest.lines().nth(1));
    let (ok, _, err) = clawhooks(&["dlq", "list", "--cursor", "nope", "--db", dbs]);
    assert!(!ok);
    assert!(err.contains("cursor"), "{err}");
    let (_, out, _) = clawhooks(&["dlq", "list", "--subscription", "b", "--json", "--db", dbs]);
    let letters: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(letters.as_array().unwrap().len(), 1);
    assert_eq!(letters[0]["eventId"], serde_json::json!(ev.id));

    let (ok, _, err) = clawhooks(&["dlq", "replay", "--since", "someday", "--db", dbs]);
    assert!(!ok);
    assert!(err.contains("--since \"someday\""), "{err}");

    // A dry run counts what a filter matches and takes none of it.
    let (ok, out, err) = clawhooks(&[
        "dlq",
        "replay",
        "--subscription",
        "b",
        "--from",
        "1h",
        "--to",
        "0s",
        "--event-type",
        "message_received",
        "--status",
        "dead_lettered",
        "--dry-run",
        "--db",
        dbs,
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "1 dead letter(s) match; none replayed (--dry-run)"
    );
    let (ok, _, err) = clawhooks(&["dlq", "replay", "--status", "failed", "--db", dbs]);
    assert!(!ok && err.contains("dead_lettered"), "{err}");

    sink.set_default(Reply::status(200));
    let (ok, out, err) = clawhooks(&[
        "dlq",
        "replay",
        "--subscription",
        "b",
        "--since",
        "1h",
        "--db",
        dbs,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "replayed 1 dead letter(s); 1 left in the queue");
    drain(&backend, &stage).await;
    let paths: Vec<_> = sink.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.len(), 3);
    assert_eq!(paths[2], "/b");

    let (ok, out, _) = clawhooks(&["dlq", "replay", "--db", dbs]);
    assert!(ok);
    assert_eq!(out.trim(), "replayed 1 dead letter(s); 0 left in the queue");
    let (_, out, _) = clawhooks(&["dlq", "list", "--db", dbs]);
    assert_eq!(out.trim(), "no dead letters");

    let missing = temp_db("missing");
    let (ok, _, err) = clawhooks(&["dlq", "list", "--db", missing.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!missing.exists(), "listing does not create a database");
    remove_db(&db);
}

#[tokio::test]
async fn serve_delivers_lifecycle_events_to_outgoing_webhooks() {
    let sink = Recorder::start().await;
    let db = temp_db("egress-serve");
    let dir = std::env::temp_dir().join(format!("clawhooks-egress-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"webhooks": {"network": {"allowPrivate": true}, "outgoing": [
            {"id": "sink", "url": sink.url("/events"), "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
        ]}})
        .to_string(),
    )
    .unwrap();
    // Create the file first, as `serve` would, then start the server on it.
    let backend = Embedded::open(&db)
        .unwrap()
        .backend(BackendOptions::default());
    let child = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(["serve", "--port", "0", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = KillOnDrop(child);
    // What the handler stage does: put a lifecycle event on the events queue.
    let ev = lifecycle("from the handler");
    event::emit(backend.events_queue.as_ref(), &ev)
        .await
        .unwrap();
    let got = sink.wait_for(1, wait::SETTLE).await;
    drop(server);
    assert_eq!(got[0].path, "/events");
    assert_eq!(got[0].json()["id"], serde_json::json!(ev.id));
    assert!(got[0]
        .header("webhook-signature")
        .unwrap()
        .starts_with("v1,"));
    remove_db(&db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_posted_hook_reaches_the_outgoing_webhook_and_its_delivery_log() {
    use std::io::BufRead;
    let sink = Recorder::start().await;
    let dir = std::env::temp_dir().join(format!("clawhooks-egress-e2e-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"webhooks": {
            "incoming": {"secret": "your-secret"},
            "admin": {"secret": "your-admin-secret-0b7d"},
            // The sink is on 127.0.0.1, which the SSRF guard refuses by default.
            "network": {"allowPrivate": true},
            "outgoing": [{"id": "slack-notify", "url": sink.url("/out"),
                          "events": ["message_received", "agent_response"], "method": "POST"}]
        }})
        .to_string(),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(["serve", "--memory", "--port", "0", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");

    // The seed's curl example.
    clawhooks::outbound::http::install_crypto_provider();
    let client = reqwest::Client::new();
    let posted = client
        .post(format!("{base}/webhook/my-hook"))
        .header("Content-Type", "application/json")
        .header("X-Webhook-Secret", "your-secret")
        .body(r#"{"event": "custom_event", "data": {"key": "value"}}"#)
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{}", posted.status());
    let got = sink.wait_for(1, wait::SETTLE).await;
    let body = got[0].json();
    assert_eq!(body["type"], serde_json::json!("message_received"));
    assert!(
        body["session"].as_str().unwrap().starts_with("hook:"),
        "{body}"
    );
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(got[0].header("webhook-id"), Some(id.as_str()));

    // The delivery log over HTTP, behind the admin secret. The log write
    // follows the sink's answer: wait until it says what is asserted below.
    let read_log = || async {
        let log: serde_json::Value = client
            .get(format!("{base}/deliveries?event={id}"))
            .bearer_auth("your-admin-secret-0b7d")
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let logged = log["attempts"].as_array().is_some_and(|a| !a.is_empty())
            && log["subscriptions"][0]["outcome"] == "delivered";
        if logged {
            Ok(log)
        } else {
            Err(log.to_string())
        }
    };
    let log = wait::until("the delivery logged", wait::SETTLE, read_log).await;
    assert_eq!(
        log["subscriptions"][0]["subscription"],
        serde_json::json!("slack-notify")
    );
    assert_eq!(
        log["subscriptions"][0]["outcome"],
        serde_json::json!("delivered")
    );
    assert_eq!(log["attempts"][0]["status"], serde_json::json!(200));
    let refused = client.get(format!("{base}/dlq")).send().await.unwrap();
    assert_eq!(refused.status(), 401, "admin routes need the admin secret");
    let hook_secret = client
        .get(format!("{base}/dlq"))
        .header("X-Webhook-Secret", "your-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(
        hook_secret.status(),
        401,
        "the hook secret is not the admin's"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
