//! Content routing on the whole server: two handlers on one path, each
//! taking the hooks its `filter` passes, and a hook neither takes answered
//! 200 `{"ok":true,"filtered":true}` with nothing kept, queued or run, and
//! counted in `/metrics`. Its own test binary: the recorder is per process.

mod common;

use clawhooks::config;
use clawhooks_e2e::{wait, Recorder};
use serde_json::{json, Value};
use std::sync::Arc;

const SECRET: &str = "routing-test-secret";
const ADMIN: &str = "routing-test-admin-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_on_one_path_take_the_hooks_their_filters_pass() {
    let chat = Recorder::start().await;
    let cfg = json!({"webhooks": {
        "incoming": {"secret": SECRET},
        "admin": {"secret": ADMIN},
        "network": {"allowPrivate": true},
        "channels": {"chat": {"type": "webhook", "url": chat.url("/in")}},
        "handlers": [
            {"id": "prs", "path": "/github", "action": "send_message",
             "template": "prs took {{action}}", "target": {"channel": "chat"},
             "filter": {"body": {"action": {"$in": ["opened", "reopened"]}}}},
            {"id": "closed", "path": "/github", "action": "send_message",
             "template": "closed took {{action}}", "target": {"channel": "chat"},
             "filter": {"body": {"action": "closed"},
                        "headers": {"X-GitHub-Event": "pull_request"}}}
        ]
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    assert!(
        cfg.warnings.iter().all(|w| !w.path.ends_with(".path")),
        "{:?}",
        cfg.warnings
    );
    let running = common::whole_server(cfg).await;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let post = |action: &str, event: &str, secret: &str| {
        client
            .post(format!("{base}/webhook/github"))
            .header("x-webhook-secret", secret)
            .header("x-github-event", event)
            .json(&json!({"action": action}))
            .send()
    };

    // Neither filter passes: 200, filtered, nothing kept.
    for (action, event) in [("labeled", "pull_request"), ("closed", "issues")] {
        let (status, body, _) = common::answer(post(action, event, SECRET).await.unwrap()).await;
        assert_eq!(
            (status, body),
            (200, json!({"ok": true, "filtered": true})),
            "{action} {event}"
        );
    }
    // The secret is checked before any filter reads the hook.
    assert_eq!(
        post("labeled", "pull_request", "wrong")
            .await
            .unwrap()
            .status(),
        401
    );

    let mut taken = Vec::new();
    for action in ["opened", "closed"] {
        let (status, body, _) =
            common::answer(post(action, "pull_request", SECRET).await.unwrap()).await;
        assert_eq!(status, 202, "{body}");
        taken.push(body["eventId"].as_str().unwrap().to_string());
    }
    let got = chat.wait_for(2, wait::SETTLE).await;
    let mut texts: Vec<Value> = got.iter().map(|r| r.json()["text"].clone()).collect();
    texts.sort_by_key(|t| t.to_string());
    assert_eq!(
        texts,
        [json!("closed took closed"), json!("prs took opened")]
    );

    let events: Value = client
        .get(format!("{base}/events"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids: Vec<&str> = events["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{events}"))
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    ids.sort();
    taken.sort();
    assert_eq!(ids, taken, "only the two taken hooks are stored: {events}");
    let handlers: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["handlerId"])
        .collect();
    assert!(
        handlers.contains(&&json!("prs")) && handlers.contains(&&json!("closed")),
        "{events}"
    );

    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"clawhooks_hooks_filtered_total{hook="github"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"clawhooks_hooks_total{outcome="filtered"} 2"#),
        "{metrics}"
    );
    assert_eq!(chat.count(), 2, "the filtered hooks ran nothing");
    running.shutdown().await;
}
