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
use chrono::Utc;
use clawhooks::aws::{bootstrap, BootstrapSettings};
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::ports::{
    Backend, IndexOrder, Item, NewMessage, Queue, QueueError, Received, Store, Table, TestClock,
};
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
    query_index_reads_either_end_of_the_whole_table,
    index_keys_follow_every_kind_of_write,
);

/// What is visible now, without waiting (SQS short poll; the emulators and
/// the embedded queue answer exactly).
async fn receive_now(q: &dyn Queue, max: usize, visibility: Duration) -> Vec<Received> {
    q.receive(max, visibility, Duration::ZERO).await.unwrap()
}

/// Receives until `n` messages came or 5 s passed (for the emulators'
/// asynchronous moves, such as a redrive).
async fn receive_n(q: &dyn Queue, n: usize, visibility: Duration) -> Vec<Received> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while got.len() < n && tokio::time::Instant::now() < deadline {
        got.extend(receive_now(q, n - got.len(), visibility).await);
        if got.len() < n {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    got
}

const SEC: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(60);

async fn visibility_timeout_and_receive_count(f: &dyn Fixture) {
    let b = f.backend().await;
    let q = b.delivery_queue.as_ref();
    q.send(NewMessage::new("hello")).await.unwrap();

    let first = receive_n(q, 1, SEC).await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].body.as_str(), first[0].receive_count),
        ("hello", 1)
    );
    assert!(
        receive_now(q, 10, SEC).await.is_empty(),
        "hidden while its visibility timeout runs"
    );

    f.pass(Duration::from_millis(1600)).await;
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
    q.send(NewMessage::new("later").delay(2 * SEC))
        .await
        .unwrap();
    q.send(NewMessage::new("now")).await.unwrap();
    let first = receive_n(q, 1, LONG).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].body, "now");
    assert!(
        receive_now(q, 10, LONG).await.is_empty(),
        "the delayed one waits"
    );
    f.pass(Duration::from_millis(2500)).await;
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
        if won {
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

    assert!(store.put_if_version(t, item(0), 0, now).await.unwrap());
    assert!(
        !store.put_if_version(t, item(9), 0, now).await.unwrap(),
        "0 means absent"
    );
    assert!(store.put_if_version(t, item(1), 1, now).await.unwrap());
    assert!(
        !store.put_if_version(t, item(9), 1, now).await.unwrap(),
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
        .unwrap());
    assert!(
        !store
            .put_if_absent(Table::Dedup, key("e2"), now + 299)
            .await
            .unwrap(),
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
            .unwrap(),
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
    assert!(!store
        .put_if_version(t, old.clone(), 1, now + 10)
        .await
        .unwrap());
    assert!(store.put_if_version(t, old, 0, now + 10).await.unwrap());
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

    assert!(store.put_if_absent(t, at("a", 30), now).await.unwrap());
    store.put(t, at("b", 20)).await.unwrap();
    assert_eq!(all().await, [20, 30]);

    store.put(t, at("b", 40)).await.unwrap();
    assert_eq!(all().await, [30, 40], "a plain write moves the item");
    let a = store.get(t, "a", "s", now).await.unwrap().unwrap();
    assert_eq!(a.index_key, Some(30));
    assert!(store
        .put_if_version(t, at("a", -10), a.version, now)
        .await
        .unwrap());
    assert_eq!(all().await, [-10, 40], "so does a versioned one");
    let a = store.get(t, "a", "s", now).await.unwrap().unwrap();
    let unindexed = Item::new("a", "s", json!("done"));
    assert!(store
        .put_if_version(t, unindexed, a.version, now)
        .await
        .unwrap());
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
