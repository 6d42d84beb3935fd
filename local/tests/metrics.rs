//! `GET /metrics` of a whole server (ingress, handler, egress on the
//! embedded backend): behind the admin secret, in the Prometheus text
//! format, and counting what a user watches: hooks by outcome (a refusal
//! by its status), handler runs by action and outcome, deliveries by
//! subscription and outcome, queue depths, and the latency histograms.
//! Its own test binary: the recorder is per process.

mod common;

use clawhooks::config;
use clawhooks_e2e::{wait, Recorder, Reply};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

const SECRET: &str = "metrics-test-secret";
/// The scraper's credential: the admin secret, never the hook secret.
const ADMIN: &str = "metrics-test-admin-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_hooks_runs_and_deliveries_behind_the_admin_secret() {
    let chat = Recorder::start().await;
    let sink = Recorder::start_with(Reply::status(500)).await;
    let cfg = json!({"webhooks": {
        "incoming": {"secret": SECRET},
        "admin": {"secret": ADMIN},
        "network": {"allowPrivate": true},
        "channels": {"chat": {"type": "webhook", "url": chat.url("/in")}},
        "handlers": [{"id": "notify", "action": "send_message", "template": "n={{n}}",
                      "target": {"channel": "chat", "peer": "ops"}}],
        "outgoing": [{"id": "flaky", "url": sink.url("/hook"), "events": ["message_received"],
                      "retry": {"maxAttempts": 1}, "breaker": {"failures": 3, "cooldown": "10m"}}]
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let running = common::whole_server(cfg).await;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let post = |key: &str, secret: &str| {
        client
            .post(format!("{base}/webhook/notify"))
            .header("x-webhook-secret", secret)
            .header("idempotency-key", key)
            .json(&json!({"n": key}))
            .send()
    };
    for key in ["a", "b", "c"] {
        assert_eq!(post(key, SECRET).await.unwrap().status(), 202);
    }
    assert_eq!(post("a", SECRET).await.unwrap().status(), 202, "a repeat");
    assert_eq!(post("d", "wrong").await.unwrap().status(), 401);
    let put = client.put(format!("{base}/webhook/notify")).send().await;
    assert_eq!(put.unwrap().status(), 405);
    chat.wait_for(3, wait::SETTLE).await;
    sink.wait_for(3, wait::SETTLE).await;

    // Without the admin secret (or with the hook secret): refused like
    // every admin route.
    let anon = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    let hook_secret = client
        .get(format!("{base}/metrics"))
        .bearer_auth(SECRET)
        .send()
        .await;
    assert_eq!(hook_secret.unwrap().status(), 401);

    // The handler and egress count after their work is logged, and the
    // handler deletes its queue message after it counts the run: wait until
    // every value asserted below holds, not for one signal among them.
    let scrape = || async {
        let r = client
            .get(format!("{base}/metrics"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = r.text().await.map_err(|e| e.to_string())?;
        check(&text).map_err(|e| format!("{e}\n{text}"))?;
        Ok(text)
    };
    let text = wait::until("the metrics of the traffic sent", wait::SETTLE, scrape).await;
    running.shutdown().await;
    assert!(
        text.contains("# TYPE clawhooks_hooks_total counter"),
        "{text}"
    );
    assert!(!text.contains(SECRET) && !text.contains(ADMIN));
}

/// Every value the traffic above must leave in the scrape, or the first
/// that differs.
fn check(text: &str) -> Result<(), String> {
    let m = samples(text);
    let expect = |key: &str, want: f64| match m.get(key) {
        Some(v) if *v == want => Ok(()),
        Some(v) => Err(format!("{key} = {v}, want {want}")),
        None => Err(format!("no {key}")),
    };
    expect(r#"clawhooks_hooks_total{outcome="accepted"}"#, 3.0)?;
    expect(r#"clawhooks_hooks_total{outcome="duplicate"}"#, 1.0)?;
    expect(r#"clawhooks_hooks_total{outcome="401"}"#, 1.0)?;
    expect(r#"clawhooks_hooks_total{outcome="405"}"#, 1.0)?;
    expect("clawhooks_accept_seconds_count", 6.0)?;
    expect(
        r#"clawhooks_handler_runs_total{action="send_message",outcome="done"}"#,
        3.0,
    )?;
    expect("clawhooks_handle_seconds_count", 3.0)?;
    expect(
        r#"clawhooks_deliveries_total{subscription="flaky",outcome="failed"}"#,
        3.0,
    )?;
    expect(
        r#"clawhooks_deliver_seconds_count{subscription="flaky"}"#,
        3.0,
    )?;
    // Three failures in a row opened its breaker.
    expect(r#"clawhooks_breaker_state{subscription="flaky"}"#, 2.0)?;
    if !text.contains(r#"clawhooks_accept_seconds_bucket{le="0.005"}"#) {
        return Err("no accept bucket le=0.005".into());
    }
    // Every queue has a depth gauge; the handler queue is drained.
    for q in [
        "handler",
        "handler_dlq",
        "events",
        "events_dlq",
        "delivery",
        "delivery_dlq",
    ] {
        let key = format!(r#"clawhooks_queue_depth{{queue="{q}"}}"#);
        if !m.contains_key(&key) {
            return Err(format!("no {key}"));
        }
    }
    expect(r#"clawhooks_queue_depth{queue="handler"}"#, 0.0)
}

/// `name{labels} value` lines, keyed by everything before the value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}
