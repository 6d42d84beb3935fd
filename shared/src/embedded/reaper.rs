//! Deletes what retention no longer keeps, so a file that runs for months
//! stops growing at the size of what it keeps.
//!
//! Every pass deletes in small batches, each its own write job in the
//! group commit, so a hook's write never waits behind one long delete. The
//! pages a pass frees are reused by the next writes; past a quarter of the
//! file, they are handed back to the file system too (incremental vacuum,
//! again in small steps).

use super::{Db, Embedded, EmbeddedError};
use rusqlite::{params, Connection};
use std::sync::Arc;
use std::time::Duration;

/// Rows one write job deletes at most: a few milliseconds of the writer.
const BATCH: i64 = 500;

/// Pages one incremental-vacuum step hands back at most (1 MiB of 4 KiB pages).
const VACUUM_STEP: i64 = 256;

/// What the reaper keeps, where dead letters live, and how often it looks.
#[derive(Debug, Clone)]
pub struct Reaping {
    /// Dead letters older than this (since first sent) are deleted.
    pub dead_letters: Duration,
    /// The dead-letter queues' names ([`super::DEAD_LETTER_QUEUES`]).
    pub dead_letter_queues: Vec<String>,
    /// How often a pass runs.
    pub every: Duration,
}

/// What one pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Expired store items (events, sessions, idempotency keys, the
    /// delivery log, limiter counts).
    pub items: usize,
    pub dead_letters: usize,
    /// Pages handed back to the file system.
    pub pages_freed: usize,
}

impl Reaping {
    /// Reaping for `retention`, a pass often enough that a row is gone
    /// within a minute of its expiry (more often for retentions of
    /// seconds, as tests and soak runs set).
    pub fn new(retention: &crate::config::Retention) -> Self {
        let shortest = [
            retention.events,
            retention.deliveries,
            retention.dead_letters,
        ]
        .into_iter()
        .min()
        .unwrap_or(retention.events);
        Reaping {
            dead_letters: retention.dead_letters.as_duration(),
            dead_letter_queues: super::DEAD_LETTER_QUEUES.map(String::from).to_vec(),
            every: (shortest.as_duration() / 2)
                .clamp(Duration::from_millis(500), Duration::from_secs(30)),
        }
    }
}

fn delete_expired(c: &Connection, now_secs: i64) -> rusqlite::Result<usize> {
    c.prepare_cached(
        "DELETE FROM items WHERE (tbl, pk, sk) IN
         (SELECT tbl, pk, sk FROM items WHERE expires_at <= ?1 LIMIT ?2)",
    )?
    .execute(params![now_secs, BATCH])
}

fn delete_old_letters(c: &Connection, queue: &str, before_ms: i64) -> rusqlite::Result<usize> {
    c.prepare_cached(
        "DELETE FROM messages WHERE seq IN
         (SELECT seq FROM messages WHERE queue = ?1 AND sent_at <= ?2 LIMIT ?3)",
    )?
    .execute(params![queue, before_ms, BATCH])
}

/// Hands back up to [`VACUUM_STEP`] free pages when more than a quarter of
/// the file is free; the number handed back.
fn vacuum_step(c: &Connection) -> rusqlite::Result<usize> {
    let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    if free < VACUUM_STEP || free * 4 < pages {
        return Ok(0);
    }
    c.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_STEP})"))?;
    let left: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    Ok((free - left).max(0) as usize)
}

/// Runs `step` in its own write jobs until a job does less than a batch.
async fn in_batches(
    db: &Db,
    step: impl Fn(&Connection) -> rusqlite::Result<usize> + Clone + Send + 'static,
    full: usize,
) -> Result<usize, String> {
    let mut total = 0;
    loop {
        let done = db.write(step.clone()).await?;
        total += done;
        if done < full {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

impl Embedded {
    /// One pass: deletes expired items and old dead letters, then hands
    /// back free pages if many are free.
    pub async fn reap(&self, reaping: &Reaping) -> Result<Reaped, EmbeddedError> {
        let db = &self.db;
        let now_ms = db.now_ms();
        let fail = EmbeddedError::Write;
        let now_secs = now_ms.div_euclid(1000);
        let items = in_batches(db, move |c| delete_expired(c, now_secs), BATCH as usize)
            .await
            .map_err(fail)?;
        let before = now_ms - reaping.dead_letters.as_millis() as i64;
        let mut dead_letters = 0;
        for queue in &reaping.dead_letter_queues {
            let q = queue.clone();
            let step = move |c: &Connection| delete_old_letters(c, &q, before);
            dead_letters += in_batches(db, step, BATCH as usize).await.map_err(fail)?;
        }
        let pages_freed = in_batches(db, vacuum_step, VACUUM_STEP as usize)
            .await
            .map_err(fail)?;
        Ok(Reaped {
            items,
            dead_letters,
            pages_freed,
        })
    }

    /// Reaps every `every` until the process ends; a failed pass is logged
    /// and tried again at the next.
    pub async fn reap_forever(self, reaping: Arc<Reaping>) {
        let mut tick = tokio::time::interval(reaping.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.reap(&reaping).await {
                Ok(r) if r != Reaped::default() => tracing::info!(
                    items = r.items,
                    dead_letters = r.dead_letters,
                    pages_freed = r.pages_freed,
                    "expired rows deleted"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reaping failed; trying again next time"),
            }
        }
    }
}
