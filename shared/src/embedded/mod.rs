//! The embedded backend: every queue and the store in one SQLite file
//! (WAL), so `clawhooks serve` runs on a fresh machine with no AWS and no
//! emulator, and a restart loses nothing that was accepted.
//!
//! It keeps SQS's and DynamoDB's semantics (visibility timeouts, receive
//! counts, redrive after `maxReceiveCount`, FIFO groups, conditional writes,
//! expiry) so the same conformance suite passes here and on AWS.

mod queue;
mod store;

pub use queue::{EmbeddedQueue, QueueOptions};
pub use store::EmbeddedStore;

use crate::ports::{Backend, Clock, SystemClock};
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
#[error("embedded database: {0}")]
pub struct EmbeddedError(#[from] rusqlite::Error);

/// The shared database handle: one connection behind one lock, and one
/// writer thread that commits many writers' statements in one transaction
/// (group commit). Under load dozens of hooks share a commit, so the WAL is
/// written once for all of them; each caller is answered only after the
/// commit that holds its write, so a 202 is never sent for a lost hook.
pub(crate) struct Db {
    pub(crate) conn: Arc<Mutex<Connection>>,
    writer: std::sync::mpsc::Sender<Job>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Wakes long-polling receivers when a message is sent to their queue.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
}

/// A write: runs inside the shared transaction (in its own savepoint, so a
/// failing job leaves the others alone), says whether it succeeded, and
/// returns how to answer its caller once the commit's fate is known.
/// `None`: the transaction could not begin, so the job must not run.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Reply) + Send>;
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Jobs folded into one transaction at most.
const MAX_BATCH: usize = 512;

fn writer_loop(conn: Arc<Mutex<Connection>>, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let c = conn.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = c.execute_batch("BEGIN IMMEDIATE") {
            drop(c);
            let msg = e.to_string();
            for job in batch {
                let (_, reply) = job(None);
                reply(Err(msg.clone()));
            }
            continue;
        }
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            let _ = c.execute_batch("SAVEPOINT job");
            let (ok, reply) = job(Some(&c));
            let _ = c.execute_batch(if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            });
            replies.push(reply);
        }
        let outcome = c.execute_batch("COMMIT").map_err(|e| {
            let _ = c.execute_batch("ROLLBACK");
            e.to_string()
        });
        drop(c);
        for reply in replies {
            reply(outcome.clone());
        }
    }
}

