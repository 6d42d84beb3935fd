//! Which subscriptions get an event's first attempt at once, while the
//! event is being fanned out, instead of through the delivery queue.
//!
//! Through the queue a first attempt costs a send, a receive and a delete
//! more, and waits for each. A receiver that answers quickly is better
//! served directly. But the events queue is FIFO per session: while a
//! first attempt runs, that session's next event waits. So a subscription
//! earns the direct path by its last attempt in this process: delivered
//! within [`FAST_ENOUGH`]. Until then (after a start, a failure or a slow
//! answer) its first attempts go through the queue, so a dead or slow
//! receiver holds up no session; one quick success brings it back.
//!
//! Either way the attempt is the same [`super::delivery::deliver`]: logged,
//! retried with backoff on the delivery queue, dead-lettered at the end.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// The slowest answer that keeps a subscription on the direct path.
pub const FAST_ENOUGH: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct FastPath {
    fast: Mutex<HashSet<String>>,
}

impl FastPath {
    /// Whether `subscription`'s next first attempt may run inline.
    pub fn allows(&self, subscription: &str) -> bool {
        self.fast
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(subscription)
    }

    /// Learns from an attempt: `delivered` and how long it took.
    pub fn record(&self, subscription: &str, delivered: bool, took: Duration) {
        let mut fast = self.fast.lock().unwrap_or_else(|p| p.into_inner());
        if delivered && took <= FAST_ENOUGH {
            if !fast.contains(subscription) {
                fast.insert(subscription.to_string());
            }
        } else {
            fast.remove(subscription);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_earns_the_direct_path_and_loses_it() {
        let f = FastPath::default();
        assert!(!f.allows("a"), "unknown: through the queue");
        f.record("a", true, Duration::from_millis(20));
        assert!(f.allows("a"));
        assert!(!f.allows("b"));
        f.record("a", true, FAST_ENOUGH + Duration::from_millis(1));
        assert!(!f.allows("a"), "too slow");
        f.record("a", true, Duration::from_millis(5));
        f.record("a", false, Duration::from_millis(5));
        assert!(!f.allows("a"), "failed");
    }
}
