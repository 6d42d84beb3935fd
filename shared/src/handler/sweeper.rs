//! Ends persistent sessions idle past their `sessionTimeout` and emits
//! `session_ended` for them; also announces ends nobody announced (a
//! crash between ending a session and emitting the event).
//!
//! A plain async function, so the local server calls it on an interval and
//! the SAM template schedules it (EventBridge → the handler function).

use super::session::{self, Closed, SessionRecord};
use crate::ports::{Backend, Clock, Table};

/// How many session records one sweep looks at.
pub const SWEEP_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Sessions looked at.
    pub scanned: usize,
    /// Sessions ended (or announced) by this sweep.
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
    let items = backend
        .store
        .scan(Table::Sessions, SWEEP_LIMIT, unix)
        .await?;
    let mut report = SweepReport {
        scanned: items.len(),
        ..Default::default()
    };
    for item in items {
        let Ok(rec) = serde_json::from_value::<SessionRecord>(item.value) else {
            continue;
        };
        let unannounced = rec.ended.as_ref().is_some_and(|e| !e.announced);
        if !rec.is_idle(unix) && !unannounced {
            continue;
        }
        match session::close(
            backend.store.as_ref(),
            backend.events_queue.as_ref(),
            &rec.key,
            "idle timeout",
            session::When::Idle,
            now,
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
