//! One conformance suite for the `Queue` and `Store` ports, run against
//! every backend: the embedded one (SQLite) and SQS + DynamoDB on a real
//! emulator (ministack, or moto with `CLAWHOOKS_EMULATOR=moto`).
//!
//! Each check is written once against a [`Fixture`]; the `conformance!`
//! macro makes one test per backend from it. Time: the embedded backend
//! runs on a `TestClock` that the fixture advances; the emulator keeps real
//! time, so there the fixture sleeps, for at most a few seconds per check.
//!
//! Run: `cargo test -p clawhooks-e2e --test conformance`
//! (`CLAWHOOKS_EMULATOR=moto cargo test -p clawhooks-e2e --test conformance` for moto).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clawhooks::aws::{bootstrap, BootstrapSettings};
use clawhooks::config::load_str;
use clawhooks::egress::replay::{self, ReplayFilter};
use clawhooks::egress::{DeliveryJob, EgressStage};
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::handler::HandlerStage;
use clawhooks::ports::{
    Backend, Clock, IndexOrder, Item, NewMessage, Queue, QueueError, Received, Store, SystemClock,
    Table, TestClock,
};
use clawhooks::worker::{process_one, Stage, DEAD_LETTER_REASON};
use clawhooks_e2e::emulator;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Receives before a message is dead-lettered, in every fixture.
const MAX_RECEIVES: u32 = 2;

#[async_trait]
trait Fixture: Send + Sync {
    /// A fresh deployment: nothing in its queues or tables.
    async fn backend(&self) -> Backend;
    /// Lets `d` pass for the queues (visibility timeouts, delays).
    async fn pass(&self, d: Duration);
    /// The time the queues keep, for stages run on the backend.
    fn clock(&self) -> Arc<dyn Clock>;
}

/// The embedded backend on a clock the test moves.
struct EmbeddedFixture {
    clock: Arc<TestClock>,
    db: Embedded,
}

impl EmbeddedFixture {
    fn new() -> Self {
        let clock = Arc::new(TestClock::new(Utc::now()));
        let db = Embedded::memory()
            .expect("in-memory database")
            .with_clock(clock.clone());
        EmbeddedFixture { clock, db }
    }
}

#[async_trait]
impl Fixture for EmbeddedFixture {
    async fn backend(&self) -> Backend {
        self.db.backend(BackendOptions {
            max_receive_count: MAX_RECEIVES,
        })
    }
    async fn pass(&self, d: Duration) {
        self.clock.advance(chrono::Duration::from_std(d).unwrap());
    }
    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
}

/// SQS and DynamoDB on the emulator, resources created by our own bootstrap
/// under a name no other test uses.
struct AwsFixture;

#[async_trait]
impl Fixture for AwsFixture {
    async fn backend(&self) -> Backend {
        let emu = emulator::shared();
        let clients = emu.clients().await;
        let settings = BootstrapSettings {
            max_receive_count: MAX_RECEIVES,
            ..BootstrapSettings::new(emulator::unique("conf"))
        };
        let res = bootstrap(&clients, &settings)
            .await
            .unwrap_or_else(|e| panic!("bootstrap: {e}\n{}", emu.log_text()));
        clawhooks::aws::backend(&clients, &res)
    }
    async fn pass(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name(&super::EmbeddedFixture::new()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqs_dynamodb() {
                super::$name(&super::AwsFixture).await;
            }
        })*
    };
}

conformance!(
    visibility_timeout_and_receive_count,
    redrive_to_the_dead_letter_queue_after_max_receives,
    fifo_groups_are_ordered_and_exclusive,
    fifo_dedup_id_drops_a_repeat,
    delays_hold_a_message_back,
    attributes_batches_and_length,
    too_large_messages_are_refused_as_such,
    exactly_one_concurrent_creator,
    versioned_writes_detect_conflicts,
    dedup_keys_expire,
    expired_items_are_absent_to_every_read,
    query_orders_by_sort_key_and_scan_sees_the_table,
    intake_keeps_claim_status_and_message_once_per_key,
    a_retry_sends_again_a_claimed_hook_that_was_never_queued,
    a_retry_of_a_started_hook_is_not_sent_again,
    peeking_hides_and_consumes_nothing,
    dead_letters_are_listed_in_place_then_all_replayed,
    unreadable_messages_are_dead_lettered_with_their_body,
    query_index_reads_either_end_of_the_whole_table,
    index_keys_follow_every_kind_of_write,
);

