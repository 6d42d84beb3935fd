//! [`Store`] on DynamoDB: one table per [`Table`], each item
//!
//! | attribute | type | holds |
//! |---|---|---|
//! | `pk` | S (partition key) | `#` + the item's pk |
//! | `sk` | S (sort key) | `#` + the item's sk |
//! | `v` | S | the value, as JSON text |
//! | `ttl` | N | expiry, unix seconds (the table's TTL attribute) |
//! | `ver` | N | version, bumped by every write |
//! | `ix`, `ixp` | N, S | the index key and its shard, only on indexed items (GSI `by-index-key`, see [`index`]) |
//!
//! Keys carry a `#` prefix because DynamoDB refuses empty strings in key
//! attributes and the store allows them (dedup items use an empty sort
//! key); a common prefix keeps the sort order of the sort keys.
//!
//! DynamoDB's TTL deletes expired items lazily (up to days late), so every
//! read and every condition treats `ttl <= now` as absent (an item is gone
//! from its expiry second on, as in the embedded store).

pub mod index;

use crate::ports::{IndexOrder, Item, Store, StoreError, Table};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;
use std::ops::RangeInclusive;

/// The expression that keeps only live items (no `ttl`, or a `ttl` still ahead).
const LIVE: &str = "attribute_not_exists(#ttl) OR #ttl > :now";
/// The condition for a create: nothing there, or only an expired leftover.
const ABSENT: &str = "attribute_not_exists(pk) OR #ttl <= :now";
/// The condition for an update: the expected version, and still live.
const AT_VERSION: &str = "#ver = :expected AND (attribute_not_exists(#ttl) OR #ttl > :now)";

/// The table names of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub sessions: String,
    pub dedup: String,
    pub events: String,
    pub deliveries: String,
    pub limits: String,
}

impl TableNames {
    /// `<prefix>-sessions`, `<prefix>-dedup`, … as [`super::bootstrap`] creates them.
    pub fn with_prefix(prefix: &str) -> Self {
        let n = |t: Table| format!("{prefix}-{}", t.as_str());
        TableNames {
            sessions: n(Table::Sessions),
            dedup: n(Table::Dedup),
            events: n(Table::Events),
            deliveries: n(Table::Deliveries),
            limits: n(Table::Limits),
        }
    }

