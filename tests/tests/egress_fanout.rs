//! Fan-out: which subscriptions get an event, each delivered on its own;
//! 410 Gone retires a subscription for good (across restarts); the log
//! answers `GET /deliveries`.

mod egress_support;

use clawhooks::config::{load_str, EventType};
use clawhooks::egress::log::Outcome;
use clawhooks_e2e::{Recorder, Reply};
use egress_support::{config, lifecycle, start, Rig};
use serde_json::json;

#[tokio::test]
async fn each_subscription_is_retried_on_its_own() {
    let good = Recorder::start().await;
    let flaky = Recorder::start().await;
    flaky.script([Reply::status(500), Reply::status(500)]);
    let rig = Rig::new(&config(json!([
        { "id": "good", "url": good.url("/") },
        { "id": "flaky", "url": flaky.url("/"),
          "retry": { "maxAttempts": 3, "initialDelayMs": 1000, "jitter": false } },
    ])));
    let ev = lifecycle(EventType::MessageReceived, "x");
    rig.emit(&ev).await;
    rig.drain().await;
    for _ in 0..5 {
        rig.advance_ms(1000);
        rig.drain().await;
    }
    assert_eq!(
        good.count(),
        1,
        "a subscription that succeeded is never called again"
    );
    assert_eq!(flaky.count(), 3);

    let r = rig
        .admin("GET", &format!("/deliveries?event={}", ev.id), "")
        .await;
    assert_eq!(r.status, 200);
    let subs = r.body["subscriptions"].as_array().unwrap();
    let summary: Vec<_> = subs
        .iter()
        .map(|s| {
            (
                s["subscription"].clone(),
                s["outcome"].clone(),
                s["attempts"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!("flaky"), json!("delivered"), json!(3)),
            (json!("good"), json!("delivered"), json!(1)),
        ]
    );
    let attempts = r.body["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4);
    let first = &attempts[0];
    assert_eq!(first["subscription"], json!("flaky"));
    assert_eq!(first["status"], json!(500));
    assert_eq!(first["error"], json!("HTTP 500"));
    assert!(first["latencyMs"].is_u64());
    assert_eq!(first["time"], json!("2026-01-01T00:00:00.000Z"));

    let recent = rig.admin("GET", "/deliveries?limit=2", "").await;
    assert_eq!(recent.body["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(
        rig.admin("GET", "/deliveries?limit=0", "").await.status,
        400
    );
    assert_eq!(rig.admin("POST", "/deliveries", "").await.status, 405);
    let none = rig.admin("GET", "/deliveries?event=nope", "").await;
    assert_eq!(none.body["attempts"], json!([]));
}

#[tokio::test]
async fn events_and_filters_choose_the_subscriptions() {
    let sinks = [
        Recorder::start().await,
        Recorder::start().await,
        Recorder::start().await,
        Recorder::start().await,
        Recorder::start().await,
    ];
    let rig = Rig::new(&config(json!([
        { "id": "agent-only", "url": sinks[0].url("/"), "events": ["agent_response"] },
        { "id": "my-hook", "url": sinks[1].url("/"), "filter": { "hookIds": ["my-hook"] } },
        { "id": "other-hook", "url": sinks[2].url("/"), "filter": { "hookIds": ["github"] } },
        { "id": "agent-sessions", "url": sinks[3].url("/"), "filter": { "sessionPrefix": "agent:" } },
        { "id": "off", "url": sinks[4].url("/"), "enabled": false },
        // The seed's retry example: no url, loads, gets nothing.
        { "id": "notify", "retry": { "maxAttempts": 3, "backoff": "exponential" } },
    ])));
    assert!(rig
        .config
        .warnings
        .iter()
        .any(|w| w.path == "webhooks.outgoing[5].url"));
    rig.emit(&lifecycle(EventType::MessageReceived, "hook"))
        .await;
    let mut agent = lifecycle(EventType::AgentResponse, "agent");
    agent.session = "agent:main:whatsapp".into();
    agent.hook_id = Some("github".into());
    rig.emit(&agent).await;
    rig.drain().await;
    let texts = |i: usize| -> Vec<String> {
        sinks[i]
            .requests()
            .iter()
            .map(|r| r.json()["message"]["text"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(texts(0), ["agent"]);
    assert_eq!(texts(1), ["hook"]);
    assert_eq!(texts(2), ["agent"]);
    assert_eq!(texts(3), ["agent"]);
    assert!(texts(4).is_empty());
}

#[tokio::test]
async fn every_seed_example_with_outgoing_webhooks_loads() {
    // The two outgoing examples of the seed document, as written.
    for doc in [
        r#"{"webhooks":{"outgoing":[{"id":"slack-notify","url":"https://hooks.slack.com/services/xxx","events":["message_received","agent_response"],"method":"POST"}]}}"#,
        r#"{"webhooks":{"outgoing":[{"id":"notify","retry":{"maxAttempts":3,"backoff":"exponential"}}]}}"#,
    ] {
        let c = load_str(doc, &|_| None).expect("seed example loads");
        let rig_ok = clawhooks::egress::EgressStage::new(
            std::sync::Arc::new(c),
            Rig::new("{}").backend,
            std::sync::Arc::new(clawhooks_e2e::loopback_http()),
            std::sync::Arc::new(clawhooks::ports::SystemClock),
        );
        assert!(rig_ok.is_ok());
    }
}

#[tokio::test]
async fn gone_disables_the_subscription_across_restarts_until_its_url_changes() {
    let gone = Recorder::start_with(Reply::status(410)).await;
    let other = Recorder::start().await;
    let path = std::env::temp_dir().join(format!("egress-410-{}.db", uuid::Uuid::new_v4()));
    let cfg = config(json!([
        { "id": "gone", "url": gone.url("/old"), "retry": { "maxAttempts": 5 } },
        { "id": "other", "url": other.url("/") },
    ]));
    {
        let rig = Rig::on_file(&cfg, &path, start());
        let ev = lifecycle(EventType::MessageReceived, "1");
        rig.emit(&ev).await;
        rig.drain().await;
        rig.advance_ms(3_600_000);
        rig.drain().await;
        assert_eq!(gone.count(), 1, "410 is not retried");
        let log = rig.attempts(&ev.id).await;
        let g = log.iter().find(|a| a.subscription == "gone").unwrap();
        assert_eq!((g.status, g.outcome), (Some(410), Outcome::Gone));
        assert!(g.error.as_deref().unwrap().contains("disabled"));
    }
    // A new process on the same database.
    {
        let rig = Rig::on_file(&cfg, &path, start());
        rig.emit(&lifecycle(EventType::MessageReceived, "2")).await;
        rig.drain().await;
        assert_eq!(gone.count(), 1, "still disabled after a restart");
        assert_eq!(other.count(), 2, "the others carry on");
    }
    // Pointed at a new URL, the subscription is live again.
    {
        let moved = config(json!([{ "id": "gone", "url": gone.url("/new") }]));
        gone.set_default(Reply::status(200));
        let rig = Rig::on_file(&moved, &path, start());
        rig.emit(&lifecycle(EventType::MessageReceived, "3")).await;
        rig.drain().await;
        assert_eq!(gone.count(), 2);
        assert_eq!(gone.requests()[1].path, "/new");
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn retries_already_queued_stop_once_the_subscription_is_gone() {
    let sink = Recorder::start().await;
    // Two events fail; the first one's retry meets 410 and retires the URL;
    // the second one's retry then stops without calling.
    sink.script([Reply::status(500), Reply::status(500), Reply::status(410)]);
    let rig = Rig::new(&config(json!([{ "id": "s", "url": sink.url("/"),
        "retry": { "maxAttempts": 5, "initialDelayMs": 1000, "jitter": false } }])));
    let (a, b) = (
        lifecycle(EventType::MessageReceived, "a"),
        lifecycle(EventType::MessageReceived, "b"),
    );
    rig.emit(&a).await;
    rig.emit(&b).await;
    rig.drain().await;
    assert_eq!(sink.count(), 2);
    rig.advance_ms(1000);
    rig.drain().await;
    assert_eq!(sink.count(), 3, "one retry got 410; the other was dropped");
    rig.advance_ms(3_600_000);
    rig.drain().await;
    assert_eq!(sink.count(), 3);
}

/// A subscription that answered quickly gets the next event's first
/// attempt while the event is fanned out, with no trip through the delivery
/// queue. After a failure its first attempts go through the queue again, so
/// a failing receiver holds up no session; retries are as always.
#[tokio::test]
async fn a_quick_receiver_is_called_at_fan_out_and_a_failing_one_through_the_queue() {
    let sink = Recorder::start().await;
    let rig = Rig::new(&config(json!([
        { "id": "s", "url": sink.url("/"),
          "retry": { "maxAttempts": 3, "initialDelayMs": 1000, "jitter": false } },
    ])));
    let event = |text: &str| lifecycle(EventType::MessageReceived, text);

    // Not heard from yet: the first attempt is queued.
    let first = event("1");
    rig.emit(&first).await;
    assert_eq!(rig.fan_out_only().await, 1);
    assert_eq!((sink.count(), rig.queued_deliveries().await), (0, 1));
    rig.drain().await;
    assert_eq!(sink.count(), 1);

    // It answered at once: the next event reaches it during fan-out.
    let second = event("2");
    rig.emit(&second).await;
    rig.fan_out_only().await;
    assert_eq!((sink.count(), rig.queued_deliveries().await), (2, 0));
    assert_eq!(
        rig.attempts(&second.id).await[0].outcome,
        Outcome::Delivered
    );

    // A direct attempt that fails is retried through the queue ...
    sink.script([Reply::status(500)]);
    let third = event("3");
    rig.emit(&third).await;
    rig.fan_out_only().await;
    assert_eq!((sink.count(), rig.queued_deliveries().await), (3, 1));
    // ... and the next event is queued, not tried at once.
    let fourth = event("4");
    rig.emit(&fourth).await;
    rig.fan_out_only().await;
    assert_eq!((sink.count(), rig.queued_deliveries().await), (3, 2));

    rig.advance_ms(1000);
    rig.drain().await;
    assert_eq!(sink.count(), 5, "the retry and the queued first attempt");
    let outcomes = |a: Vec<clawhooks::egress::log::Attempt>| -> Vec<Outcome> {
        a.into_iter().map(|a| a.outcome).collect()
    };
    assert_eq!(
        outcomes(rig.attempts(&third.id).await),
        [Outcome::Retrying, Outcome::Delivered]
    );
    assert_eq!(
        outcomes(rig.attempts(&fourth.id).await),
        [Outcome::Delivered]
    );
    let mut bodies: Vec<String> = sink
        .requests()
        .iter()
        .map(|r| r.json()["message"]["text"].as_str().unwrap().to_string())
        .collect();
    // The last two were both due when the queue was drained.
    bodies[3..].sort();
    assert_eq!(bodies, ["1", "2", "3", "3", "4"]);
}
