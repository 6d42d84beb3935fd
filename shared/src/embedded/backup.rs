//! `clawhooks backup`: a consistent copy of a live database file, taken
//! with SQLite's online backup API while the server keeps writing.

use super::EmbeddedError;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// Copies the database at `db` into `to`, as of one moment: every page in
/// one read transaction, so writes that land meanwhile are not half in it
/// (and a busy server cannot make it start over). The copy is written
/// beside `to` and renamed onto it, so `to` is never a partial file.
/// Returns the copy's size in bytes.
pub fn backup(db: &Path, to: &Path) -> Result<u64, EmbeddedError> {
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(std::time::Duration::from_secs(5))?;
    let partial = PathBuf::from(format!("{}.partial", to.display()));
    let _ = std::fs::remove_file(&partial);
    {
        let mut dst = Connection::open(&partial)?;
        let copy = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // -1: all pages in one step (one read transaction).
        while copy.step(-1)? != rusqlite::backup::StepResult::Done {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    // The copy's WAL, if it made one, is folded in before the rename.
    let dst = Connection::open(&partial)?;
    dst.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(dst);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    std::fs::rename(&partial, to).map_err(|e| EmbeddedError::Write(e.to_string()))?;
    Ok(std::fs::metadata(to).map(|m| m.len()).unwrap_or(0))
}
