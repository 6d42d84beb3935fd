//! `SIGHUP` to the real `clawhooks serve` reloads its `--config` files: a
//! handler added answers, a file that does not load is refused and the old
//! config keeps serving, and a hook accepted just before the reload is
//! handled, on the config it started with.

mod common;

use clawhooks_e2e::{Recorder, Reply};
use common::spawned::{serve, signal, KillOnDrop, TempDir};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

fn hup(server: &KillOnDrop) {
    signal(server, "HUP");
}

fn log(db: &Path) -> String {
    std::fs::read_to_string(db.with_extension("log")).unwrap_or_default()
}

/// Waits until the server's log holds `needle` `times` times.
async fn wait_for_log(db: &Path, needle: &str, times: usize) {
    let deadline = Instant::now() + DEADLINE;
    while log(db).matches(needle).count() < times {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} (x{times}) in the log after {DEADLINE:?}:\n{}",
            log(db)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(client: &reqwest::Client, base: &str, hook: &str) -> (u16, Value) {
    let r = client
        .post(format!("{base}/webhook/{hook}"))
        .header("X-Webhook-Secret", "s")
        .json(&json!({"n": 1}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn write(path: &Path, handlers: Value, agent_url: &str) {
    let doc = json!({"webhooks": {
        "incoming": {"secret": "s", "rejectUnknownHooks": true},
        "network": {"allowPrivate": true},
        "handlers": handlers,
        "agents": {"bot": {"type": "openai", "url": agent_url, "model": "m"}}
    }});
    std::fs::write(path, doc.to_string()).unwrap();
}

#[tokio::test]
async fn a_handler_added_by_reload_answers_and_a_broken_file_is_refused() {
    let dir = TempDir::new("reload");
    let (config, db) = (dir.0.join("config.json"), dir.0.join("clawhooks.db"));
    write(&config, json!([{"id": "first"}]), "http://127.0.0.1:9/v1");
    let (server, base) = serve(&config, &db);
    let client = reqwest::Client::new();
    assert_eq!(post(&client, &base, "added").await.0, 404);

    write(
        &config,
        json!([{"id": "first"}, {"id": "added"}]),
        "http://127.0.0.1:9/v1",
    );
    hup(&server);
    wait_for_log(&db, "config reloaded", 1).await;
    assert_eq!(post(&client, &base, "added").await.0, 202);
    assert!(
        log(&db).contains(r#"added=["added"]"#),
        "the reload does not log the handler added:\n{}",
        log(&db)
    );

    std::fs::write(&config, r#"{"webhooks": {"handlers": ["#).unwrap();
    hup(&server);
    wait_for_log(&db, "reload refused", 1).await;
    let refusal = log(&db);
    let line = refusal
        .lines()
        .find(|l| l.contains("reload refused"))
        .unwrap();
    assert!(
        line.contains(&config.display().to_string()),
        "the refusal does not name the file: {line}"
    );
    for hook in ["first", "added"] {
        assert_eq!(post(&client, &base, hook).await.0, 202, "hook {hook}");
    }
    assert!(server_alive(server), "the server exited on a broken config");
}

fn server_alive(mut server: KillOnDrop) -> bool {
    server.0.try_wait().unwrap().is_none()
}

/// A hook whose agent call is under way when the config changes finishes on
/// the agent it started with, once; a hook after the reload uses the new one.
#[tokio::test]
async fn a_hook_accepted_before_the_reload_is_handled_on_its_config() {
    clawhooks::outbound::http::install_crypto_provider();
    let answer = json!({"choices": [{"message": {"role": "assistant", "content": "ok"}}]});
    let old =
        Recorder::start_with(Reply::json(200, answer.clone()).delay(Duration::from_secs(3))).await;
    let new = Recorder::start_with(Reply::json(200, answer)).await;
    let dir = TempDir::new("reload-inflight");
    let (config, db) = (dir.0.join("config.json"), dir.0.join("clawhooks.db"));
    let ask = json!([{"id": "ask", "action": "run_agent", "agentId": "bot"}]);
    write(&config, ask.clone(), &old.url("/v1"));
    let (server, base) = serve(&config, &db);
    let client = reqwest::Client::new();

    let (status, before) = post(&client, &base, "ask").await;
    assert_eq!(status, 202);
    // The old agent has the call: the hook is in flight.
    old.wait_for(1, DEADLINE).await;
    write(&config, ask, &new.url("/v1"));
    hup(&server);
    wait_for_log(&db, "config reloaded", 1).await;
    let (status, after) = post(&client, &base, "ask").await;
    assert_eq!(status, 202);

    for id in [&before["eventId"], &after["eventId"]] {
        wait_done(&client, &base, id.as_str().unwrap()).await;
    }
    assert_eq!(old.count(), 1, "calls to the agent of the old config");
    assert_eq!(new.count(), 1, "calls to the agent of the new config");
}

async fn wait_done(client: &reqwest::Client, base: &str, id: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let v: Value = client
            .get(format!("{base}/events/{id}"))
            .header("X-Webhook-Secret", "s")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null);
        if v["event"]["status"] == "done" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "event {id} not done after {DEADLINE:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
