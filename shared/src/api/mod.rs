//! Routes beside `/webhook/*` and `/health`, served by the same ingress
//! function on Lambda and locally: event status, sessions, deliveries and
//! dead-letter replay. Each is guarded by [`authorize`].
//!
//! A route module exposes `async fn route(&Ingress, &IngressRequest, &[&str])
//! -> Option<IngressResponse>` and answers `None` for paths it does not own.

pub mod deliveries;
pub mod dlq;
pub mod events;
pub mod sessions;

use crate::ingress::{auth, source, Ingress, IngressRequest, IngressResponse};
use http::StatusCode;
use std::collections::BTreeMap;

pub async fn handle(ingress: &Ingress, req: IngressRequest) -> IngressResponse {
    let segments: Vec<&str> = req
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if let Err(refusal) = authorize(ingress, &req).await {
        return refusal;
    }
    if let Some(r) = events::route(ingress, &req, &segments).await {
        return r;
    }
    if let Some(r) = sessions::route(ingress, &req, &segments).await {
        return r;
    }
    if let Some(r) = deliveries::route(ingress, &req, &segments).await {
        return r;
    }
    if let Some(r) = dlq::route(ingress, &req, &segments).await {
        return r;
    }
    IngressResponse::error(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method, req.path),
    )
}

/// Admin routes need the global secret (header or bearer). Without one
/// configured they answer only to loopback callers, so a local setup works
/// out of the box and an exposed one does not leak. Failures count against
/// the source's failed-authentication limit, shared with the hooks, which
/// take the same secret: guessing on `/events` is no cheaper than on `/webhook`.
pub async fn authorize(ingress: &Ingress, req: &IngressRequest) -> Result<(), IngressResponse> {
    let inc = &ingress.config.config.webhooks.incoming;
    let source = source::client_ip(req.peer, &req.headers, &inc.trusted_proxies);
    let Some(secret) = &inc.secret else {
        return if source.is_loopback() {
            Ok(())
        } else {
            Err(IngressResponse::error(
                StatusCode::FORBIDDEN,
                "admin routes need webhooks.incoming.secret when called from another host",
            ))
        };
    };
    let failures = crate::ingress::auth_failures_key(source);
    let now = ingress.clock.now().timestamp();
    if let Some(refusal) = ingress
        .limited(&failures, crate::limits::AUTH_FAILURES, now, false)
        .await
    {
        tracing::warn!(%source, path = %req.path, "refused: too many failed authentications");
        return Err(refusal.with_message(format!(
            "too many failed authentications from {source}; retry later"
        )));
    }
    if let Err(r) = auth::check_secret(&req.headers, &inc.secret_header, secret) {
        tracing::warn!(%source, path = %req.path, reason = r.as_str(), "refused: admin authentication");
        ingress.count_failure(&failures, now).await;
        return Err(IngressResponse::error(
            StatusCode::UNAUTHORIZED,
            auth::failed_message(&inc.secret_header),
        ));
    }
    Ok(())
}

/// The query string, decoded.
pub fn query(req: &IngressRequest) -> BTreeMap<String, String> {
    req.query
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// A backend failure: 503, with the error logged (it may name queues and tables).
pub fn unavailable(e: impl std::fmt::Display) -> IngressResponse {
    tracing::error!(error = %e, "admin route failed");
    IngressResponse::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the backend is unavailable; see the server log",
    )
}
