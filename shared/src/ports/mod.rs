//! The small traits the stages need from the outside world. The core never
//! names SQS, DynamoDB or SQLite; adapters implement these.

pub mod clock;
pub mod http;
pub mod intake;
pub mod limiter;
pub mod queue;
pub mod store;

pub use clock::{Clock, SystemClock, TestClock};
pub use http::{HttpRequest, HttpResponse, HttpSender, SendError};
pub use intake::{Acceptance, Admission, Intake, IntakeError};
pub use limiter::Limiter;
pub use queue::{NewMessage, PeekPage, Queue, QueueError, Received};
pub use store::{IndexOrder, Item, Store, StoreError, Table};

use std::sync::Arc;

/// The queues and the store one deployment runs on.
#[derive(Clone)]
pub struct Backend {
    /// Keeps an accepted hook: claim, status and message (see [`intake`]).
    pub intake: Arc<dyn Intake>,
    /// Accepted hooks, for the handler stage (FIFO by session on SQS).
    pub handler_queue: Arc<dyn Queue>,
    pub handler_dlq: Arc<dyn Queue>,
    /// Lifecycle events, for egress to fan out.
    pub events_queue: Arc<dyn Queue>,
    pub events_dlq: Arc<dyn Queue>,
    /// One message per (event, subscription), retried on its own schedule.
    pub delivery_queue: Arc<dyn Queue>,
    pub delivery_dlq: Arc<dyn Queue>,
    pub store: Arc<dyn Store>,
    /// Abuse counters (failed authentications, `rateLimit`): in this
    /// process for the embedded backend, in the store's `Limits` table on
    /// AWS, where many Lambda instances must share them.
    pub limiter: Arc<dyn Limiter>,
    /// Wakes callers waiting on an event (`Prefer: wait`) when the handler
    /// runs in this process (embedded); `None` on AWS, where ingress reads
    /// the status record with backoff instead.
    pub settled: Option<Arc<crate::settled::Settled>>,
}
