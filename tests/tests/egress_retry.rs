//! Retries: a flaky receiver gets exactly one successful delivery, after
//! attempts at the scheduled delays, driven by a test clock (no sleeps).

mod egress_support;

use clawhooks::config::EventType;
use clawhooks::egress::log::Outcome;
use clawhooks_e2e::{Recorder, Reply};
use egress_support::{config, lifecycle, Rig};
use serde_json::json;

#[tokio::test]
async fn a_flaky_sink_gets_one_success_after_attempts_at_the_scheduled_delays() {
    let sink = Recorder::start().await;
    sink.script([Reply::status(500), Reply::status(502)]);
    let rig = Rig::new(&config(json!([{
        "id": "flaky",
        "url": sink.url("/hook"),
        "retry": { "maxAttempts": 5, "backoff": "exponential", "initialDelayMs": 1000, "jitter": false }
    }])));
    let ev = lifecycle(EventType::MessageReceived, "Hello");
    rig.emit(&ev).await;

    rig.drain().await;
    assert_eq!(sink.count(), 1, "first attempt at once");

    // Backoff 1 s after the first failure: nothing a millisecond early.
    rig.advance_ms(999);
    rig.drain().await;
    assert_eq!(sink.count(), 1);
    rig.advance_ms(1);
    rig.drain().await;
    assert_eq!(sink.count(), 2);

    // 2 s after the second failure.
    rig.advance_ms(1999);
    rig.drain().await;
    assert_eq!(sink.count(), 2);
    rig.advance_ms(1);
    rig.drain().await;
    assert_eq!(sink.count(), 3, "third attempt succeeds");

    // Nothing more, however long we wait.
    rig.advance_ms(3_600_000);
    rig.drain().await;
    assert_eq!(sink.count(), 3);

    let log = rig.attempts(&ev.id).await;
    let seen: Vec<_> = log
        .iter()
        .map(|a| (a.attempt, a.status, a.outcome, a.time.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, Some(500), Outcome::Retrying, "2026-01-01T00:00:00.000Z"),
            (2, Some(502), Outcome::Retrying, "2026-01-01T00:00:01.000Z"),
            (3, Some(200), Outcome::Delivered, "2026-01-01T00:00:03.000Z"),
        ]
    );
    assert_eq!(
        log[0].next_attempt_at.as_deref(),
        Some("2026-01-01T00:00:01.000Z")
    );
    assert_eq!(log[0].error.as_deref(), Some("HTTP 500"));
    assert_eq!(log[2].response.as_deref(), Some(r#"{"ok":true}"#));

    // Every attempt carries the same event id and the same payload.
    let reqs = sink.requests();
    for r in &reqs {
        assert_eq!(r.header("webhook-id"), Some(ev.id.as_str()));
        assert_eq!(r.body, reqs[0].body);
    }
    let body = reqs[0].json();
    assert_eq!(body["id"], json!(ev.id));
    assert_eq!(body["type"], json!("message_received"));
    assert_eq!(body["session"], json!("hook:3f1c"));
    assert_eq!(body["message"]["from"], json!("+15551234567"));
    assert_eq!(body["message"]["text"], json!("Hello"));
    assert_eq!(body["timestamp"], json!("2026-01-01T00:00:00.000Z"));
}

#[tokio::test]
async fn linear_and_fixed_backoffs_follow_their_schedules() {
    let linear = Recorder::start_with(Reply::status(500)).await;
    let fixed = Recorder::start_with(Reply::status(500)).await;
    let rig = Rig::new(&config(json!([
        { "id": "linear", "url": linear.url("/"), "deadLetter": false, "events": ["agent_response"],
          "retry": { "maxAttempts": 4, "backoff": "linear", "initialDelayMs": 1000, "jitter": false } },
        { "id": "fixed", "url": fixed.url("/"), "deadLetter": false, "events": ["agent_response"],
          "retry": { "maxAttempts": 4, "backoff": "fixed", "initialDelayMs": 1500, "jitter": false } },
    ])));
    let ev = lifecycle(EventType::AgentResponse, "hi");
    rig.emit(&ev).await;
    // Step the clock 500 ms at a time over 8 s and note when each sink is called.
    rig.drain().await;
    for _ in 0..16 {
        rig.advance_ms(500);
        rig.drain().await;
    }
    let times = |sub: &str, log: &[clawhooks::egress::log::Attempt]| -> Vec<String> {
        log.iter()
            .filter(|a| a.subscription == sub)
            .map(|a| a.time[17..23].to_string())
            .collect()
    };
    let log = rig.attempts(&ev.id).await;
    // linear: +1 s, +2 s, +3 s; fixed: +1.5 s each.
    assert_eq!(
        times("linear", &log),
        ["00.000", "01.000", "03.000", "06.000"]
    );
    assert_eq!(
        times("fixed", &log),
        ["00.000", "01.500", "03.000", "04.500"]
    );
    assert_eq!((linear.count(), fixed.count()), (4, 4));
}

#[tokio::test]
async fn jitter_draws_between_zero_and_the_backoff() {
    let sink = Recorder::start().await;
    sink.script([Reply::status(500)]);
    let cfg = config(json!([{ "id": "j", "url": sink.url("/"),
        "retry": { "maxAttempts": 3, "initialDelayMs": 10000 } }]));
    let rig = Rig::new(&cfg);
    // The rig pins draws at 1.0; pin them at a quarter instead.
    let rig = Rig {
        stage: rig.stage.with_random(std::sync::Arc::new(
            clawhooks::egress::schedule::FixedRandom(0.25),
        )),
        ..rig
    };
    let ev = lifecycle(EventType::MessageReceived, "x");
    rig.emit(&ev).await;
    rig.drain().await;
    rig.advance_ms(2499);
    rig.drain().await;
    assert_eq!(sink.count(), 1);
    rig.advance_ms(1);
    rig.drain().await;
    assert_eq!(sink.count(), 2, "a quarter of the 10 s backoff");
}

#[tokio::test]
async fn retry_after_on_429_and_503_is_honoured() {
    let sink = Recorder::start().await;
    sink.script([
        Reply::status(429).header("retry-after", "120"),
        Reply::status(503).header("retry-after", "30"),
    ]);
    let rig = Rig::new(&config(json!([{ "id": "busy", "url": sink.url("/"),
        "retry": { "maxAttempts": 5, "initialDelayMs": 1000, "jitter": false } }])));
    let ev = lifecycle(EventType::MessageReceived, "x");
    rig.emit(&ev).await;
    rig.drain().await;
    rig.advance_ms(119_999);
    rig.drain().await;
    assert_eq!(
        sink.count(),
        1,
        "the 1 s backoff gives way to Retry-After: 120"
    );
    rig.advance_ms(1);
    rig.drain().await;
    assert_eq!(sink.count(), 2);
    rig.advance_ms(29_999);
    rig.drain().await;
    assert_eq!(sink.count(), 2);
    rig.advance_ms(1);
    rig.drain().await;
    assert_eq!(sink.count(), 3);
    let log = rig.attempts(&ev.id).await;
    assert_eq!(log.last().unwrap().outcome, Outcome::Delivered);
}

#[tokio::test]
async fn waits_past_the_queue_limit_are_chained() {
    let sink = Recorder::start().await;
    sink.script([Reply::status(500)]);
    // A 40-minute wait: the queue takes at most 15 minutes per message.
    let rig = Rig::new(&config(json!([{ "id": "slow", "url": sink.url("/"),
        "retry": { "maxAttempts": 2, "backoff": "fixed", "initialDelayMs": 2_400_000, "maxDelayMs": 3_600_000, "jitter": false } }])));
    let ev = lifecycle(EventType::MessageReceived, "x");
    rig.emit(&ev).await;
    rig.drain().await;
    for _ in 0..2 {
        rig.advance_ms(15 * 60_000);
        assert!(rig.drain().await > 0, "the job wakes up and is put back");
        assert_eq!(sink.count(), 1);
    }
    rig.advance_ms(10 * 60_000 - 1);
    rig.drain().await;
    assert_eq!(sink.count(), 1);
    rig.advance_ms(1);
    rig.drain().await;
    assert_eq!(sink.count(), 2, "second attempt 40 minutes after the first");
    let log = rig.attempts(&ev.id).await;
    assert_eq!(log[1].time, "2026-01-01T00:40:00.000Z");
}

#[tokio::test]
async fn timeouts_and_redirects_fail_the_attempt() {
    let sink = Recorder::start().await;
    sink.script([
        Reply::status(200).delay(std::time::Duration::from_millis(1500)),
        Reply::status(302).header("location", "http://127.0.0.1:1/"),
    ]);
    let rig = Rig::new(&config(
        json!([{ "id": "t", "url": sink.url("/"), "timeoutMs": 200,
        "retry": { "maxAttempts": 3, "initialDelayMs": 1000, "jitter": false } }]),
    ));
    let ev = lifecycle(EventType::MessageReceived, "x");
    rig.emit(&ev).await;
    rig.drain().await;
    rig.advance_ms(1000);
    rig.drain().await;
    rig.advance_ms(2000);
    rig.drain().await;
    let log = rig.attempts(&ev.id).await;
    let seen: Vec<_> = log.iter().map(|a| (a.status, a.outcome)).collect();
    assert_eq!(
        seen,
        [
            (None, Outcome::Retrying),
            (Some(302), Outcome::Retrying),
            (Some(200), Outcome::Delivered)
        ]
    );
    assert!(
        log[0].error.as_deref().unwrap().contains("timed out"),
        "{:?}",
        log[0].error
    );
}

/// A job that comes back after its attempt queued the retry (the process
/// died before deleting it, so the queue shows it again) makes no second
/// attempt and queues no second retry: one chain, each attempt once.
#[tokio::test]
async fn a_job_that_comes_back_after_queueing_its_retry_starts_no_second_chain() {
    use clawhooks::worker::Stage;
    use std::time::Duration;
    let sink = Recorder::start_with(Reply::status(500)).await;
    let rig = Rig::new(&config(json!([{
        "id": "down",
        "url": sink.url("/hook"),
        "events": ["message_received"],
        "retry": { "maxAttempts": 3, "backoff": "fixed", "initialDelayMs": 1000, "jitter": false }
    }])));
    rig.emit(&lifecycle(EventType::MessageReceived, "Hello"))
        .await;
    rig.fan_out_only().await;
    rig.advance_ms(1000);
    let q = rig.backend.delivery_queue.as_ref();
    let minute = Duration::from_secs(60);
    let job = q.receive(1, minute, Duration::ZERO).await.unwrap();
    assert_eq!(job.len(), 1, "a delivery job is due");
    let before = sink.count();
    rig.stage.process(&job[0]).await.unwrap();
    // Not deleted: the queue shows the same message again.
    q.change_visibility(&job[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let again = q.receive(1, minute, Duration::ZERO).await.unwrap();
    assert_eq!(again.len(), 1, "the job is shown again");
    assert_eq!(again[0].message_id, job[0].message_id);
    rig.stage.process(&again[0]).await.unwrap();
    q.delete(&again[0].receipt).await.unwrap();
    assert_eq!(sink.count(), before + 1, "the attempt is made once");
    assert_eq!(rig.queued_deliveries().await, 1, "one retry queued");

    for _ in 0..10 {
        rig.advance_ms(1000);
        rig.drain().await;
    }
    assert_eq!(sink.count(), 3, "maxAttempts in one chain");
}
