//! How many agent turns hooks cost. A coalescing handler (`coalesce`): a
//! burst of hooks on one persistent session becomes one agent turn (or
//! two, if the burst straddles the window) whose prompt lists every hook;
//! each event ends `done` naming the turn that answered it, and
//! `agent_response` names every event the turn answered. A handler's
//! `budget`: past it, hooks are kept and `skipped`, and one `error` event
//! says so. The whole server on an in-memory embedded backend, with an
//! OpenAI-compatible agent stand-in and a subscriber on 127.0.0.1.

mod common;

use clawhooks::config;
use clawhooks::event::{EventRecord, EventStatus};
use clawhooks_e2e::{Recorder, Reply};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tests of this file one at a time: one arms a process-wide fail point.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn answer() -> Reply {
    Reply::json(
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": "all looked at"}}]}),
    )
}

/// A server whose handler `alerts` coalesces for 2 s, announcing
/// `agent_response` to `subscriber`.
async fn gateway(
    model: &Recorder,
    subscriber: &Recorder,
    poll: clawhooks::worker::PollSettings,
) -> (clawhooks_local::Running, clawhooks::ports::Backend) {
    let cfg = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [{"id": "alerts", "action": "run_agent", "agentId": "bot",
                      "sessionMode": "persistent", "sessionKey": "ops",
                      "template": "alert {{name}} fired",
                      "coalesce": {"window": "2s", "max": 50}}],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}},
        "outgoing": [{"id": "s", "url": subscriber.url("/in"), "events": ["agent_response"]}]
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    common::whole_server_polling(cfg, poll).await
}

