//! The store on the `items` table, with DynamoDB's conditional writes.

use super::Db;
use crate::ports::store::{IndexOrder, Item, Store, StoreError, Table};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::ops::RangeInclusive;
use std::sync::Arc;

pub struct EmbeddedStore {
    db: Arc<Db>,
}

impl EmbeddedStore {
    pub(crate) fn new(db: Arc<Db>) -> Self {
        EmbeddedStore { db }
    }

    /// Runs `f` on the reader connection on a blocking thread: a read holds
    /// the reader's mutex for its whole query, and on a tokio worker a long
    /// one (a listing) stalled every task queued behind it.
    async fn reading<T: Send + 'static>(
        &self,
        table: Table,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.db.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| fail(table)(e.to_string()))?
        .map_err(err(table))
    }
}

/// Every row `st` answers for `params`, as items.
fn items(
    st: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Item>> {
    st.query_map(params, item)?.collect()
}

fn err(table: Table) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::Backend {
        table: table.as_str(),
        message: e.to_string(),
    }
}

fn fail(table: Table) -> impl Fn(String) -> StoreError {
    move |message| StoreError::Backend {
        table: table.as_str(),
        message,
    }
}

fn item(r: &Row) -> rusqlite::Result<Item> {
    let value: String = r.get(2)?;
    Ok(Item {
        pk: r.get(0)?,
        sk: r.get(1)?,
        value: serde_json::from_str(&value).unwrap_or(serde_json::Value::Null),
        expires_at: r.get(3)?,
        version: r.get::<_, i64>(4)? as u64,
        index_key: r.get(5)?,
    })
}

/// The columns [`item`] reads, in its order.
const COLUMNS: &str = "pk, sk, value, expires_at, version, index_key";

const LIVE: &str = "(expires_at IS NULL OR expires_at > ?)";

/// Writes `it` (its value already serialized) unless a live item has its
/// key; `false` if one has. Runs inside the caller's write transaction.
/// The version of an item written where none was (see [`insert_if_absent`]).
const FIRST_VERSION: u64 = 1;

pub(super) fn insert_if_absent(
    c: &rusqlite::Connection,
    table: Table,
    it: &Item,
    value: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    c.prepare_cached(
        "INSERT INTO items (tbl, pk, sk, value, expires_at, version, index_key) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?7)
         ON CONFLICT (tbl, pk, sk) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, version = 1, index_key = excluded.index_key
         WHERE items.expires_at IS NOT NULL AND items.expires_at <= ?6",
    )?
    .execute(params![table.as_str(), it.pk, it.sk, value, it.expires_at, now, it.index_key])
    .map(|n| n == 1)
}

/// The live item under a key, read on `c` (inside a write transaction, it
/// sees that transaction's writes).
pub(super) fn read(
    c: &rusqlite::Connection,
    table: Table,
    pk: &str,
    sk: &str,
    now: i64,
) -> rusqlite::Result<Option<Item>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM items WHERE tbl = ? AND pk = ? AND sk = ? AND {LIVE}"
    ))?
    .query_row(params![table.as_str(), pk, sk, now], item)
    .optional()
}

