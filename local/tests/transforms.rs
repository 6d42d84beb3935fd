//! Handler transforms on the whole server: a script reshapes the body the
//! template sees, puts the hook in a session of its choosing, or skips it;
//! one that loops or allocates without end is stopped by its limits and
//! fails only its own hook while the server keeps serving; a syntax error
//! is refused at load with its line. Its own test binary: the recorder is
//! per process.

mod common;

use clawhooks::config;
use clawhooks_e2e::{wait, Recorder};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "transforms-test-secret";
const ADMIN: &str = "transforms-test-admin-secret";

const RESHAPE: &str = r#"
function transform(input) {
  const alert = input.body.alerts[0];
  return {
    body: { title: alert.labels.alertname.toUpperCase(), firing: input.body.alerts.length },
    vars: { severity: input.headers["x-severity"] || "unknown" },
  };
}"#;

/// A handler with `transform`; a script that should finish gets 2 s, not
/// the default 50 ms, so a busy test machine does not time it out.
fn handler(id: &str, template: &str, mut transform: Value) -> Value {
    if transform.get("timeoutMs").is_none() {
        transform["timeoutMs"] = json!(2000);
    }
    json!({"id": id, "action": "send_message", "template": template,
           "target": {"channel": "chat"}, "transform": transform})
}

struct Hooks {
    base: String,
    client: reqwest::Client,
}

