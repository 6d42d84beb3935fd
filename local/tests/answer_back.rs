//! The answer back to the caller (`Prefer: wait=N`, `?wait=N`): the whole
//! server on an in-memory embedded backend, with an OpenAI-compatible agent
//! stand-in on 127.0.0.1. A caller that waits gets the agent's answer in a
//! 200; one whose agent is slower than its wait gets the 202 with
//! `Location`; a repeat of an idempotency key waits on the first event.

mod common;

use clawhooks::config;
use clawhooks_e2e::{Recorder, Reply};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn answer(text: &str) -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": text}}]})
}

/// A server with handler `ask` on `model`, and `incoming` merged in.
async fn gateway(
    model: &Recorder,
    incoming: Value,
) -> (clawhooks_local::Running, clawhooks::ports::Backend) {
    let cfg = json!({"webhooks": {
        "incoming": incoming,
        "network": {"allowPrivate": true},
        "handlers": [{"id": "ask", "action": "run_agent", "agentId": "bot",
                      "template": "{{question}}"}],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    common::whole_server_polling(cfg, Default::default()).await
}

async fn post(url: &str, prefer: Option<&str>, key: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(60))
        .json(&json!({"question": "what is six times seven?"}));
    if let Some(p) = prefer {
        req = req.header("prefer", p);
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_waits_gets_the_agents_answer_and_a_repeat_gets_the_same() {
    let model = Recorder::start_with(Reply::json(200, answer("forty-two"))).await;
    let (running, backend) = gateway(&model, json!({})).await;
    let url = format!("http://{}/webhook/ask", running.addr);

    let started = Instant::now();
    let r = post(&url, Some("wait=25"), Some("k1")).await;
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "answered {:?} after the post: woken when handled, not at the deadline",
        started.elapsed()
    );
    assert_eq!(r.headers()["preference-applied"], "wait=25");
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["ok"], true);
    assert_eq!(first["status"], "done", "{first}");
    assert_eq!(first["reply"], "forty-two", "{first}");
    assert_eq!(first["result"]["answer"], "forty-two", "{first}");
    assert!(first["sessionKey"].as_str().unwrap().starts_with("hook:"));

    let again = post(&url, None, Some("k1")).await;
    assert_eq!(again.status(), 202, "no wait asked: the answer at once");
    let again = post(&format!("{url}?wait=10"), None, Some("k1")).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["eventId"], first["eventId"], "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["reply"], "forty-two");
    assert_eq!(model.count(), 1, "the repeat ran nothing");
    let settled = backend
        .settled
        .as_ref()
        .expect("the embedded backend wakes waiters");
    assert_eq!(settled.waiting(), 0, "no waiter is left behind");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_agent_past_the_wait_gets_the_202_with_location_and_still_runs() {
    let model =
        Recorder::start_with(Reply::json(200, answer("late")).delay(Duration::from_millis(2500)))
            .await;
    let (running, _backend) = gateway(&model, json!({"maxWait": 1})).await;
    let url = format!("http://{}/webhook/ask", running.addr);

    let started = Instant::now();
    let r = post(&url, Some("respond-async, wait=30"), None).await;
    let waited = started.elapsed();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.headers()["preference-applied"],
        "wait=1",
        "capped by maxWait"
    );
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        location,
        format!("/events/{}", body["eventId"].as_str().unwrap())
    );
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_millis(2500),
        "waited {waited:?}: the caller is held for maxWait, no longer"
    );
    model.wait_for(1, Duration::from_secs(30)).await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_answered_as_failed_with_its_error() {
    let model = Recorder::start_with(Reply::json(400, json!({"error": "bad model"}))).await;
    let (running, _backend) = gateway(&model, json!({})).await;
    let url = format!("http://{}/webhook/ask", running.addr);
    let r = post(&url, Some("wait=10"), None).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "failed", "{body}");
    assert!(body["reply"].is_null(), "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("400")),
        "{body}"
    );
    running.shutdown().await;
}