/// Reads one end of the `items_by_index_key` index. Equal keys are broken
/// by the item's key, which the index holds after the index key, so SQLite
/// walks the index in order and stops after `LIMIT` rows: no sort, no
/// look at the rest of the table.
fn index_query(order: IndexOrder) -> String {
    let dir = match order {
        IndexOrder::Ascending => "ASC",
        IndexOrder::Descending => "DESC",
    };
    format!(
        "SELECT {COLUMNS} FROM items WHERE tbl = ? AND index_key BETWEEN ? AND ? AND {LIVE} \
         ORDER BY index_key {dir}, pk {dir}, sk {dir} LIMIT ?"
    )
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(
        &self,
        table: Table,
        pk: &str,
        sk: &str,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.reading(table, move |c| read(c, table, &pk, &sk, now))
            .await
    }

    async fn put(&self, table: Table, it: Item) -> Result<u64, StoreError> {
        // Serialized here, on the caller's thread: the writer thread is the
        // one every write waits for.
        let value = it.value.to_string();
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO items (tbl, pk, sk, value, expires_at, version, index_key) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)
                     ON CONFLICT (tbl, pk, sk) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, version = items.version + 1, index_key = excluded.index_key
                     RETURNING version",
                )?
                .query_row(params![table.as_str(), it.pk, it.sk, value, it.expires_at, it.index_key], |r| r.get::<_, i64>(0))
            })
            .await
            .map(|v| v as u64)
            .map_err(fail(table))
    }

    async fn put_if_absent(
        &self,
        table: Table,
        it: Item,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        let value = it.value.to_string();
        self.db
            .write(move |c| insert_if_absent(c, table, &it, &value, now))
            .await
            .map(|written| written.then_some(FIRST_VERSION))
            .map_err(fail(table))
    }

    async fn put_if_version(
        &self,
        table: Table,
        it: Item,
        expected: u64,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        if expected == 0 {
            return self.put_if_absent(table, it, now).await;
        }
        let value = it.value.to_string();
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE items SET value = ?1, expires_at = ?2, version = version + 1, index_key = ?8
                     WHERE tbl = ?3 AND pk = ?4 AND sk = ?5 AND version = ?6 AND (expires_at IS NULL OR expires_at > ?7)",
                )?
                .execute(params![value, it.expires_at, table.as_str(), it.pk, it.sk, expected as i64, now, it.index_key])
            })
            .await
            .map(|n| (n == 1).then_some(expected + 1))
            .map_err(fail(table))
    }

    async fn delete(&self, table: Table, pk: &str, sk: &str) -> Result<(), StoreError> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.db
            .write(move |c| {
                c.prepare_cached("DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")?
                    .execute(params![table.as_str(), pk, sk])
            })
            .await
            .map(|_| ())
            .map_err(fail(table))
    }

    async fn query(
        &self,
        table: Table,
        pk: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError> {
        let pk = pk.to_string();
        self.reading(table, move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM items WHERE tbl = ? AND pk = ? AND {LIVE} ORDER BY sk LIMIT ?"
            ))?;
            items(&mut st, params![table.as_str(), pk, now, limit as i64])
        })
        .await
    }

    async fn scan(&self, table: Table, limit: usize, now: i64) -> Result<Vec<Item>, StoreError> {
        self.reading(table, move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM items WHERE tbl = ? AND {LIVE} LIMIT ?"
            ))?;
            items(&mut st, params![table.as_str(), now, limit as i64])
        })
        .await
    }

    async fn query_index(
        &self,
        table: Table,
        keys: RangeInclusive<i64>,
        order: IndexOrder,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError> {
        let (from, to) = (*keys.start(), *keys.end());
        self.reading(table, move |c| {
            let mut st = c.prepare_cached(&index_query(order))?;
            items(
                &mut st,
                params![table.as_str(), from, to, now, limit as i64],
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::{create_schema, Embedded};
    use super::*;
    use crate::egress::log::{self, Attempt, DisabledMarker, Outcome};
    use crate::handler::session::{Ended, SessionRecord};
    use chrono::{DateTime, TimeZone, Utc};
    use rusqlite::Connection;

    /// Reads of the index cost what they return only if SQLite walks the
    /// index in order and stops at `LIMIT`; a sort step would read every
    /// indexed row of the table first.
    #[test]
    fn index_reads_walk_the_index_without_sorting() {
        let conn = Connection::open_in_memory().unwrap();
        create_schema(&conn).unwrap();
        for order in [IndexOrder::Ascending, IndexOrder::Descending] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", index_query(order)))
                .unwrap()
                .query_map(params!["sessions", 0, 10, 5, 100], |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(plan.contains("USING INDEX items_by_index_key"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{order:?}: {plan}");
        }
    }

    fn session(key: &str, ended: Option<bool>, at: DateTime<Utc>) -> SessionRecord {
        let ts = crate::event::timestamp(at);
        SessionRecord {
            key: key.into(),
            persistent: true,
            hook_id: "h".into(),
            handler_id: None,
            created_at: ts.clone(),
            created_by: "e".into(),
            last_activity: ts.clone(),
            message_count: 1,
            history: Vec::new(),
            idle_at: at.timestamp() + 600,
            timeout_secs: 600,
            ended: ended.map(|announced| Ended {
                at: ts,
                reason: "idle timeout".into(),
                announced,
            }),
            recent_events: Vec::new(),
        }
    }

    fn attempt(at: DateTime<Utc>) -> Attempt {
        Attempt {
            event_id: "ev".into(),
            event_type: crate::config::EventType::MessageReceived,
            subscription: "crm".into(),
            attempt: 1,
            seq: 1,
            time: crate::event::timestamp(at),
            outcome: Outcome::Delivered,
            status: Some(200),
            latency_ms: None,
            error: None,
            response: None,
            next_attempt_at: None,
            dead_lettered: false,
        }
    }

    /// A database file, removed with its WAL files when the test ends,
    /// passed or not.
    struct TempDb(std::path::PathBuf);

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    /// A `clawhooks.db` from before the index: the upgrade adds the column
    /// and gives every row the key its writer gives it today, so idle
    /// sessions are still swept and old attempts still listed; and turns
    /// on incremental auto-vacuum.
    #[tokio::test]
    async fn a_database_from_before_the_index_is_migrated_with_its_rows_keyed() {
        let db = TempDb(std::env::temp_dir().join(format!(
            "clawhooks-premigration-{}.db",
            uuid::Uuid::new_v4()
        )));
        let path = &db.0;
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
            + chrono::Duration::milliseconds(250);
        let now = at.timestamp();
        let live = session("live", None, at).to_item(now);
        let unannounced = session("unannounced", Some(false), at).to_item(now);
        let announced = session("announced", Some(true), at).to_item(now);
        let tried = log::attempt_item(&attempt(at), at, log::RETENTION);
        let marker = DisabledMarker::gone("old", "https://x.example", at);
        let rows = [
            ("sessions", &live),
            ("sessions", &unannounced),
            ("sessions", &announced),
            ("deliveries", &tried),
            (
                "deliveries",
                &Item::new(
                    log::MARKERS_PK,
                    "old",
                    serde_json::to_value(&marker).unwrap(),
                ),
            ),
        ];
        {
            let old = Connection::open(path).unwrap();
            old.execute_batch(
                "CREATE TABLE items (tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, \
                 value TEXT NOT NULL, expires_at INTEGER, version INTEGER NOT NULL, \
                 PRIMARY KEY (tbl, pk, sk)) WITHOUT ROWID;",
            )
            .unwrap();
            for (tbl, it) in rows {
                old.execute(
                    "INSERT INTO items VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                    params![tbl, it.pk, it.sk, it.value.to_string(), it.expires_at],
                )
                .unwrap();
            }
        }
        let store = Embedded::open(path).unwrap().store();
        Embedded::open(path).expect("opening again changes nothing");
        // Rewritten once, so that the space the reaper frees can be handed back.
        let vacuum: i64 = Connection::open(path)
            .unwrap()
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .unwrap();
        assert_eq!(vacuum, 2, "incremental auto-vacuum");
        let without_rowid: i64 = Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%WITHOUT ROWID%' AND name = 'items'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(without_rowid, 0, "items moved to a table with row ids");
        for (tbl, it) in rows {
            let table = if tbl == "sessions" {
                Table::Sessions
            } else {
                Table::Deliveries
            };
            let back = store
                .get(table, &it.pk, &it.sk, now)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(back.index_key, it.index_key, "{tbl} {}", it.pk);
        }
        assert_eq!(
            (live.index_key, unannounced.index_key, announced.index_key),
            (Some(now + 600), Some(now), None)
        );
        assert_eq!(tried.index_key, Some(at.timestamp_millis()));
    }
}
