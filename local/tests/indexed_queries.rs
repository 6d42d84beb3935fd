//! The idle-session sweeper and `clawhooks deliveries list` on large
//! tables. Both must find what they are after however many rows lie before
//! it in key order: the sweeper an idle `webhook:*` session (such keys sort
//! after every `hook:*` session a finished hook leaves behind), the listing
//! the newest attempts (event ids grow with time, so the newest sort last).
//!
//! CI runs each at 20,000 rows, twice what one capped scan used to read.
//! `bench/index/run.sh` runs the ignored million-row case and prints how
//! long filling, one sweep and one listing took.

use chrono::{DateTime, Duration as Span, Utc};
use clawhooks::config::EventType;
use clawhooks::egress::log::{self, Attempt, DisabledMarker, Outcome};
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::{self, Body, InboundEvent};
use clawhooks::handler::lifecycle::stable_id;
use clawhooks::handler::session::{self, Ended, NewMessage, SessionRecord};
use clawhooks::handler::sweep_sessions;
use clawhooks::ports::{Backend, Clock, Store, Table, TestClock};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent writers while filling: enough to fill the embedded
/// writer's group commits.
const WRITERS: usize = 256;

/// One live persistent session that is not yet due, per this many rows.
const LIVE_EVERY: usize = 100;

struct Db(PathBuf);

