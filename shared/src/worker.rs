//! The consumer side of a queue, shared by every stage and every shell.
//!
//! A [`Stage`] processes one message. `Ok` means done: the message is
//! deleted. `Err(Retry)` means "not now": the message is left to the queue,
//! which shows it again after its visibility timeout and, after
//! `maxReceiveCount` receives, dead-letters it. Permanent failures are the
//! stage's own business (record, emit `error`) and end in `Ok`, so a poison
//! message never loops.
//!
//! A message no attempt can ever read is not the stage's to drop: it goes
//! to the stage's dead-letter queue with [`dead_letter`], body intact, and
//! is deleted only once it is there.
//!
//! One driver settles every message: [`attempt`] runs the stage and acks
//! it or leaves it for a retry with a delay. The local server runs it in
//! [`run`] against a [`Queue`] (with a [`heartbeat`]); the Lambda glue
//! (`clawhooks::lambda`) runs it on each record of an SQS event. Only the
//! [`Backoff`] differs between the two.

mod follow;

pub use follow::Followers;

use crate::ports::{Backend, NewMessage, Queue, Received};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Try again later: after `after` if given, else the queue's visibility timeout.
    #[error("retry: {reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
}

impl StageError {
    pub fn retry(reason: impl Into<String>) -> Self {
        StageError::Retry {
            reason: reason.into(),
            after: None,
        }
    }
}

#[async_trait]
pub trait Stage: Send + Sync {
    fn name(&self) -> &'static str;
    async fn process(&self, msg: &Received) -> Result<(), StageError>;

    /// [`Stage::process`], with the messages that follow `msg` in its
    /// group at hand: a stage that folds them into its work takes them from
    /// `followers`, and they are settled with `msg`.
    async fn process_following(
        &self,
        msg: &Received,
        _followers: &Followers<'_>,
    ) -> Result<(), StageError> {
        self.process(msg).await
    }
}

/// The stages that read queues. Which queue each reads is written here
/// once ([`StageKind::routes`]), for the local server's pollers and the
/// Lambda functions' event sources alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageKind {
    /// The handler stage, on the handler queue (FIFO by session).
    Handler,
    /// The egress stage, on the events queue (FIFO by session: fan-out)
    /// and the delivery queue (standard: one delivery attempt each); the
    /// message body says which is which.
    Egress,
}

/// One stage on one of the queues it reads.
#[derive(Clone)]
pub struct Route {
    /// Where messages come from; it takes the visibility change of a retry
    /// (on Lambda its name is matched against each record's source ARN).
    pub queue: Arc<dyn Queue>,
    pub stage: Arc<dyn Stage>,
}

impl StageKind {
    /// The queues of `backend` this stage reads.
    pub fn queues(self, backend: &Backend) -> Vec<Arc<dyn Queue>> {
        match self {
            StageKind::Handler => vec![backend.handler_queue.clone()],
            StageKind::Egress => vec![backend.events_queue.clone(), backend.delivery_queue.clone()],
        }
    }

    /// `stage` (of this kind) on each queue it reads.
    pub fn routes(self, backend: &Backend, stage: Arc<dyn Stage>) -> Vec<Route> {
        self.queues(backend)
            .into_iter()
            .map(|queue| Route {
                queue,
                stage: stage.clone(),
            })
            .collect()
    }
}

/// The attribute that says why a stage dead-lettered a message itself.
pub const DEAD_LETTER_REASON: &str = "deadLetterReason";
/// Characters of a reason kept in [`DEAD_LETTER_REASON`].
const REASON_KEPT: usize = 256;

