//! The ingress stage, one function for the Lambda and the local server:
//! check the source address, authenticate, limit and classify the body,
//! deduplicate, enqueue, and answer at once, or say why not ([`Refusal`]).
//! Nothing slow happens here; the handler stage does the work. HTTP
//! (routes, methods, reading the body) is `crate::api`'s.

mod acceptance;
pub mod admin;
pub(crate) mod auth;
pub(crate) mod body;
pub mod handshake;
pub mod headers;
pub mod noise;
mod routing;
pub mod source;
mod subscription;
pub mod trial;
pub mod wait;

use crate::config::CompiledConfig;
use crate::event::{self, InboundEvent};
use crate::faults;
use crate::limits;
use crate::ports::{Admission, Backend, Clock, IntakeError, Item, QueueError};
use crate::refusal::Refusal;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Headers whose values identify a delivery of a hook without `verify`; a
/// repeat within the dedup window gets the first answer and is not
/// enqueued again. With `verify`, only what the signature covers counts
/// ([`crate::verify::VerifyConfig::replay_key`]).
pub const IDEMPOTENCY_HEADERS: [&str; 3] = ["idempotency-key", "webhook-id", "x-github-delivery"];

/// A hook as the transport delivered it (API Gateway or the local socket),
/// its body read in full.
#[derive(Debug, Clone)]
pub struct Hook {
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The socket peer locally; `requestContext.http.sourceIp` on API Gateway.
    pub peer: IpAddr,
}

/// A kept hook: the sender gets its event id (the first one's, for a
/// repeat of an idempotency key) and session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub event_id: String,
    pub session_key: String,
    pub duplicate: bool,
    /// The id of the handler that took the hook (the one its route's
    /// filters picked), which shapes the caller's answer.
    pub handler: Option<String>,
}

/// What ingress made of an authenticated hook: kept, or a provider's
/// handshake answered with nothing kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Kept(Accepted),
    Handshake(handshake::Reply),
    /// Acknowledged and not kept, for this reason ([`noise`]).
    Ignored(&'static str),
    /// No handler on its route passed its filter: answered 2xx (so the
    /// sender does not retry), and nothing is kept or queued.
    Filtered,
}

/// Everything ingress needs, built once at start (Lambda init or server start).
#[derive(Clone)]
pub struct Ingress {
    pub config: Arc<CompiledConfig>,
    pub backend: Backend,
    pub clock: Arc<dyn Clock>,
}

