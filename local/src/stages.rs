//! Which consumers run in one process: each stage on the queues it reads
//! (`StageKind` in the library says which), with its concurrency.

use clawhooks::config::{Action, CompiledConfig};
use clawhooks::egress::EgressStage;
use clawhooks::handler::HandlerStage;
use clawhooks::ports::{Backend, Clock, HttpSender, Queue};
use clawhooks::worker::{Stage, StageKind};
use std::sync::Arc;

/// One stage polling one queue, with that stage's `webhooks.concurrency`.
pub struct Consumer {
    pub queue: Arc<dyn Queue>,
    pub stage: Arc<dyn Stage>,
    /// Messages in flight at once, at most.
    pub concurrency: usize,
}

/// The consumers of a whole deployment, on `backend`: the handler and the
/// egress stage, each on the queues it reads.
pub async fn consumers(
    config: Arc<CompiledConfig>,
    backend: &Backend,
    http: Arc<dyn HttpSender>,
    clock: Arc<dyn Clock>,
    max_receive_count: u32,
) -> Vec<Consumer> {
    let limits = config.config.webhooks.concurrency.clone();
    let mut out = Vec::new();
    let mut handler =
        HandlerStage::new(config.clone(), backend.clone(), http.clone(), clock.clone())
            .with_max_receive_count(max_receive_count);
    let uses_lambda = config.config.webhooks.handlers.iter().any(|h| {
        h.action == Action::Custom && h.custom.as_ref().is_some_and(|c| c.lambda.is_some())
    });
    if uses_lambda {
        handler = with_lambda(handler).await;
    }
    out.extend(on_its_queues(
        StageKind::Handler,
        backend,
        Arc::new(handler),
        limits.handler,
    ));
    match EgressStage::new(config, backend.clone(), http, clock) {
        Ok(stage) => out.extend(on_its_queues(
            StageKind::Egress,
            backend,
            Arc::new(stage),
            limits.egress,
        )),
        // Config validation refuses bad secrets first; this is a backstop.
        Err(e) => tracing::error!(error = %e, "egress not started"),
    }
    out
}

/// `stage` on each queue its kind reads, `concurrency` messages at once on each.
fn on_its_queues(
    kind: StageKind,
    backend: &Backend,
    stage: Arc<dyn Stage>,
    concurrency: usize,
) -> impl Iterator<Item = Consumer> {
    kind.routes(backend, stage)
        .into_iter()
        .map(move |r| Consumer {
            queue: r.queue,
            stage: r.stage,
            concurrency,
        })
}

/// Lets `custom.lambda` handlers invoke AWS Lambda functions; credentials
/// and region come from the environment, as for the SDK anywhere.
#[cfg(feature = "aws")]
async fn with_lambda(handler: HandlerStage) -> HandlerStage {
    handler.with_lambda(clawhooks::handler::custom::lambda::LambdaInvoker::from_env().await)
}

#[cfg(not(feature = "aws"))]
async fn with_lambda(handler: HandlerStage) -> HandlerStage {
    tracing::warn!("custom.lambda handlers need a clawhooks built with `--features aws`; their hooks fail until then");
    handler
}
