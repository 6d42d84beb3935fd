//! [`Store::query_index`](crate::ports::Store::query_index) on DynamoDB: a
//! global secondary index, `by-index-key`, on every table, with the item's index key
//! as its sort key (`ix`, N) and one of [`SHARDS`] fixed shards as its
//! partition key (`ixp`, S, from a hash of the item's pk). Items without
//! an index key lack both attributes, so the index is sparse: finished
//! sessions and dedup keys cost it nothing.
//!
//! Why a sharded GSI:
//! - one constant GSI partition key would order the whole table in one
//!   partition, and every indexed write of the table would land on it: a
//!   GSI partition takes about 1,000 writes/s, and a throttled GSI
//!   throttles the table's own writes. Sixteen shards spread the writes;
//!   a read queries each shard and merges them, lazily, so it reads little
//!   more than `limit` items however the shards are filled.
//! - a time-bucketed partition key (one per hour or day) has the same hot
//!   spot: every current write goes to the current bucket.
//! - a scan, as before, reads the table in hash order up to a cap, so past
//!   the cap it misses what it is after.
//!
//! GSIs are eventually consistent (usually well under a second behind), and
//! `ConsistentRead` is refused on them: a fresh item may be missing or
//! show its previous index key and value. The callers re-read with a
//! consistent `GetItem` before acting (the sweeper through
//! `session::close`), and a listing a moment stale is harmless.
//!
//! Items written before the index existed lack `ix`/`ixp` and stay outside
//! it until their next write (DynamoDB indexes only items that carry the
//! key attributes).

use super::{error, item, live, page, Attributes, DynamoStore, LIVE};
use crate::ports::{IndexOrder, Item, StoreError, Table};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::VecDeque;
use std::ops::RangeInclusive;

/// The GSI's name (the same on every table).
pub const INDEX_NAME: &str = "by-index-key";
/// Its partition key attribute (S): the shard.
pub const SHARD_ATTRIBUTE: &str = "ixp";
/// Its sort key attribute (N): the item's index key.
pub const KEY_ATTRIBUTE: &str = "ix";
/// May grow, never shrink: a read asks every shard below it, so items
/// left in a dropped shard would be read by nobody.
pub const SHARDS: u32 = 16;

/// The shard of an item: FNV-1a of its pk, so an item keeps its shard
/// across writes (any spread would do: reads ask every shard, and a
/// rewrite moves the item's attributes with it).
pub fn shard(pk: &str) -> String {
    let hash = pk.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (hash % SHARDS).to_string()
}

/// One shard's part of a read: what has been fetched and not yet taken,
/// and where its next page starts.
struct Shard {
    id: String,
    fetched: VecDeque<Item>,
    next_page: Option<Attributes>,
    exhausted: bool,
}

/// One read of the index, merging the shards in `order`.
pub(super) struct IndexRead<'a> {
    pub store: &'a DynamoStore,
    pub table: Table,
    pub keys: RangeInclusive<i64>,
    pub order: IndexOrder,
    pub now: i64,
}

impl IndexRead<'_> {
    /// Up to `limit` items: a k-way merge that fetches a shard's next page
    /// only when its fetched items are used up, so a read costs about
    /// `limit` items plus one page per shard.
    pub async fn run(&self, limit: usize) -> Result<Vec<Item>, StoreError> {
        if self.keys.is_empty() {
            return Ok(Vec::new());
        }
        let per_page = page(limit.div_ceil(SHARDS as usize) + 4);
        let mut shards: Vec<Shard> = (0..SHARDS)
            .map(|n| Shard {
                id: n.to_string(),
                fetched: VecDeque::new(),
                next_page: None,
                exhausted: false,
            })
            .collect();
        let mut out = Vec::new();
        while out.len() < limit {
            let refills = shards
                .iter_mut()
                .filter(|s| s.fetched.is_empty() && !s.exhausted)
                .map(|s| self.refill(s, per_page));
            futures_util::future::try_join_all(refills).await?;
            match self.next_shard(&shards) {
                Some(n) => out.extend(shards[n].fetched.pop_front()),
                None => break,
            }
        }
        Ok(out)
    }

    /// The shard whose next item comes first in `order`.
    fn next_shard(&self, shards: &[Shard]) -> Option<usize> {
        let heads = shards
            .iter()
            .enumerate()
            .filter_map(|(n, s)| s.fetched.front().map(|i| (n, (i.index_key, &i.pk, &i.sk))));
        match self.order {
            IndexOrder::Ascending => heads.min_by(|a, b| a.1.cmp(&b.1)),
            IndexOrder::Descending => heads.max_by(|a, b| a.1.cmp(&b.1)),
        }
        .map(|(n, _)| n)
    }

    /// Fetches pages of one shard until one holds a live item or the shard
    /// ends (the live filter applies after `Limit`, so a page of expired
    /// leftovers comes back empty).
    async fn refill(&self, shard: &mut Shard, per_page: i32) -> Result<(), StoreError> {
        let (table, now) = (self.table, self.now);
        while shard.fetched.is_empty() && !shard.exhausted {
            let out = self
                .store
                .client
                .query()
                .table_name(self.store.name(table))
                .index_name(INDEX_NAME)
                .key_condition_expression("#ixp = :shard AND #ix BETWEEN :from AND :to")
                .filter_expression(LIVE)
                .expression_attribute_names("#ixp", SHARD_ATTRIBUTE)
                .expression_attribute_names("#ix", KEY_ATTRIBUTE)
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":shard", AttributeValue::S(shard.id.clone()))
                .expression_attribute_values(":from", number(*self.keys.start()))
                .expression_attribute_values(":to", number(*self.keys.end()))
                .expression_attribute_values(":now", number(now))
                .scan_index_forward(self.order == IndexOrder::Ascending)
                .limit(per_page)
                .set_exclusive_start_key(shard.next_page.take())
                .send()
                .await
                .map_err(|e| error(table, "Query", e))?;
            for attrs in out.items.unwrap_or_default() {
                shard
                    .fetched
                    .extend(Some(item(table, &attrs)?).filter(|i| live(i, now)));
            }
            shard.next_page = out.last_evaluated_key.filter(|k| !k.is_empty());
            shard.exhausted = shard.next_page.is_none();
        }
        Ok(())
    }
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_spread_over_every_shard() {
        let mut per_shard = std::collections::HashMap::<String, usize>::new();
        for i in 0..16_000 {
            *per_shard.entry(shard(&format!("hook:{i}"))).or_default() += 1;
        }
        assert_eq!(per_shard.len(), SHARDS as usize);
        assert!(
            per_shard.values().all(|&n| (800..1200).contains(&n)),
            "{per_shard:?}"
        );
        assert_eq!(shard("webhook:alerts"), shard("webhook:alerts"));
    }
}
