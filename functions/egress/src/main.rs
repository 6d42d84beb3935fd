//! The egress Lambda function: records of the events queue (FIFO by
//! session: fan-out) and of the delivery queue (standard: one delivery
//! attempt each) to the egress stage, with partial batch failures. Wiring
//! only; everything is built once at init.

use clawhooks::config::scope::Function;
use clawhooks::egress::EgressStage;
use clawhooks::lambda::{self, Init, LambdaError, SqsRoute};
use clawhooks::worker::Stage;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    lambda::init_logging();
    let init = Init::for_function(Function::Egress).await?;
    let stage: Arc<dyn Stage> = Arc::new(EgressStage::new(
        init.config.clone(),
        init.backend.clone(),
        init.outbound_http()?,
        init.clock.clone(),
    )?);
    let routes = [&init.backend.events_queue, &init.backend.delivery_queue]
        .into_iter()
        .map(|queue| SqsRoute {
            queue: queue.clone(),
            stage: stage.clone(),
        })
        .collect();
    lambda::run_sqs(routes, None).await
}
