//! An in-process `clawhooks` server on 127.0.0.1 with an in-memory embedded
//! backend and no consumers, so tests can look at exactly what was queued.

#![allow(dead_code)]

pub mod egress;
pub mod spawned;

use clawhooks::config;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::InboundEvent;
use clawhooks::ingress::Ingress;
use clawhooks::ports::{Backend, SystemClock};
use clawhooks_local::{start, Running, ServerOptions};
use std::sync::Arc;
use std::time::Duration;

pub struct Server {
    pub running: Option<Running>,
    pub backend: Backend,
    pub base: String,
    pub client: reqwest::Client,
}

pub async fn server(config_json: &str) -> Server {
    server_on(config_json, "127.0.0.1:0").await
}

pub async fn server_on(config_json: &str, addr: &str) -> Server {
    server_limited(config_json, addr, Default::default()).await
}

/// [`server_on`] with the listener's timeouts and connection cap `limits`.
pub async fn server_limited(
    config_json: &str,
    addr: &str,
    limits: clawhooks_local::ConnectionLimits,
) -> Server {
    clawhooks::outbound::http::install_crypto_provider();
    let cfg =
        config::load_str(config_json, &|_| None).unwrap_or_else(|e| panic!("test config: {e}"));
    let backend = Embedded::memory()
        .unwrap()
        .backend(BackendOptions::default());
    let ingress = Ingress {
        config: Arc::new(cfg),
        backend: backend.clone(),
        clock: Arc::new(SystemClock),
    };
    let running = start(ServerOptions {
        ingress,
        addr: addr.parse().unwrap(),
        consumers: vec![],
        poll: Default::default(),
        sweep_every: None,
        limits,
    })
    .await
    .unwrap();
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Server {
        running: Some(running),
        backend,
        base,
        client,
    }
}

/// The whole server (ingress and every consumer) on a fresh in-memory
/// embedded backend, on 127.0.0.1, sending outbound HTTP to loopback.
pub async fn whole_server(cfg: Arc<config::CompiledConfig>) -> Running {
    whole_server_polling(cfg, Default::default()).await.0
}

/// [`whole_server`] with its consumers polling as `poll` says, and its backend.
pub async fn whole_server_polling(
    cfg: Arc<config::CompiledConfig>,
    poll: clawhooks::worker::PollSettings,
) -> (Running, Backend) {
    clawhooks::outbound::http::install_crypto_provider();
    let backend = Embedded::memory()
        .unwrap()
        .backend(BackendOptions::default());
    let clock = Arc::new(SystemClock);
    let http = Arc::new(clawhooks_e2e::loopback_http());
    let consumers =
        clawhooks_local::stages::consumers(cfg.clone(), &backend, http, clock.clone(), 5).await;
    let running = start(ServerOptions {
        ingress: Ingress {
            config: cfg,
            backend: backend.clone(),
            clock,
        },
        addr: "127.0.0.1:0".parse().unwrap(),
        consumers,
        poll,
        sweep_every: None,
        limits: Default::default(),
    })
    .await
    .unwrap();
    (running, backend)
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn queued(&self) -> usize {
        self.backend.handler_queue.approximate_len().await.unwrap()
    }

    /// Drains the handler queue (receives and deletes, so FIFO groups move on).
    pub async fn take_queued(&self) -> Vec<InboundEvent> {
        let mut out = Vec::new();
        loop {
            let got = self
                .backend
                .handler_queue
                .receive(10, Duration::from_secs(60), Duration::ZERO)
                .await
                .unwrap();
            if got.is_empty() {
                return out;
            }
            for m in got {
                self.backend.handler_queue.delete(&m.receipt).await.unwrap();
                out.push(serde_json::from_str(&m.body).unwrap());
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Status and JSON body of a response.
pub async fn answer(
    resp: reqwest::Response,
) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("response is not JSON ({e}): {text}"));
    (status, body, headers)
}
