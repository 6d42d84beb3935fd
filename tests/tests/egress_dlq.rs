//! Dead letters: a dead receiver's deliveries end in the dead-letter queue
//! with an `error` event; after the receiver recovers, replay delivers every
//! one exactly once.

mod egress_support;

use clawhooks::config::EventType;
use clawhooks::egress::log::Outcome;
use clawhooks::egress::replay::{self, ReplayFilter};
use clawhooks::egress::EgressMessage;
use clawhooks::egress::EgressStage;
use clawhooks::ports::{IndexOrder, Item, NewMessage, Store, StoreError, Table};
use clawhooks_e2e::{Recorder, Reply};
use egress_support::{config, lifecycle, Rig};
use serde_json::json;
use std::ops::RangeInclusive;
use std::sync::Arc;

/// Runs the retry schedule to its end: ten steps of a minute.
async fn run_out(rig: &Rig) {
    rig.drain().await;
    for _ in 0..10 {
        rig.advance_ms(60_000);
        rig.drain().await;
    }
}

#[tokio::test]
async fn a_dead_sinks_deliveries_are_dead_lettered_then_replayed_exactly_once() {
    let dead = Recorder::start_with(Reply::status(500)).await;
    let errors = Recorder::start().await;
    let rig = Rig::new(&config(json!([
        { "id": "dead", "url": dead.url("/"), "events": ["message_received"],
          "retry": { "maxAttempts": 3, "initialDelayMs": 1000, "jitter": false },
          // Every attempt is made: this test counts them, not the breaker's holds.
          "breaker": { "enabled": false } },
        { "id": "errors", "url": errors.url("/"), "events": ["error"] },
    ])));
    let events: Vec<_> = (0..5)
        .map(|i| lifecycle(EventType::MessageReceived, &format!("m{i}")))
        .collect();
    for ev in &events {
        rig.emit(ev).await;
    }
    run_out(&rig).await;

    assert_eq!(dead.count(), 15, "3 attempts for each of 5 events");
    let letters = replay::list(rig.backend.delivery_dlq.as_ref(), &ReplayFilter::default())
        .await
        .unwrap();
    assert_eq!(letters.len(), 5);
    for l in &letters {
        assert_eq!(l.subscription, "dead");
        assert_eq!(l.last_error.as_deref(), Some("HTTP 500"));
        assert!(l.dead_lettered_at.is_some());
    }
    // Listing did not consume them.
    assert_eq!(rig.backend.delivery_dlq.approximate_len().await.unwrap(), 5);
    for ev in &events {
        let log = rig.attempts(&ev.id).await;
        assert_eq!(log.len(), 3);
        assert_eq!(log[2].outcome, Outcome::Failed);
        assert!(log[2].dead_lettered);
    }

    // One `error` event per given-up delivery, naming what failed.
    let reports = errors.requests();
    assert_eq!(reports.len(), 5);
    for r in &reports {
        let body = r.json();
        assert_eq!(body["type"], json!("error"));
        assert_eq!(body["error"]["stage"], json!("delivery"));
        assert_eq!(body["error"]["subscriptionId"], json!("dead"));
        assert_eq!(body["error"]["failedEventType"], json!("message_received"));
    }

    // The receiver recovers; replay delivers each dead letter once.
    dead.set_default(Reply::status(200));
    let before = dead.count();
    let report = replay::replay(&rig.backend, &ReplayFilter::default(), rig.now())
        .await
        .unwrap();
    assert_eq!(report.replayed, 5);
    // A second replay right away finds nothing: each went back once.
    let again = replay::replay(&rig.backend, &ReplayFilter::default(), rig.now())
        .await
        .unwrap();
    assert_eq!(again.replayed, 0);
    run_out(&rig).await;
    let delivered: Vec<_> = dead.requests()[before..]
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    let mut got = delivered.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "every dead letter delivered exactly once");
    assert_eq!(rig.backend.delivery_dlq.approximate_len().await.unwrap(), 0);
    for ev in &events {
        let log = rig.attempts(&ev.id).await;
        assert_eq!(
            log.len(),
            4,
            "the replay's attempt is logged after the first round"
        );
        assert_eq!(
            (log[3].attempt, log[3].seq, log[3].outcome),
            (1, 4, Outcome::Delivered)
        );
    }
    assert_eq!(errors.count(), 5, "no new error events after recovery");
}

