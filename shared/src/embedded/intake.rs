//! The embedded backend's [`Intake`]: the idempotency claim, the status
//! record and the handler-queue message commit in one transaction, so a
//! crash anywhere in between leaves none of them, and a claim that exists
//! always names a queued event.

use super::queue::EmbeddedQueue;
use super::{store, Db};
use crate::faults;
use crate::ports::intake::{Acceptance, Admission, Intake, IntakeError};
use crate::ports::{Queue, QueueError, Table};
use async_trait::async_trait;
use std::sync::Arc;

pub struct EmbeddedIntake {
    db: Arc<Db>,
    handler_queue: Arc<EmbeddedQueue>,
}

impl EmbeddedIntake {
    pub(crate) fn new(db: Arc<Db>, handler_queue: Arc<EmbeddedQueue>) -> Self {
        EmbeddedIntake { db, handler_queue }
    }
}

/// An armed fail point fails the write job, so the transaction keeps none of it.
fn fault(name: &'static str) -> rusqlite::Result<()> {
    faults::check(name).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

#[async_trait]
impl Intake for EmbeddedIntake {
    async fn admit(&self, a: Acceptance, now: i64) -> Result<Admission, IntakeError> {
        let claim = a.claim.map(|c| {
            let value = c.value.to_string();
            (c, value)
        });
        let status_value = a.status.value.to_string();
        let status = a.status;
        // A claim and its message commit together, so no event is ever sent
        // twice here: the FIFO deduplication bookkeeping would be pure cost.
        let mut message = a.message;
        message.dedup_id = None;
        let send = self.handler_queue.prepare_send(message)?;
        let admitted = self
            .db
            .write(move |c| {
                if let Some((claim, value)) = &claim {
                    if !store::insert_if_absent(c, Table::Dedup, claim, value, now)? {
                        let held = store::read(c, Table::Dedup, &claim.pk, &claim.sk, now)?;
                        return Ok(Admission::Claimed {
                            claim: held.unwrap_or_else(|| claim.clone()),
                            settled: true,
                        });
                    }
                    fault(faults::INTAKE_AFTER_CLAIM)?;
                }
                send.run(c)?;
                fault(faults::INTAKE_AFTER_ENQUEUE)?;
                store::insert_if_absent(c, Table::Events, &status, &status_value, now)?;
                fault(faults::INTAKE_AFTER_STATUS)?;
                Ok(Admission::Queued)
            })
            .await
            .map_err(|message| QueueError::Backend {
                queue: self.handler_queue.name().to_string(),
                message,
            })?;
        if admitted == Admission::Queued {
            self.handler_queue.wake_receivers();
        }
        Ok(admitted)
    }
}
