//! A slow service holds one task per call it waits on; with enough of them
//! (`webhooks.concurrency.handler`), the hooks of other sessions are not
//! queued behind it. Runs the whole server (ingress and the consumers) on
//! an in-memory embedded backend, with an OpenAI-compatible stand-in on
//! 127.0.0.1 that answers each prompt after 200 ms. The test runs 40
//! sessions; `bench/slow/run.sh` runs the ignored bench below at 100.

mod common;

use clawhooks::config;
use clawhooks_e2e::{Recorder, Reply};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const HOOKS_PER_SESSION: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_on_an_idle_session_is_not_queued_behind_slow_busy_sessions() {
    slow_model_run(40).await;
}

/// 1,000 hooks over 100 persistent sessions; prints how long until the
/// model was asked the last one (its answer lands 200 ms later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a bench: 1,000 hooks over 100 sessions (bench/slow/run.sh)"]
async fn bench_a_thousand_hooks_over_a_hundred_slow_sessions() {
    let started = std::time::Instant::now();
    let idle = slow_model_run(100).await;
    println!(
        "RESULT slow_model hooks={} sessions=100 model_delay_ms=200 all_asked_s={:.2} idle_session_hook_waited_behind={} calls",
        100 * HOOKS_PER_SESSION + 1,
        started.elapsed().as_secs_f64(),
        idle
    );
}

/// Posts `HOOKS_PER_SESSION` hooks on each of `busy` persistent sessions,
/// then one on an idle session; checks every session's order and that the
/// idle one was not queued behind the backlog. Returns how many calls
/// reached the model between the idle hook's post and its own.
async fn slow_model_run(busy: usize) -> usize {
    clawhooks::outbound::http::install_crypto_provider();
    let answer = json!({"choices": [{"message": {"role": "assistant", "content": "ok"}}]});
    let model =
        Recorder::start_with(Reply::json(200, answer).delay(Duration::from_millis(200))).await;
    let cfg = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [{"id": "ask", "action": "run_agent", "agentId": "bot",
                      "template": "{{session}} {{n}}",
                      "sessionMode": "persistent", "sessionKey": "s-{{session}}"}],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}}
    }});
    let cfg = Arc::new(config::load_str(&cfg.to_string(), &|_| None).unwrap());
    assert_eq!(cfg.config.webhooks.concurrency.handler, 128, "the default");
    let running = common::whole_server(cfg).await;
    let url = format!("http://{}/webhook/ask", running.addr);
    let client = reqwest::Client::new();
    let post = move |session: String, n: usize| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client
                .post(&url)
                .json(&json!({"session": session, "n": n}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
        }
    };
    // Each busy session's hooks in order, the sessions side by side.
    let mut posting = tokio::task::JoinSet::new();
    for s in 0..busy {
        let post = post.clone();
        posting.spawn(async move {
            for n in 0..HOOKS_PER_SESSION {
                post(format!("busy{s}"), n).await;
            }
        });
    }
    while let Some(done) = posting.join_next().await {
        done.unwrap();
    }
    post("idle".into(), 0).await;
    let asked_before_idle = model.count();

    let total = busy * HOOKS_PER_SESSION + 1;
    let asked = model.wait_for(total, Duration::from_secs(60)).await;
    running.shutdown().await;
    let prompts: Vec<String> = asked
        .iter()
        .map(|r| {
            let messages = r.json()["messages"].clone();
            let last = messages.as_array().unwrap().last().unwrap().clone();
            last["content"].as_str().unwrap().to_string()
        })
        .collect();

    // Each session's hooks reached the model one after another, in order.
    let mut per_session: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for p in &prompts {
        let (session, n) = p.split_once(' ').unwrap();
        per_session
            .entry(session)
            .or_default()
            .push(n.parse().unwrap());
    }
    assert_eq!(per_session.len(), busy + 1);
    for (session, ns) in &per_session {
        let expected: Vec<usize> = (0..ns.len()).collect();
        assert_eq!(ns, &expected, "session {session}");
    }
    // The idle session's hook, posted after all the others, was asked
    // within a round or two of the calls in flight (each busy session has
    // one at a time), not after the backlog ahead of it in the queue.
    let idle_at = prompts.iter().position(|p| p == "idle 0").unwrap();
    let waited_behind = idle_at - asked_before_idle.min(idle_at);
    let backlog = total - asked_before_idle;
    assert!(
        waited_behind <= 2 * busy,
        "the idle session's hook waited behind {waited_behind} calls of a backlog of {backlog}"
    );
    assert!(
        backlog > 4 * busy,
        "the backlog ({backlog}) was too short to tell"
    );
    waited_behind
}
