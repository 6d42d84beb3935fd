//! A queue with SQS's semantics: at-least-once delivery, a visibility
//! timeout, a receive count, delays, and an optional message group that
//! orders messages (FIFO queues). Dead-lettering after `maxReceiveCount` is
//! the queue's own business (SQS's redrive policy, or the embedded queue's
//! equivalent), so callers only ever receive, delete, or let a message lapse.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest delay SQS accepts on one message; longer waits are chained.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewMessage {
    pub body: String,
    /// Messages of one group are delivered one at a time, in order (FIFO
    /// queues); ignored by standard queues.
    pub group: Option<String>,
    /// Deduplication id for FIFO queues; a unique one is made when absent.
    pub dedup_id: Option<String>,
    /// Not delivered before this delay has passed (at most [`MAX_DELAY`]).
    pub delay: Duration,
    pub attributes: BTreeMap<String, String>,
}

impl NewMessage {
    pub fn new(body: impl Into<String>) -> Self {
        NewMessage {
            body: body.into(),
            ..Default::default()
        }
    }
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay.min(MAX_DELAY);
        self
    }
    pub fn attribute(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.attributes.insert(k.into(), v.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub message_id: String,
    /// Handle for delete and visibility changes; valid for this receipt only.
    pub receipt: String,
    pub body: String,
    /// How many times this message has been received, this time included.
    pub receive_count: u32,
    pub group: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue {queue}: {message}")]
    Backend { queue: String, message: String },
    #[error("message too large: {size} bytes, limit {limit}")]
    TooLarge { size: usize, limit: usize },
    /// A `cursor` this queue did not hand out (the input's fault).
    #[error("cursor {0:?} is not one a page of this queue gave")]
    BadCursor(String),
    /// What this queue cannot do at all, with what to do instead.
    #[error("{0}")]
    Unsupported(String),
}

/// Messages [`Queue::peek_page`] reads at most on adapters that can only
/// read the whole queue.
pub const PEEK_ALL: usize = 100_000;

/// One page of [`Queue::peek_page`].
#[derive(Debug, Default)]
pub struct PeekPage {
    pub messages: Vec<Received>,
    /// Where the next page starts; `None` after the last.
    pub next: Option<String>,
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// A name for logs and errors.
    fn name(&self) -> &str;

    async fn send(&self, msg: NewMessage) -> Result<String, QueueError>;

    /// Sends several messages; the default sends them one by one.
    async fn send_batch(&self, msgs: Vec<NewMessage>) -> Result<Vec<String>, QueueError> {
        let mut ids = Vec::with_capacity(msgs.len());
        for m in msgs {
            ids.push(self.send(m).await?);
        }
        Ok(ids)
    }

    /// Up to `max` messages (at most 10), hidden from other receivers for
    /// `visibility`. Waits up to `wait` for the first one (long polling).
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Received>, QueueError>;

    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;

    /// Deletes several messages; the default deletes them one by one.
    async fn delete_batch(&self, receipts: &[String]) -> Result<(), QueueError> {
        for r in receipts {
            self.delete(r).await?;
        }
        Ok(())
    }

    /// Up to `max` messages of the FIFO group of `head` (a message this
    /// consumer holds in flight) that come next after it, in order, taken
    /// as [`Queue::receive`] takes them: how a stage folds a session's
    /// waiting hooks into one piece of work. Stops at a message not yet
    /// visible. Queues that cannot receive by group (SQS) take none: there
    /// the fold is what one batch of the group holds.
    async fn receive_following(
        &self,
        _head: &Received,
        _max: usize,
        _visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        Ok(Vec::new())
    }

    /// Shows the message again after `timeout` (zero: at once).
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError>;

    /// Up to `max` waiting messages (visible or not), oldest first, read
    /// without being received: a listing (`GET /dlq`) hides nothing from a
    /// concurrent consumer and changes no state. Receipts are empty: a
    /// peeked message cannot be deleted or hidden through them. Adapters
    /// that cannot read without receiving say what they do instead.
    async fn peek(&self, max: usize) -> Result<Vec<Received>, QueueError>;

    /// Up to `max` waiting messages after `cursor` (a previous page's
    /// `next`), read as [`Queue::peek`] reads, in an order that holds
    /// between pages. The default peeks the whole queue (up to
    /// [`PEEK_ALL`]) and pages it by message id; adapters that can read a
    /// range override it, so a page costs memory for its own messages only.
    async fn peek_page(&self, cursor: Option<&str>, max: usize) -> Result<PeekPage, QueueError> {
        let mut all = self.peek(PEEK_ALL).await?;
        all.sort_by(|a, b| a.message_id.cmp(&b.message_id));
        let start = cursor.map_or(0, |c| all.partition_point(|m| m.message_id.as_str() <= c));
        let mut rest = all.split_off(start);
        let more = rest.len() > max;
        rest.truncate(max);
        let next = more
            .then(|| rest.last().map(|m| m.message_id.clone()))
            .flatten();
        Ok(PeekPage {
            messages: rest,
            next,
        })
    }

    /// Messages waiting (visible or not), for status pages and tests; may be approximate.
    async fn approximate_len(&self) -> Result<usize, QueueError>;

    /// Messages waiting (visible or not) by the value of their attribute
    /// `key`, where the queue can count them so (SQS cannot: `None`).
    async fn count_by_attribute(
        &self,
        _key: &str,
    ) -> Result<Option<BTreeMap<String, usize>>, QueueError> {
        Ok(None)
    }

    /// How long the oldest waiting message has waited, where the queue can
    /// tell (SQS cannot: CloudWatch's `ApproximateAgeOfOldestMessage` is
    /// not in its API). `None`: empty, or unknown.
    async fn oldest_age(&self) -> Result<Option<Duration>, QueueError> {
        Ok(None)
    }
}