impl Ingress {
    /// The status of a kept hook (`incoming.successStatus`, 202 by default).
    pub fn success_status(&self) -> StatusCode {
        let status = self.config.config.webhooks.incoming.success_status;
        StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED)
    }

    /// Authenticates, checks and keeps a hook posted to `/webhook/<hook_id>`.
    /// Every hook is answered within `incoming.acceptTimeout`: a backend
    /// that hangs gets the sender a 503 it can retry, not a timeout of its
    /// own. The hook may still be kept after the 503 (a write that was
    /// under way when time ran out can land), which the idempotency key
    /// makes harmless.
    pub async fn accept(&self, hook_id: &str, req: Hook) -> Result<Received, Refusal> {
        check_hook_id(hook_id)?;
        let deadline = self.config.config.webhooks.incoming.accept_timeout;
        match tokio::time::timeout(deadline.as_duration(), self.accept_hook(hook_id, req)).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::error!(
                    hook_id,
                    timeout_secs = deadline.0,
                    "no answer from the queue or store within acceptTimeout"
                );
                Err(acceptance::refusal(&format!(
                    "the queue or store did not answer within {}s (webhooks.incoming.acceptTimeout); the hook may still be handled",
                    deadline.0
                )))
            }
        }
    }

    async fn accept_hook(&self, hook_id: &str, req: Hook) -> Result<Received, Refusal> {
        let cfg = &self.config.config.webhooks;
        let inc = &cfg.incoming;
        if !inc.enabled {
            return Err(Refusal::NotFound("incoming webhooks are disabled".into()));
        }
        if hook_id.is_empty() {
            return Err(no_hook_id());
        }

        let source = self.allowed_source(hook_id, &req)?;

        let now_secs = self.clock.now().timestamp();
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
            return Err(Refusal::BadRequest(format!("query parameter {key:?} looks like a secret; send secrets in the {} header, never in the URL", inc.secret_header)));
        }
        if let Some(secret) = secret {
            if let Err(refusal) = auth::check_secret(&req.headers, &inc.secret_header, secret) {
                tracing::warn!(%source, hook_id, reason = refusal.as_str(), "refused: authentication");
                return Err(self.failed(source, now_secs, self.unauthenticated()).await);
            }
        }
        if let Some(reply) = handler.and_then(|h| handshake::validation(h, &query)) {
            tracing::info!(%source, hook_id, provider = reply.provider, "handshake answered");
            return Ok(Received::Handshake(reply));
        }
        // --- provider signature (webhooks.handlers[].verify), on the raw bytes ---
        if let Some(v) = handler.and_then(|h| h.verify.as_ref()) {
            if let Err(e) = v.verify(&req.headers, &req.body, self.clock.now().timestamp()) {
                tracing::warn!(%source, hook_id, scheme = %e.scheme(), reason = e.kind(), "refused: signature");
                return Err(self.failed(source, now_secs, self.unauthenticated()).await);
            }
        }
        // --- end provider signature ---
        within_size(inc, &req)?;
        if let Some(reply) = handler
            .filter(|h| h.enabled)
            .and_then(|h| h.verify.as_ref())
            .and_then(|v| handshake::reply(v, &req.body))
        {
            tracing::info!(%source, hook_id, provider = reply.provider, "handshake answered");
            return Ok(Received::Handshake(reply));
        }
        let Some(handler) = self.routed(hook_id, handler, &req, &query, source)? else {
            return Ok(Received::Filtered);
        };
        check_handler(hook_id, handler, inc.reject_unknown_hooks)?;
        if let Some(why) = handler.and_then(|h| noise::ignored(h, &req.body)) {
            tracing::info!(%source, hook_id, why, "ignored");
            return Ok(Received::Ignored(why));
        }
        self.within_rate_limit(hook_id, handler, source, now_secs)
            .await?;
        let ev = self.inbound_event(hook_id, handler, source, query, &req)?;
        let key = replay_key(hook_id, handler, &req);
        let dedup_until = ev.received_at.timestamp() + inc.dedup_window.0 as i64;
        let kept = self.keep(ev, key, dedup_until).await?;
        let handler = handler.map(|h| h.id.clone());
        Ok(Received::Kept(Accepted { handler, ..kept }))
    }

    /// The handler the route's filters pick (`Some(None)`: no handler is
    /// named, the unknown-hook rules apply), or `None` when every filter on
    /// the route refused the hook, which is counted. A provider's handshake
    /// is answered before this, so a filter never hides it.
    fn routed<'a>(
        &'a self,
        hook_id: &str,
        first: Option<&'a crate::config::Handler>,
        req: &Hook,
        query: &BTreeMap<String, String>,
        source: IpAddr,
    ) -> Result<Option<Option<&'a crate::config::Handler>>, Refusal> {
        Ok(
            match routing::route(&self.config, hook_id, first, req, query)? {
                routing::Routed::To(handler) => Some(handler),
                routing::Routed::Filtered => {
                    tracing::info!(%source, hook_id, "filtered: no handler's filter took it");
                    crate::telemetry::hook_filtered(hook_id);
                    None
                }
            },
        )
    }

    /// The sender's address (`trustedProxies` applied), refused (403) when
    /// `allowedIPs` does not take it.
    fn allowed_source(&self, hook_id: &str, req: &Hook) -> Result<IpAddr, Refusal> {
        let inc = &self.config.config.webhooks.incoming;
        let source = source::client_ip(req.peer, &req.headers, &inc.trusted_proxies);
        if !inc.allowed_ips.is_empty() && !inc.allowed_ips.iter().any(|n| n.contains(source)) {
            tracing::warn!(%source, hook_id, "refused: source address not in allowedIPs");
            return Err(Refusal::Forbidden(format!(
                "source address {source} is not allowed"
            )));
        }
        Ok(source)
    }

    /// 429 once the handler's `rateLimit` is reached this minute.
    async fn within_rate_limit(
        &self,
        hook_id: &str,
        handler: Option<&crate::config::Handler>,
        source: IpAddr,
        now_secs: i64,
    ) -> Result<(), Refusal> {
        let Some(limit) = handler.and_then(|h| h.rate_limit) else {
            return Ok(());
        };
        let key = format!("rate:{}", hook_id);
        let Some(retry_after_secs) = self.limited(&key, limit.rule(), now_secs, true).await else {
            return Ok(());
        };
        tracing::warn!(%source, hook_id, "refused: rateLimit reached");
        Err(Refusal::TooManyRequests {
            message: format!(
                "hook {hook_id:?} takes at most {} hooks per minute (rateLimit.perMinute); retry later",
                limit.per_minute
            ),
            retry_after_secs,
        })
    }

    fn inbound_event(
        &self,
        hook_id: &str,
        handler: Option<&crate::config::Handler>,
        source: IpAddr,
        query: BTreeMap<String, String>,
        req: &Hook,
    ) -> Result<InboundEvent, Refusal> {
        let now = self.clock.now();
        inbound_event(&self.config, hook_id, handler, source, query, req, now)
    }

    /// Keeps an authenticated, well-formed hook and answers: queued, a
    /// repeat of a key already claimed, or 503 (413) when it cannot be kept.
    async fn keep(
        &self,
        ev: InboundEvent,
        key: Option<String>,
        dedup_until: i64,
    ) -> Result<Accepted, Refusal> {
        let now = ev.received_at.timestamp();
        let kept = self.config.config.webhooks.status_kept_secs();
        let acceptance = acceptance::acceptance(&ev, key.map(|k| (k, dedup_until)), kept);
        match self.backend.intake.admit(acceptance, now).await {
            Ok(Admission::Queued) => {
                if let Err(e) = faults::check(faults::INGRESS_BEFORE_ANSWER) {
                    return Err(acceptance::refusal(&e.to_string()));
                }
                tracing::info!(event_id = %ev.event_id, hook_id = %ev.hook_id, handler = ev.handler_id.as_deref().unwrap_or("-"), session = %ev.session_key, source = %ev.source_ip, "accepted");
                Ok(accepted(&ev.event_id, &ev.session_key, false))
            }
            Ok(Admission::Claimed { claim, settled }) => self.repeat(ev, claim, settled).await,
            Err(e) => {
                tracing::error!(error = %e, hook_id = %ev.hook_id, "could not keep the hook");
                Err(match e {
                    IntakeError::Queue(QueueError::TooLarge { .. }) => {
                        Refusal::TooLarge(format!("could not queue the hook: {e}"))
                    }
                    _ => acceptance::refusal("could not queue the hook"),
                })
            }
        }
    }

    /// A request whose idempotency key an earlier one claimed gets that
    /// one's event id. Where the claim may be provisional (its writer could
    /// have crashed before queueing), an event that has not started is sent
    /// again under its own id, so a retry never stands for a lost hook.
    async fn repeat(
        &self,
        ev: InboundEvent,
        claim: Item,
        settled: bool,
    ) -> Result<Accepted, Refusal> {
        let Some(earlier) = acceptance::claimed_event(&ev, &claim) else {
            tracing::error!(hook_id = %ev.hook_id, "an idempotency claim without an event id");
            return Err(acceptance::refusal(
                "could not read the earlier delivery of this key",
            ));
        };
        if !settled {
            let now = ev.received_at.timestamp();
            let store = self.backend.store.as_ref();
            let started = match crate::handler::status::load(store, &earlier.event_id, now).await {
                Ok(record) => record.is_some_and(|r| r.status != event::EventStatus::Queued),
                Err(e) => {
                    tracing::error!(error = %e, "could not read an event's status");
                    return Err(acceptance::refusal(
                        "could not read the earlier delivery of this key",
                    ));
                }
            };
            if !started {
                let again = self
                    .backend
                    .intake
                    .admit(
                        acceptance::acceptance(
                            &earlier,
                            None,
                            self.config.config.webhooks.status_kept_secs(),
                        ),
                        now,
                    )
                    .await;
                if let Err(e) = again {
                    tracing::error!(error = %e, event_id = %earlier.event_id, "could not queue a claimed event again");
                    return Err(acceptance::refusal("could not queue the hook"));
                }
                tracing::info!(event_id = %earlier.event_id, hook_id = %ev.hook_id, "claimed event sent again");
            }
        }
        Ok(accepted(&earlier.event_id, &earlier.session_key, true))
    }

    /// The seconds to wait when `key` is over `rule`; `count` says
    /// whether this request counts as a hit. A limiter that cannot answer
    /// lets the request through: abuse limits must not take the gateway down.
    async fn limited(
        &self,
        key: &str,
        rule: limits::FixedWindow,
        now: i64,
        count: bool,
    ) -> Option<u64> {
        let limiter = &self.backend.limiter;
        let decision = if count {
            limiter.hit(key, rule, now).await
        } else {
            limiter.peek(key, rule, now).await
        };
        match decision {
            Ok(limits::Decision::Deny { retry_after_secs }) => Some(retry_after_secs),
            Ok(limits::Decision::Allow { .. }) => None,
            Err(e) => {
                tracing::warn!(error = %e, "limiter unavailable; request not limited");
                None
            }
        }
    }

    /// The answer to a failed authentication: `refusal` (401), or 429 once
    /// the source has failed [`limits::AUTH_FAILURES`] times this window.
    /// Only failures are counted, and only after the credential was
    /// checked, so a request that authenticates is never refused here: a
    /// stranger sharing the sender's address or proxy cannot lock it out.
    /// The count and the decision are one limiter operation (atomic).
    async fn failed(&self, source: IpAddr, now: i64, refusal: Refusal) -> Refusal {
        let key = auth_failures_key(source);
        match self.limited(&key, limits::AUTH_FAILURES, now, true).await {
            Some(retry_after_secs) => {
                tracing::warn!(%source, "too many failed authentications");
                Refusal::TooManyRequests {
                    message: format!("too many failed authentications from {source}; retry later"),
                    retry_after_secs,
                }
            }
            None => refusal,
        }
    }

    fn unauthenticated(&self) -> Refusal {
        let header = &self.config.config.webhooks.incoming.secret_header;
        Refusal::Unauthenticated {
            header: header.clone(),
        }
    }

    /// Admin routes take an admin secret (`webhooks.admin`), sent as
    /// `Authorization: Bearer`; hook secrets never do. With none
    /// configured they answer only a request made on this machine
    /// ([`admin::local_request`]), so a local setup works out of the box
    /// and an exposed, proxied or DNS-rebound one does not leak.
    pub async fn authorize_admin(
        &self,
        headers: &HeaderMap,
        peer: IpAddr,
        path: &str,
    ) -> Result<(), Refusal> {
        let cfg = &self.config.config.webhooks;
        if !cfg.admin.has_secret() {
            return admin::local_request(peer, headers, &cfg.admin.allowed_hosts).map_err(|why| {
                tracing::warn!(%peer, path = bounded(path), why, "refused: admin route from afar");
                Refusal::Forbidden(format!(
                    "admin routes without webhooks.admin.secret answer only requests made on this machine: {why}"
                ))
            });
        }
        if let Err(r) = admin::credential(headers, &cfg.admin) {
            let source = source::client_ip(peer, headers, &cfg.incoming.trusted_proxies);
            tracing::warn!(%source, path = bounded(path), reason = r.as_str(), "refused: admin authentication");
            let now = self.clock.now().timestamp();
            return Err(self
                .failed(source, now, Refusal::AdminUnauthenticated)
                .await);
        }
        Ok(())
    }
}

