//! A backend that hangs: the AWS emulator is frozen (SIGSTOP) for 20 s
//! while senders post hooks to `clawhooks serve --backend aws`. Every
//! answer must come within `incoming.acceptTimeout` (a 503 with
//! `Retry-After` while the backend hangs, never a sender-side timeout), and
//! every hook that got a 2xx must reach the outgoing sink once the emulator
//! thaws: no 2xx stands for a hook that was not kept.

use clawhooks_e2e::emulator::{self, workspace_binary, Emulator};
use clawhooks_e2e::process::spawn_announced;
use clawhooks_e2e::Recorder;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ACCEPT_TIMEOUT: Duration = Duration::from_secs(3);
const FREEZE: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Tally {
    accepted: BTreeSet<String>,
    refused_503: usize,
    with_retry_after: usize,
    slowest: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_backend_gets_answers_within_the_deadline_and_loses_nothing() {
    clawhooks::outbound::http::install_crypto_provider();
    // An emulator of this test's own: freezing the shared one would hang
    // every other test in the binary.
    let emu = Emulator::start(emulator::Kind::from_env().unwrap()).expect("start the emulator");
    let sink = Recorder::start().await;
    let dir = std::env::temp_dir().join(format!("clawhooks-outage-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    std::fs::write(
        &config,
        serde_json::json!({"webhooks": {
            "incoming": {"secret": "s", "acceptTimeout": "3s"},
            "network": {"allowPrivate": true},
            "outgoing": [{"id": "sink", "url": sink.url("/in"), "events": ["message_received"],
                          "retry": {"maxAttempts": 30, "initialDelayMs": 200, "maxDelayMs": 2000}}]
        }})
        .to_string(),
    )
    .unwrap();
    let mut cmd = Command::new(workspace_binary("clawhooks").unwrap());
    cmd.args([
        "serve",
        "--port",
        "0",
        "--backend",
        "aws",
        "--bootstrap",
        "--aws-prefix",
    ])
    .arg(emulator::unique("outage"))
    .arg("--config")
    .arg(&config)
    .envs(emu.env())
    .env("RUST_LOG", "error")
    .stderr(Stdio::null());
    let (mut server, base) = spawn_announced(cmd);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for worker in 0..4 {
        let (client, base, tally, stop) =
            (client.clone(), base.clone(), tally.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                // Each hook is retried with its key until it gets a 2xx.
                let key = format!("w{worker}-{n}");
                loop {
                    let started = Instant::now();
                    let r = client
                        .post(format!("{base}/webhook/outage"))
                        .header("X-Webhook-Secret", "s")
                        .header("Idempotency-Key", &key)
                        .json(&serde_json::json!({ "key": key }))
                        .send()
                        .await
                        .expect("every request is answered");
                    let took = started.elapsed();
                    let status = r.status().as_u16();
                    let retry_after = r.headers().contains_key("retry-after");
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    let accepted = {
                        let mut t = tally.lock().unwrap();
                        t.slowest = t.slowest.max(took);
                        if (200..300).contains(&status) {
                            t.accepted
                                .insert(body["eventId"].as_str().unwrap().to_string());
                            true
                        } else {
                            assert_eq!(status, 503, "{body}");
                            t.refused_503 += 1;
                            t.with_retry_after += usize::from(retry_after);
                            false
                        }
                    };
                    if accepted {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = tally.lock().unwrap().accepted.len();
    emu.signal("STOP").unwrap();
    tokio::time::sleep(FREEZE).await;
    emu.signal("CONT").unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());

    let deadline = Instant::now() + Duration::from_secs(120);
    let delivered = loop {
        let seen: BTreeSet<String> = sink
            .requests()
            .iter()
            .filter_map(|r| r.json()["eventId"].as_str().map(str::to_string))
            .collect();
        if tally.accepted.is_subset(&seen) || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    server.kill().ok();
    server.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
    let lost = tally.accepted.difference(&delivered).count();
    println!(
        "outage: accepted {} ({before} before the freeze), 503 {} (with Retry-After {}), slowest answer {:?}, delivered {}, lost {lost}",
        tally.accepted.len(),
        tally.refused_503,
        tally.with_retry_after,
        tally.slowest,
        tally.accepted.len() - lost,
    );
    assert!(before > 0, "hooks were accepted before the freeze");
    assert!(
        tally.refused_503 > 0,
        "the frozen backend made ingress refuse"
    );
    assert_eq!(
        tally.with_retry_after, tally.refused_503,
        "every 503 says when to retry"
    );
    assert!(
        tally.slowest < ACCEPT_TIMEOUT + Duration::from_millis(1500),
        "every answer within acceptTimeout, the slowest took {:?}",
        tally.slowest
    );
    assert!(
        tally.accepted.len() > before,
        "hooks are accepted again after the thaw"
    );
    assert_eq!(lost, 0, "every 2xx'd hook reaches the sink after the thaw");
}