#[tokio::test]
async fn an_error_about_delivering_an_error_does_not_cascade() {
    let dead = Recorder::start_with(Reply::status(500)).await;
    let rig = Rig::new(&config(json!([
        { "id": "all", "url": dead.url("/"),
          "retry": { "maxAttempts": 2, "initialDelayMs": 1000, "jitter": false } },
    ])));
    let ev = lifecycle(EventType::SessionStarted, "s");
    rig.emit(&ev).await;
    run_out(&rig).await;
    // session_started x2, then its error event x2, and nothing after.
    let kinds: Vec<_> = dead
        .requests()
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["session_started", "session_started", "error", "error"]
    );
    assert_eq!(rig.backend.events_queue.approximate_len().await.unwrap(), 0);
    assert_eq!(
        rig.backend.delivery_dlq.approximate_len().await.unwrap(),
        2,
        "both are dead letters"
    );
}

#[tokio::test]
async fn without_dead_letter_a_failure_is_only_logged_and_reported() {
    let dead = Recorder::start_with(Reply::status(500)).await;
    let rig = Rig::new(&config(json!([
        { "id": "nodlq", "url": dead.url("/"), "deadLetter": false, "events": ["agent_response"],
          "retry": { "maxAttempts": 1 } },
    ])));
    let ev = lifecycle(EventType::AgentResponse, "a");
    rig.emit(&ev).await;
    run_out(&rig).await;
    assert_eq!(dead.count(), 1);
    assert_eq!(rig.backend.delivery_dlq.approximate_len().await.unwrap(), 0);
    let log = rig.attempts(&ev.id).await;
    assert_eq!(
        (log[0].outcome, log[0].dead_lettered),
        (Outcome::Failed, false)
    );
}

#[tokio::test]
async fn replay_filters_by_subscription_and_time_through_the_admin_api() {
    let a = Recorder::start_with(Reply::status(500)).await;
    let b = Recorder::start_with(Reply::status(500)).await;
    let rig = Rig::new(&config(json!([
        { "id": "a", "url": a.url("/"), "events": ["message_received"], "retry": { "maxAttempts": 1 } },
        { "id": "b", "url": b.url("/"), "events": ["message_received"], "retry": { "maxAttempts": 1 } },
    ])));
    let early = lifecycle(EventType::MessageReceived, "early");
    rig.emit(&early).await;
    rig.drain().await;
    rig.advance_ms(3_600_000);
    let late = lifecycle(EventType::MessageReceived, "late");
    rig.emit(&late).await;
    rig.drain().await;

    let listed = rig.admin("GET", "/dlq", "").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["count"], json!(4));
    let only_b = rig.admin("GET", "/dlq?subscription=b", "").await;
    assert_eq!(only_b.body["count"], json!(2));
    assert_eq!(only_b.body["deadLetters"][0]["subscription"], json!("b"));
    assert_eq!(only_b.body["deadLetters"][0]["eventId"], json!(early.id));

    a.set_default(Reply::status(200));
    b.set_default(Reply::status(200));
    let bad = rig
        .admin("POST", "/dlq/replay", r#"{"since": "last tuesday"}"#)
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["error"].as_str().unwrap().contains("--since"),
        "{}",
        bad.body
    );
    let unknown = rig
        .admin("POST", "/dlq/replay", r#"{"subscriptoin": "a"}"#)
        .await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body["error"]
        .as_str()
        .unwrap()
        .contains("subscriptoin"));
    assert_eq!(rig.admin("GET", "/dlq/replay", "").await.status, 405);

    // a, dead-lettered in the last 30 minutes: only the late one.
    let r = rig
        .admin(
            "POST",
            "/dlq/replay",
            r#"{"subscription": "a", "since": "30m"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["replayed"].clone(), r.body["kept"].clone()),
        (json!(1), json!(3))
    );
    rig.drain().await;
    let got: Vec<_> = a
        .requests()
        .iter()
        .map(|r| r.json()["id"].clone())
        .collect();
    assert_eq!(got, [json!(early.id), json!(late.id), json!(late.id)]);
    assert_eq!(b.count(), 2);

    // The rest, by query string.
    let r = rig.admin("POST", "/dlq/replay?subscription=b", "").await;
    assert_eq!(r.body["replayed"], json!(2));
    rig.drain().await;
    assert_eq!(b.count(), 4);
    assert_eq!(rig.admin("GET", "/dlq", "").await.body["count"], json!(1));
}