/// Moves a message that no attempt will ever read (it does not parse) to
/// `dlq`: retrying would only loop until the redrive, and deleting it would
/// lose what a sender was promised is kept. Body, group and attributes go
/// as they came, plus [`DEAD_LETTER_REASON`]; the source message id is the
/// FIFO deduplication id, so a redelivery after a crash between this send
/// and the delete does not make a second copy on a FIFO dead-letter queue.
///
/// `Ok` once the dead-letter queue has it (the caller's message may then be
/// deleted); `Err(Retry)` when it refused, so the message stays where it is
/// and the queue's own redrive still moves it at the latest.
pub async fn dead_letter(
    dlq: &dyn Queue,
    stage: &str,
    msg: &Received,
    reason: &str,
) -> Result<(), StageError> {
    let reason: String = reason.chars().take(REASON_KEPT).collect();
    let letter = NewMessage {
        body: msg.body.clone(),
        group: msg.group.clone(),
        dedup_id: Some(msg.message_id.clone()),
        delay: Duration::ZERO,
        attributes: msg.attributes.clone(),
    }
    .attribute(DEAD_LETTER_REASON, reason.clone());
    match dlq.send(letter).await {
        Ok(_) => {
            tracing::error!(stage, message_id = %msg.message_id, dead_letter_queue = dlq.name(), %reason, "unreadable message moved to the dead-letter queue");
            Ok(())
        }
        Err(e) => {
            tracing::error!(stage, message_id = %msg.message_id, dead_letter_queue = dlq.name(), %reason, error = %e, "unreadable message could not be dead-lettered; it stays on its queue");
            Err(StageError::retry(format!("not dead-lettered: {e}")))
        }
    }
}

/// How a consumer loop polls.
#[derive(Debug, Clone)]
pub struct PollSettings {
    pub batch: usize,
    pub visibility: Duration,
    pub wait: Duration,
    /// Messages processed at once (messages of one FIFO group never overlap:
    /// the queue does not hand out a group's next message while one is in flight).
    pub concurrency: usize,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            batch: 10,
            visibility: Duration::from_secs(60),
            wait: Duration::from_secs(1),
            concurrency: 16,
        }
    }
}

/// How long a message a stage asked to retry waits when the stage named
/// no time of its own (a `Retry-After`). The one difference between the
/// consumers: each picks the backoff that fits its queue's visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The queue's visibility timeout: the local consumer's is short (a
    /// minute by default) and its heartbeat keeps a slow message hidden
    /// while it is worked on, so the timeout itself is the backoff.
    Visibility,
    /// 5 s, doubling with each receive, at most 5 minutes: on Lambda the
    /// visibility timeout is sized for the longest invocation (twice the
    /// function timeout), far too long to wait out a passing failure.
    Doubling,
}

impl Backoff {
    /// The wait before the next try of a message received `receive_count`
    /// times; `None` leaves the message's visibility as it is.
    pub fn delay(self, receive_count: u32) -> Option<Duration> {
        match self {
            Backoff::Visibility => None,
            Backoff::Doubling => {
                let doublings = receive_count.saturating_sub(1).min(6);
                Some(Duration::from_secs((5u64 << doublings).min(300)))
            }
        }
    }
}

/// What one attempt decided for its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Done: delete it (on Lambda, leave it out of the batch item failures).
    Ack,
    /// Leave it to the queue, which shows it again once its visibility runs
    /// out (set here to the retry delay, if there is one) and dead-letters
    /// it after `maxReceiveCount` receives.
    Retry,
}

/// Runs `stage` on one message received from `queue` and settles it: `Ack`
/// when it is done; `Retry` with the message's visibility set to the delay
/// the stage asked for, else to what `backoff` says. A message no attempt
/// can read was already moved to its dead-letter queue by the stage
/// ([`dead_letter`]) and is acked like any finished one.
///
/// The one driver of both consumers: the local loop ([`run`], which also
/// passes the `pending` receipts its [`heartbeat`] extends) and the Lambda
/// batch glue. The message comes off `pending` before its retry delay is
/// set, so the heartbeat never stretches that delay.
pub async fn attempt(
    queue: &dyn Queue,
    stage: &dyn Stage,
    msg: &Received,
    backoff: Backoff,
    pending: Option<&Pending>,
) -> Settled {
    attempt_following(queue, stage, msg, &Followers::none(), backoff, pending).await
}

