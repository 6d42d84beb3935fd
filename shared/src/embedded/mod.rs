//! The embedded backend: every queue and the store in one SQLite file
//! (WAL), so `clawhooks serve` runs on a fresh machine with no AWS and no
//! emulator, and a restart loses nothing that was accepted.
//!
//! It keeps SQS's and DynamoDB's semantics (visibility timeouts, receive
//! counts, redrive after `maxReceiveCount`, FIFO groups, conditional writes,
//! expiry) so the same conformance suite passes here and on AWS.

mod backup;
mod intake;
mod queue;
mod reaper;
mod store;

pub use backup::backup;
pub use intake::EmbeddedIntake;
pub use queue::{EmbeddedQueue, QueueOptions};
pub use reaper::{Reaped, Reaping};
pub use store::EmbeddedStore;

use crate::config::Durability;
use crate::ports::{Backend, Clock, SystemClock};
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("embedded database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A write job failed, or the writer thread is gone.
    #[error("embedded database: {0}")]
    Write(String),
}

/// The shared database handle: one writer thread that commits many
/// writers' statements in one transaction (group commit), and a separate
/// connection for reads. Under load dozens of hooks share a commit, so the
/// WAL is written once for all of them; each caller is answered only after
/// the commit that holds its write, so a 202 is never sent for a lost hook.
///
/// On a file, reads use their own connection and see the last commit
/// without waiting for the writer's open transaction, and WAL checkpoints
/// (which copy pages into the database file and fsync it) run on a thread
/// of their own, so neither stalls the writer. In memory there is one
/// connection for everything.
pub(crate) struct Db {
    /// The writer's connection (also used once at start, before any write).
    writer_conn: Arc<Mutex<Connection>>,
    /// Reads: committed data only.
    pub(crate) conn: Arc<Mutex<Connection>>,
    writer: std::sync::mpsc::Sender<Box<dyn Job>>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Wakes long-polling receivers when a message is sent to their queue.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    /// Callers waiting (`Prefer: wait`) for an event of this database to settle.
    settled: Arc<crate::settled::Settled>,
    /// Dropping it stops the checkpoint thread.
    _checkpointer: Option<std::sync::mpsc::Sender<()>>,
}

/// A write in the shared transaction. It may run twice: a batch runs
/// first without savepoints, and only if one of its jobs fails is the batch
/// rolled back and run again with a savepoint around each job, so the
/// failing one is undone alone. Per-job savepoints on every batch made
/// SQLite copy each page a job touched into a sub-journal first, which cost
/// the writer more than the inserts themselves.
trait Job: Send {
    /// Runs the write; `false` if it failed.
    fn run(&mut self, c: &Connection) -> bool;
    /// Answers the caller once the commit's fate is known.
    fn answer(self: Box<Self>, commit: Result<(), String>);
}

struct Write<F, R> {
    f: F,
    outcome: Option<rusqlite::Result<R>>,
    reply: tokio::sync::oneshot::Sender<Result<R, String>>,
}

impl<F, R> Write<F, R> {
    /// The job, and where its caller awaits the answer.
    fn new(f: F) -> (Box<Self>, tokio::sync::oneshot::Receiver<Result<R, String>>) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Write {
            f,
            outcome: None,
            reply,
        };
        (Box::new(job), answer)
    }
}

impl<F, R> Job for Write<F, R>
where
    F: FnMut(&Connection) -> rusqlite::Result<R> + Send,
    R: Send,
{
    fn run(&mut self, c: &Connection) -> bool {
        let r = (self.f)(c);
        let ok = r.is_ok();
        self.outcome = Some(r);
        ok
    }

    fn answer(self: Box<Self>, commit: Result<(), String>) {
        let _ = self.reply.send(match (commit, self.outcome) {
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Ok(()), Some(Err(e))) => Err(e.to_string()),
            (Err(e), _) => Err(e),
            (Ok(()), None) => Err("the write did not run".to_string()),
        });
    }
}

