//! Keeping an accepted hook: its idempotency claim, its status record and
//! its handler-queue message, written so that a 2xx is never sent for a
//! hook that is not queued, and a sender's retry with the same key is never
//! taken for a duplicate of a hook that was lost.
//!
//! Two ways to keep that promise, one per kind of backend:
//! - **One transaction** (the embedded backend): claim, status and message
//!   commit together or not at all. A claim that exists names a queued
//!   event ([`Admission::Claimed`] with `settled: true`).
//! - **A provisional claim** (SQS and DynamoDB, which share no
//!   transaction): the claim is written first and names the event id; the
//!   message and the status follow. A crash, a timeout or a failed send in
//!   between leaves a claim whose event may not be queued (`settled:
//!   false`), so ingress re-sends that event under the same event id when a
//!   retry finds the claim and the event has not started. The message's
//!   deduplication id is the event id: within SQS's five-minute window the
//!   FIFO queue drops the second copy; after it, the handler skips an event
//!   its status record shows done.

use super::{Item, NewMessage, QueueError, StoreError};
use async_trait::async_trait;

/// What one accepted hook writes.
#[derive(Debug, Clone)]
pub struct Acceptance {
    /// The idempotency key's claim (table `dedup`): its value names the
    /// event id and session key. `None` when the request had no key.
    pub claim: Option<Item>,
    /// The event's status record (table `events`), `queued`.
    pub status: Item,
    /// The inbound event for the handler queue.
    pub message: NewMessage,
}

/// What became of an [`Acceptance`].
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Written: the hook is queued.
    Queued,
    /// Another request already holds the idempotency key; nothing of this
    /// one was written. `claim` is that request's claim.
    Claimed {
        claim: Item,
        /// The backend wrote that claim together with its message, so the
        /// event it names is surely queued.
        settled: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait Intake: Send + Sync {
    /// Keeps the hook, or finds the claim of an earlier request with its key.
    /// An error means the hook is not queued (it may be, on a backend whose
    /// send timed out after it arrived; the event id makes that harmless).
    async fn admit(&self, acceptance: Acceptance, now: i64) -> Result<Admission, IntakeError>;
}
