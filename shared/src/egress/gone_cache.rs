//! The 410 Gone markers of subscriptions, cached: read from the store at
//! most every [`REFRESH`] per process instead of once per event and once
//! per attempt. A 410 seen by this process counts at once; one seen by
//! another process (another Lambda instance, a CLI) within [`REFRESH`].

use super::log::{self, DisabledMarker};
use crate::ports::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

pub const REFRESH: chrono::Duration = chrono::Duration::seconds(5);

pub type Markers = Arc<HashMap<String, DisabledMarker>>;

#[derive(Default)]
pub struct GoneCache {
    loaded: Mutex<Option<(DateTime<Utc>, Markers)>>,
}

impl GoneCache {
    /// The markers as of at most [`REFRESH`] ago (by the injected clock).
    pub async fn get(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Markers, StoreError> {
        let mut loaded = self.loaded.lock().await;
        if let Some((at, markers)) = loaded.as_ref() {
            if *at <= now && now - *at < REFRESH {
                return Ok(markers.clone());
            }
        }
        let markers = Arc::new(log::disabled_markers(store, now).await?);
        *loaded = Some((now, markers.clone()));
        Ok(markers)
    }

    /// Stores a new marker and makes it count here at once.
    pub async fn add(&self, store: &dyn Store, marker: DisabledMarker) -> Result<(), StoreError> {
        log::mark_gone(store, &marker).await?;
        let mut loaded = self.loaded.lock().await;
        if let Some((_, markers)) = loaded.as_mut() {
            let mut m = (**markers).clone();
            m.insert(marker.subscription.clone(), marker);
            *markers = Arc::new(m);
        }
        Ok(())
    }
}
