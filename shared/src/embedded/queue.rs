//! A queue on the `messages` table with SQS's semantics.
//!
//! FIFO queues hand out one message per group at a time: a group is blocked
//! (`fifo_groups.blocked_until`) while its head is in flight or waiting out
//! a retry delay, so one session's hooks are handled one by one, in order.

use super::Db;
use crate::ports::queue::{NewMessage, PeekPage, Queue, QueueError, Received, MAX_DELAY};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// SQS's limit on one message (1 MiB since 2025).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// How long a FIFO deduplication id is remembered, as on SQS.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, Default)]
pub struct QueueOptions {
    pub fifo: bool,
    /// 0: never dead-letter.
    pub max_receive_count: u32,
    pub dead_letter: Option<String>,
}

pub struct EmbeddedQueue {
    db: Arc<Db>,
    name: String,
    options: QueueOptions,
    /// When expired FIFO dedup ids were last pruned (ms); pruning on every
    /// send would make each send pay for the whole window.
    pruned_at: std::sync::atomic::AtomicI64,
}

impl EmbeddedQueue {
    pub(crate) fn new(db: Arc<Db>, name: &str, options: QueueOptions) -> Self {
        EmbeddedQueue {
            db,
            name: name.to_string(),
            options,
            pruned_at: std::sync::atomic::AtomicI64::new(0),
        }
    }

    fn err(&self, e: rusqlite::Error) -> QueueError {
        self.fail(e.to_string())
    }

    fn fail(&self, message: String) -> QueueError {
        QueueError::Backend {
            queue: self.name.clone(),
            message,
        }
    }

