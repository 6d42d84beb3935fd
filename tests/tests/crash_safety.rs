//! Crash safety: load the real `clawhooks serve` with hooks, `kill -9` it in
//! the middle, start it again on the same state, and check that every hook
//! that got a 2xx reaches the outgoing sink at least once. The sink
//! deduplicates by `webhook-id`, as a receiver should; duplicates are
//! counted, losses fail the test. Every hook carries an idempotency key, and
//! the hooks in flight at the kill are retried with their keys after the
//! restart, as real senders do: each key must end with one event id. Run on the embedded backend (the SQLite
//! file) and on SQS/DynamoDB in the emulator.
//!
//! `bench/crash/run.sh` runs it with more hooks and prints the figures.

use clawhooks_e2e::emulator::{self, workspace_binary};
use clawhooks_e2e::process::spawn_announced;
use clawhooks_e2e::Recorder;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Hooks accepted before the kill (CRASH_HOOKS raises it for the bench).
fn hooks_before_kill() -> usize {
    std::env::var("CRASH_HOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

fn serve(config: &Path, backend: &[String], env: &[(&'static str, String)]) -> (Child, String) {
    let mut cmd = Command::new(workspace_binary("clawhooks").unwrap());
    cmd.args(["serve", "--port", "0", "--config"])
        .arg(config)
        .args(backend)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "error")
        .stderr(Stdio::null());
    spawn_announced(cmd)
}

struct Report {
    /// Hooks in flight at the kill, retried with their key afterwards.
    retried: usize,
    accepted: usize,
    delivered: usize,
    lost: usize,
    duplicated: usize,
}

/// Posts one hook with idempotency key `key`; the event id of its 2xx, or
/// `None` when the server is gone.
async fn post_keyed(client: &reqwest::Client, base: &str, key: &str) -> Option<String> {
    let r = client
        .post(format!("{base}/webhook/load"))
        .header("X-Webhook-Secret", "s")
        .header("Idempotency-Key", key)
        .json(&serde_json::json!({ "key": key }))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let body: serde_json::Value = r.json().await.ok()?;
    Some(body["eventId"].as_str()?.to_string())
}

async fn crash_and_recover(
    name: &str,
    backend: Vec<String>,
    env: Vec<(&'static str, String)>,
) -> Report {
    clawhooks::outbound::http::install_crypto_provider();
    let sink = Recorder::start().await;
    let dir = std::env::temp_dir().join(format!("clawhooks-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    std::fs::write(
        &config,
        serde_json::json!({"webhooks": {
            "incoming": {"secret": "s"},
            "network": {"allowPrivate": true},
            "outgoing": [{"id": "sink", "url": sink.url("/in"), "events": ["message_received"],
                          "retry": {"maxAttempts": 20, "initialDelayMs": 100, "maxDelayMs": 1000}}]
        }})
        .to_string(),
    )
    .unwrap();
    let mut backend = backend;
    if backend.is_empty() {
        backend = vec!["--db".into(), dir.join("state.db").display().to_string()];
    }

    let (mut first, base) = serve(&config, &backend, &env);
    // Each hook carries its own idempotency key, as Standard Webhooks and
    // GitHub senders do. Key -> the event id its 2xx named.
    let accepted: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let target = hooks_before_kill();
    let mut posters = Vec::new();
    for worker in 0..4 {
        let (client, base, accepted) = (client.clone(), base.clone(), accepted.clone());
        posters.push(tokio::spawn(async move {
            for n in 0.. {
                let key = format!("w{worker}-{n}");
                match post_keyed(&client, &base, &key).await {
                    Some(event_id) => {
                        accepted.lock().unwrap().insert(key, event_id);
                    }
                    // The server is gone: this hook has no answer, and its
                    // sender will retry it with the same key.
                    None => return Some(key),
                }
            }
            None
        }));
    }
    let started = Instant::now();
    while accepted.lock().unwrap().len() < target && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL, mid-load
    first.wait().unwrap();
    let mut unanswered = Vec::new();
    for p in posters {
        unanswered.extend(p.await.unwrap());
    }

    let (mut second, base) = serve(&config, &backend, &env);
    // The senders retry what got no answer, with the same keys: a hook the
    // first process kept gets its event id back, one it lost is kept now.
    for key in &unanswered {
        let event_id = post_keyed(&client, &base, key)
            .await
            .expect("the restarted server answers");
        accepted.lock().unwrap().insert(key.clone(), event_id);
    }
    let by_key = accepted.lock().unwrap().clone();
    let accepted: BTreeSet<String> = by_key.values().cloned().collect();
    assert_eq!(
        accepted.len(),
        by_key.len(),
        "one event per key, across the crash"
    );

    // A backlog of thousands drains at the emulator's pace: allow for it.
    let deadline = Instant::now() + Duration::from_secs(120 + accepted.len() as u64 / 50);
    let (delivered, total) = loop {
        let mut by_hook: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let reqs = sink.requests();
        for r in &reqs {
            let ev = r.json();
            let hook = ev["eventId"].as_str().unwrap_or_default().to_string();
            let id = r.header("webhook-id").unwrap_or_default().to_string();
            by_hook.entry(hook).or_default().insert(id);
        }
        let delivered: BTreeSet<String> = by_hook.keys().cloned().collect();
        if accepted.is_subset(&delivered) || Instant::now() > deadline {
            let unique: usize = by_hook.values().map(BTreeSet::len).sum();
            break (delivered, (reqs.len(), unique));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let report = Report {
        retried: unanswered.len(),
        accepted: accepted.len(),
        delivered: accepted.intersection(&delivered).count(),
        lost: accepted.difference(&delivered).count(),
        duplicated: total.0 - total.1,
    };
    println!(
        "crash-safety {name}: accepted {} ({} retried after the kill with their key), delivered {}, lost {}, duplicated {}",
        report.accepted, report.retried, report.delivered, report.lost, report.duplicated
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_nothing_on_the_embedded_backend() {
    let r = crash_and_recover("embedded", vec![], vec![]).await;
    assert!(r.accepted > 0);
    assert_eq!(r.lost, 0, "every 2xx must reach the sink");
    assert_eq!(r.delivered, r.accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_nothing_on_sqs_and_dynamodb() {
    let emu = emulator::shared();
    let prefix = emulator::unique("crash");
    let backend = vec![
        "--backend".into(),
        "aws".into(),
        "--bootstrap".into(),
        "--aws-prefix".into(),
        prefix,
    ];
    let r = crash_and_recover("aws", backend, emu.env()).await;
    assert!(r.accepted > 0);
    assert_eq!(r.lost, 0, "every 2xx must reach the sink");
}
