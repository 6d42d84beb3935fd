//! The handler Lambda function: records of the handler queue (FIFO by
//! session) to the handler stage, with partial batch failures; EventBridge's
//! schedule invokes it too, to end idle sessions. Wiring only; everything is
//! built once at init.

use clawhooks::lambda::{self, Init, LambdaError, SqsRoute};
use clawhooks::worker::Stage;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    lambda::lambda_runtime::tracing::init_default_subscriber();
    let init = Init::from_env().await?;
    let route = SqsRoute {
        queue: init.backend.handler_queue.clone(),
        stage: stage(&init),
    };
    lambda::run_sqs(vec![route], None).await
}

/// The handler stage (`clawhooks::handler`, not on this branch yet).
fn stage(_init: &Init) -> Arc<dyn Stage> {
    Arc::new(NotBuilt)
}

/// Leaves every record to the queue (retried, then dead-lettered by SQS's
/// redrive policy): nothing is lost until the real stage is plugged in.
struct NotBuilt;

#[async_trait::async_trait]
impl Stage for NotBuilt {
    fn name(&self) -> &'static str {
        "handler (not built)"
    }
    async fn process(
        &self,
        _: &clawhooks::ports::Received,
    ) -> Result<(), clawhooks::worker::StageError> {
        Err(clawhooks::worker::StageError::retry(
            "the handler stage is not part of this build",
        ))
    }
}