    pub fn get(&self, table: Table) -> &str {
        match table {
            Table::Sessions => &self.sessions,
            Table::Dedup => &self.dedup,
            Table::Events => &self.events,
            Table::Deliveries => &self.deliveries,
            Table::Limits => &self.limits,
        }
    }
}

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    tables: TableNames,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, tables: TableNames) -> Self {
        DynamoStore { client, tables }
    }

    fn name(&self, table: Table) -> String {
        self.tables.get(table).to_string()
    }

    /// A conditional put; `Ok(false)` when the condition does not hold.
    async fn put_where(
        &self,
        table: Table,
        item: Item,
        version: u64,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> Result<Option<u64>, StoreError> {
        let mut names = HashMap::from([("#ttl".to_string(), "ttl".to_string())]);
        if condition.contains("#ver") {
            names.insert("#ver".into(), "ver".into());
        }
        let res = self
            .client
            .put_item()
            .table_name(self.name(table))
            .set_item(Some(attributes(&item, version)))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match res {
            Ok(_) => Ok(Some(version)),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(None)
            }
            Err(e) => Err(error(table, "PutItem", e)),
        }
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(
        &self,
        table: Table,
        pk: &str,
        sk: &str,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.name(table))
            .key("pk", key(pk))
            .key("sk", key(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error(table, "GetItem", e))?;
        match out.item() {
            Some(attrs) => Ok(Some(item(table, attrs)?).filter(|i| live(i, now))),
            None => Ok(None),
        }
    }

    async fn put(&self, table: Table, item: Item) -> Result<u64, StoreError> {
        // An update rather than a put, so the version is bumped from what is
        // stored in the same call (no read-then-write race).
        let (expression, values) = update(&item);
        let out = self
            .client
            .update_item()
            .table_name(self.name(table))
            .key("pk", key(&item.pk))
            .key("sk", key(&item.sk))
            .update_expression(expression)
            .expression_attribute_names("#v", "v")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#ver", "ver")
            .expression_attribute_names("#ix", index::KEY_ATTRIBUTE)
            .expression_attribute_names("#ixp", index::SHARD_ATTRIBUTE)
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| error(table, "UpdateItem", e))?;
        out.attributes()
            .and_then(|a| number(a.get("ver")))
            .map(|v| v as u64)
            .ok_or_else(|| StoreError::Backend {
                table: table.as_str(),
                message: "UpdateItem returned no version".into(),
            })
    }

    async fn put_if_absent(
        &self,
        table: Table,
        item: Item,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        let values = HashMap::from([(":now".to_string(), AttributeValue::N(now.to_string()))]);
        self.put_where(table, item, 1, ABSENT, values).await
    }

    async fn put_if_version(
        &self,
        table: Table,
        item: Item,
        expected: u64,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        if expected == 0 {
            return self.put_if_absent(table, item, now).await;
        }
        let values = HashMap::from([
            (":now".to_string(), AttributeValue::N(now.to_string())),
            (
                ":expected".to_string(),
                AttributeValue::N(expected.to_string()),
            ),
        ]);
        self.put_where(table, item, expected + 1, AT_VERSION, values)
            .await
    }

    async fn delete(&self, table: Table, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(self.name(table))
            .key("pk", key(pk))
            .key("sk", key(sk))
            .send()
            .await
            .map_err(|e| error(table, "DeleteItem", e))?;
        Ok(())
    }

    async fn query(
        &self,
        table: Table,
        pk: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Item>, StoreError> {
        live_pages(table, limit, now, |start, page| async move {
            let out = self
                .client
                .query()
                .table_name(self.name(table))
                .key_condition_expression("pk = :pk")
                .filter_expression(LIVE)
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":pk", key(pk))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .scan_index_forward(true)
                .consistent_read(true)
                .limit(page)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| error(table, "Query", e))?;
            Ok((out.items, out.last_evaluated_key))
        })
        .await
    }

    async fn scan(&self, table: Table, limit: usize, now: i64) -> Result<Vec<Item>, StoreError> {
        live_pages(table, limit, now, |start, page| async move {
            let out = self
                .client
                .scan()
                .table_name(self.name(table))
                .filter_expression(LIVE)
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .consistent_read(true)
                .limit(page)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| error(table, "Scan", e))?;
            Ok((out.items, out.last_evaluated_key))
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
        let read = index::IndexRead {
            store: self,
            table,
            keys,
            order,
            now,
        };
        read.run(limit).await
    }
}

/// The update expression of a plain put, and its values: sets the value,
/// sets or removes the expiry and the index attributes, bumps the version.
fn update(item: &Item) -> (String, Attributes) {
    let value = serde_json::to_string(&item.value).expect("JSON values serialize");
    let mut values = HashMap::from([
        (":v".to_string(), AttributeValue::S(value)),
        (":one".to_string(), AttributeValue::N("1".into())),
    ]);
    let (mut set, mut remove) = (vec!["#v = :v"], Vec::new());
    match item.expires_at {
        Some(t) => {
            values.insert(":ttl".into(), AttributeValue::N(t.to_string()));
            set.push("#ttl = :ttl");
        }
        None => remove.push("#ttl"),
    }
    match item.index_key {
        Some(k) => {
            values.insert(":ix".into(), AttributeValue::N(k.to_string()));
            values.insert(":ixp".into(), AttributeValue::S(index::shard(&item.pk)));
            set.extend(["#ix = :ix", "#ixp = :ixp"]);
        }
        None => remove.extend(["#ix", "#ixp"]),
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression += &format!(" REMOVE {}", remove.join(", "));
    }
    (expression + " ADD #ver :one", values)
}

type Attributes = HashMap<String, AttributeValue>;

