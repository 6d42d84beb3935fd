//! What the console keeps in the store, so every instance (each Lambda,
//! the one server) agrees: the console key every session is signed under,
//! which "sign out everywhere" replaces, and the sessions signed out before
//! they expired. Both live in the `Limits` table, which the functions that
//! serve the console already read and write; a signed-out session's item
//! expires with the session.

use crate::ports::{Item, Store, StoreError, Table};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

const KEY_PK: &str = "console:key";
const KEY_SK: &str = "current";
const SIGNED_OUT_PK: &str = "console:signed-out";

/// The console key, made on first use.
pub async fn console_key(store: &dyn Store, now: i64) -> Result<Vec<u8>, StoreError> {
    for _ in 0..3 {
        if let Some(item) = store.get(Table::Limits, KEY_PK, KEY_SK, now).await? {
            if let Some(key) = decode(&item) {
                return Ok(key);
            }
        }
        // Another instance may write first: either way, read back the one
        // that was kept.
        let item = Item::new(KEY_PK, KEY_SK, json!({ "key": fresh_key() }));
        store.put_if_absent(Table::Limits, item, now).await?;
    }
    Err(StoreError::Backend {
        table: Table::Limits.as_str(),
        message: "the console key could not be read back after writing it".into(),
    })
}

/// "Sign out everywhere": a new console key, so every session signed
/// under the old one is refused by every instance.
pub async fn rotate(store: &dyn Store) -> Result<(), StoreError> {
    let item = Item::new(KEY_PK, KEY_SK, json!({ "key": fresh_key() }));
    store.put(Table::Limits, item).await.map(|_| ())
}

/// Remembers a session as signed out until it would have expired.
pub async fn sign_out(store: &dyn Store, nonce: &str, expiry: i64) -> Result<(), StoreError> {
    let item = Item::new(SIGNED_OUT_PK, nonce, json!({})).expires_at(expiry);
    store.put(Table::Limits, item).await.map(|_| ())
}

pub async fn signed_out(store: &dyn Store, nonce: &str, now: i64) -> Result<bool, StoreError> {
    Ok(store
        .get(Table::Limits, SIGNED_OUT_PK, nonce, now)
        .await?
        .is_some())
}

fn decode(item: &Item) -> Option<Vec<u8>> {
    let text = item.value["key"].as_str()?;
    STANDARD.decode(text).ok().filter(|k| k.len() == 32)
}

fn fresh_key() -> String {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    STANDARD.encode(key)
}