/// What is visible now, without waiting (SQS short poll; the emulators and
/// the embedded queue answer exactly).
async fn receive_now(q: &dyn Queue, max: usize, visibility: Duration) -> Vec<Received> {
    q.receive(max, visibility, Duration::ZERO).await.unwrap()
}

/// Receives until `n` messages came or 30 s passed (for the emulators'
/// asynchronous moves, such as a redrive, on a loaded machine).
async fn receive_n(q: &dyn Queue, n: usize, visibility: Duration) -> Vec<Received> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n && tokio::time::Instant::now() < deadline {
        got.extend(receive_now(q, n - got.len(), visibility).await);
        if got.len() < n {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    got
}

/// A visibility timeout or delay that must still be running when the test
/// looks again a moment later: on the emulator that moment is real time,
/// which a loaded machine can stretch past a second.
const SHORT: Duration = Duration::from_secs(4);
const LONG: Duration = Duration::from_secs(60);

async fn visibility_timeout_and_receive_count(f: &dyn Fixture) {
    let b = f.backend().await;
    let q = b.delivery_queue.as_ref();
    q.send(NewMessage::new("hello")).await.unwrap();

    let first = receive_n(q, 1, SHORT).await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].body.as_str(), first[0].receive_count),
        ("hello", 1)
    );
    assert!(
        receive_now(q, 10, SHORT).await.is_empty(),
        "hidden while its visibility timeout runs"
    );

    f.pass(SHORT + Duration::from_millis(600)).await;
    let second = receive_n(q, 1, LONG).await;
    assert_eq!(second.len(), 1, "shown again once the timeout lapsed");
    assert_eq!(second[0].message_id, first[0].message_id);
    assert_eq!(second[0].receive_count, 2);

    q.delete(&second[0].receipt).await.unwrap();
    assert!(
        receive_now(q, 10, LONG).await.is_empty(),
        "deleted for good"
    );

    // A zero timeout shows a message again at once, counted as a receive.
    q.send(NewMessage::new("again")).await.unwrap();
    let held = receive_n(q, 1, LONG).await;
    q.change_visibility(&held[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let shown = receive_n(q, 1, LONG).await;
    assert_eq!(shown.len(), 1);
    assert_eq!(
        (shown[0].body.as_str(), shown[0].receive_count),
        ("again", 2)
    );
    q.delete(&shown[0].receipt).await.unwrap();
    assert_eq!(q.approximate_len().await.unwrap(), 0);
}

async fn redrive_to_the_dead_letter_queue_after_max_receives(f: &dyn Fixture) {
    let b = f.backend().await;
    for (q, dlq) in [
        (&b.delivery_queue, &b.delivery_dlq),
        (&b.handler_queue, &b.handler_dlq),
    ] {
        let name = q.name().to_string();
        q.send(NewMessage::new("poison").group("s1")).await.unwrap();
        for n in 1..=MAX_RECEIVES {
            let got = receive_n(q.as_ref(), 1, LONG).await;
            assert_eq!(got.len(), 1, "{name}: receive {n}");
            assert_eq!(got[0].receive_count, n);
            // A failed attempt: show it again at once.
            q.change_visibility(&got[0].receipt, Duration::ZERO)
                .await
                .unwrap();
        }
        assert!(
            receive_now(q.as_ref(), 10, LONG).await.is_empty(),
            "{name}: not handed out a third time"
        );
        let dead = receive_n(dlq.as_ref(), 1, LONG).await;
        assert_eq!(dead.len(), 1, "{name}: in the dead-letter queue");
        assert_eq!(dead[0].body, "poison");
        dlq.delete(&dead[0].receipt).await.unwrap();
    }
}

async fn fifo_groups_are_ordered_and_exclusive(f: &dyn Fixture) {
    let b = f.backend().await;
    let q = b.handler_queue.as_ref();
    for (g, body) in [
        ("a", "a1"),
        ("b", "b1"),
        ("a", "a2"),
        ("a", "a3"),
        ("b", "b2"),
    ] {
        q.send(NewMessage::new(body).group(g)).await.unwrap();
    }

    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rounds = 0;
    while seen.values().map(Vec::len).sum::<usize>() < 5 {
        rounds += 1;
        assert!(
            rounds <= 10,
            "all five delivered within ten rounds: {seen:?}"
        );
        let batch = receive_n(q, 1, LONG).await;
        assert!(!batch.is_empty(), "a group is ready: {seen:?}");
        let mut more = batch.clone();
        more.extend(receive_now(q, 10, LONG).await);
        // While a group has a message in flight, no one else gets its next one.
        let in_flight: Vec<_> = batch.iter().filter_map(|m| m.group.clone()).collect();
        for m in &more[batch.len()..] {
            assert!(
                !in_flight.contains(m.group.as_ref().unwrap()),
                "{} handed out while its group was in flight",
                m.body
            );
        }
        for m in &more {
            let g = m.group.clone().expect("FIFO messages keep their group");
            seen.entry(g).or_default().push(m.body.clone());
        }
        let receipts: Vec<_> = more.iter().map(|m| m.receipt.clone()).collect();
        q.delete_batch(&receipts).await.unwrap();
    }
    assert_eq!(seen["a"], ["a1", "a2", "a3"]);
    assert_eq!(seen["b"], ["b1", "b2"]);
}

async fn fifo_dedup_id_drops_a_repeat(f: &dyn Fixture) {
    let b = f.backend().await;
    let q = b.events_queue.as_ref();
    let msg = NewMessage {
        dedup_id: Some("event-1".into()),
        ..NewMessage::new("once").group("s")
    };
    q.send(msg.clone()).await.unwrap();
    q.send(msg).await.unwrap();
    q.send(NewMessage::new("other").group("t")).await.unwrap();
    let got = receive_n(q, 2, LONG).await;
    let mut bodies: Vec<_> = got.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, ["once", "other"]);
    for m in &got {
        q.delete(&m.receipt).await.unwrap();
    }
    assert!(
        receive_now(q, 10, LONG).await.is_empty(),
        "the repeat was dropped"
    );
}

