//! Behaviour of the embedded backend that the stages rely on. The shared
//! conformance suite (tests/tests/conformance.rs) runs the same contract
//! against SQS and DynamoDB.

use super::*;
use crate::ports::{Item, NewMessage, Queue, Store, Table, TestClock};
use chrono::{TimeZone, Utc};
use std::time::Duration;

fn clocked() -> (Embedded, Arc<TestClock>) {
    let clock = Arc::new(TestClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    ));
    (Embedded::memory().unwrap().with_clock(clock.clone()), clock)
}

const NO_WAIT: Duration = Duration::ZERO;

fn fifo(db: &Embedded, name: &str) -> EmbeddedQueue {
    let fifo = QueueOptions {
        fifo: true,
        ..Default::default()
    };
    db.queue(name, fifo)
}

fn bodies(msgs: &[crate::ports::Received]) -> Vec<&str> {
    msgs.iter().map(|m| m.body.as_str()).collect()
}

#[tokio::test]
async fn visibility_timeout_and_receive_count() {
    let (db, clock) = clocked();
    let q = db.queue("q", QueueOptions::default());
    q.send(NewMessage::new("a")).await.unwrap();
    let first = q
        .receive(10, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert!(
        q.receive(10, Duration::from_secs(30), NO_WAIT)
            .await
            .unwrap()
            .is_empty(),
        "hidden while in flight"
    );
    clock.advance(chrono::Duration::seconds(31));
    let again = q
        .receive(10, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(again[0].receive_count, 2);
    // The old receipt is stale: deleting with it does nothing.
    q.delete(&first[0].receipt).await.unwrap();
    assert_eq!(q.approximate_len().await.unwrap(), 1);
    q.delete(&again[0].receipt).await.unwrap();
    assert_eq!(q.approximate_len().await.unwrap(), 0);
}

#[tokio::test]
async fn redrive_after_max_receive_count() {
    let (db, clock) = clocked();
    let q = db.queue(
        "q",
        QueueOptions {
            fifo: false,
            max_receive_count: 2,
            dead_letter: Some("dlq".into()),
        },
    );
    let dlq = db.queue("dlq", QueueOptions::default());
    q.send(NewMessage::new("poison")).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            q.receive(1, Duration::from_secs(1), NO_WAIT)
                .await
                .unwrap()
                .len(),
            1
        );
        clock.advance(chrono::Duration::seconds(2));
    }
    assert!(q
        .receive(1, Duration::from_secs(1), NO_WAIT)
        .await
        .unwrap()
        .is_empty());
    let dead = dlq
        .receive(10, Duration::from_secs(1), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
}

#[tokio::test]
async fn fifo_groups_are_ordered_and_exclusive() {
    let (db, _clock) = clocked();
    let q = fifo(&db, "f");
    for (g, b) in [("s1", "1a"), ("s2", "2a"), ("s1", "1b"), ("s1", "1c")] {
        q.send(NewMessage::new(b).group(g)).await.unwrap();
    }
    let got = q
        .receive(10, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(bodies(&got), ["1a", "2a"], "one head per group");
    assert!(q
        .receive(10, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap()
        .is_empty());
    q.delete(&got[0].receipt).await.unwrap();
    let next = q
        .receive(10, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["1b"]
    );
}

#[tokio::test]
async fn fifo_dedup_id_drops_repeats() {
    let (db, _clock) = clocked();
    let q = fifo(&db, "f");
    for _ in 0..3 {
        q.send(NewMessage {
            dedup_id: Some("same".into()),
            ..NewMessage::new("x").group("g")
        })
        .await
        .unwrap();
    }
    assert_eq!(q.approximate_len().await.unwrap(), 1);
}

#[tokio::test]
async fn delays_follow_the_clock() {
    let (db, clock) = clocked();
    let q = db.queue("d", QueueOptions::default());
    q.send(NewMessage::new("later").delay(Duration::from_secs(90)))
        .await
        .unwrap();
    assert!(q
        .receive(1, Duration::from_secs(5), NO_WAIT)
        .await
        .unwrap()
        .is_empty());
    clock.advance(chrono::Duration::seconds(89));
    assert!(q
        .receive(1, Duration::from_secs(5), NO_WAIT)
        .await
        .unwrap()
        .is_empty());
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        q.receive(1, Duration::from_secs(5), NO_WAIT)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn long_poll_wakes_on_send() {
    let db = Embedded::memory().unwrap();
    let q = Arc::new(db.queue("w", QueueOptions::default()));
    let q2 = q.clone();
    let waiter = tokio::spawn(async move {
        q2.receive(1, Duration::from_secs(5), Duration::from_secs(5))
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    q.send(NewMessage::new("hi")).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken before the wait ended")
        .unwrap();
    assert_eq!(got[0].body, "hi");
}

#[tokio::test]
async fn conditional_writes_and_expiry() {
    let (db, _clock) = clocked();
    let s = db.store();
    let item = Item::new("k", "", serde_json::json!({"n": 1})).expires_at(100);
    assert_eq!(
        s.put_if_absent(Table::Dedup, item.clone(), 50)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        s.put_if_absent(Table::Dedup, item.clone(), 50)
            .await
            .unwrap(),
        None
    );
    assert!(s.get(Table::Dedup, "k", "", 99).await.unwrap().is_some());
    assert!(
        s.get(Table::Dedup, "k", "", 100).await.unwrap().is_none(),
        "expired items are absent"
    );
    assert!(
        s.put_if_absent(Table::Dedup, item.expires_at(500), 100)
            .await
            .unwrap()
            .is_some(),
        "an expired item does not block"
    );

    let v1 = Item::new("sess", "meta", serde_json::json!({"count": 1}));
    assert_eq!(
        s.put_if_version(Table::Sessions, v1.clone(), 0, 0)
            .await
            .unwrap(),
        Some(1)
    );
    let stored = s
        .get(Table::Sessions, "sess", "meta", 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(
        s.put_if_version(Table::Sessions, v1.clone(), 1, 0)
            .await
            .unwrap(),
        Some(2)
    );
    assert!(
        s.put_if_version(Table::Sessions, v1, 1, 0)
            .await
            .unwrap()
            .is_none(),
        "stale version loses"
    );
}

#[tokio::test]
async fn exactly_one_concurrent_creator() {
    let db = Embedded::memory().unwrap();
    let s = Arc::new(db.store());
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.put_if_absent(
                Table::Sessions,
                Item::new("one", "meta", serde_json::json!({ "by": i })),
                0,
            )
            .await
            .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += t.await.unwrap().is_some() as usize;
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn survives_reopen_and_recovers_in_flight() {
    let dir = std::env::temp_dir().join(format!("clawhooks-embedded-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    {
        let db = Embedded::open(&path).unwrap();
        let q = db.queue("q", QueueOptions::default());
        q.send(NewMessage::new("in flight")).await.unwrap();
        q.send(NewMessage::new("waiting")).await.unwrap();
        let got = q
            .receive(1, Duration::from_secs(600), NO_WAIT)
            .await
            .unwrap();
        assert_eq!(got[0].body, "in flight");
    }
    let db = Embedded::open(&path).unwrap();
    assert_eq!(db.recover_in_flight().unwrap(), 1);
    let q = db.queue("q", QueueOptions::default());
    let mut bodies: Vec<String> = q
        .receive(10, Duration::from_secs(5), NO_WAIT)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["in flight", "waiting"]);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_failing_write_leaves_nothing_behind_and_its_batch_mates_alone() {
    let e = Embedded::memory().unwrap();
    let db = e.db.clone();
    let insert = |pk: &'static str, value: &'static str| {
        move |c: &rusqlite::Connection| {
            c.execute(
                "INSERT INTO items (tbl, pk, sk, value, version) VALUES ('t', ?1, '', ?2, 1)",
                [pk, value],
            )
        }
    };
    db.write(insert("a", "first")).await.unwrap();
    // Sent together, so they usually share one commit: a job that breaks
    // the key, a job whose second statement breaks it (its first must be
    // undone too), and a good one, which must be kept.
    let (bad_one, bad_two, good) = tokio::join!(
        db.write(insert("a", "second")),
        db.write(move |c| {
            insert("b", "half")(c)?;
            insert("a", "third")(c)
        }),
        db.write(insert("c", "kept")),
    );
    assert!(bad_one.is_err() && bad_two.is_err());
    good.unwrap();
    let conn = db.conn.lock().unwrap();
    let rows: Vec<(String, String)> = conn
        .prepare("SELECT pk, value FROM items WHERE tbl = 't' ORDER BY pk")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let pairs: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(pairs, [("a", "first"), ("c", "kept")]);
}

/// One batch, built by hand so the three jobs surely share it: the good
/// jobs before and after a failing one are committed with the answers of
/// the run that was committed, and the failing job's first statement is
/// undone with it.
#[tokio::test]
async fn a_batch_with_a_failing_job_is_run_again_and_keeps_the_others() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    create_schema(&conn).unwrap();
    conn.execute(
        "INSERT INTO items (tbl, pk, sk, value, version) VALUES ('t', 'taken', '', 'x', 1)",
        [],
    )
    .unwrap();
    let insert = |c: &Connection, pk: &str| -> rusqlite::Result<i64> {
        c.query_row(
            "INSERT INTO items (tbl, pk, sk, value, version) VALUES ('t', ?1, '', 'v', 1) RETURNING (SELECT count(*) FROM items)",
            [pk],
            |r| r.get(0),
        )
    };
    let (before, rx1) = Write::new(move |c: &Connection| insert(c, "before"));
    let (half, rx2) = Write::new(move |c: &Connection| {
        insert(c, "half")?;
        insert(c, "taken")
    });
    let (after, rx3) = Write::new(move |c: &Connection| insert(c, "after"));
    let mut batch: Vec<Box<dyn Job>> = vec![before, half, after];
    let outcome = run_batch(&conn, &mut batch);
    assert_eq!(outcome, Ok(()));
    for job in batch {
        job.answer(outcome.clone());
    }
    // Counts as the committed run saw them: "half" never counts.
    assert_eq!(rx1.await.unwrap(), Ok(2));
    assert!(rx2.await.unwrap().unwrap_err().contains("UNIQUE"));
    assert_eq!(rx3.await.unwrap(), Ok(3));
    let kept: Vec<String> = conn
        .prepare("SELECT pk FROM items ORDER BY pk")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept, ["after", "before", "taken"]);
    assert!(conn.is_autocommit(), "the batch's transaction is closed");
}

/// The consumer loop deletes what its tasks finished in one batch: every
/// current receipt goes, while stale and foreign ones in the same batch
/// match nothing and do not fail it.
#[tokio::test]
async fn a_delete_batch_takes_the_current_receipts_and_ignores_the_rest() {
    let (db, clock) = clocked();
    let q = db.queue("q", QueueOptions::default());
    let other = db.queue("other", QueueOptions::default());
    for body in ["a", "b", "c"] {
        q.send(NewMessage::new(body)).await.unwrap();
    }
    other.send(NewMessage::new("theirs")).await.unwrap();
    let stale = q.receive(1, Duration::from_secs(5), NO_WAIT).await.unwrap();
    clock.advance(chrono::Duration::seconds(6));
    let got = q
        .receive(10, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    let theirs = other
        .receive(1, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();

    let mut receipts: Vec<String> = got.iter().take(2).map(|m| m.receipt.clone()).collect();
    receipts.push(stale[0].receipt.clone());
    receipts.push(theirs[0].receipt.clone());
    receipts.push("not-a-receipt".into());
    q.delete_batch(&receipts).await.unwrap();

    assert_eq!(
        q.approximate_len().await.unwrap(),
        1,
        "the third is still held"
    );
    assert_eq!(
        other.approximate_len().await.unwrap(),
        1,
        "another queue's receipt deletes nothing here"
    );
    let left = q.peek_all(10).unwrap();
    assert_eq!(left[0].body, got[2].body);
}

/// Deleting a FIFO group's head in a batch frees the group at once.
#[tokio::test]
async fn a_delete_batch_frees_the_fifo_groups_it_finishes() {
    let (db, _clock) = clocked();
    let q = fifo(&db, "f");
    for (g, body) in [("s1", "1a"), ("s1", "1b"), ("s2", "2a"), ("s2", "2b")] {
        q.send(NewMessage::new(body).group(g)).await.unwrap();
    }
    let heads = q
        .receive(10, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(bodies(&heads), ["1a", "2a"], "one message per group");
    let receipts: Vec<String> = heads.iter().map(|m| m.receipt.clone()).collect();
    q.delete_batch(&receipts).await.unwrap();
    let next = q
        .receive(10, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(bodies(&next), ["1b", "2b"]);
}

#[tokio::test]
async fn fsync_durability_flushes_every_commit_and_normal_does_not() {
    use crate::config::Durability;
    let dir = std::env::temp_dir().join(format!("clawhooks-embedded-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    let fsync = Embedded::open_with(&path, Durability::Fsync).unwrap();
    assert_eq!(fsync.synchronous().unwrap(), "FULL");
    let q = fsync.queue("q", QueueOptions::default());
    q.send(NewMessage::new("kept")).await.unwrap();
    drop((q, fsync));
    // The setting belongs to the connection, not the file: reopening
    // without it is back to NORMAL, with the data intact.
    let normal = Embedded::open(&path).unwrap();
    assert_eq!(normal.synchronous().unwrap(), "NORMAL");
    let got = normal
        .queue("q", QueueOptions::default())
        .receive(10, Duration::from_secs(5), NO_WAIT)
        .await
        .unwrap();
    assert_eq!(got[0].body, "kept");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn the_oldest_message_age_counts_from_the_first_send_still_waiting() {
    let (db, clock) = clocked();
    let q = db.queue("q", QueueOptions::default());
    assert_eq!(q.oldest_age().await.unwrap(), None, "empty");
    q.send(NewMessage::new("a")).await.unwrap();
    clock.advance(chrono::Duration::seconds(40));
    q.send(NewMessage::new("b")).await.unwrap();
    clock.advance(chrono::Duration::seconds(2));
    assert_eq!(q.oldest_age().await.unwrap(), Some(Duration::from_secs(42)));
    let got = q
        .receive(1, Duration::from_secs(30), NO_WAIT)
        .await
        .unwrap();
    q.delete(&got[0].receipt).await.unwrap();
    assert_eq!(q.oldest_age().await.unwrap(), Some(Duration::from_secs(2)));
    let other = db.queue("other", QueueOptions::default());
    assert_eq!(other.oldest_age().await.unwrap(), None, "per queue");
}

/// The reaper deletes expired items and dead letters past their retention,
/// in batches (more rows than one batch here), and nothing still live.
#[tokio::test]
async fn the_reaper_deletes_expired_items_and_old_dead_letters_only() {
    let (db, clock) = clocked();
    let store = db.store();
    let now = clock.now().timestamp();
    for i in 0..1_200 {
        let it = Item::new(format!("old{i}"), "status", serde_json::json!({"n": i}));
        store
            .put(Table::Events, it.expires_at(now + 5))
            .await
            .unwrap();
    }
    let live = Item::new("live", "status", serde_json::json!({})).expires_at(now + 60);
    store.put(Table::Events, live).await.unwrap();
    let forever = Item::new("forever", "", serde_json::json!({}));
    store.put(Table::Deliveries, forever).await.unwrap();
    let dlq = db.queue(DEAD_LETTER_QUEUES[1], QueueOptions::default());
    dlq.send(NewMessage::new("old letter")).await.unwrap();
    clock.advance(chrono::Duration::seconds(30));
    dlq.send(NewMessage::new("new letter")).await.unwrap();
    let retention: crate::config::Retention =
        serde_json::from_value(serde_json::json!({"deadLetters": "20s"})).unwrap();
    let reaping = Reaping::new(&retention);
    assert_eq!(reaping.every, Duration::from_secs(10), "half the shortest");

    let reaped = db.reap(&reaping).await.unwrap();
    assert_eq!(
        (reaped.items, reaped.dead_letters),
        (1_200, 1),
        "{reaped:?}"
    );
    let now = clock.now().timestamp();
    assert!(store
        .get(Table::Events, "live", "status", now)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .get(Table::Deliveries, "forever", "", now)
        .await
        .unwrap()
        .is_some());
    let left = dlq.peek_all(10).unwrap();
    assert_eq!(bodies(&left), ["new letter"]);
    assert_eq!(db.reap(&reaping).await.unwrap(), Reaped::default());
}

/// A FIFO group's messages behind the one in hand can be taken with it,
/// in order, and only those: another group's stay, and the group's next
/// message is not handed out while they are in flight. One put back is
/// the group's next head once the others are deleted.
#[tokio::test]
async fn the_messages_following_a_head_are_taken_in_order() {
    let (db, _clock) = clocked();
    let q = fifo(&db, "h.fifo");
    for b in ["a1", "a2", "b1", "a3", "a4"] {
        let g = &b[..1];
        q.send(NewMessage::new(b).group(g)).await.unwrap();
    }
    let vis = Duration::from_secs(30);
    let heads = q.receive(10, vis, NO_WAIT).await.unwrap();
    assert_eq!(bodies(&heads), ["a1", "b1"]);
    let more = q.receive_following(&heads[0], 2, vis).await.unwrap();
    assert_eq!(bodies(&more), ["a2", "a3"]);
    assert!(q.receive(10, vis, NO_WAIT).await.unwrap().is_empty());
    q.change_visibility(&more[1].receipt, Duration::ZERO)
        .await
        .unwrap();
    q.delete_batch(&[heads[0].receipt.clone(), more[0].receipt.clone()])
        .await
        .unwrap();
    let next = q.receive(10, vis, NO_WAIT).await.unwrap();
    assert_eq!(
        bodies(&next),
        ["a3"],
        "the one put back leads its group again"
    );
    assert!(q.receive_following(&next[0], 5, vis).await.unwrap().len() == 1);
}
