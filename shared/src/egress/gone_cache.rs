//! The 410 Gone markers of subscriptions, their control records (pause
//! and resume) and their circuit breakers, cached: read from the store (one query: they share a
//! partition) at most every [`REFRESH`] per process instead of once per
//! event and once per attempt. A 410 seen by this process counts at once;
//! one seen by another process (another Lambda instance, a CLI), and a
//! pause or resume, within [`REFRESH`].

use super::control::{self, BreakerState, Control};
use super::log::{self, DisabledMarker};
use crate::ports::{Store, StoreError, Table};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

pub const REFRESH: chrono::Duration = chrono::Duration::seconds(5);

pub type Markers = Arc<HashMap<String, DisabledMarker>>;
pub type Controls = Arc<HashMap<String, Control>>;
pub type Breakers = Arc<HashMap<String, BreakerState>>;

#[derive(Clone)]
struct Loaded {
    at: DateTime<Utc>,
    markers: Markers,
    controls: Controls,
    breakers: Breakers,
}

#[derive(Default)]
pub struct GoneCache {
    loaded: Mutex<Option<Loaded>>,
}

impl GoneCache {
    /// The markers as of at most [`REFRESH`] ago (by the injected clock).
    pub async fn get(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Markers, StoreError> {
        Ok(self.fresh(store, now).await?.markers)
    }

    /// The control records as of at most [`REFRESH`] ago.
    pub async fn controls(
        &self,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<Controls, StoreError> {
        Ok(self.fresh(store, now).await?.controls)
    }

    /// The circuit breakers as of at most [`REFRESH`] ago, or as this
    /// process last changed them.
    pub async fn breakers(
        &self,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<Breakers, StoreError> {
        Ok(self.fresh(store, now).await?.breakers)
    }

    /// Makes a breaker change this process stored count here at once.
    pub async fn set_breaker(&self, subscription: &str, state: BreakerState) {
        let mut loaded = self.loaded.lock().await;
        if let Some(l) = loaded.as_mut() {
            let mut b = (*l.breakers).clone();
            b.insert(subscription.to_string(), state);
            l.breakers = Arc::new(b);
        }
    }

    async fn fresh(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Loaded, StoreError> {
        let mut loaded = self.loaded.lock().await;
        if let Some(l) = loaded.as_ref() {
            if l.at <= now && now - l.at < REFRESH {
                return Ok(l.clone());
            }
        }
        let items = store
            .query(Table::Deliveries, log::MARKERS_PK, 10_000, now.timestamp())
            .await?;
        let l = Loaded {
            at: now,
            markers: Arc::new(log::markers_from(&items)),
            controls: Arc::new(control::from_items(&items)),
            breakers: Arc::new(super::breaker::from_items(&items)),
        };
        *loaded = Some(l.clone());
        Ok(l)
    }

    /// Stores a new marker and makes it count here at once.
    pub async fn add(&self, store: &dyn Store, marker: DisabledMarker) -> Result<(), StoreError> {
        log::mark_gone(store, &marker).await?;
        let mut loaded = self.loaded.lock().await;
        if let Some(l) = loaded.as_mut() {
            let mut m = (*l.markers).clone();
            m.insert(marker.subscription.clone(), marker);
            l.markers = Arc::new(m);
        }
        Ok(())
    }
}