impl Db {
    fn new(conn: Connection, clock: Arc<dyn Clock>) -> Self {
        let conn = Arc::new(Mutex::new(conn));
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let for_writer = conn.clone();
        std::thread::Builder::new()
            .name("clawhooks-sqlite-writer".into())
            .spawn(move || writer_loop(for_writer, rx))
            .expect("spawn the SQLite writer thread");
        Db {
            conn,
            writer: tx,
            clock,
            wakers: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` in the next group commit; resolves after that commit.
    pub(crate) async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |c| {
            let r = c.map(f);
            let ok = matches!(r, Some(Ok(_)));
            let reply: Reply = Box::new(move |commit| {
                let _ = tx.send(match (commit, r) {
                    (Ok(()), Some(Ok(v))) => Ok(v),
                    (Ok(()), Some(Err(e))) => Err(e.to_string()),
                    (Err(e), _) => Err(e),
                    (Ok(()), None) => Err("the write did not run".to_string()),
                });
            });
            (ok, reply)
        });
        self.writer
            .send(job)
            .map_err(|_| "the database writer has stopped".to_string())?;
        rx.await
            .map_err(|_| "the database writer has stopped".to_string())?
    }

    pub(crate) fn waker(&self, queue: &str) -> Arc<Notify> {
        self.wakers
            .lock()
            .unwrap()
            .entry(queue.to_string())
            .or_default()
            .clone()
    }
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }
}

/// How the six queues of a deployment are set up.
#[derive(Debug, Clone, Copy)]
pub struct BackendOptions {
    /// Receives before a message is moved to its dead-letter queue.
    pub max_receive_count: u32,
}

impl Default for BackendOptions {
    fn default() -> Self {
        BackendOptions {
            max_receive_count: 5,
        }
    }
}

#[derive(Clone)]
pub struct Embedded {
    db: Arc<Db>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    grp TEXT,
    attrs TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    in_flight INTEGER NOT NULL DEFAULT 0,
    sent_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at, seq);
-- A FIFO claim asks whether a group has an earlier message; without this
-- each ask scanned the whole queue.
CREATE INDEX IF NOT EXISTS messages_group ON messages (queue, grp, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_receipt ON messages (receipt);
CREATE TABLE IF NOT EXISTS fifo_groups (
    queue TEXT NOT NULL,
    grp TEXT NOT NULL,
    blocked_until INTEGER NOT NULL,
    PRIMARY KEY (queue, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fifo_dedup (
    queue TEXT NOT NULL,
    dedup TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fifo_dedup_age ON fifo_dedup (queue, sent_at);
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL,
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER,
    version INTEGER NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
";

impl Embedded {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Self, EmbeddedError> {
        let conn = Connection::open(path)?;
        // NORMAL is durable across a process crash in WAL mode; only an OS
        // crash can lose the last transactions.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        )?;
        Self::init(conn)
    }

    /// A throwaway database in memory (`clawhooks serve --memory`, tests).
    pub fn memory() -> Result<Self, EmbeddedError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, EmbeddedError> {
        conn.execute_batch(SCHEMA)?;
        Ok(Embedded {
            db: Arc::new(Db::new(conn, Arc::new(SystemClock))),
        })
    }

    /// Uses `clock` for visibility, delays and expiry (tests drive a `TestClock`).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        let mut db = Arc::try_unwrap(self.db)
            .unwrap_or_else(|_| panic!("with_clock before handing out queues"));
        db.clock = clock;
        Embedded { db: Arc::new(db) }
    }

    pub fn queue(&self, name: &str, options: QueueOptions) -> EmbeddedQueue {
        EmbeddedQueue::new(self.db.clone(), name, options)
    }

    pub fn store(&self) -> EmbeddedStore {
        EmbeddedStore::new(self.db.clone())
    }

    /// Messages received by a process that is gone (a crash, a kill -9) are
    /// shown again at once instead of after their visibility timeout. Only
    /// the process that owns the queues (`clawhooks serve`) calls this.
    pub fn recover_in_flight(&self) -> Result<usize, EmbeddedError> {
        let now = self.db.now_ms();
        let conn = self.db.conn.lock().unwrap();
        let n = conn.execute(
            "UPDATE messages SET visible_at = ?1, in_flight = 0 WHERE in_flight = 1",
            [now],
        )?;
        conn.execute("DELETE FROM fifo_groups", [])?;
        Ok(n)
    }

    /// The six queues and the store, named as on AWS.
    pub fn backend(&self, opts: BackendOptions) -> Backend {
        let q = |name: &str, fifo: bool, dlq: Option<&str>| -> Arc<dyn crate::ports::Queue> {
            Arc::new(self.queue(
                name,
                QueueOptions {
                    fifo,
                    max_receive_count: if dlq.is_some() {
                        opts.max_receive_count
                    } else {
                        0
                    },
                    dead_letter: dlq.map(str::to_string),
                },
            ))
        };
        Backend {
            limiter: crate::limits::MemoryLimiter::new(),
            handler_queue: q("handler", true, Some("handler-dlq")),
            handler_dlq: q("handler-dlq", false, None),
            events_queue: q("events", true, Some("events-dlq")),
            events_dlq: q("events-dlq", false, None),
            delivery_queue: q("deliveries", false, Some("deliveries-dlq")),
            delivery_dlq: q("deliveries-dlq", false, None),
            store: Arc::new(self.store()),
        }
    }
}

#[cfg(test)]
mod tests;
