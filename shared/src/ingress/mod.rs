//! The ingress stage, one function for the Lambda and the local server:
//! route, check the source address, authenticate, limit and classify the
//! body, deduplicate, enqueue, and answer at once. Nothing slow happens here;
//! the handler stage does the work.

pub(crate) mod auth;
mod body;
pub mod headers;
mod keep;
pub mod source;

use crate::config::CompiledConfig;
use crate::event::{self, InboundEvent};
use crate::faults;
use crate::limits;
use crate::ports::{Admission, Backend, Clock, IntakeError, Item, QueueError};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Headers whose values identify a delivery; a repeat within the dedup
/// window gets the first answer and is not enqueued again.
pub const IDEMPOTENCY_HEADERS: [&str; 3] = ["idempotency-key", "webhook-id", "x-github-delivery"];

/// A request as the transport saw it (API Gateway or the local socket).
#[derive(Debug, Clone)]
pub struct IngressRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The socket peer locally; `requestContext.http.sourceIp` on API Gateway.
    pub peer: IpAddr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IngressResponse {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl IngressResponse {
    pub fn json(status: StatusCode, body: Value) -> Self {
        IngressResponse {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// A refusal: `{"ok": false, "error": …}`.
    pub fn error(status: StatusCode, message: impl Into<String>) -> Self {
        Self::json(status, json!({ "ok": false, "error": message.into() }))
    }

    /// Replaces the error message of a refusal.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.body["error"] = json!(message.into());
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).unwrap_or_default()
    }
}

/// Everything ingress needs, built once at start (Lambda init or server start).
#[derive(Clone)]
pub struct Ingress {
    pub config: Arc<CompiledConfig>,
    pub backend: Backend,
    pub clock: Arc<dyn Clock>,
}

impl Ingress {
    pub async fn handle(&self, req: IngressRequest) -> IngressResponse {
        let path = req.path.trim_end_matches('/');
        if let Some(hook_id) = path.strip_prefix("/webhook/") {
            if req.method != Method::POST {
                return IngressResponse::error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "use POST to send a webhook",
                )
                .header("allow", "POST");
            }
            let hook_id = hook_id.to_string();
            return self.accept_within_deadline(&hook_id, req).await;
        }
        match (req.method.clone(), path) {
            (Method::GET, "/health") => {
                IngressResponse::json(StatusCode::OK, json!({ "ok": true }))
            }
            (_, "/health") => IngressResponse::error(StatusCode::METHOD_NOT_ALLOWED, "use GET")
                .header("allow", "GET"),
            (_, "/webhook") => IngressResponse::error(
                StatusCode::NOT_FOUND,
                "no hook id: post to /webhook/<hook-id>",
            ),
            _ => crate::api::handle(self, req).await,
        }
    }

    /// Every hook is answered within `incoming.acceptTimeout`: a backend
    /// that hangs gets the sender a 503 it can retry, not a timeout of its
    /// own. The hook may still be kept after the 503 (a write that was
    /// under way when time ran out can land), which the idempotency key
    /// makes harmless.
    async fn accept_within_deadline(&self, hook_id: &str, req: IngressRequest) -> IngressResponse {
        let deadline = self.config.config.webhooks.incoming.accept_timeout;
        match tokio::time::timeout(deadline.as_duration(), self.accept_hook(hook_id, req)).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::error!(
                    hook_id,
                    timeout_secs = deadline.0,
                    "no answer from the queue or store within acceptTimeout"
                );
                keep::refusal(&format!(
                    "the queue or store did not answer within {}s (webhooks.incoming.acceptTimeout); the hook may still be handled",
                    deadline.0
                ))
            }
        }
    }

    async fn accept_hook(&self, hook_id: &str, req: IngressRequest) -> IngressResponse {
        let cfg = &self.config.config.webhooks;
        let inc = &cfg.incoming;
        if !inc.enabled {
            return IngressResponse::error(StatusCode::NOT_FOUND, "incoming webhooks are disabled");
        }
        if hook_id.is_empty() {
            return IngressResponse::error(
                StatusCode::NOT_FOUND,
                "no hook id: post to /webhook/<hook-id>",
            );
        }

        let source = source::client_ip(req.peer, &req.headers, &inc.trusted_proxies);
        if !inc.allowed_ips.is_empty() && !inc.allowed_ips.iter().any(|n| n.contains(source)) {
            tracing::warn!(%source, hook_id, "refused: source address not in allowedIPs");
            return IngressResponse::error(
                StatusCode::FORBIDDEN,
                format!("source address {source} is not allowed"),
            );
        }

        // A source that keeps failing authentication is refused before its
        // next guess is even checked, so a correct guess cannot get through.
        let failures_key = auth_failures_key(source);
        let now_secs = self.clock.now().timestamp();
        if let Some(refusal) = self
            .limited(&failures_key, limits::AUTH_FAILURES, now_secs, false)
            .await
        {
            tracing::warn!(%source, hook_id, "refused: too many failed authentications");
            return refusal.with_message(format!(
                "too many failed authentications from {source}; retry later"
            ));
        }

        let handler = self.config.handler_for(hook_id);
        // A handler with `verify` authenticates by the provider's signature
        // (providers cannot send our header); only its own `secret` is added.
        let secret = handler.and_then(|h| h.secret.as_ref()).or(inc
            .secret
            .as_ref()
            .filter(|_| handler.is_none_or(|h| h.verify.is_none())));
        let query = parse_query(req.query.as_deref());
        if let Some(key) = auth::secret_in_query(&query, &inc.secret_header, secret) {
            tracing::warn!(%source, hook_id, "refused: secret in query string");
            return IngressResponse::error(
                StatusCode::BAD_REQUEST,
                format!("query parameter {key:?} looks like a secret; send secrets in the {} header, never in the URL", inc.secret_header),
            );
        }
        if let Some(secret) = secret {
            if let Err(refusal) = auth::check_secret(&req.headers, &inc.secret_header, secret) {
                tracing::warn!(%source, hook_id, reason = refusal.as_str(), "refused: authentication");
                self.count_failure(&failures_key, now_secs).await;
                return IngressResponse::error(
                    StatusCode::UNAUTHORIZED,
                    auth::failed_message(&inc.secret_header),
                );
            }
        }
        // --- provider signature (webhooks.handlers[].verify), on the raw bytes ---
        if let Some(v) = handler.and_then(|h| h.verify.as_ref()) {
            if let Err(e) = v.verify(&req.headers, &req.body, self.clock.now().timestamp()) {
                tracing::warn!(%source, hook_id, scheme = %e.scheme(), reason = e.kind(), "refused: signature");
                self.count_failure(&failures_key, now_secs).await;
                return IngressResponse::error(
                    StatusCode::UNAUTHORIZED,
                    auth::failed_message(&inc.secret_header),
                );
            }
        }
        // --- end provider signature ---

        match handler {
            Some(h) if !h.enabled => {
                return IngressResponse::error(
                    StatusCode::NOT_FOUND,
                    format!("hook {hook_id:?} is disabled"),
                )
            }
            None if inc.reject_unknown_hooks => {
                return IngressResponse::error(
                    StatusCode::NOT_FOUND,
                    format!("no handler for hook {hook_id:?}"),
                )
            }
            _ => {}
        }

        if let Some(limit) = handler.and_then(|h| h.rate_limit) {
            if let Some(refusal) = self
                .limited(&format!("rate:{}", hook_id), limit.rule(), now_secs, true)
                .await
            {
                tracing::warn!(%source, hook_id, "refused: rateLimit reached");
                return refusal.with_message(format!(
                    "hook {hook_id:?} takes at most {} hooks per minute (rateLimit.perMinute); retry later",
                    limit.per_minute
                ));
            }
        }

        if req.body.len() > inc.max_body_bytes {
            return IngressResponse::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "body is {} bytes; the limit (webhooks.incoming.maxBodyBytes) is {}",
                    req.body.len(),
                    inc.max_body_bytes
                ),
            );
        }
        let content_type = req
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (body, body_value) = match body::classify(content_type.as_deref(), &req.body) {
            Ok(b) => b,
            Err(msg) => return IngressResponse::error(StatusCode::BAD_REQUEST, msg),
        };

        let now = self.clock.now();
        let mut ev = InboundEvent {
            event_id: event::new_id(),
            hook_id: hook_id.to_string(),
            handler_id: handler.map(|h| h.id.clone()),
            session_key: String::new(),
            persistent: false,
            received_at: now,
            source_ip: source.to_string(),
            headers: headers::kept(&req.headers, inc),
            query,
            content_type,
            body,
        };
        match session_key(&self.config, handler, &ev, &body_value) {
            Ok((key, persistent)) => {
                ev.session_key = key;
                ev.persistent = persistent;
            }
            Err(msg) => return IngressResponse::error(StatusCode::BAD_REQUEST, msg),
        }

        let key = idempotency_key(&req.headers).map(|k| format!("{hook_id}\u{0}{k}"));
        let dedup_until = now.timestamp() + inc.dedup_window.0 as i64;
        self.keep(ev, key, dedup_until).await
    }

    /// Keeps an authenticated, well-formed hook and answers: queued, a
    /// repeat of a key already claimed, or 503 (413) when it cannot be kept.
    async fn keep(
        &self,
        ev: InboundEvent,
        key: Option<String>,
        dedup_until: i64,
    ) -> IngressResponse {
        let now = ev.received_at.timestamp();
        let acceptance = keep::acceptance(&ev, key.map(|k| (k, dedup_until)));
        match self.backend.intake.admit(acceptance, now).await {
            Ok(Admission::Queued) => {
                if let Err(e) = faults::check(faults::INGRESS_BEFORE_ANSWER) {
                    return keep::refusal(&e.to_string());
                }
                tracing::info!(event_id = %ev.event_id, hook_id = %ev.hook_id, handler = ev.handler_id.as_deref().unwrap_or("-"), session = %ev.session_key, source = %ev.source_ip, "accepted");
                self.accepted(&ev.event_id, &ev.session_key, false)
            }
            Ok(Admission::Claimed { claim, settled }) => self.repeat(ev, claim, settled).await,
            Err(e) => {
                tracing::error!(error = %e, hook_id = %ev.hook_id, "could not keep the hook");
                match e {
                    IntakeError::Queue(QueueError::TooLarge { .. }) => IngressResponse::error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("could not queue the hook: {e}"),
                    ),
                    _ => keep::refusal("could not queue the hook"),
                }
            }
        }
    }

    /// A request whose idempotency key an earlier one claimed gets that
    /// one's event id. Where the claim may be provisional (its writer could
    /// have crashed before queueing), an event that has not started is sent
    /// again under its own id, so a retry never stands for a lost hook.
    async fn repeat(&self, ev: InboundEvent, claim: Item, settled: bool) -> IngressResponse {
        let Some(earlier) = keep::claimed_event(&ev, &claim) else {
            tracing::error!(hook_id = %ev.hook_id, "an idempotency claim without an event id");
            return keep::refusal("could not read the earlier delivery of this key");
        };
        if !settled {
            let now = ev.received_at.timestamp();
            let store = self.backend.store.as_ref();
            let started = match crate::handler::status::load(store, &earlier.event_id, now).await {
                Ok(record) => record.is_some_and(|r| r.status != event::EventStatus::Queued),
                Err(e) => {
                    tracing::error!(error = %e, "could not read an event's status");
                    return keep::refusal("could not read the earlier delivery of this key");
                }
            };
            if !started {
                let again = self
                    .backend
                    .intake
                    .admit(keep::acceptance(&earlier, None), now)
                    .await;
                if let Err(e) = again {
                    tracing::error!(error = %e, event_id = %earlier.event_id, "could not queue a claimed event again");
                    return keep::refusal("could not queue the hook");
                }
                tracing::info!(event_id = %earlier.event_id, hook_id = %ev.hook_id, "claimed event sent again");
            }
        }
        self.accepted(&earlier.event_id, &earlier.session_key, true)
    }

    fn accepted(&self, event_id: &str, session_key: &str, duplicate: bool) -> IngressResponse {
        let inc = &self.config.config.webhooks.incoming;
        let success = StatusCode::from_u16(inc.success_status).unwrap_or(StatusCode::ACCEPTED);
        let mut body = json!({ "ok": true, "eventId": event_id, "sessionKey": session_key });
        if duplicate {
            body["duplicate"] = json!(true);
        }
        IngressResponse::json(success, body)
    }

    /// A 429 with `Retry-After` when `key` is over `rule`; `count` says
    /// whether this request counts as a hit. A limiter that cannot answer
    /// lets the request through: abuse limits must not take the gateway down.
    pub(crate) async fn limited(
        &self,
        key: &str,
        rule: limits::FixedWindow,
        now: i64,
        count: bool,
    ) -> Option<IngressResponse> {
        let limiter = &self.backend.limiter;
        let decision = if count {
            limiter.hit(key, rule, now).await
        } else {
            limiter.peek(key, rule, now).await
        };
        match decision {
            Ok(limits::Decision::Deny { retry_after_secs }) => Some(
                IngressResponse::error(StatusCode::TOO_MANY_REQUESTS, "too many requests")
                    .header("retry-after", retry_after_secs.to_string()),
            ),
            Ok(limits::Decision::Allow { .. }) => None,
            Err(e) => {
                tracing::warn!(error = %e, "limiter unavailable; request not limited");
                None
            }
        }
    }

    pub(crate) async fn count_failure(&self, key: &str, now: i64) {
        if let Err(e) = self
            .backend
            .limiter
            .hit(key, limits::AUTH_FAILURES, now)
            .await
        {
            tracing::warn!(error = %e, "could not count a failed authentication");
        }
    }
}