/// At most [`LOGGED_PREFIX`] characters of a request-controlled value, for
/// a log line.
pub fn bounded(value: &str) -> &str {
    match value.char_indices().nth(LOGGED_PREFIX) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

/// How much of a request-controlled value a log line quotes.
pub const LOGGED_PREFIX: usize = 128;

pub use crate::event::EVENT_RECORD_TTL_SECS;

/// The longest hook id, in bytes: it is logged, stored and becomes part of
/// store keys (DynamoDB refuses keys over 2 KB).
pub const MAX_HOOK_ID_BYTES: usize = 256;

/// The longest session key, in bytes, whether configured or rendered from
/// a payload: it is a store key and a log field.
pub const MAX_SESSION_KEY_BYTES: usize = 512;

/// A hook id is at most [`MAX_HOOK_ID_BYTES`] of the characters a URL path
/// carries unencoded: letters, digits and `-._~!$&'()*+,;=:@/`. Anything
/// else is refused (404) before it is logged or stored.
pub fn check_hook_id(hook_id: &str) -> Result<(), Refusal> {
    const MARKS: &[u8] = b"-._~!$&'()*+,;=:@/";
    let well_formed = hook_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || MARKS.contains(&b));
    if hook_id.len() > MAX_HOOK_ID_BYTES {
        return Err(Refusal::NotFound(format!(
            "no such hook: hook ids are at most {MAX_HOOK_ID_BYTES} bytes"
        )));
    }
    if !well_formed {
        return Err(Refusal::NotFound(
            "no such hook: hook ids are letters, digits and -._~!$&'()*+,;=:@/".into(),
        ));
    }
    Ok(())
}