/// Prepared statements kept per connection. The writer alone runs about
/// twenty distinct ones; rusqlite's default of 16 made its LRU cache evict
/// and parse statements again all the time.
const STATEMENT_CACHE: usize = 64;

/// Jobs folded into one transaction at most.
const MAX_BATCH: usize = 512;

/// Runs a statement that takes no parameters and returns no rows, prepared
/// once: the writer runs three of these per job, and parsing them each time
/// cost more than the job's own insert.
fn exec_cached(c: &Connection, sql: &str) -> rusqlite::Result<()> {
    c.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn writer_loop(conn: Arc<Mutex<Connection>>, jobs: std::sync::mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let c = conn.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = run_batch(&c, &mut batch);
        drop(c);
        for job in batch {
            job.answer(outcome.clone());
        }
    }
}

/// Runs a batch in one transaction and commits it. Any failure of the
/// transaction's own statements abandons the whole batch (every job is
/// answered with the error), so a job is never committed half done.
fn run_batch(c: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), String> {
    exec_cached(c, "BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
    if !batch.iter_mut().all(|job| job.run(c)) {
        // A job failed, perhaps halfway: start over, each job in its own
        // savepoint, so only the failing ones are undone.
        rollback(c);
        exec_cached(c, "BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
        for job in batch.iter_mut() {
            let step = |sql: &str| {
                exec_cached(c, sql).map_err(|e| {
                    rollback(c);
                    e.to_string()
                })
            };
            step("SAVEPOINT job")?;
            if !job.run(c) {
                step("ROLLBACK TO job")?;
            }
            step("RELEASE job")?;
        }
    }
    exec_cached(c, "COMMIT").map_err(|e| {
        rollback(c);
        e.to_string()
    })
}

/// Ends the open transaction, keeping nothing of it. SQLite may have ended
/// it already (some errors roll back by themselves), so a failure here is
/// only worth a log line.
fn rollback(c: &Connection) {
    if let Err(e) = c.execute_batch("ROLLBACK") {
        tracing::debug!(error = %e, "rollback: no transaction was open");
    }
}

/// How often the checkpoint thread copies the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// WAL frames (pages) past which a checkpoint also makes the writer start
/// the WAL over: about 16 MiB.
const WAL_RESTART_FRAMES: i64 = 4096;

/// Bytes a WAL is cut back to when it starts over (`journal_size_limit`).
const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

/// Copies committed WAL frames into the database file until `stop` is
/// dropped. PASSIVE never blocks the writer, but under steady writes it
/// never catches up either, and the WAL would grow without end (and every
/// read would search a longer WAL index). So once the WAL is long, a
/// RESTART follows the PASSIVE: it holds the writer back only for the few
/// frames committed since, and the next commit writes the WAL from its start.
fn checkpoint_loop(conn: Connection, stop: std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    let checkpoint = |mode: &str| -> rusqlite::Result<i64> {
        // Rows: (busy, frames in the WAL, frames checkpointed).
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
    };
    // Frames in the WAL at the last look: unchanged means no commit since.
    let mut last = 0;
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let outcome = checkpoint("PASSIVE").and_then(|frames| {
            if frames > WAL_RESTART_FRAMES {
                checkpoint("RESTART")?;
            } else if frames > 0 && frames == last {
                // Idle: the WAL is all copied; give its space back.
                checkpoint("TRUNCATE")?;
                last = 0;
                return Ok(());
            }
            last = frames;
            Ok(())
        });
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "WAL checkpoint failed; will try again");
        }
    }
    let _ = checkpoint("TRUNCATE");
}

