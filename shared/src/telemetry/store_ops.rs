//! A [`Store`] that counts the operations passing through it to the real
//! one. Every store operation is a round trip (a DynamoDB request, a turn
//! of the SQLite writer), so the count per hook is what a stage costs; the
//! benches print it per stage and a test keeps the handler's from growing.

use crate::ports::{IndexOrder, Item, Store, StoreError, Table};
use async_trait::async_trait;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Operations counted so far, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOps {
    /// `get`, `query`, `scan`, `query_index`.
    pub reads: u64,
    /// `put`, `put_if_absent`, `put_if_version`, `delete`.
    pub writes: u64,
}

impl StoreOps {
    pub fn total(&self) -> u64 {
        self.reads + self.writes
    }
}

impl std::fmt::Display for StoreOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} reads, {} writes)",
            self.total(),
            self.reads,
            self.writes
        )
    }
}

pub struct CountingStore {
    inner: Arc<dyn Store>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    pub fn ops(&self) -> StoreOps {
        StoreOps {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    /// Returns the counts so far and starts again from zero.
    pub fn take(&self) -> StoreOps {
        StoreOps {
            reads: self.reads.swap(0, Ordering::Relaxed),
            writes: self.writes.swap(0, Ordering::Relaxed),
        }
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(
        &self,
        table: Table,
        pk: &str,
        sk: &str,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        self.read();
        self.inner.get(table, pk, sk, now).await
    }

    async fn put(&self, table: Table, item: Item) -> Result<u64, StoreError> {
        self.write();
        self.inner.put(table, item).await
    }

    async fn put_if_absent(
        &self,
        table: Table,
        item: Item,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        self.write();
        self.inner.put_if_absent(table, item, now).await
    }

    async fn put_if_version(
        &self,
        table: Table,
        item: Item,
        expected: u64,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        self.write();
        self.inner.put_if_version(table, item, expected, now).await
    }

    async fn delete(&self, table: Table, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.write();
        self.inner.delete(table, pk, sk).await
    }

    async fn query(
        &self,
        table: Table,
        pk: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError> {
        self.read();
        self.inner.query(table, pk, limit, now).await
    }

    async fn scan(&self, table: Table, limit: usize, now: i64) -> Result<Vec<Item>, StoreError> {
        self.read();
        self.inner.scan(table, limit, now).await
    }

    async fn query_index(
        &self,
        table: Table,
        keys: RangeInclusive<i64>,
        order: IndexOrder,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError> {
        self.read();
        self.inner.query_index(table, keys, order, limit, now).await
    }
}