impl Db {
    fn temp(name: &str) -> Self {
        Db(std::env::temp_dir().join(format!("clawhooks-{name}-{}.db", uuid::Uuid::new_v4())))
    }
    fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// A database file on a clock at the present, filled with `write(store,
/// i)` for every `i` in `0..n`; and how long filling took.
struct Filled {
    db: Db,
    clock: Arc<TestClock>,
    backend: Backend,
    took: Duration,
}

async fn filled<F, Fut>(name: &str, n: usize, write: F) -> Filled
where
    F: Fn(Arc<dyn Store>, usize, DateTime<Utc>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let db = Db::temp(name);
    let clock = Arc::new(TestClock::new(Utc::now()));
    let backend = Embedded::open(&db.0)
        .expect("database file opens")
        .with_clock(clock.clone())
        .backend(BackendOptions::default());
    let now = clock.now();
    let started = Instant::now();
    fill(backend.store.clone(), n, move |store, i| {
        write(store, i, now)
    })
    .await;
    Filled {
        db,
        clock,
        backend,
        took: started.elapsed(),
    }
}

/// Runs `write(store, i)` for every `i` in `0..n`, [`WRITERS`] at a time.
async fn fill<F, Fut>(store: Arc<dyn Store>, n: usize, write: F)
where
    F: Fn(Arc<dyn Store>, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let write = Arc::new(write);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (store, write) = (store.clone(), write.clone());
        tasks.spawn(async move {
            for i in (w..n).step_by(WRITERS) {
                write(store.clone(), i).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a filling task panicked");
    }
}

/// Session `i` of the filler: mostly a finished `hook:*` session (every
/// handled hook leaves one for a day), now and then a live persistent one
/// that is not due for two hours.
fn filler_session(i: usize, now: DateTime<Utc>) -> SessionRecord {
    let ts = event::timestamp(now);
    let live = i.is_multiple_of(LIVE_EVERY);
    SessionRecord {
        key: if live {
            format!("alerts-{i:07}")
        } else {
            format!("hook:{}", stable_id(now, &[&i.to_string()]))
        },
        persistent: live,
        hook_id: "alerts".into(),
        handler_id: Some("alerts".into()),
        created_at: ts.clone(),
        created_by: format!("evt-{i}"),
        last_activity: ts.clone(),
        message_count: 1,
        history: Vec::new(),
        idle_at: now.timestamp() + 2 * 3600,
        timeout_secs: 2 * 3600,
        ended: (!live).then(|| Ended {
            at: ts,
            reason: "finished".into(),
            announced: true,
        }),
        recent_events: Vec::new(),
    }
}

/// A hook on a persistent session, as the handler records it.
async fn message(store: &dyn Store, key: &str, timeout: Duration, now: DateTime<Utc>) {
    let ev = InboundEvent {
        event_id: format!("evt-{key}"),
        hook_id: "alerts".into(),
        handler_id: Some("alerts".into()),
        session_key: key.into(),
        persistent: true,
        received_at: now,
        source_ip: "127.0.0.1".into(),
        headers: Default::default(),
        query: Default::default(),
        content_type: Some("application/json".into()),
        body: Body::Json(r#"{"message": "disk full"}"#.into()),
    };
    let m = NewMessage {
        ev: &ev,
        text: "disk full",
        timeout,
        history_cap: 5,
    };
    let current = session::get(store, key, now.timestamp())
        .await
        .expect("the session reads");
    session::record_message(store, &m, current, now)
        .await
        .expect("the message joins its session");
}

/// Fills `n` filler sessions, then two persistent sessions whose keys sort
/// after all of them; one sweep an hour later must end both, the one due
/// first first, having read only what was due.
async fn sweep_finds_idle_sessions_among(n: usize) -> Figures {
    let Filled {
        db: _removed_on_drop,
        clock,
        backend,
        took,
    } = filled("sweep-scale", n, |store, i, now| async move {
        let item = filler_session(i, now).to_item(now.timestamp());
        store
            .put(Table::Sessions, item)
            .await
            .expect("filler written");
    })
    .await;
    let now = clock.now();
    let store = backend.store.as_ref();
    message(store, "webhook:alerts", Duration::from_secs(3600), now).await;
    message(store, "webhook:zabbix", Duration::from_secs(1800), now).await;

    clock.advance(Span::minutes(61));
    let started = Instant::now();
    let report = sweep_sessions(&backend, clock.as_ref())
        .await
        .expect("the sweep reads the store");
    let swept = started.elapsed();
    assert_eq!(
        report.ended,
        ["webhook:zabbix", "webhook:alerts"],
        "both idle sessions ended, the one due first first"
    );
    assert_eq!(report.scanned, 2, "the sweep read only the due sessions");
    let events = backend
        .events_queue
        .receive(10, Duration::from_secs(60), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(events.len(), 2, "one session_ended per session");
    assert!(events.iter().all(|e| e.body.contains("session_ended")));
    Figures {
        rows: n + 2,
        fill: took,
        query: swept,
        command: None,
    }
}

/// Attempt `i` of `n`: event ids and times grow with `i`, so the newest
/// attempts are the last in key order.
fn attempt(i: usize, n: usize, newest: DateTime<Utc>) -> Attempt {
    let at = newest - Span::milliseconds((n - 1 - i) as i64);
    Attempt {
        event_id: stable_id(at, &[&i.to_string()]),
        event_type: EventType::MessageReceived,
        subscription: "crm".into(),
        attempt: 1,
        seq: 1,
        time: event::timestamp(at),
        outcome: Outcome::Delivered,
        status: Some(200),
        latency_ms: Some(12),
        error: None,
        response: Some("ok".into()),
        next_attempt_at: None,
        dead_lettered: false,
    }
}

/// Logs `n` attempts (and a 410 marker), then asks the real binary for the
/// latest five: they must be the five newest, newest first.
async fn deliveries_list_shows_the_newest_of(n: usize) -> Figures {
    let Filled {
        db,
        clock,
        backend,
        took,
    } = filled("deliveries-scale", n, move |store, i, now| async move {
        log::record_attempt(store.as_ref(), &attempt(i, n, now), now, log::RETENTION)
            .await
            .expect("attempt logged");
    })
    .await;
    let now = clock.now();
    let marker = DisabledMarker::gone("old-crm", "https://crm.example/hook", now);
    log::mark_gone(backend.store.as_ref(), &marker)
        .await
        .unwrap();

    let started = Instant::now();
    let read = log::recent(backend.store.as_ref(), 5, now, log::RETENTION)
        .await
        .unwrap();
    let read_took = started.elapsed();
    let (out, listed) = latest_five(&db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Vec<Attempt> = serde_json::from_slice(&out.stdout).expect("a JSON list");
    let newest: Vec<String> = (n - 5..n)
        .rev()
        .map(|i| attempt(i, n, now).event_id)
        .collect();
    assert_eq!(
        shown.iter().map(|a| a.event_id.clone()).collect::<Vec<_>>(),
        newest,
        "the five newest attempts, newest first"
    );
    assert_eq!(read, shown, "the API's read and the CLI's agree");
    Figures {
        rows: n,
        fill: took,
        query: read_took,
        command: Some(listed),
    }
}

/// `clawhooks deliveries list --json --limit 5` on `db`, and how long it took.
fn latest_five(db: &Db) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(["deliveries", "list", "--json", "--limit", "5", "--db"])
        .arg(db.path())
        .env("RUST_LOG", "error")
        .output()
        .expect("clawhooks runs");
    (out, started.elapsed())
}

struct Figures {
    rows: usize,
    fill: Duration,
    /// The read in process (a sweep, or `log::recent`).
    query: Duration,
    /// The whole `clawhooks` command, start to exit.
    command: Option<Duration>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_ends_idle_sessions_that_sort_after_20000_others() {
    sweep_finds_idle_sessions_among(20_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_list_shows_the_newest_of_20000_attempts() {
    deliveries_list_shows_the_newest_of(20_000).await;
}

/// What a crash leaves behind: a `hook:*` session whose hook was never
/// finished (so nothing ended it), and a session ended without its
/// `session_ended`. One sweep ends the first and announces both; then
/// both are out of the sweeper's way.
#[tokio::test]
async fn a_sweep_ends_forgotten_hook_sessions_and_announces_unannounced_ends() {
    let clock = Arc::new(TestClock::new(Utc::now()));
    let backend = Embedded::memory()
        .unwrap()
        .with_clock(clock.clone())
        .backend(BackendOptions::default());
    let now = clock.now();
    let mut forgotten = filler_session(1, now);
    forgotten.ended = None;
    let mut unannounced = filler_session(2, now);
    unannounced.ended = Some(Ended {
        at: event::timestamp(now),
        reason: "finished".into(),
        announced: false,
    });
    for rec in [&forgotten, &unannounced] {
        let item = rec.to_item(now.timestamp());
        backend.store.put(Table::Sessions, item).await.unwrap();
    }

    clock.advance(Span::hours(2) + Span::seconds(1));
    let report = sweep_sessions(&backend, clock.as_ref()).await.unwrap();
    let mut ended = report.ended.clone();
    ended.sort();
    let mut expected = vec![forgotten.key.clone(), unannounced.key.clone()];
    expected.sort();
    assert_eq!(ended, expected);
    let events = backend
        .events_queue
        .receive(10, Duration::from_secs(60), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.body.contains("session_ended")));
    let store = backend.store.as_ref();
    for key in &expected {
        let (rec, _) = session::get(store, key, clock.now().timestamp())
            .await
            .unwrap()
            .unwrap();
        assert!(rec.ended.is_some_and(|e| e.announced), "{key}");
    }

    let again = sweep_sessions(&backend, clock.as_ref()).await.unwrap();
    assert_eq!((again.scanned, again.ended.len()), (0, 0));
}

/// The same two checks at a million rows each; `bench/index/run.sh` runs
/// it and keeps the `RESULT` lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a bench: fills two million rows (bench/index/run.sh)"]
async fn a_million_rows_each() {
    let rows = std::env::var("CLAWHOOKS_SCALE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let sweep = sweep_finds_idle_sessions_among(rows).await;
    println!(
        "RESULT table=sessions rows={} fill_s={:.1} sweep_ms={:.1}",
        sweep.rows,
        sweep.fill.as_secs_f64(),
        sweep.query.as_secs_f64() * 1000.0
    );
    let list = deliveries_list_shows_the_newest_of(rows).await;
    let empty = Db::temp("deliveries-empty");
    Embedded::open(&empty.0).expect("database file opens");
    let (_, baseline) = latest_five(&empty);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "RESULT table=deliveries rows={} fill_s={:.1} recent_ms={:.1} cli_ms={:.1} cli_empty_db_ms={:.1}",
        list.rows,
        list.fill.as_secs_f64(),
        ms(list.query),
        ms(list.command.unwrap_or_default()),
        ms(baseline)
    );
}