impl Hooks {
    async fn post(&self, hook: &str, body: Value) -> String {
        let (status, answer, _) = common::answer(
            self.client
                .post(format!("{}/webhook/{hook}", self.base))
                .header("x-webhook-secret", SECRET)
                .header("x-severity", "critical")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 202, "{hook}: {answer}");
        answer["eventId"].as_str().unwrap().to_string()
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// The event's record once it is no longer queued or processing.
    async fn settled(&self, id: &str) -> Value {
        wait::until("the event settles", wait::SETTLE, || async {
            let (_, answer) = self.get(&format!("/events/{id}")).await;
            let e = answer["event"].clone();
            match e["status"].as_str() {
                Some("done" | "failed" | "skipped") => Ok(e),
                _ => Err(e.to_string()),
            }
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transforms_reshape_route_and_skip_and_a_runaway_fails_only_its_hook() {
    let chat = Recorder::start().await;
    let cfg = json!({"webhooks": {
        "incoming": {"secret": SECRET},
        "admin": {"secret": ADMIN},
        "network": {"allowPrivate": true},
        "channels": {"chat": {"type": "webhook", "url": chat.url("/in")}},
        "handlers": [
            handler("alerts", "{{event.title}} x{{event.firing}} ({{vars.severity}})", json!({"code": RESHAPE})),
            handler("repos", "in {{hook.sessionKey}}",
                    json!({"code": "function transform(i) { return {sessionKey: 'repo-' + i.body.repo}; }"})),
            handler("noise", "{{action}}",
                    json!({"code": "function transform(i) { return {skip: i.body.action === 'labeled'}; }"})),
            handler("loop", "x", json!({"code": "function transform(i) {\n  while (true) {}\n}", "timeoutMs": 50})),
            handler("hog", "x", json!({"code": "function transform(i) {\n  const a = [];\n  for (;;) a.push('x'.repeat(4096) + a.length);\n}",
                                       "timeoutMs": 5000, "maxMemoryMb": 4})),
            handler("thrower", "x", json!({"code": "function transform(i) {\n  throw new Error('no alerts in ' + i.hook);\n}"}))
        ]
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let running = common::whole_server(cfg).await;
    let hooks = Hooks {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::new(),
    };

    // A runaway script first: it fails its own hook, permanently, within
    // its timeout, and the hooks after it are served.
    let started = Instant::now();
    let looped = hooks.settled(&hooks.post("loop", json!({})).await).await;
    assert_eq!(looped["status"], "failed", "{looped}");
    let error = looped["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("transform: stopped after its timeout of 50ms"),
        "{looped}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let hog = hooks.settled(&hooks.post("hog", json!({})).await).await;
    assert_eq!(hog["status"], "failed", "{hog}");
    assert!(
        hog["error"]
            .as_str()
            .unwrap_or_default()
            .contains("memory limit of 4194304 bytes"),
        "{hog}"
    );
    let threw = hooks.settled(&hooks.post("thrower", json!({})).await).await;
    assert_eq!(
        threw["error"], "transform: no alerts in thrower (line 2)",
        "{threw}"
    );
    assert_eq!(
        threw["attempts"], 1,
        "a failing script is not retried: {threw}"
    );

    let alert = json!({"alerts": [{"labels": {"alertname": "disk full"}}, {"labels": {"alertname": "cpu"}}]});
    let done = hooks.settled(&hooks.post("alerts", alert).await).await;
    assert_eq!(done["status"], "done", "{done}");
    let repo = hooks
        .settled(&hooks.post("repos", json!({"repo": "claw"})).await)
        .await;
    assert_eq!(repo["status"], "done", "{repo}");
    let skipped = hooks
        .settled(&hooks.post("noise", json!({"action": "labeled"})).await)
        .await;
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    let kept = hooks
        .settled(&hooks.post("noise", json!({"action": "opened"})).await)
        .await;
    assert_eq!(kept["status"], "done", "{kept}");

    let got = chat.wait_for(3, wait::SETTLE).await;
    let mut texts: Vec<String> = got
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_string())
        .collect();
    texts.sort();
    assert_eq!(texts, ["DISK FULL x2 (critical)", "in repo-claw", "opened"]);
    let (status, session) = hooks.get("/sessions/repo-claw").await;
    assert_eq!(status, 200, "the transform's session exists: {session}");
    assert_eq!(chat.count(), 3, "the skipped and failed hooks sent nothing");
    running.shutdown().await;
}

#[test]
fn a_syntax_error_is_refused_at_load_with_its_line() {
    let cfg = json!({"webhooks": {"handlers": [
        {"id": "gh", "transform": {"code": "function transform(input) {\n  return {\n    body: input.body.,\n  };\n}"}}
    ]}});
    let err = config::load_str(&cfg.to_string(), &|_| None).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("webhooks.handlers[0].transform: "), "{text}");
    assert!(text.contains("(line 3)"), "{text}");

    let missing = json!({"webhooks": {"handlers": [{"id": "gh", "transform": {"timeoutMs": 0}}]}});
    let text = config::load_str(&missing.to_string(), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(
            "webhooks.handlers[0].transform.timeoutMs: must be between 1 and 5000, not 0"
        ),
        "{text}"
    );
    assert!(
        text.contains("webhooks.handlers[0].transform: needs `code`"),
        "{text}"
    );
}

#[test]
fn a_transform_file_is_read_relative_to_the_config_file() {
    let dir = std::env::temp_dir().join(format!("clawhooks-transforms-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("transforms")).unwrap();
    std::fs::write(
        dir.join("transforms/flat.js"),
        "function transform(i) { return {body: {n: i.body.a.b}}; }",
    )
    .unwrap();
    let file = dir.join("c.json");
    let cfg = json!({"webhooks": {"handlers": [
        {"id": "gh", "transform": {"file": "transforms/flat.js"}},
        {"id": "gone", "transform": {"file": "transforms/missing.js"}}
    ]}});
    std::fs::write(&file, cfg.to_string()).unwrap();
    let text = config::load_files(&[&file], &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("webhooks.handlers[1].transform.file: cannot read \"transforms/missing.js\""),
        "{text}"
    );
    let cfg = json!({"webhooks": {"handlers": [{"id": "gh", "transform": {"file": "transforms/flat.js"}}]}});
    std::fs::write(&file, cfg.to_string()).unwrap();
    let loaded = config::load_files(&[&file], &|_| None).unwrap();
    let t = loaded
        .handler_by_id("gh")
        .unwrap()
        .transform
        .as_ref()
        .unwrap();
    assert!(t.source().contains("i.body.a.b"), "{t:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
