//! `GET /metrics`: the Prometheus text format, behind the admin auth
//! (a scraper sends the secret as `Authorization: Bearer`). The queue
//! gauges are read at each scrape. Only a process that installed the
//! Prometheus recorder (`clawhooks serve`) has metrics here; the Lambda
//! functions write CloudWatch embedded metrics instead.

use super::AppState;
use crate::refusal::Refusal;
use axum::extract::State;
use axum::response::Response;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg_attr(not(feature = "prometheus"), allow(unused_variables))]
pub async fn show(State(ingress): State<AppState>) -> Result<Response, Refusal> {
    #[cfg(feature = "prometheus")]
    if let Some(handle) = crate::telemetry::prometheus::handle() {
        crate::telemetry::observe_queues(&ingress.backend).await;
        let (store, now) = (ingress.backend.store.as_ref(), ingress.clock.now());
        let outgoing = &ingress.config.config.webhooks.outgoing;
        if let Err(e) = crate::egress::breaker::observe(store, outgoing, now).await {
            tracing::warn!(error = %e, "could not read the circuit breakers for metrics");
        }
        let text = handle.render();
        let answer = ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], text);
        return Ok(axum::response::IntoResponse::into_response(answer));
    }
    Err(Refusal::NotFound(
        "no metrics in this process: `clawhooks serve` serves them here; the Lambda functions write CloudWatch embedded metrics (namespace clawhooks)".into(),
    ))
}