/// "Every delivery to `a` of a message_received that failed between then
/// and then": a dry run counts them and replays nothing, the run replays
/// exactly those; a status or event type it cannot take is a 400 naming it.
#[tokio::test]
async fn a_bulk_replay_filters_by_window_and_event_type_after_a_dry_run() {
    let a = Recorder::start_with(Reply::status(500)).await;
    let b = Recorder::start_with(Reply::status(500)).await;
    let rig = Rig::new(&config(json!([
        { "id": "a", "url": a.url("/"), "events": ["message_received", "session_ended"],
          "retry": { "maxAttempts": 1 } },
        { "id": "b", "url": b.url("/"), "events": ["message_received"], "retry": { "maxAttempts": 1 } },
    ])));
    let early = lifecycle(EventType::MessageReceived, "early");
    rig.emit(&early).await;
    rig.emit(&lifecycle(EventType::SessionEnded, "ended")).await;
    rig.drain().await;
    rig.advance_ms(3_600_000);
    rig.emit(&lifecycle(EventType::MessageReceived, "late"))
        .await;
    rig.drain().await;
    assert_eq!(rig.admin("GET", "/dlq", "").await.body["count"], json!(5));

    let ask = r#"{"subscription": "a", "from": "2h", "to": "30m", "status": "dead_lettered",
                  "eventType": "message_received""#;
    let dry = rig
        .admin(
            "POST",
            "/dlq/replay",
            &format!(r#"{ask}, "dryRun": true}}"#),
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(
        (dry.body["matched"].clone(), dry.body["dryRun"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(
        rig.admin("GET", "/dlq", "").await.body["count"],
        json!(5),
        "a dry run takes none"
    );

    for (bad, named) in [
        (r#"{"status": "failed"}"#, "dead_lettered"),
        (r#"{"eventType": "nope"}"#, "eventType"),
    ] {
        let r = rig.admin("POST", "/dlq/replay", bad).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().contains(named),
            "{}",
            r.body
        );
    }

    a.set_default(Reply::status(200));
    let r = rig.admin("POST", "/dlq/replay", &format!("{ask}}}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["replayed"].clone(), r.body["kept"].clone()),
        (json!(1), json!(4))
    );
    rig.drain().await;
    let again = a.requests().last().map(|r| r.json()["id"].clone());
    assert_eq!(again, Some(json!(early.id)));
    assert_eq!(a.count(), 4, "three first attempts and the one replayed");
    assert_eq!(rig.admin("GET", "/dlq", "").await.body["count"], json!(4));
}

#[tokio::test]
async fn a_duplicate_job_never_delivers_twice() {
    // A redelivered event (at-least-once queues) fans out again; the
    // second job finds the delivery made and stops.
    let sink = Recorder::start().await;
    let rig = Rig::new(&config(json!([{ "id": "once", "url": sink.url("/") }])));
    let ev = lifecycle(EventType::MessageReceived, "x");
    let body = serde_json::to_string(&ev).unwrap();
    assert!(matches!(
        EgressMessage::parse(&body),
        Ok(EgressMessage::Event(_))
    ));
    for _ in 0..2 {
        rig.backend
            .events_queue
            .send(clawhooks::ports::NewMessage::new(body.clone()).group("s"))
            .await
            .unwrap();
    }
    rig.drain().await;
    assert_eq!(sink.count(), 1);
    assert_eq!(rig.attempts(&ev.id).await.len(), 1);
}

/// `n` events given up on at their only attempt by a sink answering 500:
/// `n` dead letters of subscription `s`.
async fn dead_letters(n: usize) -> (Recorder, Rig) {
    let sink = Recorder::start_with(Reply::status(500)).await;
    let rig = Rig::new(&config(json!([
        { "id": "s", "url": sink.url("/"), "events": ["message_received"], "retry": { "maxAttempts": 1 },
          // Each event is to fail at once, not wait on an open breaker.
          "breaker": { "enabled": false } },
    ])));
    for i in 0..n {
        rig.emit(&lifecycle(EventType::MessageReceived, &format!("{i}")))
            .await;
    }
    rig.drain().await;
    (sink, rig)
}

#[tokio::test]
async fn two_replays_at_once_send_each_dead_letter_back_once() {
    let (sink, rig) = dead_letters(25).await;
    assert_eq!(sink.count(), 25);
    sink.set_default(Reply::status(200));
    let all = ReplayFilter::default();
    let (x, y) = tokio::join!(
        replay::replay(&rig.backend, &all, rig.now()),
        replay::replay(&rig.backend, &all, rig.now()),
    );
    assert_eq!(x.unwrap().replayed + y.unwrap().replayed, 25);
    rig.drain().await;
    let mut ids: Vec<_> = sink.requests()[25..]
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 25);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "no event delivered twice");
}

/// A job that comes back after its give-up (a crash between dead-lettering
/// and deleting it) finishes the give-up without redoing it: the receiver
/// is not called again, the dead-letter queue keeps one copy, and the
/// `error` event it emits again is the same event (same id).
#[tokio::test]
async fn a_redelivered_give_up_calls_once_dead_letters_once_and_reports_one_id() {
    let dead = Recorder::start_with(Reply::status(500)).await;
    let errors = Recorder::start().await;
    let rig = Rig::new(&config(json!([
        { "id": "dead", "url": dead.url("/"), "events": ["message_received"], "retry": { "maxAttempts": 1 } },
        { "id": "errors", "url": errors.url("/"), "events": ["error"] },
    ])));
    let ev = lifecycle(EventType::MessageReceived, "once");
    rig.emit(&ev).await;
    rig.fan_out_only().await;
    let job = rig.backend.delivery_queue.peek(1).await.unwrap().remove(0);
    let error_ids = || async {
        rig.backend
            .events_queue
            .peek(10)
            .await
            .unwrap()
            .iter()
            .map(|m| serde_json::from_str::<serde_json::Value>(&m.body).unwrap()["id"].clone())
            .collect::<Vec<_>>()
    };

    rig.drain_deliveries().await;
    let first = error_ids().await;
    assert_eq!(first.len(), 1, "one error event");
    // Past the events queue's deduplication window, so a re-emission shows.
    rig.advance_ms(10 * 60_000);
    rig.backend
        .delivery_queue
        .send(NewMessage::new(job.body).attribute("kind", "delivery"))
        .await
        .unwrap();
    rig.drain_deliveries().await;

    assert_eq!(dead.count(), 1, "the given-up attempt is not made again");
    assert_eq!(rig.backend.delivery_dlq.approximate_len().await.unwrap(), 1);
    let log = rig.attempts(&ev.id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].outcome, log[0].dead_lettered),
        (Outcome::Failed, true)
    );
    assert_eq!(
        error_ids().await,
        [first[0].clone(), first[0].clone()],
        "emitted again as the same event"
    );
    rig.drain().await;
    assert_eq!(
        errors.count(),
        1,
        "the repeat is the same event, delivered once"
    );
}

/// A listing reads: it shows every dead letter (past a receive's ten),
/// the same ones twice, receives none of them (nothing counted, nothing
/// hidden), and a replay right after takes them all.
#[tokio::test]
async fn listing_25_dead_letters_shows_all_and_changes_nothing() {
    let (_sink, rig) = dead_letters(25).await;
    let dlq = rig.backend.delivery_dlq.as_ref();
    let all = ReplayFilter::default();
    let listed = |jobs: Vec<clawhooks::egress::DeliveryJob>| {
        jobs.into_iter().map(|j| j.event.id).collect::<Vec<_>>()
    };
    let first = listed(replay::list(dlq, &all).await.unwrap());
    assert_eq!(first.len(), 25);
    let http = rig.admin("GET", "/dlq", "").await;
    assert_eq!(http.body["count"], json!(25));
    assert_eq!(listed(replay::list(dlq, &all).await.unwrap()), first);

    let now_visible = dlq
        .receive(10, std::time::Duration::ZERO, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(now_visible.len(), 10, "none hidden by the listings");
    assert!(
        now_visible.iter().all(|m| m.receive_count == 1),
        "listings received none: {:?}",
        now_visible
            .iter()
            .map(|m| m.receive_count)
            .collect::<Vec<_>>()
    );
    let report = replay::replay(&rig.backend, &all, rig.now()).await.unwrap();
    assert_eq!(report.replayed, 25);
}

/// The store as it is, but every write that notes a dead letter in the
/// delivery log fails, as a store outage right after the send would.
struct LosesDeadLetterNotes(Arc<dyn Store>);

#[async_trait::async_trait]
impl Store for LosesDeadLetterNotes {
    async fn get(
        &self,
        t: Table,
        pk: &str,
        sk: &str,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        self.0.get(t, pk, sk, now).await
    }
    async fn put(&self, t: Table, item: Item) -> Result<u64, StoreError> {
        if t == Table::Deliveries && item.value["deadLettered"] == json!(true) {
            return Err(StoreError::Backend {
                table: "deliveries",
                message: "injected: the store is down".into(),
            });
        }
        self.0.put(t, item).await
    }
    async fn put_if_absent(
        &self,
        t: Table,
        item: Item,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        self.0.put_if_absent(t, item, now).await
    }
    async fn put_if_version(
        &self,
        t: Table,
        item: Item,
        expected: u64,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        self.0.put_if_version(t, item, expected, now).await
    }
    async fn delete(&self, t: Table, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.0.delete(t, pk, sk).await
    }
    async fn query(
        &self,
        t: Table,
        pk: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError> {
        self.0.query(t, pk, limit, now).await
    }
    async fn scan(&self, t: Table, limit: usize, now: i64) -> Result<Vec<Item>, StoreError> {
        self.0.scan(t, limit, now).await
    }
    async fn query_index(
        &self,
        t: Table,
        keys: RangeInclusive<i64>,
        order: IndexOrder,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError> {
        self.0.query_index(t, keys, order, limit, now).await
    }
}

/// A store error on the log write after the dead-letter send makes no
/// second dead letter: the letter is sent once, the job is done, and the
/// receiver saw each attempt once.
#[tokio::test]
async fn a_store_error_after_the_dead_letter_send_makes_no_second_dead_letter() {
    let dead = Recorder::start_with(Reply::status(500)).await;
    let rig = Rig::new(&config(json!([
        { "id": "dead", "url": dead.url("/"), "events": ["message_received"],
          "retry": { "maxAttempts": 2, "initialDelayMs": 1000, "jitter": false } },
    ])));
    let mut backend = rig.backend.clone();
    backend.store = Arc::new(LosesDeadLetterNotes(backend.store.clone()));
    let http = Arc::new(clawhooks_e2e::loopback_http());
    let stage = EgressStage::new(rig.config.clone(), backend, http, rig.clock.clone()).unwrap();
    let ev = lifecycle(EventType::MessageReceived, "m");
    rig.emit(&ev).await;
    rig.drain_with(&stage).await;
    for _ in 0..10 {
        rig.advance_ms(60_000);
        rig.drain_with(&stage).await;
    }
    assert_eq!(dead.count(), 2, "maxAttempts, each once");
    let letters = rig.backend.delivery_dlq.peek(10).await.unwrap();
    assert_eq!(letters.len(), 1, "one dead letter");
    assert_eq!(rig.queued_deliveries().await, 0, "the job is done");
    let log = rig.attempts(&ev.id).await;
    assert_eq!(log.last().map(|a| a.outcome), Some(Outcome::Failed));
}