impl Db {
    /// `reader` and `checkpointer`: extra connections to the same file
    /// (none in memory).
    fn new(
        conn: Connection,
        reader: Option<Connection>,
        checkpointer: Option<Connection>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let writer_conn = Arc::new(Mutex::new(conn));
        let conn = match reader {
            Some(r) => Arc::new(Mutex::new(r)),
            None => writer_conn.clone(),
        };
        let (tx, rx) = std::sync::mpsc::channel::<Box<dyn Job>>();
        let for_writer = writer_conn.clone();
        std::thread::Builder::new()
            .name("clawhooks-sqlite-writer".into())
            .spawn(move || writer_loop(for_writer, rx))
            .expect("spawn the SQLite writer thread");
        let checkpointer = checkpointer.map(|c| {
            let (stop, stopped) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("clawhooks-sqlite-checkpoint".into())
                .spawn(move || checkpoint_loop(c, stopped))
                .expect("spawn the SQLite checkpoint thread");
            stop
        });
        Db {
            writer_conn,
            conn,
            writer: tx,
            clock,
            wakers: Mutex::new(HashMap::new()),
            settled: Arc::default(),
            _checkpointer: checkpointer,
        }
    }

    /// Runs `f` in the next group commit; resolves after that commit. `f`
    /// may run twice (see [`Job`]), the second time on the state before
    /// its first run, so it must not carry anything over between runs.
    pub(crate) async fn write<R: Send + 'static>(
        &self,
        f: impl FnMut(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, String> {
        let (job, answer) = Write::new(f);
        self.writer
            .send(job)
            .map_err(|_| "the database writer has stopped".to_string())?;
        answer
            .await
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

/// The dead-letter queues of [`Embedded::backend`].
pub const DEAD_LETTER_QUEUES: [&str; 3] = ["handler-dlq", "events-dlq", "deliveries-dlq"];

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
    -- The rowid: SQLite takes max + 1, which keeps order without the
    -- extra write per insert that AUTOINCREMENT makes.
    seq INTEGER PRIMARY KEY,
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
-- each ask scanned the whole queue. Standard queues have no groups, and
-- their messages stay out of it.
DROP INDEX IF EXISTS messages_group;
CREATE INDEX IF NOT EXISTS messages_fifo_group ON messages (queue, grp, seq) WHERE grp IS NOT NULL;
-- A receipt names its row (`<seq>:<uuid>`), so deletes find it by the
-- primary key and no index of receipts is kept up to date on every claim.
DROP INDEX IF EXISTS messages_receipt;
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
";

/// The store's table, created after [`SCHEMA`]; [`rowid_items`] makes it
/// under another name for a file from before.
const ITEMS: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL,
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER,
    version INTEGER NOT NULL,
    -- The store's index key (`Store::query_index`); NULL: not indexed.
    index_key INTEGER,
    UNIQUE (tbl, pk, sk)
);
";

/// Moves a file's items from `items` into the new table
/// `items_with_rowid`, which then takes the name.
const MOVE_ITEMS: &str = "
INSERT INTO items_with_rowid (tbl, pk, sk, value, expires_at, version, index_key)
    SELECT tbl, pk, sk, value, expires_at, version, index_key FROM items;
DROP TABLE items;
ALTER TABLE items_with_rowid RENAME TO items;
";

/// Runs after [`SCHEMA`] and [`add_index_key`], as the index needs the
/// column that a database file from before it lacks. Partial: most rows
/// (finished sessions, dedup keys, event records) have no index key and
/// cost nothing here. It ends with the key, so reads in index order break
/// ties by it without a sort.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS items_by_index_key ON items (tbl, index_key, pk, sk) WHERE index_key IS NOT NULL;
-- The reaper's: expired rows, oldest first, without a scan of the table.
CREATE INDEX IF NOT EXISTS items_by_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
";

/// Gives the rows of a database file from before the index the keys their
/// writers give them today (`SessionRecord::to_item`,
/// `egress::log::attempt_item`): otherwise the idle sessions of an upgraded
/// install would never be swept, and its delivery log would list nothing
/// from before the upgrade.
const BACKFILL_INDEX_KEYS: &str = "
UPDATE items SET index_key = CASE
    WHEN json_extract(value, '$.ended') IS NULL THEN json_extract(value, '$.idleAt')
    WHEN json_extract(value, '$.ended.announced') = 0
        THEN CAST(strftime('%s', json_extract(value, '$.ended.at')) AS INTEGER)
    END
WHERE tbl = 'sessions';
UPDATE items SET index_key =
    CAST(round((julianday(json_extract(value, '$.time')) - 2440587.5) * 86400000) AS INTEGER)
WHERE tbl = 'deliveries' AND json_extract(value, '$.time') IS NOT NULL
    AND json_extract(value, '$.seq') IS NOT NULL;
";

/// Creates the tables, brings a file from an earlier version up to date,
/// and creates the indexes.
fn create_schema(c: &Connection) -> rusqlite::Result<()> {
    // Only takes effect before the first table; see [`incremental_vacuum`].
    c.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    c.execute_batch(SCHEMA)?;
    c.execute_batch(ITEMS)?;
    add_index_key(c)?;
    rowid_items(c)?;
    c.execute_batch(INDEXES)
}

/// Moves the items of a file from before into a table with row ids, once
/// (checked again inside the write transaction, as [`add_index_key`]).
///
/// A table WITHOUT ROWID keeps at most about 1 KB of a row on its page
/// (a quarter of the page, as an index does) and puts the rest on an
/// overflow page of its own: an event record of a 600-byte body used a
/// page and a half, 10 KB a hook with its session. A table with row ids
/// keeps rows of up to 4 KB on their page and fills overflow pages.
fn rowid_items(c: &Connection) -> rusqlite::Result<()> {
    let todo = |c: &Connection| {
        c.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'items' AND sql LIKE '%WITHOUT ROWID%'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    };
    let started = std::time::Instant::now();
    let moved = migrate_once(c, todo, |c| {
        c.execute_batch(&ITEMS.replacen("IF NOT EXISTS items", "items_with_rowid", 1))?;
        c.execute_batch(MOVE_ITEMS)
    })?;
    if moved {
        tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            "store items moved to a table with row ids"
        );
    }
    Ok(())
}

/// Runs `migrate` if `todo` says so, in a write transaction that asks
/// `todo` again first, so two processes opening the same file at once (the
/// server and the CLI) cannot both run it. `true` if it ran.
fn migrate_once(
    c: &Connection,
    todo: impl Fn(&Connection) -> rusqlite::Result<bool>,
    migrate: impl FnOnce(&Connection) -> rusqlite::Result<()>,
) -> rusqlite::Result<bool> {
    if !todo(c)? {
        return Ok(false);
    }
    c.execute_batch("BEGIN IMMEDIATE")?;
    let ran = todo(c).and_then(|still| match still {
        true => migrate(c).map(|()| true),
        false => Ok(false),
    });
    match ran {
        Ok(ran) => c.execute_batch("COMMIT").map(|()| ran),
        Err(e) => {
            if let Err(rollback) = c.execute_batch("ROLLBACK") {
                tracing::warn!(error = %rollback, "could not roll back a migration");
            }
            Err(e)
        }
    }
}

/// Adds `index_key` to a file that lacks it and backfills it, once.
fn add_index_key(c: &Connection) -> rusqlite::Result<()> {
    let todo = |c: &Connection| {
        c.query_row(
            "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'index_key'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n == 0)
    };
    migrate_once(c, todo, |c| {
        c.execute_batch("ALTER TABLE items ADD COLUMN index_key INTEGER;")?;
        c.execute_batch(BACKFILL_INDEX_KEYS)
    })
    .map(|_| ())
}

/// Makes a file from before incremental auto-vacuum use it, so the pages
/// the reaper frees can be handed back to the file system. That takes one
/// `VACUUM`, which rewrites the file (and needs as much free disk again):
/// on a file that cannot be rewritten now (another process holds it, the
/// disk is full), the server still runs, reusing freed pages inside the
/// file, and tries again at the next start.
fn incremental_vacuum(c: &Connection, path: &Path) {
    let mode = |c: &Connection| c.query_row("PRAGMA auto_vacuum", [], |r| r.get::<_, i64>(0));
    if mode(c).is_ok_and(|m| m == 2) {
        return;
    }
    let started = std::time::Instant::now();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    tracing::info!(db = %path.display(), bytes = size, "rewriting the database file once so that freed space can be returned");
    match c.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;") {
        Ok(()) => tracing::info!(
            db = %path.display(),
            took_ms = started.elapsed().as_millis() as u64,
            "database file rewritten"
        ),
        Err(e) => {
            tracing::warn!(db = %path.display(), error = %e, "could not rewrite the database file; freed space is reused inside it")
        }
    }
}

impl Embedded {
    /// Opens (or creates) the database file with [`Durability::Normal`].
    pub fn open(path: &Path) -> Result<Self, EmbeddedError> {
        Self::open_with(path, Durability::Normal)
    }