async fn delays_hold_a_message_back(f: &dyn Fixture) {
    let b = f.backend().await;
    let q = b.delivery_queue.as_ref();
    q.send(NewMessage::new("later").delay(SHORT)).await.unwrap();
    q.send(NewMessage::new("now")).await.unwrap();
    let first = receive_n(q, 1, LONG).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].body, "now");
    assert!(
        receive_now(q, 10, LONG).await.is_empty(),
        "the delayed one waits"
    );
    f.pass(SHORT + Duration::from_millis(500)).await;
    let later = receive_n(q, 1, LONG).await;
    assert_eq!(later.len(), 1, "shown once its delay passed");
    assert_eq!(later[0].body, "later");
}

async fn attributes_batches_and_length(f: &dyn Fixture) {
    let b = f.backend().await;
    let q = b.delivery_queue.as_ref();
    let msgs: Vec<_> = (0..12)
        .map(|i| NewMessage::new(format!("m{i}")).attribute("n", i.to_string()))
        .collect();
    let ids = q.send_batch(msgs).await.unwrap();
    assert_eq!(ids.len(), 12);
    assert!(ids.iter().all(|id| !id.is_empty()));
    assert_eq!(q.approximate_len().await.unwrap(), 12);

    let got = receive_n(q, 12, LONG).await;
    assert_eq!(got.len(), 12);
    for m in &got {
        assert_eq!(m.body, format!("m{}", m.attributes["n"]));
        assert!(ids.contains(&m.message_id));
    }
    let receipts: Vec<_> = got.iter().map(|m| m.receipt.clone()).collect();
    q.delete_batch(&receipts).await.unwrap();
    assert_eq!(q.approximate_len().await.unwrap(), 0);
}

async fn too_large_messages_are_refused_as_such(f: &dyn Fixture) {
    let b = f.backend().await;
    let body = "x".repeat(1024 * 1024 + 1);
    for q in [&b.handler_queue, &b.delivery_queue] {
        match q.send(NewMessage::new(body.clone()).group("g")).await {
            Err(QueueError::TooLarge { size, limit }) => {
                assert!(size > limit, "{size} > {limit}");
            }
            other => panic!("{}: expected TooLarge, got {other:?}", q.name()),
        }
    }
}

