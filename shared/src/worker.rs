//! The consumer side of a queue, shared by every stage and every shell.
//!
//! A [`Stage`] processes one message. `Ok` means done: the message is
//! deleted. `Err(Retry)` means "not now": the message is left to the queue,
//! which shows it again after its visibility timeout and, after
//! `maxReceiveCount` receives, dead-letters it. Permanent failures are the
//! stage's own business (record, emit `error`) and end in `Ok`, so a poison
//! message never loops.
//!
//! The Lambda shells feed a stage the records of an SQS event (see
//! `clawhooks::lambda`); the local server runs [`run`] against a [`Queue`].

use crate::ports::{Queue, Received};
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

/// Outcome of one message, for the loop and for tests.
pub async fn process_one(queue: &dyn Queue, stage: &dyn Stage, msg: &Received) -> bool {
    match stage.process(msg).await {
        Ok(()) => {
            if let Err(e) = queue.delete(&msg.receipt).await {
                tracing::error!(stage = stage.name(), error = %e, "delete failed; the message will be seen again");
            }
            true
        }
        Err(StageError::Retry { reason, after }) => {
            tracing::warn!(stage = stage.name(), message_id = %msg.message_id, receive_count = msg.receive_count, %reason, "will retry");
            if let Some(after) = after {
                if let Err(e) = queue.change_visibility(&msg.receipt, after).await {
                    tracing::warn!(stage = stage.name(), error = %e, "could not set retry delay");
                }
            }
            false
        }
    }
}

/// Polls `queue` and feeds `stage` until `shutdown` turns true, then
/// finishes the messages in flight and returns.
pub async fn run(
    queue: Arc<dyn Queue>,
    stage: Arc<dyn Stage>,
    settings: PollSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    // Receive in batches: while fewer permits than this are free, wait for
    // running work to finish first. Each receive is a write (a claim), and
    // claiming one message per finished task made as many claims as messages.
    let batch_floor = settings.batch.min(settings.concurrency / 2).max(1);
    'poll: loop {
        if *shutdown.borrow() {
            break;
        }
        while permits.available_permits() < batch_floor && !tasks.is_empty() {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = shutdown.changed() => break 'poll,
            }
        }
        let free = permits.available_permits().min(settings.batch).max(1);
        let received = tokio::select! {
            r = queue.receive(free, settings.visibility, settings.wait) => r,
            _ = shutdown.changed() => break,
        };
        match received {
            Ok(msgs) => {
                // One task per message group, in order within the group: a
                // FIFO batch may hold several messages of one session.
                for chain in by_group(msgs) {
                    let permit = permits
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("semaphore open");
                    let (q, s) = (queue.clone(), stage.clone());
                    tasks.spawn(async move {
                        for msg in chain {
                            if !process_one(q.as_ref(), s.as_ref(), &msg).await {
                                // Later messages of the group wait for this one's redelivery.
                                break;
                            }
                        }
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                tracing::error!(stage = stage.name(), queue = queue.name(), error = %e, "receive failed; backing off");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    tracing::info!(stage = stage.name(), "consumer stopped");
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