/// [`attempt`] with the messages that follow `msg` in its group: those the
/// stage took are the caller's to settle with `msg` (`Ack`: delete them
/// too; `Retry`: they were put back).
pub async fn attempt_following(
    queue: &dyn Queue,
    stage: &dyn Stage,
    msg: &Received,
    followers: &Followers<'_>,
    backoff: Backoff,
    pending: Option<&Pending>,
) -> Settled {
    let outcome = stage.process_following(msg, followers).await;
    if let Some(pending) = pending {
        pending.remove(&msg.receipt).await;
    }
    match outcome {
        Ok(()) => match crate::faults::check(crate::faults::WORKER_BEFORE_DELETE) {
            Ok(()) => Settled::Ack,
            Err(e) => {
                tracing::warn!(stage = stage.name(), message_id = %msg.message_id, error = %e, "not deleted");
                Settled::Retry
            }
        },
        Err(StageError::Retry { reason, after }) => {
            let after = after.or_else(|| backoff.delay(msg.receive_count));
            tracing::warn!(stage = stage.name(), message_id = %msg.message_id, receive_count = msg.receive_count, %reason, retry_in = ?after, "will retry");
            if let Some(after) = after {
                if let Err(e) = queue.change_visibility(&msg.receipt, after).await {
                    tracing::warn!(stage = stage.name(), error = %e, "could not set retry delay");
                }
            }
            Settled::Retry
        }
    }
}

/// One message through [`attempt`] and, when it is done, deleted, as the
/// local loop does it (tests and one-off commands): `true` when deleted.
pub async fn process_one(queue: &dyn Queue, stage: &dyn Stage, msg: &Received) -> bool {
    if attempt(queue, stage, msg, Backoff::Visibility, None).await == Settled::Retry {
        return false;
    }
    if let Err(e) = queue.delete(&msg.receipt).await {
        tracing::error!(stage = stage.name(), error = %e, "delete failed; the message will be seen again");
    }
    true
}

/// Receipts a [`heartbeat`] keeps hidden: the messages of a chain not yet
/// finished. Locked across each beat, so a message taken off it is never
/// extended afterwards (over its retry delay, say).
pub struct Pending(tokio::sync::Mutex<Vec<String>>);

impl Pending {
    pub fn new(msgs: &[Received]) -> Self {
        Pending(tokio::sync::Mutex::new(
            msgs.iter().map(|m| m.receipt.clone()).collect(),
        ))
    }

    async fn remove(&self, receipt: &str) {
        self.0.lock().await.retain(|r| r != receipt);
    }

    async fn add(&self, receipts: impl Iterator<Item = String>) {
        self.0.lock().await.extend(receipts);
    }

    async fn clear(&self) {
        self.0.lock().await.clear();
    }
}

/// Runs `work` while extending the visibility of the `pending` messages
/// every third of `visibility`: a hook whose agent takes longer than the
/// visibility timeout is not shown again, and so not handled twice, while
/// it is still being worked on. A crash stops the beats, so the message
/// shows again one visibility timeout later, as before.
pub async fn heartbeat<F: std::future::Future>(
    queue: &dyn Queue,
    pending: &Pending,
    visibility: Duration,
    work: F,
) -> F::Output {
    let every = (visibility / 3).max(Duration::from_millis(100));
    let beats = async {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            let receipts = pending.0.lock().await;
            for r in receipts.iter() {
                if let Err(e) = queue.change_visibility(r, visibility).await {
                    tracing::warn!(queue = queue.name(), error = %e, "could not extend a message's visibility");
                }
            }
        }
    };
    tokio::select! {
        out = work => out,
        never = beats => never,
    }
}

/// Receipts deleted in one request, at most (SQS's DeleteMessageBatch limit).
const DELETE_BATCH: usize = 10;

/// Deletes the receipts of finished messages in batches until every sender
/// is gone. A finished task hands its receipt over and frees its permit at
/// once: it does not wait a round-trip for its delete, and concurrent
/// deletes become one request (one write on the embedded backend). A crash
/// before a batch lands shows those messages again, as a crash between
/// processing and deleting always could; stages are idempotent for that.
async fn delete_finished(
    queue: Arc<dyn Queue>,
    stage: &'static str,
    mut done: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut batch = Vec::with_capacity(DELETE_BATCH);
    while done.recv_many(&mut batch, DELETE_BATCH).await > 0 {
        if let Err(e) = queue.delete_batch(&batch).await {
            tracing::error!(stage, error = %e, messages = batch.len(), "delete failed; the messages will be seen again");
        }
        batch.clear();
    }
}

