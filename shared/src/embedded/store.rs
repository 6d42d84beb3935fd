//! The store on the `items` table, with DynamoDB's conditional writes.

use super::Db;
use crate::ports::store::{Item, Store, StoreError, Table};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use std::sync::Arc;

pub struct EmbeddedStore {
    db: Arc<Db>,
}

impl EmbeddedStore {
    pub(crate) fn new(db: Arc<Db>) -> Self {
        EmbeddedStore { db }
    }
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
    })
}

const LIVE: &str = "(expires_at IS NULL OR expires_at > ?)";

/// Writes `it` (its value already serialized) unless a live item has its
/// key; `false` if one has. Runs inside the caller's write transaction.
pub(super) fn insert_if_absent(
    c: &rusqlite::Connection,
    table: Table,
    it: &Item,
    value: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    c.prepare_cached(
        "INSERT INTO items (tbl, pk, sk, value, expires_at, version) VALUES (?1, ?2, ?3, ?4, ?5, 1)
         ON CONFLICT (tbl, pk, sk) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, version = 1
         WHERE items.expires_at IS NOT NULL AND items.expires_at <= ?6",
    )?
    .execute(params![table.as_str(), it.pk, it.sk, value, it.expires_at, now])
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
    c.prepare_cached(&format!("SELECT pk, sk, value, expires_at, version FROM items WHERE tbl = ? AND pk = ? AND sk = ? AND {LIVE}"))?
        .query_row(params![table.as_str(), pk, sk, now], item)
        .optional()
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
        let conn = self.db.conn.lock().unwrap();
        read(&conn, table, pk, sk, now).map_err(err(table))
    }

    async fn put(&self, table: Table, it: Item) -> Result<u64, StoreError> {
        // Serialized here, on the caller's thread: the writer thread is the
        // one every write waits for.
        let value = it.value.to_string();
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO items (tbl, pk, sk, value, expires_at, version) VALUES (?1, ?2, ?3, ?4, ?5, 1)
                     ON CONFLICT (tbl, pk, sk) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, version = items.version + 1
                     RETURNING version",
                )?
                .query_row(params![table.as_str(), it.pk, it.sk, value, it.expires_at], |r| r.get::<_, i64>(0))
            })
            .await
            .map(|v| v as u64)
            .map_err(fail(table))
    }

    async fn put_if_absent(&self, table: Table, it: Item, now: i64) -> Result<bool, StoreError> {
        let value = it.value.to_string();
        self.db
            .write(move |c| insert_if_absent(c, table, &it, &value, now))
            .await
            .map_err(fail(table))
    }

    async fn put_if_version(
        &self,
        table: Table,
        it: Item,
        expected: u64,
        now: i64,
    ) -> Result<bool, StoreError> {
        if expected == 0 {
            return self.put_if_absent(table, it, now).await;
        }
        let value = it.value.to_string();
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE items SET value = ?1, expires_at = ?2, version = version + 1
                     WHERE tbl = ?3 AND pk = ?4 AND sk = ?5 AND version = ?6 AND (expires_at IS NULL OR expires_at > ?7)",
                )?
                .execute(params![value, it.expires_at, table.as_str(), it.pk, it.sk, expected as i64, now])
            })
            .await
            .map(|n| n == 1)
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
        let conn = self.db.conn.lock().unwrap();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT pk, sk, value, expires_at, version FROM items WHERE tbl = ? AND pk = ? AND {LIVE} ORDER BY sk LIMIT ?"
            ))
            .map_err(err(table))?;
        let rows = st
            .query_map(params![table.as_str(), pk, now, limit as i64], item)
            .map_err(err(table))?;
        rows.collect::<Result<_, _>>().map_err(err(table))
    }

    async fn scan(&self, table: Table, limit: usize, now: i64) -> Result<Vec<Item>, StoreError> {
        let conn = self.db.conn.lock().unwrap();
        let mut st = conn
            .prepare_cached(&format!("SELECT pk, sk, value, expires_at, version FROM items WHERE tbl = ? AND {LIVE} LIMIT ?"))
            .map_err(err(table))?;
        let rows = st
            .query_map(params![table.as_str(), now, limit as i64], item)
            .map_err(err(table))?;
        rows.collect::<Result<_, _>>().map_err(err(table))
    }
}
