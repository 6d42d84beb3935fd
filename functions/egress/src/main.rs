//! The egress Lambda function: records of the events queue (FIFO by
//! session: fan-out) and of the delivery queue (standard: one delivery
//! attempt each) to the egress stage, with partial batch failures. Wiring
//! only; everything is built once at init.

use clawhooks::lambda::{self, Init, LambdaError, SqsRoute};
use clawhooks::worker::Stage;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    lambda::lambda_runtime::tracing::init_default_subscriber();
    let init = Init::from_env().await?;
    let stage = stage(&init);
    let routes = [&init.backend.events_queue, &init.backend.delivery_queue]
        .into_iter()
        .map(|queue| SqsRoute {
            queue: queue.clone(),
            stage: stage.clone(),
        })
        .collect();
    lambda::run_sqs(routes, None).await
}

/// The egress stage (`clawhooks::egress`, not on this branch yet).
fn stage(_init: &Init) -> Arc<dyn Stage> {
    Arc::new(NotBuilt)
}

/// Leaves every record to the queue (retried, then dead-lettered by SQS's
/// redrive policy): nothing is lost until the real stage is plugged in.
struct NotBuilt;

#[async_trait::async_trait]
impl Stage for NotBuilt {
    fn name(&self) -> &'static str {
        "egress (not built)"
    }
    async fn process(
        &self,
        _: &clawhooks::ports::Received,
    ) -> Result<(), clawhooks::worker::StageError> {
        Err(clawhooks::worker::StageError::retry(
            "the egress stage is not part of this build",
        ))
    }
}