/// Up to `limit` live items from a paged read. DynamoDB applies `Limit`
/// before the filter, so pages of expired leftovers come back short or
/// empty; this pages on until enough live items are found or the read is
/// exhausted.
async fn live_pages<F, Fut>(
    table: Table,
    limit: usize,
    now: i64,
    mut fetch: F,
) -> Result<Vec<Item>, StoreError>
where
    F: FnMut(Option<Attributes>, i32) -> Fut,
    Fut: std::future::Future<
        Output = Result<(Option<Vec<Attributes>>, Option<Attributes>), StoreError>,
    >,
{
    let mut items = Vec::new();
    let mut start = None;
    while items.len() < limit {
        let (page_items, last) = fetch(start.take(), page(limit - items.len())).await?;
        for attrs in page_items.unwrap_or_default() {
            items.extend(Some(item(table, &attrs)?).filter(|i| live(i, now)));
        }
        match last {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    items.truncate(limit);
    Ok(items)
}

/// Items evaluated per page: what is still wanted, within DynamoDB's bounds.
fn page(wanted: usize) -> i32 {
    wanted.clamp(1, 1000) as i32
}

fn live(item: &Item, now: i64) -> bool {
    item.expires_at.is_none_or(|t| t > now)
}

fn key(s: &str) -> AttributeValue {
    AttributeValue::S(format!("#{s}"))
}

fn unkey(v: Option<&AttributeValue>) -> Option<String> {
    match v {
        Some(AttributeValue::S(s)) => Some(s.strip_prefix('#').unwrap_or(s).to_string()),
        _ => None,
    }
}

fn number(v: Option<&AttributeValue>) -> Option<i64> {
    match v {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

fn attributes(item: &Item, version: u64) -> HashMap<String, AttributeValue> {
    let value = serde_json::to_string(&item.value).expect("JSON values serialize");
    let mut m = HashMap::from([
        ("pk".to_string(), key(&item.pk)),
        ("sk".to_string(), key(&item.sk)),
        ("v".to_string(), AttributeValue::S(value)),
        ("ver".to_string(), AttributeValue::N(version.to_string())),
    ]);
    if let Some(t) = item.expires_at {
        m.insert("ttl".into(), AttributeValue::N(t.to_string()));
    }
    if let Some(k) = item.index_key {
        m.insert(
            index::KEY_ATTRIBUTE.into(),
            AttributeValue::N(k.to_string()),
        );
        m.insert(
            index::SHARD_ATTRIBUTE.into(),
            AttributeValue::S(index::shard(&item.pk)),
        );
    }
    m
}

/// An item from its attributes; an item not in our shape is an error
/// naming the table, not a silent `None`.
fn item(table: Table, a: &HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let bad = |what: &str| StoreError::Backend {
        table: table.as_str(),
        message: format!("item without a valid {what} attribute"),
    };
    let pk = unkey(a.get("pk")).ok_or_else(|| bad("pk"))?;
    let sk = unkey(a.get("sk")).ok_or_else(|| bad("sk"))?;
    let value = match a.get("v") {
        Some(AttributeValue::S(s)) => serde_json::from_str(s).map_err(|_| bad("v"))?,
        _ => return Err(bad("v")),
    };
    Ok(Item {
        pk,
        sk,
        value,
        expires_at: number(a.get("ttl")),
        version: number(a.get("ver")).unwrap_or(0) as u64,
        index_key: number(a.get(index::KEY_ATTRIBUTE)),
    })
}

fn error<E, R>(table: Table, op: &str, e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Backend {
        table: table.as_str(),
        message: format!("{op}: {}", DisplayErrorContext(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_round_trip_through_attributes_with_empty_keys() {
        let it = Item::new("hook\u{0}abc", "", json!({"a": [1, "x"]})).expires_at(42);
        let back = item(Table::Dedup, &attributes(&it, 3)).unwrap();
        assert_eq!(back.pk, it.pk);
        assert_eq!(back.sk, "");
        assert_eq!(back.value, it.value);
        assert_eq!(back.expires_at, Some(42));
        assert_eq!(back.version, 3);
        assert_eq!(back.index_key, None);
        let indexed = it.index_key(-7);
        let back = item(Table::Dedup, &attributes(&indexed, 1)).unwrap();
        assert_eq!(back.index_key, Some(-7));
    }

    #[test]
    fn an_item_is_gone_from_its_expiry_second_on() {
        let it = Item::new("a", "b", json!(1)).expires_at(100);
        assert!(live(&it, 99));
        assert!(!live(&it, 100));
        assert!(live(&Item::new("a", "b", json!(1)), i64::MAX));
    }

    #[test]
    fn foreign_items_are_errors_naming_the_table() {
        let a = HashMap::from([("pk".to_string(), AttributeValue::S("#x".into()))]);
        let e = item(Table::Sessions, &a).unwrap_err().to_string();
        assert!(e.contains("sessions") && e.contains("sk"), "{e}");
    }
}