/// A server whose handlers `respond`: TwiML for Twilio's form posts, a
/// Slack slash command's `{"text": …}`, and a route whose wait is short.
async fn responding(model: &Recorder) -> clawhooks_local::Running {
    let twiml = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message to="{{event.From}}">{{reply}}</Message></Response>"#;
    let cfg = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [
            {"id": "sms", "action": "run_agent", "agentId": "bot", "template": "{{Body}}",
             "respond": {"template": twiml, "contentType": "text/xml"}},
            {"id": "slash", "action": "run_agent", "agentId": "bot", "template": "{{text}}",
             "respond": {"wait": true, "timeout": "10s",
                         "template": "{\"response_type\": \"in_channel\", \"text\": {{json reply}}}",
                         "contentType": "application/json"}},
            {"id": "quick", "action": "run_agent", "agentId": "bot", "template": "{{q}}",
             "respond": {"timeout": 1}}
        ],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    common::whole_server_polling(cfg, Default::default())
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_that_responds_waits_by_default_and_shapes_the_body() {
    let model = Recorder::start_with(Reply::json(200, answer("1 < 2 & \"yes\""))).await;
    let running = responding(&model).await;
    let url = |id: &str| format!("http://{}/webhook/{id}", running.addr);
    let client = reqwest::Client::new();

    let sms = client
        .post(url("sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("From=%2B15550001111&Body=is+1+%3C+2%3F")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sms.status(),
        200,
        "no Prefer needed on a route that responds"
    );
    assert_eq!(sms.headers()["content-type"], "text/xml");
    assert_eq!(
        sms.text().await.unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message to="+15550001111">1 &lt; 2 &amp; &quot;yes&quot;</Message></Response>"#,
        "the reply and the event's fields escaped for XML"
    );
    let asked = model.requests();
    assert!(asked[0].text().contains("is 1 < 2?"), "{}", asked[0].text());

    let slash = client
        .post(url("slash"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("command=%2Fask&text=is+1+%3C+2%3F")
        .send()
        .await
        .unwrap();
    assert_eq!(slash.status(), 200);
    assert_eq!(slash.headers()["content-type"], "application/json");
    let body: Value = slash.json().await.unwrap();
    assert_eq!(
        body,
        json!({"response_type": "in_channel", "text": "1 < 2 & \"yes\""})
    );

    model.set_default(Reply::json(200, answer("late")).delay(Duration::from_millis(2500)));
    let quick = client
        .post(url("quick"))
        .json(&json!({"q": "?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        quick.status(),
        202,
        "past the route's timeout: the usual 202"
    );
    assert_eq!(quick.headers()["preference-applied"], "wait=1");
    assert!(quick.headers().contains_key("location"));
    model.wait_for(3, Duration::from_secs(30)).await;
    running.shutdown().await;
}

/// Two handlers share a path; the second, picked by the filters, responds.
/// The answer is shaped (and waited for) by the handler that took the
/// hook, not by the route's first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_the_filters_pick_shapes_the_answer() {
    let model = Recorder::start_with(Reply::json(200, answer("pong"))).await;
    let cfg = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [
            {"id": "quiet", "path": "/ask", "action": "run_agent", "agentId": "bot",
             "template": "{{q}}", "filter": {"body": {"kind": "note"}}},
            {"id": "talk", "path": "/ask", "action": "run_agent", "agentId": "bot",
             "template": "{{q}}",
             "respond": {"wait": true, "template": "A: {{reply}}", "contentType": "text/plain"}}
        ],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let (running, _) = common::whole_server_polling(cfg, Default::default()).await;
    let url = format!("http://{}/webhook/ask", running.addr);
    let client = reqwest::Client::new();

    let talk = client
        .post(&url)
        .json(&json!({"kind": "chat", "q": "ping?"}));
    let talk = talk.send().await.unwrap();
    assert_eq!(talk.status(), 200, "the picked handler's respond waits");
    assert_eq!(talk.headers()["content-type"], "text/plain");
    assert_eq!(talk.text().await.unwrap(), "A: pong");

    let note = client.post(&url).json(&json!({"kind": "note", "q": "fyi"}));
    let note = note.send().await.unwrap();
    assert_eq!(note.status(), 202, "the first handler does not respond");
    model.wait_for(2, Duration::from_secs(30)).await;
    running.shutdown().await;
}

#[test]
fn a_bad_respond_is_a_load_error_naming_its_path() {
    let load = |respond: Value| {
        let cfg = json!({"webhooks": {"handlers": [{"id": "h", "respond": respond}]}});
        config::load_str(&cfg.to_string(), &|_| None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let broken = load(json!({"template": "{{#if reply}}no end"}));
    assert!(
        broken.contains("webhooks.handlers[0].respond.template"),
        "{broken}"
    );
    let long = load(json!({"timeout": "60s"}));
    assert!(
        long.contains("webhooks.handlers[0].respond.timeout"),
        "{long}"
    );
    let odd = load(json!({"contentType": "text/\nxml"}));
    assert!(
        odd.contains("webhooks.handlers[0].respond.contentType"),
        "{odd}"
    );
    assert_eq!(
        load(json!({"template": "{{reply}}"})),
        "",
        "a good one loads"
    );
}

/// `bench/wait/run.sh`: 200 hooks with `Prefer: wait`, one after another,
/// on an agent stand-in that answers after a fixed 20 ms, against the
/// plain 202 path in the same run. Prints what waiting adds: from the
/// agent's answer (its request's arrival plus the delay) to the 200, and
/// POST→200 minus the delay, beside POST→202.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a bench: 2 x 200 hooks (bench/wait/run.sh)"]
async fn bench_what_waiting_for_the_answer_adds() {
    const HOOKS: usize = 200;
    let delay = Duration::from_millis(20);
    let model = Recorder::start_with(Reply::json(200, answer("ok")).delay(delay)).await;
    let (running, _backend) = gateway(&model, json!({})).await;
    let url = format!("http://{}/webhook/ask", running.addr);
    let client = reqwest::Client::new();
    let send = |prefer: Option<&'static str>| {
        let mut req = client.post(&url).json(&json!({"question": "?"}));
        if let Some(p) = prefer {
            req = req.header("prefer", p);
        }
        req.send()
    };
    let (mut accepted, mut after_action, mut minus_delay) = (vec![], vec![], vec![]);
    for _ in 0..HOOKS {
        let t = Instant::now();
        assert_eq!(send(None).await.unwrap().status(), 202);
        accepted.push(t.elapsed());
    }
    model.wait_for(HOOKS, Duration::from_secs(120)).await;
    for i in 0..HOOKS {
        let t = Instant::now();
        let r = send(Some("wait=25")).await.unwrap();
        let answered = Instant::now();
        assert_eq!(r.status(), 200);
        let asked = model.requests()[HOOKS + i].at;
        after_action.push(answered.saturating_duration_since(asked + delay));
        minus_delay.push(answered.duration_since(t).saturating_sub(delay));
    }
    let figures = |name: &str, mut v: Vec<Duration>| {
        v.sort();
        let ms = |i: usize| v[i.min(v.len() - 1)].as_secs_f64() * 1000.0;
        println!(
            "RESULT wait {name}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(v.len() / 2),
            ms(v.len() * 95 / 100),
            ms(v.len() * 99 / 100),
            ms(v.len() - 1)
        );
    };
    println!("RESULT wait hooks={HOOKS} agent_delay_ms=20, one at a time");
    figures("baseline POST -> 202", accepted);
    figures("agent answered -> 200", after_action);
    figures("POST -> 200 minus the agent's delay", minus_delay);
    running.shutdown().await;
}