async fn exactly_one_concurrent_creator(f: &dyn Fixture) {
    let store = f.backend().await.store;
    let now = Utc::now().timestamp();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.spawn(async move {
            let item = Item::new("session:s1", "", json!({ "creator": i }));
            let won = store
                .put_if_absent(Table::Sessions, item, now)
                .await
                .unwrap();
            (i, won)
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (i, won) = r.unwrap();
        if let Some(version) = won {
            assert_eq!(version, 1, "the creator learns the first version");
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creator: {winners:?}");
    let it = store
        .get(Table::Sessions, "session:s1", "", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(it.value["creator"], winners[0]);
    assert_eq!(it.version, 1);
}

async fn versioned_writes_detect_conflicts(f: &dyn Fixture) {
    let store = f.backend().await.store;
    let now = Utc::now().timestamp();
    let t = Table::Sessions;
    let item = |n: i64| Item::new("s", "state", json!({ "n": n }));

    assert_eq!(
        store.put_if_version(t, item(0), 0, now).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.put_if_version(t, item(9), 0, now).await.unwrap(),
        None,
        "0 means absent"
    );
    assert_eq!(
        store.put_if_version(t, item(1), 1, now).await.unwrap(),
        Some(2),
        "a writer learns the version it wrote"
    );
    assert_eq!(
        store.put_if_version(t, item(9), 1, now).await.unwrap(),
        None,
        "stale version"
    );
    let got = store.get(t, "s", "state", now).await.unwrap().unwrap();
    assert_eq!((got.value["n"].as_i64(), got.version), (Some(1), 2));
    assert_eq!(
        store.put(t, item(5)).await.unwrap(),
        3,
        "a plain put bumps too"
    );

    // Read-modify-write from eight writers at once: no increment is lost.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for _ in 0..50 {
                let cur = store.get(t, "s", "state", now).await.unwrap().unwrap();
                let next = Item::new(
                    "s",
                    "state",
                    json!({ "n": cur.value["n"].as_i64().unwrap() + 1 }),
                );
                if store
                    .put_if_version(t, next, cur.version, now)
                    .await
                    .unwrap()
                    .is_some()
                {
                    return;
                }
            }
            panic!("no write won in 50 tries");
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let end = store.get(t, "s", "state", now).await.unwrap().unwrap();
    assert_eq!(end.value["n"], 13);
    assert_eq!(end.version, 11);
}

async fn dedup_keys_expire(f: &dyn Fixture) {
    let store = f.backend().await.store;
    // Ahead of real time, so no emulator's TTL sweeper removes anything early.
    let now = Utc::now().timestamp() + 86_400;
    let key = |v: &str| {
        Item::new("github\u{0}delivery-1", "", json!({ "eventId": v })).expires_at(now + 300)
    };
    assert!(store
        .put_if_absent(Table::Dedup, key("e1"), now)
        .await
        .unwrap()
        .is_some());
    assert!(
        store
            .put_if_absent(Table::Dedup, key("e2"), now + 299)
            .await
            .unwrap()
            .is_none(),
        "a repeat inside the window"
    );
    let first = store
        .get(Table::Dedup, "github\u{0}delivery-1", "", now + 299)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.value["eventId"], "e1");
    assert!(
        store
            .put_if_absent(Table::Dedup, key("e3").expires_at(now + 900), now + 300)
            .await
            .unwrap()
            .is_some(),
        "the window is over: the key is free again"
    );
    let again = store
        .get(Table::Dedup, "github\u{0}delivery-1", "", now + 300)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.value["eventId"], "e3");
}

async fn expired_items_are_absent_to_every_read(f: &dyn Fixture) {
    let store = f.backend().await.store;
    let t = Table::Deliveries;
    let now = Utc::now().timestamp() + 86_400;
    store
        .put(t, Item::new("ev", "a", json!(1)).expires_at(now + 10))
        .await
        .unwrap();
    store.put(t, Item::new("ev", "b", json!(2))).await.unwrap();

    let alive = store.get(t, "ev", "a", now + 9).await.unwrap();
    assert_eq!(alive.map(|i| i.expires_at), Some(Some(now + 10)));
    assert!(store.get(t, "ev", "a", now + 10).await.unwrap().is_none());
    let q: Vec<_> = store.query(t, "ev", 10, now + 10).await.unwrap();
    assert_eq!(q.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["b"]);
    let s = store.scan(t, 10, now + 10).await.unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].sk, "b");

    // An expired item cannot be updated by version; it can be created anew.
    let old = Item::new("ev", "a", json!(3)).expires_at(now + 100);
    assert!(store
        .put_if_version(t, old.clone(), 1, now + 10)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.put_if_version(t, old, 0, now + 10).await.unwrap(),
        Some(1)
    );
    let back = store.get(t, "ev", "a", now + 10).await.unwrap().unwrap();
    assert_eq!((back.value.clone(), back.version), (json!(3), 1));
}

