//! The messages that follow a stage's message in its FIFO group, which a
//! stage may fold into its own work (a coalescing handler's one agent turn
//! for a burst of one session's hooks).
//!
//! What a stage takes is settled with its message: acked when the stage
//! says done (so a hook is deleted only once the work that folded it is
//! recorded), put back when it asks for a retry. Where they come from is
//! the consumer's business: the rest of the group in the batch received
//! (both consumers), then, on a queue that can receive by group (the
//! embedded one), the group's messages still waiting once the stage's
//! window has closed.

use super::Pending;
use crate::ports::{Queue, Received};
use std::sync::Mutex;
use std::time::Duration;

/// Where the followers of one message come from, and what a stage took.
pub struct Followers<'a> {
    head: Option<&'a Received>,
    /// The group's later messages in the same batch, in order.
    batch: &'a [Received],
    /// A queue to take more of the group from, with the visibility to take
    /// them for and the heartbeat's receipts to add them to.
    queue: Option<(&'a dyn Queue, Duration, Option<&'a Pending>)>,
    taken: Mutex<Vec<Received>>,
}

impl<'a> Followers<'a> {
    /// No followers: a stage that folds works its message alone.
    pub fn none() -> Self {
        Followers {
            head: None,
            batch: &[],
            queue: None,
            taken: Mutex::new(Vec::new()),
        }
    }

    /// The group's later messages of one batch (Lambda's SQS batch).
    pub fn batch(head: &'a Received, batch: &'a [Received]) -> Self {
        Followers {
            head: Some(head),
            batch,
            ..Followers::none()
        }
    }

    /// The batch's, then those still waiting on `queue` (the local consumer).
    pub fn queued(
        head: &'a Received,
        batch: &'a [Received],
        queue: &'a dyn Queue,
        visibility: Duration,
        pending: Option<&'a Pending>,
    ) -> Self {
        Followers {
            queue: Some((queue, visibility, pending)),
            ..Followers::batch(head, batch)
        }
    }

    /// Up to `max` messages that follow the head, in order. When the batch
    /// holds fewer and a queue can give more, waits out `window` first, so
    /// hooks arriving meanwhile are taken too.
    pub async fn take(&self, max: usize, window: Duration) -> Vec<Received> {
        let mut out = Vec::new();
        let (Some(head), true) = (self.head, max > 0) else {
            return out;
        };
        let already = self.taken.lock().unwrap().len();
        let from_batch = self.batch.iter().skip(already).take(max);
        out.extend(from_batch.cloned());
        if let Some((queue, visibility, pending)) = self.queue.filter(|_| out.len() < max) {
            if !window.is_zero() {
                tokio::time::sleep(window).await;
            }
            match queue
                .receive_following(head, max - out.len(), visibility)
                .await
            {
                Ok(more) => {
                    if let Some(p) = pending {
                        p.add(more.iter().map(|m| m.receipt.clone())).await;
                    }
                    out.extend(more);
                }
                Err(e) => {
                    tracing::warn!(queue = queue.name(), error = %e, "could not take the waiting messages of the group; the message goes alone")
                }
            }
        }
        self.taken.lock().unwrap().extend(out.iter().cloned());
        out
    }

    /// Puts back what the stage took but does not fold (the tail from the
    /// first message it cannot take): a batch's are left to the consumer's
    /// loop, a queue's shown again at once.
    pub async fn release(&self, msgs: &[Received]) {
        let ids: Vec<&str> = msgs.iter().map(|m| m.message_id.as_str()).collect();
        self.taken
            .lock()
            .unwrap()
            .retain(|m| !ids.contains(&m.message_id.as_str()));
        self.put_back(msgs).await;
    }

    /// Shows the queue's messages among `msgs` again at once.
    async fn put_back(&self, msgs: &[Received]) {
        let Some((queue, _, pending)) = self.queue else {
            return;
        };
        for m in msgs.iter().filter(|m| !self.in_batch(m)) {
            if let Some(p) = pending {
                p.remove(&m.receipt).await;
            }
            if let Err(e) = queue.change_visibility(&m.receipt, Duration::ZERO).await {
                tracing::warn!(queue = queue.name(), message_id = %m.message_id, error = %e, "could not put back a message not folded; it shows again after its visibility timeout");
            }
        }
    }

    fn in_batch(&self, m: &Received) -> bool {
        self.batch.iter().any(|b| b.message_id == m.message_id)
    }

    /// What the stage took and kept, in order.
    pub fn taken(&self) -> Vec<Received> {
        self.taken.lock().unwrap().clone()
    }

    /// After a retry of the head: everything taken goes back.
    pub async fn give_back_all(&self) {
        let all = std::mem::take(&mut *self.taken.lock().unwrap());
        self.put_back(&all).await;
    }
}
