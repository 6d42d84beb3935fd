//! A hook whose agent answers after the queue's visibility timeout is
//! handled once: while it is worked on, its message is kept hidden.

mod common;

use clawhooks::config;
use clawhooks_e2e::{Recorder, Reply};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_slower_than_the_visibility_timeout_is_called_once() {
    clawhooks::outbound::http::install_crypto_provider();
    let answer = json!({"choices": [{"message": {"role": "assistant", "content": "ok"}}]});
    let slow = Duration::from_secs(5);
    let model = Recorder::start_with(Reply::json(200, answer).delay(slow)).await;
    let cfg = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [{"id": "ask", "action": "run_agent", "agentId": "bot"}],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let visibility = Duration::from_secs(2);
    let poll = clawhooks::worker::PollSettings {
        visibility,
        ..Default::default()
    };
    let (running, backend) = common::whole_server_polling(cfg, poll).await;
    let r = reqwest::Client::new()
        .post(format!("http://{}/webhook/ask", running.addr))
        .json(&json!({"q": "slow"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    // Done when its message is deleted: nothing can show it again after.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = backend.handler_queue.approximate_len().await.unwrap();
        if left == 0 && model.count() > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hook not finished after 60 s: {left} message(s) queued, {} agent call(s)",
            model.count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        model.count(),
        1,
        "an agent answering in {slow:?} behind a {visibility:?} visibility timeout"
    );
    running.shutdown().await;
}