/// 404 for a disabled handler, and for a hook no handler takes when
/// `incoming.rejectUnknownHooks` is set.
fn check_handler(
    hook_id: &str,
    handler: Option<&crate::config::Handler>,
    reject_unknown: bool,
) -> Result<(), Refusal> {
    match handler {
        Some(h) if !h.enabled => Err(Refusal::NotFound(format!("hook {hook_id:?} is disabled"))),
        None if reject_unknown => Err(Refusal::NotFound(format!(
            "no handler for hook {hook_id:?}"
        ))),
        _ => Ok(()),
    }
}

/// The key that makes a repeat of this delivery a duplicate within the
/// dedup window. With `verify`, a delivery is known by what its signature
/// covers; an unsigned header would let a replayer pass an old delivery
/// off as new.
fn replay_key(
    hook_id: &str,
    handler: Option<&crate::config::Handler>,
    req: &Hook,
) -> Option<String> {
    match handler.and_then(|h| h.verify.as_ref()) {
        Some(v) => Some(v.replay_key(&req.headers, &req.body)),
        None => idempotency_key(&req.headers),
    }
    .map(|k| format!("{hook_id}\u{0}{k}"))
}

/// The refusal of a post to `/webhook` with no hook id after it.
pub fn no_hook_id() -> Refusal {
    Refusal::NotFound("no hook id: post to /webhook/<hook-id>".into())
}

