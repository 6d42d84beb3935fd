//! `POST /playground`: an edited handler run on a hook it really received,
//! beside the configured one; it only computes (no event, no message), a
//! bad edit is a 400 naming its key, and only the admin may call it.

mod common;

use clawhooks::config;
use clawhooks_e2e::{wait, Recorder};
use serde_json::{json, Value};
use std::sync::Arc;

const SECRET: &str = "playground-test-secret";
const ADMIN: &str = "playground-test-admin-secret";

async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_template_previews_on_a_past_hook_and_nothing_is_kept_or_sent() {
    let chat = Recorder::start().await;
    let cfg = json!({"webhooks": {
        "incoming": {"secret": SECRET},
        "admin": {"secret": ADMIN},
        "network": {"allowPrivate": true},
        "channels": {"chat": {"type": "webhook", "url": chat.url("/in")}},
        "handlers": [{"id": "gh", "action": "send_message", "template": "PR {{action}}",
                      "filter": {"body": {"action": {"$in": ["opened", "closed"]}}},
                      "target": {"channel": "chat"}}]
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let running = common::whole_server(cfg).await;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let (status, answer) = call(
        client
            .post(format!("{base}/webhook/gh"))
            .header("x-webhook-secret", SECRET)
            .json(&json!({"action": "opened", "sender": "ann"})),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let event_id = answer["eventId"].as_str().unwrap().to_string();
    chat.wait_for(1, wait::SETTLE).await;
    wait::until("the hook is done", wait::SETTLE, || async {
        let (_, e) = call(
            client
                .get(format!("{base}/events/{event_id}"))
                .bearer_auth(ADMIN),
        )
        .await;
        match e["event"]["status"].as_str() {
            Some("done") => Ok(()),
            _ => Err(e.to_string()),
        }
    })
    .await;
    let events = || {
        client
            .get(format!("{base}/events?hook=gh"))
            .bearer_auth(ADMIN)
    };
    let (_, before) = call(events()).await;

    let play = |body: Value| client.post(format!("{base}/playground")).json(&body);
    let edit = json!({"handler": "gh", "template": "{{sender}} {{action}} it",
                      "filter": {"body": {"action": "closed"}},
                      "transform": {"code": "function transform(i) { return {body: {action: i.body.action.toUpperCase(), sender: i.body.sender}}; }", "timeoutMs": 2000}});
    let (status, answer) = call(play(edit.clone()).bearer_auth(ADMIN)).await;
    assert_eq!(status, 200, "{answer}");
    let payloads = answer["payloads"].as_array().unwrap();
    assert_eq!(payloads.len(), 1, "{answer}");
    let tried = &payloads[0];
    assert_eq!(tried["eventId"], event_id.as_str(), "{answer}");
    assert_eq!(tried["current"]["rendered"], "PR opened", "{answer}");
    assert_eq!(tried["current"]["matched"], true, "{answer}");
    assert_eq!(tried["edited"]["rendered"], "ann OPENED it", "{answer}");
    assert_eq!(tried["edited"]["matched"], false, "{answer}");
    assert_eq!(
        tried["edited"]["transform"]["body"]["action"], "OPENED",
        "{answer}"
    );

    let (status, answer) = call(
        play(json!({"handler": "gh", "filter": {"body": {"action": {"$bogus": 1}}}}))
            .bearer_auth(ADMIN),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let error = answer.to_string();
    assert!(
        error.contains("webhooks.handlers[0].filter.body.action"),
        "{error}"
    );
    // A runaway edited script is stopped by its timeout and says so.
    let runaway = json!({"handler": "gh", "transform": {"code": "function transform(i) {\n  while (true) {}\n}", "timeoutMs": 50}});
    let (status, answer) = call(play(runaway).bearer_auth(ADMIN)).await;
    assert_eq!(status, 200, "{answer}");
    let error = answer["payloads"][0]["edited"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("stopped after its timeout of 50ms"),
        "{answer}"
    );
    assert_eq!(
        answer["payloads"][0]["current"]["rendered"], "PR opened",
        "{answer}"
    );
    assert_eq!(answer["cutShort"], false, "{answer}");

    let (status, answer) =
        call(play(json!({"handler": "gh", "template": "{{#if}}"})).bearer_auth(ADMIN)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.to_string().contains("webhooks.handlers[0].template"),
        "{answer}"
    );

    let (status, _) = call(play(edit.clone())).await;
    assert_eq!(status, 401, "no admin secret");
    let (status, _) = call(play(edit).bearer_auth(SECRET)).await;
    assert!(
        [401, 403].contains(&status),
        "the hook secret is not the admin's: {status}"
    );

    let (_, after) = call(events()).await;
    assert_eq!(after["events"].as_array().map(Vec::len), Some(1), "{after}");
    assert_eq!(
        before["events"], after["events"],
        "the playground kept nothing"
    );
    assert_eq!(chat.count(), 1, "the playground sent nothing");
    running.shutdown().await;
}

/// Scripts that run to a long timeout on many hooks stop the call at its
/// budget: the payloads not reached are left out, and the answer says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_stops_running_payloads_at_its_budget() {
    let cfg = json!({"webhooks": {
        "incoming": {"secret": SECRET},
        "admin": {"secret": ADMIN},
        "handlers": [{"id": "quiet", "action": "none"}]
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let running = common::whole_server(cfg).await;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    for n in 0..2 {
        let post = client
            .post(format!("{base}/webhook/quiet"))
            .header("x-webhook-secret", SECRET)
            .json(&json!({"n": n}));
        let (status, answer) = call(post).await;
        assert_eq!(status, 202, "{answer}");
    }
    let runaway = json!({"handler": "quiet", "transform": {"code": "function transform(i) { while (true) {} }", "timeoutMs": 5000}});
    let started = std::time::Instant::now();
    let play = client.post(format!("{base}/playground")).json(&runaway);
    let (status, answer) = call(play.bearer_auth(ADMIN)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cutShort"], true, "{answer}");
    let payloads = answer["payloads"].as_array().unwrap();
    assert_eq!(payloads.len(), 1, "the newest only: {answer}");
    assert_eq!(payloads[0]["current"]["rendered"], "{\"n\":1}", "{answer}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    running.shutdown().await;
}