/// Posts alerts `a0`..`a9` one after another: their event ids, and how long it took.
async fn ten_alerts(running: &clawhooks_local::Running) -> (Vec<String>, Duration) {
    let url = format!("http://{}/webhook/alerts", running.addr);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..10 {
        let r = client
            .post(&url)
            .json(&json!({"name": format!("a{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        ids.push(body["eventId"].as_str().unwrap().to_string());
    }
    (ids, started.elapsed())
}

/// The records of `ids` once every one is `done` (60 s at most).
async fn all_done(store: &dyn clawhooks::ports::Store, ids: &[String]) -> Vec<EventRecord> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = chrono::Utc::now().timestamp();
        let mut records = Vec::new();
        for id in ids {
            records.push(
                clawhooks::handler::status::load(store, id, now)
                    .await
                    .unwrap(),
            );
        }
        if records
            .iter()
            .all(|r| r.as_ref().is_some_and(|r| r.status == EventStatus::Done))
        {
            return records.into_iter().flatten().collect();
        }
        assert!(
            Instant::now() < deadline,
            "not every event done after 60 s: {records:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The turns named by the records (each `done` with the agent's answer).
fn turns_of(records: &[EventRecord], ids: &[String]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| {
            let result = r.result.as_ref().expect("a result");
            assert_eq!(result["answer"], "all looked at", "{result}");
            let turn = result["turn"].as_str().expect("names its turn");
            assert!(
                ids.contains(&turn.to_string()),
                "{turn} is one of the events"
            );
            turn.to_string()
        })
        .collect()
}

/// The event ids the `agent_response` events name, sorted.
async fn folded_ids(subscriber: &Recorder, turns: usize) -> Vec<String> {
    let responses = subscriber.wait_for(turns, Duration::from_secs(30)).await;
    let mut named: Vec<String> = responses
        .iter()
        .flat_map(|r| {
            let ev = r.json();
            assert_eq!(ev["type"], "agent_response", "{ev}");
            let folded = ev["foldedEventIds"].as_array().cloned().unwrap_or_default();
            folded.into_iter().map(|v| v.as_str().unwrap().to_string())
        })
        .collect();
    named.sort();
    named
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_alerts_in_half_a_second_become_one_or_two_turns_naming_all_ten() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (model, subscriber) = (
        Recorder::start_with(answer()).await,
        Recorder::start().await,
    );
    let (running, backend) = gateway(&model, &subscriber, Default::default()).await;
    let (ids, sent_in) = ten_alerts(&running).await;
    let records = all_done(backend.store.as_ref(), &ids).await;

    let prompts: Vec<String> = model.requests().iter().map(|r| r.text()).collect();
    assert!(
        (1..=2).contains(&prompts.len()),
        "{} agent turns for 10 alerts sent in {sent_in:?}: {prompts:#?}",
        prompts.len()
    );
    for i in 0..10 {
        let named = format!("alert a{i} fired");
        assert_eq!(
            prompts.iter().filter(|p| p.contains(&named)).count(),
            1,
            "{named:?} is in exactly one turn's prompt: {prompts:#?}"
        );
    }
    for p in &prompts {
        let at: Vec<usize> = (0..10)
            .filter_map(|i| p.find(&format!("alert a{i} fired")))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "arrival order: {p}");
    }
    let turns = turns_of(&records, &ids);
    assert_eq!(
        turns.len(),
        prompts.len(),
        "one turn per agent run: {turns:?}"
    );
    let mut want = ids.clone();
    want.sort();
    assert_eq!(
        folded_ids(&subscriber, turns.len()).await,
        want,
        "the agent_response events name every folded event"
    );
    running.shutdown().await;
}

/// The turn fails after the agent answered and before any folded event is
/// recorded: every hook stays on the queue, and the redelivered turn
/// answers the same hooks without asking the agent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_cut_short_after_the_agent_answered_loses_no_hook_and_asks_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    if !clawhooks::faults::ENABLED {
        eprintln!("skipped: needs --features clawhooks-local/failpoints");
        return;
    }
    let (model, subscriber) = (
        Recorder::start_with(answer()).await,
        Recorder::start().await,
    );
    let poll = clawhooks::worker::PollSettings {
        visibility: Duration::from_secs(2),
        ..Default::default()
    };
    let (running, backend) = gateway(&model, &subscriber, poll).await;
    std::env::set_var("FAILPOINTS", "handler.after_action=1*return");
    clawhooks::faults::arm_from_env().unwrap();
    let (ids, _) = ten_alerts(&running).await;
    let records = all_done(backend.store.as_ref(), &ids).await;
    std::env::remove_var("FAILPOINTS");

    let turns = turns_of(&records, &ids);
    let cut = records.iter().filter(|r| turns.contains(&r.event_id));
    assert!(
        cut.clone().any(|r| r.attempts >= 2),
        "the fail point cut a turn short: {:?}",
        cut.collect::<Vec<_>>()
    );
    let asked = model.count();
    assert!(
        (1..=2).contains(&asked) && asked == turns.len(),
        "{asked} agent runs for {} turns: a redelivered turn does not ask again",
        turns.len()
    );
    let mut want = ids.clone();
    want.sort();
    assert_eq!(folded_ids(&subscriber, turns.len()).await, want);
    let left = backend.handler_queue.approximate_len().await.unwrap();
    assert_eq!(left, 0, "every folded hook was deleted with its turn");
    running.shutdown().await;
}

/// A budget of 2 agent runs an hour: the third and fourth hooks are kept,
/// joined to their session and `skipped` with the reason (a caller that
/// waits is told so), the agent is asked twice, and one `error` event says
/// the budget is spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_budget_a_handler_keeps_and_skips_hooks_and_says_so_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (model, subscriber) = (
        Recorder::start_with(answer()).await,
        Recorder::start().await,
    );
    let cfg = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [{"id": "ask", "action": "run_agent", "agentId": "bot",
                      "template": "{{q}}", "budget": {"agentRunsPerHour": 2}}],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}},
        "outgoing": [{"id": "s", "url": subscriber.url("/in"), "events": ["error", "message_received"]}]
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    let (running, backend) = common::whole_server_polling(cfg, Default::default()).await;
    let url = format!("http://{}/webhook/ask", running.addr);
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for i in 0..4 {
        let r = client
            .post(&url)
            .header("prefer", "wait=20")
            .json(&json!({"q": format!("question {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        answers.push(r.json::<Value>().await.unwrap());
    }
    let statuses: Vec<&str> = answers
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["done", "done", "skipped", "skipped"],
        "{answers:#?}"
    );
    assert_eq!(answers[0]["reply"], "all looked at");
    assert!(
        answers[3]["error"]
            .as_str()
            .is_some_and(|e| e.contains("budget of 2 agent runs")),
        "{}",
        answers[3]
    );
    assert_eq!(model.count(), 2, "the skipped hooks ran no agent");
    let now = chrono::Utc::now().timestamp();
    let key = answers[3]["sessionKey"].as_str().unwrap();
    let session = clawhooks::handler::session::get(backend.store.as_ref(), key, now)
        .await
        .unwrap()
        .expect("the skipped hook joined its session")
        .0;
    assert_eq!(session.message_count, 1);
    assert!(session.ended.is_some(), "its hook: session ended with it");

    // 4 message_received (every hook is kept in its session) and 1 error.
    let got = subscriber.wait_for(5, Duration::from_secs(30)).await;
    let kinds = |t: &str| got.iter().filter(|r| r.json()["type"] == t).count();
    assert_eq!(kinds("message_received"), 4);
    let errors: Vec<Value> = got
        .iter()
        .map(|r| r.json())
        .filter(|e| e["type"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["error"]["stage"], "budget", "{}", errors[0]);
    assert_eq!(errors[0]["error"]["retrying"], false);
    assert_eq!(
        subscriber.count(),
        5,
        "one error event for the window, not one per hook"
    );
    running.shutdown().await;
}
