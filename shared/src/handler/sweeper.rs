//! Ends sessions idle past their `sessionTimeout` and emits `session_ended`
//! for them; also announces ends nobody announced (a crash between ending a
//! session and emitting the event). Persistent and `hook:*` sessions alike:
//! a `hook:*` session normally ends when its hook is handled, and only
//! reaches the sweeper if that never happened.
//!
//! It reads the sessions table's index (see `SessionRecord::to_item`), the
//! longest overdue first, so a sweep costs what it ends, not the size of
//! the table. A plain async function, so the local server calls it on an
//! interval and the SAM template schedules it (EventBridge → the handler
//! function).

use super::session::{self, Closed, SessionRecord};
use crate::ports::{Backend, Clock, IndexOrder, Table};

/// Most sessions one sweep ends; the rest, due later than these, are the
/// next sweep's. Ending one takes a few sequential store writes and a
/// queue send, so this keeps a sweep well inside a Lambda timeout.
pub const SWEEP_LIMIT: usize = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Due sessions looked at.
    pub scanned: usize,
    /// Sessions ended (or announced) by this sweep, in the order of their deadlines.
    pub ended: Vec<String>,
    /// Sessions that could not be ended this time (retried next sweep).
    pub failed: usize,
}

pub async fn sweep_sessions(
    backend: &Backend,
    clock: &dyn Clock,
) -> Result<SweepReport, crate::ports::StoreError> {
    let now = clock.now();
    let unix = now.timestamp();
    let due = backend
        .store
        .query_index(
            Table::Sessions,
            session::due_by(unix),
            IndexOrder::Ascending,
            SWEEP_LIMIT,
            unix,
        )
        .await?;
    let mut report = SweepReport {
        scanned: due.len(),
        ..Default::default()
    };
    for item in due {
        let rec = match serde_json::from_value::<SessionRecord>(item.value) {
            Ok(rec) => rec,
            Err(e) => {
                tracing::warn!(session = %item.pk, error = %e, "unreadable session record; not swept");
                continue;
            }
        };
        // `close` reads the record again and ends it only if it is still
        // due: the index may be a moment behind (DynamoDB), and a hook may
        // have arrived since.
        match session::close(
            backend.store.as_ref(),
            backend.events_queue.as_ref(),
            &rec.key,
            "idle timeout",
            session::When::Idle,
            now,
            // No config here: an ended `hook:` session is kept the full day.
            session::RETAIN_SECS,
        )
        .await
        {
            Ok(Closed::Ended(_)) => report.ended.push(rec.key),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(session = %rec.key, error = %e, "could not end idle session");
                report.failed += 1;
            }
        }
    }
    if !report.ended.is_empty() {
        tracing::info!(ended = report.ended.len(), "swept idle sessions");
    }
    Ok(report)
}