    /// Opens (or creates) the database file; `durability` decides whether a
    /// commit (and so a 2xx) waits for the disk.
    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, EmbeddedError> {
        // NORMAL is durable across a process crash in WAL mode; only an OS
        // crash or power loss can lose the last transactions. FULL flushes
        // the WAL at every commit, so nothing answered is lost.
        let synchronous = match durability {
            Durability::Normal => "NORMAL",
            Durability::Fsync => "FULL",
        };
        let open = || -> Result<Connection, EmbeddedError> {
            let c = Connection::open(path)?;
            c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            // The default page cache (2 MiB): a larger one made every
            // commit slower (SQLite walks the whole cache at the end of a
            // write transaction) and bought nothing, as the tables grow at
            // their ends.
            c.execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA busy_timeout=5000;"
            ))?;
            Ok(c)
        };
        let writer = open()?;
        create_schema(&writer)?;
        incremental_vacuum(&writer, path);
        // Checkpoints are the checkpoint thread's job, off the writer's
        // path. A WAL that grew under a burst is cut back to 16 MiB when
        // it starts over, and to nothing once the server is idle.
        writer.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={WAL_SIZE_LIMIT};"
        ))?;
        let db = Db::new(writer, Some(open()?), Some(open()?), Arc::new(SystemClock));
        Ok(Embedded { db: Arc::new(db) })
    }

    /// SQLite's `synchronous` setting of the writer as it is in force
    /// (`NORMAL`, `FULL`…), read back so `serve` reports what runs, not
    /// what was asked for.
    pub fn synchronous(&self) -> Result<&'static str, EmbeddedError> {
        let conn = self
            .db
            .writer_conn
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let level: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        Ok(match level {
            0 => "OFF",
            1 => "NORMAL",
            2 => "FULL",
            _ => "EXTRA",
        })
    }

    /// A throwaway database in memory (`clawhooks serve --memory`, tests).
    pub fn memory() -> Result<Self, EmbeddedError> {
        let conn = Connection::open_in_memory()?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        create_schema(&conn)?;
        Ok(Embedded {
            db: Arc::new(Db::new(conn, None, None, Arc::new(SystemClock))),
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
        let conn = self.db.writer_conn.lock().unwrap();
        let n = conn.execute(
            "UPDATE messages SET visible_at = ?1, in_flight = 0 WHERE in_flight = 1",
            [now],
        )?;
        conn.execute("DELETE FROM fifo_groups", [])?;
        Ok(n)
    }

    /// The six queues and the store, named as on AWS.
    pub fn backend(&self, opts: BackendOptions) -> Backend {
        let q = |name: &str, fifo: bool, dlq: Option<&str>| {
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
        let handler_queue = q("handler", true, Some("handler-dlq"));
        Backend {
            intake: Arc::new(EmbeddedIntake::new(self.db.clone(), handler_queue.clone())),
            limiter: crate::limits::MemoryLimiter::new(),
            handler_queue,
            handler_dlq: q("handler-dlq", false, None),
            events_queue: q("events", true, Some("events-dlq")),
            events_dlq: q("events-dlq", false, None),
            delivery_queue: q("deliveries", false, Some("deliveries-dlq")),
            delivery_dlq: q("deliveries-dlq", false, None),
            store: Arc::new(self.store()),
            settled: Some(self.db.settled.clone()),
        }
    }
}

#[cfg(test)]
mod tests;
