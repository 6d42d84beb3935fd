//! Handler-stage throughput on the durable embedded backend (SQLite file on
//! disk): hooks accepted through ingress, then drained by the real consumer
//! loop (`worker::run`) posting to a recording "Discord" on 127.0.0.1.
//! Run through `bench/handler/run.sh`; prints `RESULT` lines, with the
//! store operations each stage spent per hook (counted by a wrapper around
//! the real store).

use bytes::Bytes;
use clawhooks::api::Call;
use clawhooks::config::load_str;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::handler::HandlerStage;
use clawhooks::ingress::Ingress;
use clawhooks::outbound::http::ReqwestSender;
use clawhooks::ports::SystemClock;
use clawhooks::telemetry::store_ops::CountingStore;
use clawhooks::worker::{self, PollSettings};
use clawhooks_e2e::ingress_kit::Serve;
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
    let ingress_store = Arc::new(CountingStore::new(backend.store.clone()));
    let ingress = Ingress {
        config: config.clone(),
        backend: clawhooks::ports::Backend {
            store: ingress_store.clone(),
            ..backend.clone()
        },
        clock: clock.clone(),
    };
    let handler_store = Arc::new(CountingStore::new(backend.store.clone()));
    let backend = clawhooks::ports::Backend {
        store: handler_store.clone(),
        ..backend
    };
    let http = Arc::new(ReqwestSender::new(&config.config.webhooks.network)?);
    let stage = Arc::new(HandlerStage::new(config, backend.clone(), http, clock));
    let payload = Bytes::from(std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/github_pull_request_opened.json"
    ))?);

    for (hook, count) in [("eph", n), ("pers", n / 4)] {
        let before = discord.count();
        ingress_store.take();
        for _ in 0..count {
            let mut headers = http::HeaderMap::new();
            headers.insert("content-type", "application/json".parse()?);
            let r = ingress
                .handle(Call {
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
        let ingress_ops = ingress_store.take();
        handler_store.take();
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
        let handler_ops = handler_store.take();
        let per_hook = |ops: u64| ops as f64 / count as f64;
        println!(
            "RESULT handler hooks={count} ({sessions}) seconds={secs:.2} rate={:.0}/s per_hook_ms={:.2} store_ops_per_hook: ingress={:.1} (besides the intake's one transaction) handler={:.1} ({:.1} reads, {:.1} writes)",
            count as f64 / secs,
            secs * 1000.0 / count as f64,
            per_hook(ingress_ops.total()),
            per_hook(handler_ops.total()),
            per_hook(handler_ops.reads),
            per_hook(handler_ops.writes),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
