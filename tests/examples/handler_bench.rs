//! Handler-stage throughput on the durable embedded backend (SQLite file on
//! disk): hooks accepted through ingress, then drained by the real consumer
//! loop (`worker::run`) posting to a recording "Discord" on 127.0.0.1.
//! Run through `bench/handler/run.sh`; prints `RESULT` lines.

use bytes::Bytes;
use clawhooks::adapters::http::ReqwestSender;
use clawhooks::config::load_str;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::handler::HandlerStage;
use clawhooks::ingress::{Ingress, IngressRequest};
use clawhooks::ports::SystemClock;
use clawhooks::worker::{self, PollSettings};
use clawhooks_e2e::{Recorder, Reply};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("HOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let discord = Recorder::start_with(Reply::json(200, json!({"id": "1"}))).await;
    let config = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [
            {"id": "eph", "action": "send_message", "target": {"channel": "discord", "peer": "dev"},
             "template": "🔔 {{event.action}}: {{event.pull_request.title}}"},
            {"id": "pers", "action": "send_message", "target": {"channel": "discord", "peer": "dev"},
             "template": "🔔 {{event.action}}: {{event.pull_request.title}}",
             "sessionMode": "persistent", "sessionKey": "gh-{{event.repository.name}}"}
        ],
        "channels": {"discord": {"type": "discord", "botToken": "t", "apiBase": discord.url("")}}
    }});
    let config =
        Arc::new(load_str(&config.to_string(), &|_| None).map_err(|e| anyhow::anyhow!("{e}"))?);
    let dir =
        std::env::temp_dir().join(format!("clawhooks-handler-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let db = Embedded::open(&dir.join("bench.db"))?;
    let backend = db.backend(BackendOptions::default());
    let clock = Arc::new(SystemClock);
    let ingress = Ingress {
        config: config.clone(),
        backend: backend.clone(),
        clock: clock.clone(),
    };
    let stage = Arc::new(HandlerStage::new(
        config,
        backend.clone(),
        Arc::new(ReqwestSender::new()?),
        clock,
    ));
    let payload = Bytes::from(std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/github_pull_request_opened.json"
    ))?);

    for (hook, count) in [("eph", n), ("pers", n / 4)] {
        let before = discord.count();
        for _ in 0..count {
            let mut headers = http::HeaderMap::new();
            headers.insert("content-type", "application/json".parse()?);
            let r = ingress
                .handle(IngressRequest {
                    method: http::Method::POST,
                    path: format!("/webhook/{hook}"),
                    query: None,
                    headers,
                    body: payload.clone(),
                    peer: "127.0.0.1".parse()?,
                })
                .await;
            anyhow::ensure!(r.status.as_u16() == 202, "ingress refused: {}", r.body);
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let consumer = tokio::spawn(worker::run(
            backend.handler_queue.clone(),
            stage.clone(),
            PollSettings {
                wait: Duration::from_millis(50),
                ..PollSettings::default()
            },
            stopped,
        ));
        discord
            .wait_for(before + count, Duration::from_secs(600))
            .await;
        let secs = started.elapsed().as_secs_f64();
        stop.send(true)?;
        consumer.await?;
        let sessions = if hook == "eph" {
            "one hook:<uuid> session each"
        } else {
            "one persistent session"
        };
        println!(
            "RESULT handler hooks={count} ({sessions}) seconds={secs:.2} rate={:.0}/s per_hook_ms={:.2}",
            count as f64 / secs,
            secs * 1000.0 / count as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
