//! Which events someone in this process is waiting on, and the wake-up when
//! one settles. A caller that sent `Prefer: wait` hears from the handler
//! stage the moment its event's record turns `done` or `failed`, instead of
//! reading the store in a loop. Only for a backend whose handler runs in
//! the same process (the embedded one); on Lambda the handler is another
//! process, and ingress reads the status record with backoff instead.
//!
//! Imports nothing else of ours: the ports, the handler and ingress all
//! reach it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Event ids with a waiter, each with the one [`Notify`] its waiters share
/// (a repeated hook waits on the first one's event).
#[derive(Debug, Default)]
pub struct Settled {
    waiting: Mutex<HashMap<String, Arc<Notify>>>,
}

/// A waiter's hold on one event id; dropping the last one forgets the id.
pub struct Watch<'a> {
    settled: &'a Settled,
    event_id: String,
    notify: Arc<Notify>,
}

impl Settled {
    /// Registers interest in `event_id`. Enable the [`Watch::notified`]
    /// future before reading the record, so a settle in between is not
    /// missed.
    pub fn watch(&self, event_id: &str) -> Watch<'_> {
        let notify = self.lock().entry(event_id.to_string()).or_default().clone();
        Watch {
            settled: self,
            event_id: event_id.to_string(),
            notify,
        }
    }

    /// Wakes every waiter on `event_id`; the record is written already.
    pub fn settle(&self, event_id: &str) {
        if let Some(notify) = self.lock().get(event_id) {
            notify.notify_waiters();
        }
    }

    /// Ids with at least one waiter (for tests and leak checks).
    pub fn waiting(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Watch<'_> {
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let mut waiting = self.settled.lock();
        // The map's reference and ours: no other waiter on this id.
        if Arc::strong_count(&self.notify) == 2 {
            waiting.remove(&self.event_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_settle_wakes_every_waiter_on_its_id_and_only_them() {
        let settled = Settled::default();
        let other = settled.watch("ev2");
        {
            let (a, b) = (settled.watch("ev1"), settled.watch("ev1"));
            let (na, nb, nother) = (a.notified(), b.notified(), other.notified());
            tokio::pin!(na, nb, nother);
            na.as_mut().enable();
            nb.as_mut().enable();
            nother.as_mut().enable();
            settled.settle("ev1");
            tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(na, nb) })
                .await
                .expect("both waiters on ev1 are woken");
            let still = tokio::time::timeout(Duration::from_millis(20), nother).await;
            assert!(still.is_err(), "a waiter on ev2 is not woken by ev1");
        }
        assert_eq!(
            settled.waiting(),
            1,
            "ev1 is forgotten once its waiters leave"
        );
        drop(other);
        assert_eq!(settled.waiting(), 0);
    }
}
