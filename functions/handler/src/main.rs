//! The handler Lambda function: the handler stage on the queue it reads
//! (`StageKind::Handler`), with partial batch failures; EventBridge's
//! schedule invokes it too, to end idle sessions. Wiring only; everything is
//! built once at init.

use clawhooks::config::scope::Function;
use clawhooks::handler::custom::lambda::LambdaInvoker;
use clawhooks::handler::{sweep_sessions, HandlerStage, DEFAULT_MAX_RECEIVE_COUNT};
use clawhooks::lambda::{self, Init, LambdaError, Scheduled};
use clawhooks::worker::StageKind;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    lambda::init_logging();
    let init = Init::for_function(Function::Handler).await?;
    // The handler queue's redrive maxReceiveCount (the template sets both).
    let max_receive_count = std::env::var("CLAWHOOKS_MAX_RECEIVE_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_RECEIVE_COUNT);
    let stage = HandlerStage::new(
        init.config.clone(),
        init.backend.clone(),
        init.outbound_http()?,
        init.clock.clone(),
    )
    .with_max_receive_count(max_receive_count)
    .with_lambda(LambdaInvoker::new(aws_sdk_lambda::Client::new(
        &init.clients.config,
    )));
    let routes = StageKind::Handler.routes(&init.backend, Arc::new(stage));
    let (backend, clock) = (init.backend.clone(), init.clock.clone());
    let sweep: Scheduled = Arc::new(move || {
        let (backend, clock) = (backend.clone(), clock.clone());
        Box::pin(async move {
            let report = sweep_sessions(&backend, clock.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            Ok(serde_json::json!({
                "scanned": report.scanned,
                "ended": report.ended,
                "failed": report.failed,
            }))
        })
    });
    lambda::run_sqs(routes, Some(sweep)).await
}
