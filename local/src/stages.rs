//! Which consumers run in one process: each stage on its queue.

use clawhooks::config::CompiledConfig;
use clawhooks::ports::{Backend, Clock, HttpSender, Queue};
use clawhooks::worker::Stage;
use std::sync::Arc;

/// The consumers of a whole deployment, on `backend`.
pub fn consumers(
    _config: Arc<CompiledConfig>,
    _backend: &Backend,
    _http: Arc<dyn HttpSender>,
    _clock: Arc<dyn Clock>,
) -> Vec<(Arc<dyn Queue>, Arc<dyn Stage>)> {
    Vec::new()
}
