//! A small key-value store with DynamoDB's shape: items under a partition
//! key and a sort key, conditional writes, and expiry. Sessions, dedup keys,
//! event status and the delivery log are typed layers over it, so a new
//! kind of record never needs a new adapter method.
//!
//! Expired items are absent to every read, whether or not the backend has
//! deleted them yet (DynamoDB's TTL deletes lazily, up to days late).
//!
//! Besides its key, an item may carry an index key: a number the whole
//! table is ordered by across partitions ([`Store::query_index`]). Readers
//! that need "the oldest N" or "the newest N" of a table (the idle-session
//! sweeper, the delivery listing) read one end of that order, so their cost
//! is the number of items they want, not the size of the table. Items
//! without an index key are not in the order at all, which keeps finished
//! records out of the sweeper's way.

use async_trait::async_trait;
use serde_json::Value;
use std::ops::RangeInclusive;

/// The tables a deployment has. On DynamoDB each is its own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Sessions,
    Dedup,
    Events,
    Deliveries,
    Limits,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Sessions,
        Table::Dedup,
        Table::Events,
        Table::Deliveries,
        Table::Limits,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::Dedup => "dedup",
            Table::Events => "events",
            Table::Deliveries => "deliveries",
            Table::Limits => "limits",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub value: Value,
    /// Unix seconds after which the item is gone.
    pub expires_at: Option<i64>,
    /// Bumped by every write; 0 means "not stored yet".
    pub version: u64,
    /// Where the item stands in its table's index (see
    /// [`Store::query_index`]); `None` keeps it out of the index. Each
    /// table's writers say what the number means (sessions: the unix second
    /// they are due for the sweeper; delivery attempts: their unix millisecond).
    pub index_key: Option<i64>,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, value: Value) -> Self {
        Item {
            pk: pk.into(),
            sk: sk.into(),
            value,
            expires_at: None,
            version: 0,
            index_key: None,
        }
    }
    pub fn expires_at(mut self, unix_secs: i64) -> Self {
        self.expires_at = Some(unix_secs);
        self
    }
    pub fn index_key(mut self, key: i64) -> Self {
        self.index_key = Some(key);
        self
    }
}

/// Which end of the index [`Store::query_index`] reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOrder {
    /// Smallest index key first (the sweeper: the longest overdue).
    Ascending,
    /// Largest index key first (listings: the newest).
    Descending,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {table}: {message}")]
    Backend {
        table: &'static str,
        message: String,
    },
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(
        &self,
        table: Table,
        pk: &str,
        sk: &str,
        now: i64,
    ) -> Result<Option<Item>, StoreError>;

    /// Writes unconditionally; returns the new version.
    async fn put(&self, table: Table, item: Item) -> Result<u64, StoreError>;

    /// Writes only if no live item has this key, and returns the new
    /// version (so a writer that goes on updating the item needs no read
    /// to learn it). `Ok(None)`: one exists; exactly one of several racing
    /// callers gets `Ok(Some(_))`.
    async fn put_if_absent(
        &self,
        table: Table,
        item: Item,
        now: i64,
    ) -> Result<Option<u64>, StoreError>;

    /// Writes only if the stored item's version is `expected` (0: absent or
    /// expired), and returns the new version. `Ok(None)` on a conflict.
    /// Optimistic concurrency for read-modify-write records such as sessions.
    async fn put_if_version(
        &self,
        table: Table,
        item: Item,
        expected: u64,
        now: i64,
    ) -> Result<Option<u64>, StoreError>;

    async fn delete(&self, table: Table, pk: &str, sk: &str) -> Result<(), StoreError>;

    /// Live items under one partition key, by sort key ascending.
    async fn query(
        &self,
        table: Table,
        pk: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError>;

    /// Live items of a whole table, in no promised order, read in key order
    /// from the start: its cost grows with what lies before the items
    /// wanted, so it is for inspection and tests; readers that must find
    /// particular items in a large table use [`Store::query_index`].
    async fn scan(&self, table: Table, limit: usize, now: i64) -> Result<Vec<Item>, StoreError>;

    /// Up to `limit` live items of the whole table whose index key lies in
    /// `keys`, by index key in `order` (items with equal keys in no
    /// promised order). Costs about `limit` item reads however large the
    /// table is; expired items left inside `keys` cost a read each, so
    /// callers bound `keys` to where live items can be.
    ///
    /// On DynamoDB the index is eventually consistent: an item written a
    /// moment ago may be missing, or appear under its previous index key
    /// (with its previous value). Callers that act on what they find read
    /// the item again with [`Store::get`] and decide on that.
    async fn query_index(
        &self,
        table: Table,
        keys: RangeInclusive<i64>,
        order: IndexOrder,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError>;
}