async fn query_orders_by_sort_key_and_scan_sees_the_table(f: &dyn Fixture) {
    let store = f.backend().await.store;
    let t = Table::Events;
    let now = Utc::now().timestamp();
    for sk in ["b", "", "c", "a"] {
        store
            .put(t, Item::new("p", sk, json!({ "sk": sk })))
            .await
            .unwrap();
    }
    store
        .put(t, Item::new("other", "x", json!(0)))
        .await
        .unwrap();
    let all = store.query(t, "p", 10, now).await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(),
        ["", "a", "b", "c"]
    );
    assert!(all.iter().all(|i| i.value["sk"] == i.sk.as_str()));
    let two = store.query(t, "p", 2, now).await.unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[1].sk, "a");

    let mut keys: Vec<_> = store
        .scan(t, 100, now)
        .await
        .unwrap()
        .into_iter()
        .map(|i| format!("{}/{}", i.pk, i.sk))
        .collect();
    keys.sort();
    assert_eq!(keys, ["other/x", "p/", "p/a", "p/b", "p/c"]);
    assert_eq!(store.scan(t, 3, now).await.unwrap().len(), 3);

    store.delete(t, "p", "a").await.unwrap();
    assert!(store.get(t, "p", "a", now).await.unwrap().is_none());
}

