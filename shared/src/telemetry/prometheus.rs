//! The Prometheus recorder of `clawhooks serve`: installed once per
//! process, rendered by `GET /metrics` in the text exposition format.

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Mutex, OnceLock};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static INSTALLING: Mutex<()> = Mutex::new(());

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("could not build the Prometheus recorder: {0}")]
    Build(#[from] BuildError),
    #[error("another metrics recorder is already installed in this process")]
    AnotherRecorder,
}

/// Installs the recorder once per process (later calls, e.g. a second
/// server in a test process, share it), with the latency metrics as
/// histograms over [`super::LATENCY_BUCKETS`].
pub fn install() -> Result<&'static PrometheusHandle, InstallError> {
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &super::LATENCY_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| InstallError::AnotherRecorder)?;
    super::describe();
    Ok(HANDLE.get_or_init(|| handle))
}

/// The installed recorder's handle, if the process installed one.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}
