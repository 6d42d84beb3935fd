//! Which consumers run in one process: each stage on its queue.

use clawhooks::config::CompiledConfig;
use clawhooks::egress::EgressStage;
use clawhooks::ports::{Backend, Clock, HttpSender, Queue};
use clawhooks::worker::Stage;
use std::sync::Arc;

/// The consumers of a whole deployment, on `backend`.
pub fn consumers(
    config: Arc<CompiledConfig>,
    backend: &Backend,
    http: Arc<dyn HttpSender>,
    clock: Arc<dyn Clock>,
) -> Vec<(Arc<dyn Queue>, Arc<dyn Stage>)> {
    let mut out: Vec<(Arc<dyn Queue>, Arc<dyn Stage>)> = Vec::new();
    // Egress reads both the events queue (fan-out) and the delivery queue
    // (attempts and retries); the message body says which is which.
    match EgressStage::new(config, backend.clone(), http, clock) {
        Ok(stage) => {
            let stage: Arc<dyn Stage> = Arc::new(stage);
            out.push((backend.events_queue.clone(), stage.clone()));
            out.push((backend.delivery_queue.clone(), stage));
        }
        // Config validation refuses bad secrets first; this is a backstop.
        Err(e) => tracing::error!(error = %e, "egress not started"),
    }
    out
}