    fn check_size(msg: &NewMessage) -> Result<(), QueueError> {
        let size = msg.body.len()
            + msg
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        if size > MAX_MESSAGE_BYTES {
            return Err(QueueError::TooLarge {
                size,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        Ok(())
    }

    /// Whether expired FIFO dedup ids should be pruned now (at most once a
    /// second: pruning on every send would make each send pay for the window).
    fn prune_due(&self, now: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.pruned_at.load(Ordering::Relaxed);
        now - last > 1000
            && self
                .pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// A send made ready on the caller's thread, to run inside a write job
/// (the queue's own, or one that writes more beside it).
pub(super) struct PreparedSend {
    q: Target,
    out: Outgoing,
    now: i64,
    prune: bool,
}

impl PreparedSend {
    /// Inserts the message; `None` for a FIFO duplicate (dropped, as on SQS).
    pub(super) fn run(&self, c: &Connection) -> rusqlite::Result<Option<String>> {
        insert(c, &self.q, &self.out, self.now, self.prune)
    }
}

impl EmbeddedQueue {
    /// Checks the size and serializes the attributes, off the writer thread.
    pub(super) fn prepare_send(&self, msg: NewMessage) -> Result<PreparedSend, QueueError> {
        Self::check_size(&msg)?;
        let now = self.db.now_ms();
        Ok(PreparedSend {
            q: self.target(),
            prune: self.prune_due(now),
            now,
            out: Outgoing {
                attrs: serde_json::to_string(&msg.attributes).unwrap_or_default(),
                msg,
            },
        })
    }

    /// Wakes long-polling receivers after a commit that sent to this queue.
    pub(super) fn wake_receivers(&self) {
        self.db.waker(&self.name).notify_waiters();
    }
}

/// What a write job needs to know about its queue.
#[derive(Clone)]
struct Target {
    name: String,
    options: QueueOptions,
}

/// A message ready for the writer thread: its attributes already
/// serialized on the caller's thread.
struct Outgoing {
    msg: NewMessage,
    attrs: String,
}

fn insert(
    c: &Connection,
    q: &Target,
    out: &Outgoing,
    now: i64,
    prune: bool,
) -> rusqlite::Result<Option<String>> {
    let msg = &out.msg;
    if q.options.fifo {
        if let Some(d) = &msg.dedup_id {
            if prune {
                c.prepare_cached("DELETE FROM fifo_dedup WHERE queue = ?1 AND sent_at < ?2")?
                    .execute(params![q.name, now - DEDUP_WINDOW_MS])?;
            }
            // An id seen within the window is a duplicate; an older one is not.
            let seen: Option<i64> = c
                .prepare_cached("SELECT sent_at FROM fifo_dedup WHERE queue = ?1 AND dedup = ?2")?
                .query_row(params![q.name, d], |r| r.get(0))
                .optional()?;
            if seen.is_some_and(|at| at >= now - DEDUP_WINDOW_MS) {
                return Ok(None);
            }
            c.prepare_cached(
                "INSERT OR REPLACE INTO fifo_dedup (queue, dedup, sent_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![q.name, d, now])?;
        }
    }
    // Time-ordered ids keep inserts at the end of every index they touch.
    let id = uuid::Uuid::now_v7().to_string();
    let delay = msg.delay.min(MAX_DELAY).as_millis() as i64;
    let group = if q.options.fifo {
        msg.group.clone()
    } else {
        None
    };
    c.prepare_cached("INSERT INTO messages (queue, id, body, grp, attrs, visible_at, sent_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
        .execute(params![q.name, id, msg.body, group, out.attrs, now + delay, now])?;
    Ok(Some(id))
}

/// Moves exhausted messages to the dead-letter queue and claims up to
/// `max` ready ones. Returns the claimed messages and whether any moved.
fn claim(
    c: &Connection,
    q: &Target,
    max: usize,
    now: i64,
    until: i64,
) -> rusqlite::Result<(Vec<Received>, bool)> {
    let mut out = Vec::new();
    let mut moved = false;
    let blocked = blocked_groups(c, q, now)?;
    let mut groups_taken = std::collections::HashSet::new();
    for (seq, grp, count) in candidates(c, q, &blocked, max, now)? {
        if out.len() >= max {
            break;
        }
        if let Some(g) = &grp {
            // Only the head of a group: later ones wait their turn. Rows
            // come by visible_at, which a retried head (or a sender that
            // read the clock before another) can put after a later message:
            // mark the group taken only when its head is found, or the head
            // is never seen.
            if groups_taken.contains(g) || !is_group_head(c, q, g, seq)? {
                continue;
            }
            groups_taken.insert(g.clone());
        }
        if q.options.max_receive_count > 0 && count >= q.options.max_receive_count {
            if let Some(dlq) = &q.options.dead_letter {
                redrive(c, q, dlq, seq, grp.as_deref(), count, now)?;
                if let Some(g) = &grp {
                    groups_taken.remove(g);
                }
                moved = true;
                continue;
            }
        }
        out.push(take(c, q, seq, grp, count, until)?);
    }
    Ok((out, moved))
}

/// FIFO groups whose head is in flight or waiting out a delay.
fn blocked_groups(
    c: &Connection,
    q: &Target,
    now: i64,
) -> rusqlite::Result<std::collections::HashSet<String>> {
    if !q.options.fifo {
        return Ok(Default::default());
    }
    c.prepare_cached("SELECT grp FROM fifo_groups WHERE queue = ?1 AND blocked_until > ?2")?
        .query_map(params![q.name, now], |r| r.get(0))?
        .collect()
}

/// The visible rows a claim may take, as (seq, group, receive count), in
/// queue order. Only what the choice needs: the bodies of rows passed over
/// (later messages of taken groups) are never read, and the chosen rows
/// hand theirs back from the claiming UPDATE. A FIFO queue skips the later
/// messages of taken groups, so it looks further ahead; a standard queue
/// takes the first `max`. Rows of blocked groups do not count.
fn candidates(
    c: &Connection,
    q: &Target,
    blocked: &std::collections::HashSet<String>,
    max: usize,
    now: i64,
) -> rusqlite::Result<Vec<(i64, Option<String>, u32)>> {
    let lookahead = if q.options.fifo { max * 4 + 16 } else { max };
    let mut rows = Vec::with_capacity(lookahead);
    let mut st = c.prepare_cached(
        "SELECT seq, grp, receive_count FROM messages
         WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq",
    )?;
    let mut found = st.query(params![q.name, now])?;
    while let Some(r) = found.next()? {
        let grp: Option<String> = r.get(1)?;
        if grp.as_ref().is_some_and(|g| blocked.contains(g)) {
            continue;
        }
        rows.push((r.get(0)?, grp, r.get(2)?));
        if rows.len() >= lookahead {
            break;
        }
    }
    Ok(rows)
}

/// Whether row `seq` is the oldest message of group `g`.
fn is_group_head(c: &Connection, q: &Target, g: &str, seq: i64) -> rusqlite::Result<bool> {
    let earlier = c
        .prepare_cached(
            "SELECT 1 FROM messages WHERE queue = ?1 AND grp = ?2 AND seq < ?3 LIMIT 1",
        )?
        .query_row(params![q.name, g, seq], |_| Ok(()))
        .optional()?;
    Ok(earlier.is_none())
}

/// Moves row `seq`, received `count` times already, to the dead-letter
/// queue `dlq`, as SQS's redrive does, and unblocks its group.
fn redrive(
    c: &Connection,
    q: &Target,
    dlq: &str,
    seq: i64,
    grp: Option<&str>,
    count: u32,
    now: i64,
) -> rusqlite::Result<()> {
    let id: String = c.query_row(
        "UPDATE messages SET queue = ?1, grp = NULL, visible_at = ?2, receive_count = 0, receipt = NULL, in_flight = 0 WHERE seq = ?3 RETURNING id",
        params![dlq, now, seq],
        |r| r.get(0),
    )?;
    if let Some(g) = grp {
        c.execute(
            "DELETE FROM fifo_groups WHERE queue = ?1 AND grp = ?2",
            params![q.name, g],
        )?;
    }
    tracing::warn!(queue = %q.name, message_id = %id, receive_count = count, "moved to dead-letter queue {dlq}");
    Ok(())
}

/// Claims row `seq` until `until` under a fresh receipt, blocking its
/// group meanwhile.
fn take(
    c: &Connection,
    q: &Target,
    seq: i64,
    grp: Option<String>,
    count: u32,
    until: i64,
) -> rusqlite::Result<Received> {
    let receipt = format!("{seq}:{}", uuid::Uuid::now_v7());
    let (id, body, attrs): (String, String, String) = c
        .prepare_cached("UPDATE messages SET visible_at = ?1, receive_count = receive_count + 1, receipt = ?2, in_flight = 1 WHERE seq = ?3 RETURNING id, body, attrs")?
        .query_row(params![until, receipt, seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    if let Some(g) = &grp {
        c.prepare_cached(
            "INSERT INTO fifo_groups (queue, grp, blocked_until) VALUES (?1, ?2, ?3)
             ON CONFLICT (queue, grp) DO UPDATE SET blocked_until = excluded.blocked_until",
        )?
        .execute(params![q.name, g, until])?;
    }
    Ok(Received {
        message_id: id,
        receipt,
        body,
        receive_count: count + 1,
        group: grp,
        attributes: serde_json::from_str(&attrs).unwrap_or_default(),
    })
}

/// Claims up to `max` messages of the group of row `head` that follow it,
/// in order, stopping at one not visible yet or due for the dead-letter
/// queue (the next receive redrives it).
fn claim_following(
    c: &Connection,
    q: &Target,
    head: i64,
    max: usize,
    now: i64,
    until: i64,
) -> rusqlite::Result<Vec<Received>> {
    let grp: Option<String> = c
        .prepare_cached("SELECT grp FROM messages WHERE seq = ?1 AND queue = ?2")?
        .query_row(params![head, q.name], |r| r.get(0))
        .optional()?
        .flatten();
    let Some(grp) = grp else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i64, u32, i64)> = c
        .prepare_cached(
            "SELECT seq, receive_count, visible_at FROM messages
             WHERE queue = ?1 AND grp = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
        )?
        .query_map(params![q.name, grp, head, max as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (seq, count, visible_at) in rows {
        let exhausted = q.options.max_receive_count > 0 && count >= q.options.max_receive_count;
        if visible_at > now || exhausted {
            break;
        }
        out.push(take(c, q, seq, Some(grp.clone()), count, until)?);
    }
    Ok(out)
}

/// The row a receipt (`<seq>:<uuid>`, made by [`claim`]) names.
fn receipt_seq(receipt: &str) -> Option<i64> {
    receipt.split_once(':')?.0.parse().ok()
}

impl EmbeddedQueue {
    fn target(&self) -> Target {
        Target {
            name: self.name.clone(),
            options: self.options.clone(),
        }
    }

    async fn claim(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        let now = self.db.now_ms();
        let until = now + visibility.as_millis() as i64;
        let q = self.target();
        let (out, moved) = self
            .db
            .write(move |c| claim(c, &q, max, now, until))
            .await
            .map_err(|e| self.fail(e))?;
        if moved {
            if let Some(dlq) = &self.options.dead_letter {
                self.db.waker(dlq).notify_waiters();
            }
        }
        Ok(out)
    }

    /// When the next message becomes visible, if any is waiting.
    fn next_visible_at(&self) -> Result<Option<i64>, rusqlite::Error> {
        let conn = self.db.conn.lock().unwrap();
        conn.query_row(
            "SELECT MIN(visible_at) FROM messages WHERE queue = ?1",
            params![self.name],
            |r| r.get(0),
        )
    }

    /// Every message in the queue, visible or not, oldest first, without
    /// receiving them (dead-letter listings).
    pub fn peek_all(&self, limit: usize) -> Result<Vec<Received>, QueueError> {
        peek_after(&self.db.conn, &self.name, 0, limit).map(|page| page.messages)
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, msg: NewMessage) -> Result<String, QueueError> {
        Ok(self.send_batch(vec![msg]).await?.pop().unwrap_or_default())
    }

    async fn send_batch(&self, msgs: Vec<NewMessage>) -> Result<Vec<String>, QueueError> {
        let sends = msgs
            .into_iter()
            .map(|m| self.prepare_send(m))
            .collect::<Result<Vec<_>, _>>()?;
        let ids = self
            .db
            .write(move |c| {
                // A FIFO duplicate is accepted and dropped, as on SQS.
                sends
                    .iter()
                    .map(|s| s.run(c).map(Option::unwrap_or_default))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .map_err(|e| self.fail(e))?;
        self.wake_receivers();
        Ok(ids)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let max = max.clamp(1, 10);
        let deadline = Instant::now() + wait;
        let waker = self.db.waker(&self.name);
        loop {
            let notified = waker.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self.claim(max, visibility).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if !got.is_empty() || left.is_zero() {
                return Ok(got);
            }
            // Sleep until a send wakes us, the next delayed message is due, or the wait ends.
            let now = self.db.now_ms();
            let until_next = self
                .next_visible_at()
                .map_err(|e| self.err(e))?
                .map(|t| Duration::from_millis((t - now).max(1) as u64))
                .unwrap_or(left);
            let _ =
                tokio::time::timeout(left.min(until_next).max(Duration::from_millis(1)), notified)
                    .await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.delete_batch(&[receipt.to_string()]).await
    }

    /// All in one write: a consumer deletes what its tasks finished together.
    async fn delete_batch(&self, receipts: &[String]) -> Result<(), QueueError> {
        // A receipt this queue never handed out matches nothing, like a stale one.
        let rows: Vec<(i64, String)> = receipts
            .iter()
            .filter_map(|r| Some((receipt_seq(r)?, r.clone())))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let name = self.name.clone();
        let freed = self
            .db
            .write(move |c| {
                let mut freed = false;
                for (seq, receipt) in &rows {
                    let grp: Option<Option<String>> = c
                        .prepare_cached(
                            "DELETE FROM messages WHERE seq = ?1 AND receipt = ?2 AND queue = ?3 RETURNING grp",
                        )?
                        .query_row(params![seq, receipt, name], |r| r.get(0))
                        .optional()?;
                    if let Some(Some(g)) = &grp {
                        c.prepare_cached("DELETE FROM fifo_groups WHERE queue = ?1 AND grp = ?2")?
                            .execute(params![name, g])?;
                        freed = true;
                    }
                }
                Ok(freed)
            })
            .await
            .map_err(|e| self.fail(e))?;
        // A FIFO group's next message may be taken now.
        if freed {
            self.db.waker(&self.name).notify_waiters();
        }
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        let at = self.db.now_ms() + timeout.min(Duration::from_secs(12 * 3600)).as_millis() as i64;
        let Some(seq) = receipt_seq(receipt) else {
            return Ok(());
        };
        let (name, receipt) = (self.name.clone(), receipt.to_string());
        self.db
            .write(move |c| {
                let grp: Option<Option<String>> = c
                    .query_row(
                        "UPDATE messages SET visible_at = ?1, in_flight = 0 WHERE seq = ?2 AND receipt = ?3 AND queue = ?4 RETURNING grp",
                        params![at, seq, receipt, name],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(Some(g)) = grp {
                    c.execute("UPDATE fifo_groups SET blocked_until = ?1 WHERE queue = ?2 AND grp = ?3", params![at, name, g])?;
                }
                Ok(())
            })
            .await
            .map_err(|e| self.fail(e))?;
        if timeout.is_zero() {
            self.db.waker(&self.name).notify_waiters();
        }
        Ok(())
    }

    async fn receive_following(
        &self,
        head: &Received,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let Some(seq) = receipt_seq(&head.receipt).filter(|_| self.options.fifo) else {
            return Ok(Vec::new());
        };
        let now = self.db.now_ms();
        let until = now + visibility.as_millis() as i64;
        let q = self.target();
        self.db
            .write(move |c| claim_following(c, &q, seq, max, now, until))
            .await
            .map_err(|e| self.fail(e))
    }

    /// One read of the messages table: no claim, no receive count.
    async fn peek(&self, max: usize) -> Result<Vec<Received>, QueueError> {
        self.peek_all(max)
    }

    /// A range of the messages table by `seq` (the cursor), read on a
    /// blocking thread: a long listing holds the reader connection, and on
    /// a tokio worker it would stall the tasks queued behind it.
    async fn peek_page(&self, cursor: Option<&str>, max: usize) -> Result<PeekPage, QueueError> {
        let after = match cursor {
            None => 0,
            Some(c) => c
                .parse::<i64>()
                .map_err(|_| QueueError::BadCursor(c.chars().take(64).collect()))?,
        };
        let (conn, name) = (self.db.conn.clone(), self.name.clone());
        tokio::task::spawn_blocking(move || peek_after(&conn, &name, after, max))
            .await
            .map_err(|e| QueueError::Backend {
                queue: self.name.clone(),
                message: e.to_string(),
            })?
    }

    async fn approximate_len(&self) -> Result<usize, QueueError> {
        let conn = self.db.conn.lock().unwrap();
        conn.query_row(
            "SELECT COUNT(*) FROM messages WHERE queue = ?1",
            params![self.name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as usize)
        .map_err(|e| self.err(e))
    }

    async fn count_by_attribute(
        &self,
        key: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, usize>>, QueueError> {
        let conn = self.db.conn.lock().unwrap();
        let mut stmt = conn
            .prepare_cached(
                "SELECT json_extract(attrs, '$.' || json_quote(?2)), COUNT(*) FROM messages
                 WHERE queue = ?1 GROUP BY 1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![self.name, key], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut counts = std::collections::BTreeMap::new();
        for row in rows {
            if let (Some(value), n) = row.map_err(|e| self.err(e))? {
                counts.insert(value, n as usize);
            }
        }
        Ok(Some(counts))
    }

    async fn oldest_age(&self) -> Result<Option<Duration>, QueueError> {
        let now = self.db.now_ms();
        let conn = self.db.conn.lock().unwrap();
        let sent: Option<i64> = conn
            .query_row(
                "SELECT MIN(sent_at) FROM messages WHERE queue = ?1",
                params![self.name],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(sent.map(|at| Duration::from_millis(now.saturating_sub(at).max(0) as u64)))
    }
}

/// Up to `max` messages of `queue` with `seq` above `after`, in order.
fn peek_after(
    conn: &std::sync::Mutex<rusqlite::Connection>,
    queue: &str,
    after: i64,
    max: usize,
) -> Result<PeekPage, QueueError> {
    let err = |e: rusqlite::Error| QueueError::Backend {
        queue: queue.to_string(),
        message: e.to_string(),
    };
    let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
    let mut st = conn
        .prepare_cached("SELECT seq, id, body, grp, attrs, receive_count FROM messages WHERE queue = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")
        .map_err(err)?;
    let mut seqs = Vec::new();
    let rows = st
        .query_map(
            params![queue, after, i64::try_from(max).unwrap_or(i64::MAX - 1) + 1],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Received {
                        message_id: r.get(1)?,
                        receipt: String::new(),
                        body: r.get(2)?,
                        group: r.get(3)?,
                        attributes: serde_json::from_str(&r.get::<_, String>(4)?)
                            .unwrap_or_default(),
                        receive_count: r.get(5)?,
                    },
                ))
            },
        )
        .map_err(err)?;
    let mut messages = Vec::new();
    for row in rows {
        let (seq, m) = row.map_err(err)?;
        seqs.push(seq);
        messages.push(m);
    }
    let more = messages.len() > max;
    messages.truncate(max);
    let next = more
        .then(|| seqs.get(max.wrapping_sub(1)).map(|s| s.to_string()))
        .flatten();
    Ok(PeekPage { messages, next })
}
