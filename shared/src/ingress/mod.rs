//! The ingress stage, one function for the Lambda and the local server:
//! route, check the source address, authenticate, limit and classify the
//! body, deduplicate, enqueue, and answer at once. Nothing slow happens here;
//! the handler stage does the work.

pub(crate) mod auth;
mod body;
pub mod headers;
pub mod source;

use crate::config::CompiledConfig;
use crate::event::{self, EventRecord, EventStatus, InboundEvent};
use crate::limits;
use crate::ports::{Backend, Clock, Item, NewMessage, Table};
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
            return self.accept_hook(&hook_id, req).await;
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
        let failures_key = format!("auth-failures:{source}");
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
                    refusal.message(&inc.secret_header),
                );
            }
        }
        // --- provider signature (webhooks.handlers[].verify), on the raw bytes ---
        if let Some(v) = handler.and_then(|h| h.verify.as_ref()) {
            if let Err(e) = v.verify(&req.headers, &req.body, self.clock.now().timestamp()) {
                tracing::warn!(%source, hook_id, scheme = %e.scheme(), reason = e.kind(), "refused: signature");
                self.count_failure(&failures_key, now_secs).await;
                return IngressResponse::error(StatusCode::UNAUTHORIZED, e.to_string());
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
        let event_id = event::new_id();
        let mut ev = InboundEvent {
            event_id: event_id.clone(),
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

        let success = StatusCode::from_u16(inc.success_status).unwrap_or(StatusCode::ACCEPTED);
        let dedup = idempotency_key(&req.headers).map(|k| format!("{hook_id}\u{0}{k}"));
        if let Some(key) = &dedup {
            let item = Item::new(
                key.clone(),
                "",
                json!({ "eventId": ev.event_id, "sessionKey": ev.session_key }),
            )
            .expires_at(now.timestamp() + inc.dedup_window.0 as i64);
            match self
                .backend
                .store
                .put_if_absent(Table::Dedup, item, now.timestamp())
                .await
            {
                Ok(true) => {}
                Ok(false) => return self.duplicate_answer(key, success, now.timestamp()).await,
                Err(e) => {
                    tracing::error!(error = %e, "dedup store failed");
                    return IngressResponse::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "temporarily unable to accept hooks; retry",
                    );
                }
            }
        }

        // No deduplication id: the event id is fresh, so there is nothing
        // to deduplicate against (SQS gets a random one per send).
        let msg = NewMessage::new(serde_json::to_string(&ev).expect("event serializes"))
            .group(ev.session_key.clone())
            .attribute("hookId", hook_id);
        let ts = event::timestamp(now);
        let record = EventRecord {
            event_id: ev.event_id.clone(),
            status: EventStatus::Queued,
            hook_id: ev.hook_id.clone(),
            handler_id: ev.handler_id.clone(),
            session_key: ev.session_key.clone(),
            received_at: ts.clone(),
            updated_at: ts,
            attempts: 0,
            result: None,
            error: None,
        };
        let item = Item::new(
            ev.event_id.clone(),
            "status",
            serde_json::to_value(&record).expect("record serializes"),
        )
        .expires_at(now.timestamp() + EVENT_RECORD_TTL_SECS);
        // Both writes at once: on the embedded backend they share one group
        // commit, on AWS they are two requests in flight together, so the
        // sender waits for one round-trip instead of two.
        let (sent, recorded) = tokio::join!(
            self.backend.handler_queue.send(msg),
            self.backend
                .store
                .put_if_absent(Table::Events, item, now.timestamp())
        );
        if let Err(e) = sent {
            tracing::error!(error = %e, hook_id, "enqueue failed");
            // Free the key so the sender's retry is not taken for a
            // duplicate, and leave no status page for a hook never queued.
            if let Some(key) = &dedup {
                let _ = self.backend.store.delete(Table::Dedup, key, "").await;
            }
            // Only a record this request wrote (`Ok(true)`) is ours to remove.
            if matches!(recorded, Ok(true)) {
                let store = &self.backend.store;
                let _ = store.delete(Table::Events, &ev.event_id, "status").await;
            }
            let status = match e {
                crate::ports::QueueError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return IngressResponse::error(status, format!("could not queue the hook: {e}"));
        }
        if let Err(e) = recorded {
            // The hook is queued; only its status page is missing.
            tracing::warn!(error = %e, event_id = %ev.event_id, "could not record event status");
        }
        tracing::info!(event_id = %ev.event_id, hook_id, handler = ?ev.handler_id, session = %ev.session_key, %source, "accepted");
        IngressResponse::json(
            success,
            json!({ "ok": true, "eventId": ev.event_id, "sessionKey": ev.session_key }),
        )
    }

    /// A 429 with `Retry-After` when `key` is over `rule`; `count` says
    /// whether this request counts as a hit. A limiter that cannot answer
    /// lets the request through: abuse limits must not take the gateway down.
    async fn limited(
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

    async fn count_failure(&self, key: &str, now: i64) {
        if let Err(e) = self
            .backend
            .limiter
            .hit(key, limits::AUTH_FAILURES, now)
            .await
        {
            tracing::warn!(error = %e, "could not count a failed authentication");
        }
    }

    async fn duplicate_answer(&self, key: &str, success: StatusCode, now: i64) -> IngressResponse {
        match self.backend.store.get(Table::Dedup, key, "", now).await {
            Ok(Some(item)) => {
                let mut body = item.value;
                body["ok"] = json!(true);
                body["duplicate"] = json!(true);
                IngressResponse::json(success, body)
            }
            // Raced with an expiry; treat as seen rather than enqueue twice.
            Ok(None) => IngressResponse::json(success, json!({ "ok": true, "duplicate": true })),
            Err(e) => {
                tracing::error!(error = %e, "dedup store failed");
                IngressResponse::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily unable to accept hooks; retry",
                )
            }
        }
    }
}

/// How long `GET /events/<id>` can find an event: a week.
pub const EVENT_RECORD_TTL_SECS: i64 = 7 * 24 * 3600;

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
