//! [`Intake`] for a store and a queue that share no transaction (DynamoDB
//! and SQS): the provisional claim of [`crate::ports::intake`].
//!
//! Order: the claim first, so exactly one of several racing requests with
//! one key queues the hook; then the message and the status record at once,
//! so the sender waits one round-trip for both. A failure after the claim
//! leaves the claim in place on purpose: it names the event id, and the
//! sender's retry re-sends that event instead of starting a second one.

use crate::faults;
use crate::ports::intake::{Acceptance, Admission, Intake, IntakeError};
use crate::ports::{Queue, Store, StoreError, Table};
use async_trait::async_trait;
use std::sync::Arc;

pub struct SequencedIntake {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
}

impl SequencedIntake {
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn Queue>) -> Self {
        SequencedIntake { store, queue }
    }

    /// Claims the key; `Some(claim)` of the request that got there first.
    async fn claim(
        &self,
        claim: crate::ports::Item,
        now: i64,
    ) -> Result<Option<crate::ports::Item>, StoreError> {
        let (pk, sk) = (claim.pk.clone(), claim.sk.clone());
        // Twice at most: a claim that expires between our write and our
        // read is gone, and the second write takes the key.
        for _ in 0..2 {
            if self
                .store
                .put_if_absent(Table::Dedup, claim.clone(), now)
                .await?
                .is_some()
            {
                return Ok(None);
            }
            if let Some(held) = self.store.get(Table::Dedup, &pk, &sk, now).await? {
                return Ok(Some(held));
            }
        }
        Err(StoreError::Backend {
            table: Table::Dedup.as_str(),
            message: "an idempotency claim came and went twice; retry".into(),
        })
    }

    /// Removes the status record this request wrote for a hook it could not queue.
    async fn forget_status(&self, status: &crate::ports::Item) {
        if let Err(e) = self
            .store
            .delete(Table::Events, &status.pk, &status.sk)
            .await
        {
            tracing::warn!(event_id = %status.pk, error = %e, "could not remove the status record of a hook that was not queued; it shows `queued` until it expires");
        }
    }
}

fn injected(e: faults::Injected) -> IntakeError {
    IntakeError::Store(StoreError::Backend {
        table: Table::Dedup.as_str(),
        message: e.to_string(),
    })
}

#[async_trait]
impl Intake for SequencedIntake {
    async fn admit(&self, a: Acceptance, now: i64) -> Result<Admission, IntakeError> {
        if let Some(claim) = a.claim {
            if let Some(held) = self.claim(claim, now).await? {
                return Ok(Admission::Claimed {
                    claim: held,
                    settled: false,
                });
            }
            faults::check(faults::INTAKE_AFTER_CLAIM).map_err(injected)?;
        }
        let status = a.status.clone();
        let queue = self.queue.as_ref();
        let (sent, recorded) = tokio::join!(
            async {
                let id = queue.send(a.message).await.map_err(IntakeError::from)?;
                // Queued, and the sender has no answer yet.
                faults::check(faults::INTAKE_AFTER_ENQUEUE).map_err(injected)?;
                Ok::<_, IntakeError>(id)
            },
            self.store.put_if_absent(Table::Events, a.status, now)
        );
        if let Err(e) = sent {
            if matches!(recorded, Ok(Some(_))) {
                self.forget_status(&status).await;
            }
            return Err(e);
        }
        match recorded {
            // The hook is queued; the handler writes the record it lacks.
            Err(e) => {
                tracing::warn!(event_id = %status.pk, error = %e, "could not record event status")
            }
            Ok(_) => faults::check(faults::INTAKE_AFTER_STATUS).map_err(injected)?,
        }
        Ok(Admission::Queued)
    }
}