fn accepted(event_id: &str, session_key: &str, duplicate: bool) -> Accepted {
    Accepted {
        event_id: event_id.to_string(),
        session_key: session_key.to_string(),
        duplicate,
        handler: None,
    }
}

/// The limiter key counting a source's failed authentications, one count
/// for hooks and admin routes. An IPv6 source counts per /64, the block
/// one host is usually given: it cannot dodge its count by changing the
/// low bits.
pub fn auth_failures_key(source: IpAddr) -> String {
    match crate::config::net::canonical(source) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!(
                "auth-failures:{:x}:{:x}:{:x}:{:x}::/64",
                s[0], s[1], s[2], s[3]
            )
        }
        v4 => format!("auth-failures:{v4}"),
    }
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
    if key.len() > MAX_SESSION_KEY_BYTES {
        return Err(format!(
            "the sessionKey of handler {:?} is {} bytes from this payload; session keys are at most {MAX_SESSION_KEY_BYTES}",
            h.id,
            key.len()
        ));
    }
    if key.is_empty() {
        return Err(format!(
            "the sessionKey template of handler {:?} rendered an empty key from this payload",
            h.id
        ));
    }
    Ok((key, true))
}

/// 413 for a body over `incoming.maxBodyBytes`, before anything reads it.
fn within_size(inc: &crate::config::Incoming, req: &Hook) -> Result<(), Refusal> {
    if req.body.len() > inc.max_body_bytes {
        return Err(Refusal::TooLarge(format!(
            "body is {} bytes; the limit (webhooks.incoming.maxBodyBytes) is {}",
            req.body.len(),
            inc.max_body_bytes
        )));
    }
    Ok(())
}

/// The event for an authenticated hook: its body bounded and
/// classified, the headers kept, the session it joins. 413 or 400 when
/// the body is too large or does not read as its content type says.
pub(crate) fn inbound_event(
    cfg: &CompiledConfig,
    hook_id: &str,
    handler: Option<&crate::config::Handler>,
    source: IpAddr,
    query: BTreeMap<String, String>,
    req: &Hook,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<InboundEvent, Refusal> {
    let inc = &cfg.config.webhooks.incoming;
    within_size(inc, req)?;
    let content_type = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (body, body_value) =
        body::classify(content_type.as_deref(), &req.body).map_err(Refusal::BadRequest)?;
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
    let (key, persistent) =
        session_key(cfg, handler, &ev, &body_value).map_err(Refusal::BadRequest)?;
    ev.session_key = key;
    ev.persistent = persistent;
    Ok(ev)
}
