//! Which consumers run in one process: each stage on its queue.

use clawhooks::config::{Action, CompiledConfig};
use clawhooks::egress::EgressStage;
use clawhooks::handler::HandlerStage;
use clawhooks::ports::{Backend, Clock, HttpSender, Queue};
use clawhooks::worker::Stage;
use std::sync::Arc;

/// One stage polling one queue, with that stage's `webhooks.concurrency`.
pub struct Consumer {
    pub queue: Arc<dyn Queue>,
    pub stage: Arc<dyn Stage>,
    /// Messages in flight at once, at most.
    pub concurrency: usize,
}

/// The consumers of a whole deployment, on `backend`: the handler stage on
/// the handler queue, egress on the events and delivery queues.
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
    out.push(Consumer {
        queue: backend.handler_queue.clone(),
        stage: Arc::new(handler),
        concurrency: limits.handler,
    });
    // Egress reads both the events queue (fan-out) and the delivery queue
    // (attempts and retries); the message body says which is which.
    match EgressStage::new(config, backend.clone(), http, clock) {
        Ok(stage) => {
            let stage: Arc<dyn Stage> = Arc::new(stage);
            for queue in [&backend.events_queue, &backend.delivery_queue] {
                out.push(Consumer {
                    queue: queue.clone(),
                    stage: stage.clone(),
                    concurrency: limits.egress,
                });
            }
        }
        // Config validation refuses bad secrets first; this is a backstop.
        Err(e) => tracing::error!(error = %e, "egress not started"),
    }
    out
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