pub use crate::event::EVENT_RECORD_TTL_SECS;

/// The limiter key counting a source's failed authentications: one count
/// for hooks and admin routes, which take the same secret.
pub(crate) fn auth_failures_key(source: IpAddr) -> String {
    format!("auth-failures:{source}")
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    IDEMPOTENCY_HEADERS
        .iter()
        .find_map(|h| {
            headers
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        })
        .map(|v| v.chars().take(256).collect())
}

fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    q.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// The session a hook joins: a fresh `hook:<uuid>`, or the handler's
/// persistent key (rendered when it is a template).
fn session_key(
    cfg: &CompiledConfig,
    handler: Option<&crate::config::Handler>,
    ev: &InboundEvent,
    body: &Value,
) -> Result<(String, bool), String> {
    use crate::config::{validate::TemplateField, SessionMode};
    let Some(h) = handler.filter(|h| h.session_mode == SessionMode::Persistent) else {
        return Ok((format!("hook:{}", uuid::Uuid::now_v7()), false));
    };
    let key = if cfg.has_template(&h.id, TemplateField::SessionKey) {
        let ctx = crate::template::context(ev, body, &event::timestamp(ev.received_at));
        cfg.render(&h.id, TemplateField::SessionKey, &ctx)
            .map_err(|e| {
                format!(
                    "the sessionKey template of handler {:?} cannot render from this payload: {}",
                    h.id, e.message
                )
            })?
    } else {
        h.session_key
            .clone()
            .unwrap_or_else(|| format!("webhook:{}", h.id))
    };
    let key = key.trim().to_string();
    if key.is_empty() {
        return Err(format!(
            "the sessionKey template of handler {:?} rendered an empty key from this payload",
            h.id
        ));
    }
    Ok((key, true))
}
