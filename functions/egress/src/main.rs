//! The egress Lambda function: the egress stage on the queues it reads
//! (`StageKind::Egress`), with partial batch failures. Wiring only;
//! everything is built once at init.

use clawhooks::config::scope::Function;
use clawhooks::egress::EgressStage;
use clawhooks::lambda::{self, Init, LambdaError};
use clawhooks::worker::StageKind;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    lambda::init_logging();
    let init = Init::for_function(Function::Egress).await?;
    let stage = Arc::new(EgressStage::new(
        init.config.clone(),
        init.backend.clone(),
        init.outbound_http()?,
        init.clock.clone(),
    )?);
    lambda::run_sqs(StageKind::Egress.routes(&init.backend, stage), None).await
}