/// Receives in flight at once per queue, at most. One receive takes at most
/// a batch (10 on SQS) and waits a round-trip for it, so a lone poller caps
/// a consumer at a batch per round-trip however much `concurrency` allows.
pub const MAX_POLLERS: usize = 4;

/// Polls `queue` and feeds `stage` until `shutdown` turns true, then
/// finishes the messages in flight and returns.
///
/// Several pollers share the `concurrency` permits: each takes the permits
/// for a batch *before* it receives, so messages are never claimed without
/// room to process them (their visibility timeout would run while they wait).
pub async fn run(
    queue: Arc<dyn Queue>,
    stage: Arc<dyn Stage>,
    settings: PollSettings,
    shutdown: watch::Receiver<bool>,
) {
    let concurrency = settings.concurrency.max(1);
    let batch = settings.batch.clamp(1, concurrency);
    let pollers = (concurrency / (2 * batch)).clamp(1, MAX_POLLERS);
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..pollers {
        loops.spawn(poll(
            queue.clone(),
            stage.clone(),
            settings.clone(),
            permits.clone(),
            shutdown.clone(),
        ));
    }
    while loops.join_next().await.is_some() {}
    tracing::info!(stage = stage.name(), pollers, "consumer stopped");
}

async fn poll(
    queue: Arc<dyn Queue>,
    stage: Arc<dyn Stage>,
    settings: PollSettings,
    permits: Arc<tokio::sync::Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let concurrency = settings.concurrency.max(1);
    let batch = settings.batch.clamp(1, concurrency);
    // Receive in batches: wait until this many permits are free. Each
    // receive is a write (a claim) on the embedded backend, and claiming
    // one message per finished task made as many claims as messages.
    let floor = batch.min(concurrency / 2).max(1) as u32;
    let (finished, to_delete) = tokio::sync::mpsc::unbounded_channel();
    let deleter = tokio::spawn(delete_finished(queue.clone(), stage.name(), to_delete));
    let mut tasks = tokio::task::JoinSet::new();
    'poll: loop {
        while tasks.try_join_next().is_some() {}
        if *shutdown.borrow() {
            break;
        }
        let mut held = tokio::select! {
            p = permits.clone().acquire_many_owned(floor) => p.expect("semaphore open"),
            _ = shutdown.changed() => break 'poll,
        };
        while held.num_permits() < batch {
            match permits.clone().try_acquire_owned() {
                Ok(p) => held.merge(p),
                Err(_) => break,
            }
        }
        let received = tokio::select! {
            r = queue.receive(held.num_permits(), settings.visibility, settings.wait) => r,
            _ = shutdown.changed() => break,
        };
        match received {
            Ok(msgs) => {
                // One task per message group, in order within the group: a
                // FIFO batch may hold several messages of one session.
                for chain in by_group(msgs) {
                    let permit = held.split(1).expect("a permit per message received");
                    let (q, s, finished) = (queue.clone(), stage.clone(), finished.clone());
                    let visibility = settings.visibility;
                    tasks.spawn(async move {
                        work_chain(q.as_ref(), s.as_ref(), &chain, visibility, &finished).await;
                        drop(permit);
                    });
                }
                // Permits of a short batch go back at once (`held` drops).
            }
            Err(e) => {
                drop(held);
                tracing::error!(stage = stage.name(), queue = queue.name(), error = %e, "receive failed; backing off");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    // The last receipts are deleted before the consumer reports stopped.
    drop(finished);
    if let Err(e) = deleter.await {
        tracing::error!(stage = stage.name(), error = %e, "the deleter failed; finished messages may be seen again");
    }
}

/// Works one group's messages in order under a [`heartbeat`], handing
/// each finished receipt to the deleter; a message left for a retry stops
/// the chain, so later messages of the group wait for its redelivery. The
/// messages a stage folded into one's work ([`Followers`]) are finished
/// with it.
async fn work_chain(
    queue: &dyn Queue,
    stage: &dyn Stage,
    chain: &[Received],
    visibility: Duration,
    finished: &tokio::sync::mpsc::UnboundedSender<String>,
) {
    let pending = Pending::new(chain);
    let work = async {
        let mut folded = std::collections::HashSet::new();
        for (i, msg) in chain.iter().enumerate() {
            if folded.contains(&msg.message_id) {
                continue;
            }
            let rest = &chain[i + 1..];
            let followers = Followers::queued(msg, rest, queue, visibility, Some(&pending));
            let backoff = Backoff::Visibility;
            let settled =
                attempt_following(queue, stage, msg, &followers, backoff, Some(&pending)).await;
            if settled == Settled::Retry {
                followers.give_back_all().await;
                pending.clear().await;
                break;
            }
            let taken = followers.taken();
            for m in std::iter::once(msg).chain(&taken) {
                pending.remove(&m.receipt).await;
                folded.insert(m.message_id.clone());
                if finished.send(m.receipt.clone()).is_err() {
                    tracing::error!(stage = stage.name(), message_id = %m.message_id, "the deleter is gone; the message will be seen again");
                }
            }
        }
    };
    heartbeat(queue, &pending, visibility, work).await;
}

/// Splits a batch into per-group chains, keeping the queue's order;
/// messages without a group each form a chain of their own.
pub fn by_group(msgs: Vec<Received>) -> Vec<Vec<Received>> {
    let mut chains: Vec<Vec<Received>> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for m in msgs {
        match m.group.clone() {
            Some(g) => match index.get(&g) {
                Some(&i) => chains[i].push(m),
                None => {
                    index.insert(g, chains.len());
                    chains.push(vec![m]);
                }
            },
            None => chains.push(vec![m]),
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::embedded::{Embedded, QueueOptions};
    use crate::ports::NewMessage;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Records what it processed; fails (retry) the bodies listed in `fail`.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
        running: AtomicUsize,
        most_at_once: AtomicUsize,
        fail: Vec<String>,
    }

    #[async_trait]
    impl Stage for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        async fn process(&self, msg: &Received) -> Result<(), StageError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.seen.lock().unwrap().push(msg.body.clone());
            if self.fail.contains(&msg.body) {
                return Err(StageError::retry("told to fail"));
            }
            Ok(())
        }
    }

    /// Every finished message is deleted by the time the loop returns, even
    /// though deletes are batched after the tasks; a retried one stays.
    /// Several pollers fill the concurrency with more than one batch.
    #[tokio::test]
    async fn the_loop_deletes_what_it_finished_before_it_returns() {
        let db = Embedded::memory().unwrap();
        let q: Arc<dyn Queue> = Arc::new(db.queue("q", QueueOptions::default()));
        let bodies: Vec<String> = (0..120).map(|i| format!("m{i}")).collect();
        for chunk in bodies.chunks(10) {
            let msgs = chunk.iter().map(|b| NewMessage::new(b.clone())).collect();
            q.send_batch(msgs).await.unwrap();
        }
        let stage = Arc::new(Recorder {
            fail: vec!["m7".into()],
            ..Default::default()
        });
        let (stop, stopped) = watch::channel(false);
        let settings = PollSettings {
            concurrency: 64,
            visibility: Duration::from_secs(60),
            wait: Duration::from_millis(50),
            ..Default::default()
        };
        let consumer = tokio::spawn(run(q.clone(), stage.clone(), settings, stopped));
        tokio::time::timeout(Duration::from_secs(20), async {
            while stage.seen.lock().unwrap().len() < bodies.len() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("every message processed");
        stop.send(true).unwrap();
        consumer.await.unwrap();

        let mut seen = stage.seen.lock().unwrap().clone();
        seen.sort();
        let mut want = bodies.clone();
        want.sort();
        assert_eq!(seen, want, "each message processed once");
        assert!(
            stage.most_at_once.load(Ordering::SeqCst) > 10,
            "more than one batch in flight at once"
        );
        let left = db.queue("q", QueueOptions::default()).peek_all(10).unwrap();
        let left: Vec<_> = left.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(left, ["m7"], "only the retried message is left");
    }

    #[test]
    fn lambda_retries_back_off_from_5_s_to_5_minutes_and_local_ones_wait_out_visibility() {
        let delays: Vec<u64> = (1..=9)
            .map(|n| Backoff::Doubling.delay(n).unwrap().as_secs())
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(Backoff::Doubling.delay(0), Some(Duration::from_secs(5)));
        assert_eq!(Backoff::Visibility.delay(3), None);
    }
}