/// An ingress over `backend`, authenticating with the secret `s`.
fn ingress_over(backend: Backend) -> clawhooks::ingress::Ingress {
    let config =
        clawhooks::config::load_str(r#"{"webhooks": {"incoming": {"secret": "s"}}}"#, &|_| None)
            .expect("config loads");
    clawhooks::ingress::Ingress {
        config: Arc::new(config),
        backend,
        clock: Arc::new(clawhooks::ports::SystemClock),
    }
}

/// Posts one hook with an idempotency key; the answer's status and body.
async fn post_keyed(ingress: &clawhooks::ingress::Ingress, key: &str) -> (u16, serde_json::Value) {
    let req = clawhooks_e2e::ingress_kit::post(
        "/webhook/orders",
        &[("x-webhook-secret", "s"), ("idempotency-key", key)],
        br#"{"n": 1}"#,
    );
    let answer = clawhooks::api::serve(ingress, req).await;
    (answer.status.as_u16(), answer.body)
}

/// The event ids of the messages waiting in the handler queue.
async fn queued_event_ids(b: &Backend) -> Vec<String> {
    let mut ids: Vec<String> = receive_n(b.handler_queue.as_ref(), 10, LONG)
        .await
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m.body).unwrap()["eventId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Short polls of a real SQS may miss a message: ask once more for strays.
    ids.extend(
        receive_now(b.handler_queue.as_ref(), 10, LONG)
            .await
            .iter()
            .map(|m| {
                serde_json::from_str::<serde_json::Value>(&m.body).unwrap()["eventId"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }),
    );
    ids
}

async fn intake_keeps_claim_status_and_message_once_per_key(f: &dyn Fixture) {
    let b = f.backend().await;
    let ingress = ingress_over(b.clone());
    let (status, first) = post_keyed(&ingress, "k-1").await;
    assert_eq!(status, 202, "{first}");
    let event_id = first["eventId"].as_str().unwrap().to_string();
    let (status, again) = post_keyed(&ingress, "k-1").await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(
        again["eventId"], first["eventId"],
        "a repeat answers the first event id"
    );
    assert_eq!(again["duplicate"], true);

    let now = Utc::now().timestamp();
    let record = b
        .store
        .get(Table::Events, &event_id, "status", now)
        .await
        .unwrap();
    assert_eq!(record.expect("status record").value["status"], "queued");
    // One message for the key: a repeat is never queued as a second event
    // (on SQS a second copy under the same event id is dropped by FIFO dedup).
    let ids = queued_event_ids(&b).await;
    assert_eq!(
        ids,
        [event_id],
        "one message, for the first request's event"
    );
}

/// `b` with the provisional-claim intake of SQS and DynamoDB, whatever
/// store and queue it has, so that protocol is checked on every backend.
fn sequenced(mut b: Backend) -> Backend {
    b.intake = Arc::new(clawhooks::aws::intake::SequencedIntake::new(
        b.store.clone(),
        b.handler_queue.clone(),
    ));
    b
}

/// The state a crash (or a failed send) right after the claim leaves
/// behind on a backend with no transaction across store and queue: a
/// claim naming an event id, and no message.
async fn a_retry_sends_again_a_claimed_hook_that_was_never_queued(f: &dyn Fixture) {
    let b = sequenced(f.backend().await);
    let now = Utc::now().timestamp();
    let claim = Item::new(
        "orders\u{0}k-2",
        "",
        json!({"eventId": "evt-lost", "sessionKey": "hook:lost"}),
    )
    .expires_at(now + 3600);
    assert!(b
        .store
        .put_if_absent(Table::Dedup, claim, now)
        .await
        .unwrap()
        .is_some());

    let ingress = ingress_over(b.clone());
    let (status, answer) = post_keyed(&ingress, "k-2").await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        answer["eventId"], "evt-lost",
        "the retry keeps the claimed event id"
    );
    assert_eq!(answer["sessionKey"], "hook:lost");
    let record = b
        .store
        .get(Table::Events, "evt-lost", "status", now)
        .await
        .unwrap();
    assert_eq!(
        record.expect("status record written by the retry").value["status"],
        "queued"
    );
    assert_eq!(
        queued_event_ids(&b).await,
        ["evt-lost"],
        "the lost hook is queued under its own id"
    );
}

async fn a_retry_of_a_started_hook_is_not_sent_again(f: &dyn Fixture) {
    let b = sequenced(f.backend().await);
    let ingress = ingress_over(b.clone());
    let (_, first) = post_keyed(&ingress, "k-3").await;
    let event_id = first["eventId"].as_str().unwrap().to_string();
    // The handler takes the message and marks the event started.
    let taken = receive_n(b.handler_queue.as_ref(), 1, LONG).await;
    assert_eq!(taken.len(), 1);
    let now = Utc::now().timestamp();
    let mut record = b
        .store
        .get(Table::Events, &event_id, "status", now)
        .await
        .unwrap()
        .unwrap();
    record.value["status"] = json!("processing");
    b.store.put(Table::Events, record).await.unwrap();

    let (status, again) = post_keyed(&ingress, "k-3").await;
    assert_eq!(
        (status, again["eventId"].as_str()),
        (202, Some(event_id.as_str()))
    );
    assert!(
        queued_event_ids(&b).await.is_empty(),
        "a started hook is not queued again"
    );
}

/// The bodies of peeked messages, sorted (standard queues keep no order);
/// a peeked message comes without a receipt.
fn peeked_bodies(msgs: Vec<Received>) -> Vec<String> {
    let mut bodies: Vec<String> = msgs
        .into_iter()
        .map(|m| {
            assert!(m.receipt.is_empty(), "a peek hands out no receipt");
            m.body
        })
        .collect();
    bodies.sort();
    bodies
}

/// On a dead-letter queue, the kind listings read (on SQS a peek counts as
/// a receive, and a FIFO queue cannot be peeked: see `SqsQueue::peek`).
async fn peeking_hides_and_consumes_nothing(f: &dyn Fixture) {
    let b = f.backend().await;
    let q = b.delivery_dlq.as_ref();
    for i in 0..3 {
        q.send(NewMessage::new(format!("p{i}"))).await.unwrap();
    }
    let all = ["p0", "p1", "p2"];
    assert_eq!(peeked_bodies(q.peek(10).await.unwrap()), all);
    assert_eq!(
        peeked_bodies(q.peek(10).await.unwrap()),
        all,
        "the same ones again"
    );
    assert_eq!(q.peek(2).await.unwrap().len(), 2, "at most max");
    let got = receive_n(q, 3, LONG).await;
    assert_eq!(got.len(), 3, "none hidden by the peeks");
    let receipts: Vec<_> = got.iter().map(|m| m.receipt.clone()).collect();
    q.delete_batch(&receipts).await.unwrap();
}

/// A dead letter as egress writes one, for `subscription`.
fn dead_letter(n: usize, subscription: &str, at: DateTime<Utc>) -> DeliveryJob {
    let event = serde_json::from_value(json!({
        "id": format!("ev-{n}"), "type": "message_received", "session": "hook:1",
        "message": {"from": "x", "text": "hi", "timestamp": "2026-01-01T00:00:00.000Z"},
        "timestamp": "2026-01-01T00:00:00.000Z"
    }))
    .unwrap();
    let mut job = DeliveryJob::first(event, subscription);
    job.dead_lettered_at = Some(at);
    job.last_error = Some("HTTP 500".into());
    job
}

/// Listing dead letters leaves them where they are: a second listing shows
/// the same ones, and a replay right after takes every one.
async fn dead_letters_are_listed_in_place_then_all_replayed(f: &dyn Fixture) {
    let b = f.backend().await;
    let now = Utc::now();
    for n in 0..5 {
        b.delivery_dlq
            .send(dead_letter(n, "s", now).message(now))
            .await
            .unwrap();
    }
    let all = ReplayFilter::default();
    let ids = |jobs: Vec<DeliveryJob>| {
        let mut ids: Vec<String> = jobs.into_iter().map(|j| j.event.id).collect();
        ids.sort();
        ids
    };
    let first = ids(replay::list(b.delivery_dlq.as_ref(), &all).await.unwrap());
    assert_eq!(first.len(), 5);
    let second = ids(replay::list(b.delivery_dlq.as_ref(), &all).await.unwrap());
    assert_eq!(second, first, "listed twice: the same dead letters");

    let report = replay::replay(&b, &all, now).await.unwrap();
    assert_eq!(report.replayed, 5, "{report:?}");
    let back = receive_n(b.delivery_queue.as_ref(), 5, LONG).await;
    assert_eq!(back.len(), 5, "every one back on the delivery queue");
}

/// A message no stage can read goes to the dead-letter queue of the queue
/// it came from, body and attributes as sent plus the reason, and leaves
/// its queue.
async fn unreadable_messages_are_dead_lettered_with_their_body(f: &dyn Fixture) {
    let b = f.backend().await;
    let config = Arc::new(load_str("{}", &|_| None).unwrap());
    let http = Arc::new(clawhooks_e2e::loopback_http());
    let handler = HandlerStage::new(config.clone(), b.clone(), http.clone(), f.clock());
    let egress = EgressStage::new(config, b.clone(), http, f.clock()).unwrap();
    let garbage = NewMessage::new("not an inbound event").group("s1");
    dead_lettered_whole(&b.handler_queue, &b.handler_dlq, &handler, garbage).await;
    let not_an_event = NewMessage::new(r#"{"type": 7}"#).group("s1");
    dead_lettered_whole(&b.events_queue, &b.events_dlq, &egress, not_an_event).await;
    let broken_job = NewMessage::new(r#"{"kind": "delivery"}"#).attribute("kind", "delivery");
    dead_lettered_whole(&b.delivery_queue, &b.delivery_dlq, &egress, broken_job).await;
}

/// Sends `msg` to `q`, has `stage` process it, and checks it left `q` for
/// `dlq` whole.
async fn dead_lettered_whole(
    q: &Arc<dyn Queue>,
    dlq: &Arc<dyn Queue>,
    stage: &dyn Stage,
    msg: NewMessage,
) {
    let name = q.name().to_string();
    let (body, attributes) = (msg.body.clone(), msg.attributes.clone());
    q.send(msg).await.unwrap();
    let got = receive_n(q.as_ref(), 1, LONG).await;
    assert_eq!(got.len(), 1, "{name}");
    assert!(
        process_one(q.as_ref(), stage, &got[0]).await,
        "{name}: done once dead-lettered"
    );
    let dead = receive_n(dlq.as_ref(), 1, LONG).await;
    assert_eq!(dead.len(), 1, "{name}: in its dead-letter queue");
    assert_eq!(dead[0].body, body, "{name}: body intact");
    for (k, v) in &attributes {
        assert_eq!(dead[0].attributes.get(k), Some(v), "{name}: attribute {k}");
    }
    let reason = &dead[0].attributes[DEAD_LETTER_REASON];
    assert!(reason.starts_with("not "), "{name}: {reason}");
    assert!(
        receive_now(q.as_ref(), 10, LONG).await.is_empty(),
        "{name}: gone from its queue"
    );
}

/// 200 items indexed 0, 10, … 1990 and written out of order, ten
/// consecutive keys per partition, beside one without an index key and one
/// expired: a read of the index sees the whole table in key order, from
/// either end, within its bounds. On DynamoDB a partition's items share a
/// shard, so the first 25 come from three shards in pages of six: reads
/// merge shards and page through them.
async fn query_index_reads_either_end_of_the_whole_table(f: &dyn Fixture) {
    use IndexOrder::{Ascending, Descending};
    let store = f.backend().await.store;
    let now = Utc::now().timestamp() + 86_400;
    for i in (0..200).map(|i| i * 7 % 200) {
        let item = Item::new(format!("p{:02}", i / 10), format!("s{i:03}"), json!(i));
        let item = item.index_key(i * 10);
        store.put(Table::Sessions, item).await.unwrap();
    }
    let plain = Item::new("plain", "s", json!("not indexed"));
    store.put(Table::Sessions, plain).await.unwrap();
    let expired = Item::new("expired", "s", json!("gone")).index_key(5);
    store
        .put(Table::Sessions, expired.expires_at(now))
        .await
        .unwrap();
    let read =
        |keys, order, limit| index_keys(store.as_ref(), Table::Sessions, keys, order, limit, now);

    let first = read(i64::MIN..=i64::MAX, Ascending, 25).await;
    assert_eq!(first, (0..25).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(read(0..=i64::MAX, Descending, 3).await, [1990, 1980, 1970]);
    assert_eq!(
        read(95..=150, Ascending, 100).await,
        [100, 110, 120, 130, 140, 150]
    );
    assert_eq!(read(95..=150, Descending, 2).await, [150, 140]);
    let all = read(i64::MIN..=i64::MAX, Descending, 1000).await;
    assert_eq!(all, (0..200).rev().map(|i| i * 10).collect::<Vec<_>>());
    assert!(read(2000..=i64::MAX, Ascending, 10).await.is_empty());
    let (from, to) = (10, 9);
    assert!(
        read(from..=to, Ascending, 10).await.is_empty(),
        "an empty range"
    );

    let got = store
        .query_index(Table::Sessions, 70..=70, Ascending, 1, now)
        .await
        .unwrap();
    assert_eq!(
        (got[0].pk.as_str(), got[0].sk.as_str(), got[0].index_key),
        ("p00", "s007", Some(70)),
    );
    assert_eq!(got[0].value, json!(7), "whole items come back");
}

/// Plain, conditional and versioned writes all set, move or clear an
/// item's place in the index.
async fn index_keys_follow_every_kind_of_write(f: &dyn Fixture) {
    use IndexOrder::Ascending;
    let store = f.backend().await.store;
    let t = Table::Deliveries;
    let now = Utc::now().timestamp() + 86_400;
    let all = || index_keys(store.as_ref(), t, i64::MIN..=i64::MAX, Ascending, 100, now);
    let at = |pk: &str, key: i64| Item::new(pk, "s", json!(pk)).index_key(key);

    assert!(store
        .put_if_absent(t, at("a", 30), now)
        .await
        .unwrap()
        .is_some());
    store.put(t, at("b", 20)).await.unwrap();
    assert_eq!(all().await, [20, 30]);

    store.put(t, at("b", 40)).await.unwrap();
    assert_eq!(all().await, [30, 40], "a plain write moves the item");
    let a = store.get(t, "a", "s", now).await.unwrap().unwrap();
    assert_eq!(a.index_key, Some(30));
    assert!(store
        .put_if_version(t, at("a", -10), a.version, now)
        .await
        .unwrap()
        .is_some());
    assert_eq!(all().await, [-10, 40], "so does a versioned one");
    let a = store.get(t, "a", "s", now).await.unwrap().unwrap();
    let unindexed = Item::new("a", "s", json!("done"));
    assert!(store
        .put_if_version(t, unindexed, a.version, now)
        .await
        .unwrap()
        .is_some());
    store
        .put(t, Item::new("b", "s", json!("done")))
        .await
        .unwrap();
    assert!(
        all().await.is_empty(),
        "writes without a key leave the index"
    );
    assert_eq!(
        store
            .get(t, "a", "s", now)
            .await
            .unwrap()
            .unwrap()
            .index_key,
        None
    );
}

/// The index keys of what a read of the index returns.
async fn index_keys(
    store: &dyn Store,
    table: Table,
    keys: std::ops::RangeInclusive<i64>,
    order: IndexOrder,
    limit: usize,
    now: i64,
) -> Vec<i64> {
    store
        .query_index(table, keys, order, limit, now)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.index_key.expect("indexed items carry their key"))
        .collect()
}
