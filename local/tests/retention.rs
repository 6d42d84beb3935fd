//! The real `clawhooks serve` on a file under a steady load keeps what
//! `webhooks.retention` keeps and no more: expired events answer 404, their
//! rows are deleted, and the file stops growing.

mod common;

use clawhooks_e2e::recorder::Recorder;
use common::spawned::{post_hooks, serve, TempDir};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Hooks per round: enough that the file's size is the rows', not SQLite's
/// fixed pages.
const HOOKS: usize = 150;

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn wal(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", db.display()))
}

/// Rows in the file: store items and queue messages.
fn rows(db: &Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let count = |t: &str| {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    (count("items"), count("messages"))
}

/// Polls `cond` until it holds; panics with `what` and the last value seen.
async fn wait_until<T: std::fmt::Debug>(
    what: &str,
    mut probe: impl FnMut() -> T,
    cond: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = probe();
        if cond(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: still {v:?} after 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_round(client: &reqwest::Client, base: &str, round: usize) -> Vec<String> {
    let pad = "x".repeat(570);
    let bodies: Vec<_> = (0..HOOKS)
        .map(|i| serde_json::json!({ "round": round, "n": i, "pad": pad }))
        .collect();
    for body in &bodies {
        let len = body.to_string().len();
        assert!((590..=610).contains(&len), "{len}");
    }
    post_hooks(client, base, "steady", bodies).await
}

async fn event_status(client: &reqwest::Client, base: &str, id: &str) -> u16 {
    client
        .get(format!("{base}/events/{id}"))
        .header("X-Webhook-Secret", "s")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Three rounds of hooks with a retention of two seconds, each round after
/// the last one's rows expired: the file after the third is at most 1.3x
/// its size after the first, and an event of the first answers 404.
#[tokio::test]
async fn a_steady_load_keeps_the_file_at_the_size_of_what_retention_keeps() {
    clawhooks::outbound::http::install_crypto_provider();
    let sink = Recorder::start().await;
    let dir = TempDir::new("retention");
    let (config, db) = (dir.0.join("config.json"), dir.0.join("clawhooks.db"));
    let doc = serde_json::json!({"webhooks": {
        "incoming": {"secret": "s", "dedupWindow": "2s"},
        "network": {"allowPrivate": true},
        "outgoing": [{"id": "sink", "url": sink.url("/out"), "events": ["message_received"]}],
        "retention": {"events": "2s", "deliveries": "2s", "deadLetters": "2s"}
    }});
    std::fs::write(&config, doc.to_string()).unwrap();
    let (_server, base) = serve(&config, &db);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut sizes = Vec::new();
    let mut first_round = Vec::new();
    for round in 1..=3 {
        let ids = post_round(&client, &base, round).await;
        sink.wait_for(HOOKS * round, Duration::from_secs(60)).await;
        // Every hook handled and delivered; the WAL copied into the file
        // and given back once the server is idle.
        wait_until("WAL bytes", || size(&wal(&db)), |&n| n == 0).await;
        let (items, messages) = rows(&db);
        sizes.push(size(&db));
        eprintln!(
            "round {round}: file {} bytes, {items} items, {messages} messages",
            size(&db)
        );
        // Past retention the reaper deletes the round's rows.
        wait_until(
            "rows left (items, messages)",
            || rows(&db),
            |&(i, m)| i <= 5 && m == 0,
        )
        .await;
        if round == 1 {
            first_round = ids;
        }
    }
    for id in [&first_round[0], first_round.last().unwrap()] {
        assert_eq!(
            event_status(&client, &base, id).await,
            404,
            "event {id} of round 1"
        );
    }
    assert!(
        sizes[2] as f64 <= sizes[0] as f64 * 1.3,
        "file sizes after each round: {sizes:?}"
    );
}
