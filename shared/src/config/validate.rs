//! Checks that span keys, and the compiled form the functions run on.
//!
//! Compiling templates here ([`super::templates`]) means a broken template
//! is a load error that names its handler, never a surprise on the first
//! hook.

use super::error::{ConfigError, ConfigErrors};
use super::plan::ActionPlan;
use super::templates::Templates;
pub use super::templates::{RenderError, TemplateField};
use super::{Config, Handler, SessionMode};
use crate::protocol::standard_webhooks::{self, KeyError};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// Something legal but probably not meant; `clawhooks validate` prints these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A loaded, checked config with its templates compiled and its routes built.
pub struct CompiledConfig {
    pub config: Config,
    pub warnings: Vec<Warning>,
    templates: Templates,
    pub(super) routes: HashMap<String, usize>,
    /// Each handler's action as load checked it, by its index in `handlers`.
    plans: Vec<Option<ActionPlan>>,
    /// Filters and the paths several handlers share.
    pub(super) routing: super::routing::Routing,
    /// Secrets left unset in this process ([`super::load::Unset::Withhold`]).
    pub withheld: Vec<Withheld>,
    /// Every value a `${VAR}` was replaced with: never shown, wherever it
    /// landed (a template, a URL, an option), by [`CompiledConfig::shown`].
    pub(crate) substituted: Vec<crate::secret::Secret>,
}

/// A `${VAR}` that was left unset under [`super::load::Unset::Withhold`]:
/// here, with the config it is part of, so loading depends on validation
/// and not both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    /// JSON path of the value that named it.
    pub path: String,
    pub variable: String,
}

impl fmt::Debug for CompiledConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledConfig")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CompiledConfig {
    /// The handler a hook id reaches, by its `id` or by its `path` under `/webhook`.
    pub fn handler_for(&self, hook_id: &str) -> Option<&Handler> {
        self.routes
            .get(hook_id)
            .map(|&i| &self.config.webhooks.handlers[i])
    }

    pub fn handler_by_id(&self, id: &str) -> Option<&Handler> {
        self.config.webhooks.handlers.iter().find(|h| h.id == id)
    }

    /// What `handler` does, as load checked it; `None` for `action: "none"`.
    pub fn plan(&self, handler: &Handler) -> Option<&ActionPlan> {
        let i = *self.routes.get(&handler.id)?;
        self.plans.get(i)?.as_ref()
    }

    pub fn has_template(&self, handler_id: &str, field: TemplateField) -> bool {
        self.templates.has(handler_id, field)
    }

    /// Renders a handler's compiled template against `data`.
    pub fn render(
        &self,
        handler_id: &str,
        field: TemplateField,
        data: &Value,
    ) -> Result<String, RenderError> {
        self.templates.render(handler_id, field, data)
    }

    /// The idle timeout of a handler's persistent sessions.
    pub fn session_timeout(&self, handler: Option<&Handler>) -> Duration {
        handler
            .and_then(|h| h.session_timeout)
            .unwrap_or(self.config.webhooks.sessions.timeout)
            .as_duration()
    }
}

/// What load finds wrong (`errors`, which refuse the config) and doubtful
/// (`warnings`, which `clawhooks validate` prints), gathered by each step.
#[derive(Default)]
struct Findings {
    errors: Vec<ConfigError>,
    warnings: Vec<Warning>,
}

impl Findings {
    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning {
            path: path.into(),
            message: message.into(),
        });
    }
}

pub(crate) fn compile(config: Config) -> Result<CompiledConfig, ConfigErrors> {
    let mut found = Findings::default();
    let w = &config.webhooks;
    check_incoming(w, &mut found);
    warn_open_hooks(w, &mut found);
    check_admin(w, &mut found.errors, &mut found.warnings);
    found.errors.extend(super::net::check_network(&w.network));
    check_concurrency(&w.concurrency, &mut found.errors);
    check_retention(&w.retention, &mut found.errors);
    let handlers = compile_handlers(&config, &mut found);
    check_outgoing(w, &mut found);
    check_service_urls(w, &mut found.errors);
    if !found.errors.is_empty() {
        return Err(ConfigErrors(found.errors));
    }
    Ok(CompiledConfig {
        config,
        warnings: found.warnings,
        templates: handlers.templates,
        routes: handlers.routes,
        plans: handlers.plans,
        routing: handlers.routing,
        withheld: Vec::new(),
        substituted: Vec::new(),
    })
}

/// `webhooks.incoming`: each key within its bounds.
fn check_incoming(w: &super::Webhooks, found: &mut Findings) {
    let inc = &w.incoming;
    let errors = &mut found.errors;
    if inc.success_status != 200 && inc.success_status != 202 {
        errors.push(ConfigError::new(
            "webhooks.incoming.successStatus",
            format!("must be 200 or 202, not {}", inc.success_status),
        ));
    }
    if !(1..=29).contains(&inc.accept_timeout.0) {
        errors.push(ConfigError::new(
            "webhooks.incoming.acceptTimeout",
            format!(
                "must be between 1s and 29s (below the senders' own timeouts and API Gateway's 30 s), not {}s",
                inc.accept_timeout.0
            ),
        ));
    }
    if !(1..=29).contains(&inc.max_wait.0) {
        errors.push(ConfigError::new(
            "webhooks.incoming.maxWait",
            format!(
                "must be between 1s and 29s (API Gateway answers 504 at 30 s), not {}s",
                inc.max_wait.0
            ),
        ));
    }
    let headers = std::iter::once((
        "webhooks.incoming.secretHeader".to_string(),
        &inc.secret_header,
    ))
    .chain(
        inc.strip_headers
            .iter()
            .enumerate()
            .map(|(i, name)| (format!("webhooks.incoming.stripHeaders[{i}]"), name)),
    );
    for (at, name) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            errors.push(ConfigError::new(
                at,
                format!("{name:?} is not a valid header name"),
            ));
        }
    }
    if inc.max_body_bytes == 0 {
        errors.push(ConfigError::new(
            "webhooks.incoming.maxBodyBytes",
            "must be greater than 0",
        ));
    }
    if inc.secret.as_ref().is_some_and(|s| s.is_empty()) {
        errors.push(ConfigError::new(
            "webhooks.incoming.secret",
            "is empty; remove the key to accept unauthenticated hooks",
        ));
    }
}

/// Hooks anyone who can reach the endpoint may post: all of them (no
/// shared secret, no per-hook secret or signature, no allowlist), or, when
/// some hooks are guarded, each one that is not.
fn warn_open_hooks(w: &super::Webhooks, found: &mut Findings) {
    let inc = &w.incoming;
    if inc.secret.is_some() || !inc.allowed_ips.is_empty() {
        return;
    }
    let open = w
        .handlers
        .iter()
        .enumerate()
        .filter(|(_, h)| h.secret.is_none() && h.verify.is_none());
    if open.clone().count() == w.handlers.len() {
        found.warn(
            "webhooks.incoming.secret",
            "no secret and no allowedIPs: anyone who can reach the endpoint can post hooks",
        );
        return;
    }
    for (i, h) in open {
        found.warn(
            format!("webhooks.handlers[{i}]"),
            format!("hook {:?} has no secret and no verify, and webhooks.incoming.secret is unset: anyone who can reach the endpoint can post it", h.id),
        );
    }
}

/// The handlers' compiled parts: templates, routes, action plans.
struct CompiledHandlers {
    templates: Templates,
    routes: HashMap<String, usize>,
    plans: Vec<Option<ActionPlan>>,
    routing: super::routing::Routing,
}

fn compile_handlers(config: &Config, found: &mut Findings) -> CompiledHandlers {
    let w = &config.webhooks;
    let mut templates = Templates::new();
    let mut routes: HashMap<String, usize> = HashMap::new();
    let mut plans = Vec::new();
    for (i, h) in w.handlers.iter().enumerate() {
        let at = format!("webhooks.handlers[{i}]");
        plans.push(check_handler(
            config,
            h,
            &at,
            &mut found.errors,
            &mut found.warnings,
        ));
        match routes.get(&h.id) {
            Some(&other) => found.errors.push(ConfigError::new(
                format!("{at}.id"),
                format!(
                    "duplicate handler id {:?} (also webhooks.handlers[{other}])",
                    h.id
                ),
            )),
            None => {
                routes.insert(h.id.clone(), i);
            }
        }
        templates.add(h, &at, &mut found.errors);
        if let Some(r) = &h.respond {
            r.check(&at, w.incoming.max_wait, &mut found.errors);
        }
        if let Some(c) = &h.coalesce {
            c.check(&at, h, &mut found.errors);
        }
        if let Some(b) = &h.budget {
            b.check(&at, h, &mut found.errors);
        }
        if let Some(t) = &h.transform {
            super::transform::check(&format!("{at}.transform"), t, &mut found.errors);
        }
    }
    let routing = super::routing::Routing::build(w, &mut found.errors);
    route_paths(w, &mut routes, &routing, found);
    CompiledHandlers {
        templates,
        routes,
        plans,
        routing,
    }
}

/// Paths route after ids: a handler's id always reaches it, and a path
/// that collides with an id (or an earlier path) is reported, not fatal,
/// so the seed's examples load merged together.
fn route_paths(
    w: &super::Webhooks,
    routes: &mut HashMap<String, usize>,
    routing: &super::routing::Routing,
    found: &mut Findings,
) {
    for (i, h) in w.handlers.iter().enumerate() {
        let Some(route) = h.path.as_deref().map(route_of) else {
            continue;
        };
        match routes.get(&route) {
            Some(&owner) if routing.joins(&route, i, owner) => {}
            Some(&other) if other != i && claims_by_path(&w.handlers[other], &route) => {
                let by = routing.catch_all(&route).unwrap_or(other);
                let (path, message) = super::routing::shadowed(i, h, &w.handlers[by], &route);
                found.warn(path, message);
            }
            Some(&other) if other != i => found.warn(
                format!("webhooks.handlers[{i}].path"),
                format!(
                    "POST /webhook/{route} reaches handler {:?}, which claimed it first; handler {:?} stays reachable at /webhook/{}",
                    w.handlers[other].id, h.id, h.id
                ),
            ),
            Some(_) => {}
            None => {
                routes.insert(route, i);
            }
        }
    }
}

/// Whether `h` reaches `route` by its `path` (not only by its id).
fn claims_by_path(h: &Handler, route: &str) -> bool {
    h.path.as_deref().map(route_of).as_deref() == Some(route)
}

/// `webhooks.outgoing`: unique ids, a URL to deliver to, a signing key
/// egress can use, a retry schedule that can run.
fn check_outgoing(w: &super::Webhooks, found: &mut Findings) {
    let mut seen = HashMap::new();
    for (i, o) in w.outgoing.iter().enumerate() {
        let at = format!("webhooks.outgoing[{i}]");
        let errors = &mut found.errors;
        if let Some(prev) = seen.insert(o.id.clone(), i) {
            errors.push(ConfigError::new(
                format!("{at}.id"),
                format!("duplicate id {:?} (also webhooks.outgoing[{prev}])", o.id),
            ));
        }
        match &o.url {
            None => found.warn(
                format!("{at}.url"),
                format!(
                    "subscription {:?} has no url, so nothing is delivered to it",
                    o.id
                ),
            ),
            Some(url) => check_url(url.as_str(), &format!("{at}.url"), &mut found.errors),
        }
        let errors = &mut found.errors;
        check_method(&o.method, &format!("{at}.method"), errors);
        if let Some(t) = &o.transform {
            super::transform::check(&format!("{at}.transform"), t, errors);
        }
        if let Some(secret) = &o.secret {
            if let Some(e) = signing_secret_error(secret.expose(), o.signing) {
                errors.push(ConfigError::new(format!("{at}.secret"), e.to_string()));
            }
        }
        for (key, bad, rule) in [
            (
                "retry.maxAttempts",
                o.retry.max_attempts == 0,
                "must be at least 1",
            ),
            (
                "retry.initialDelayMs",
                o.retry.initial_delay_ms > o.retry.max_delay_ms,
                "must not exceed retry.maxDelayMs",
            ),
            ("timeoutMs", o.timeout_ms == 0, "must be greater than 0"),
        ] {
            if bad {
                errors.push(ConfigError::new(format!("{at}.{key}"), rule));
            }
        }
        if let Some(limit) = &o.rate_limit {
            errors.extend(limit.check(&format!("{at}.rateLimit")));
        }
        errors.extend(o.breaker.check(&format!("{at}.breaker")));
        errors.extend(super::delivery_control::check_disable_after(
            o.disable_after,
            &at,
        ));
    }
}

/// The URLs of channels and agents are `http` or `https` URLs.
fn check_service_urls(w: &super::Webhooks, errors: &mut Vec<ConfigError>) {
    for (name, c) in &w.channels {
        for (key, url) in c.kind().urls() {
            check_url(url, &format!("webhooks.channels.{name}.{key}"), errors);
        }
    }
    for (name, a) in &w.agents {
        let url = a.provider().endpoint().url;
        check_url(url, &format!("webhooks.agents.{name}.url"), errors);
    }
}

pub use super::routing::route_of;

fn check_handler(
    config: &Config,
    h: &Handler,
    at: &str,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> Option<ActionPlan> {
    let w = &config.webhooks;
    check_id_and_path(h, at, errors);
    if h.secret.as_ref().is_some_and(|s| s.is_empty()) {
        errors.push(ConfigError::new(format!("{at}.secret"), "is empty"));
    }
    if let Some(v) = &h.verify {
        errors.extend(v.check(&format!("{at}.verify")));
        for path in v.unprefixed_base64_secrets(&format!("{at}.verify")) {
            warnings.push(Warning {
                path,
                message: "looks like a base64 key without its \"whsec_\" prefix, so it is used as its own bytes; if the sender gave it as whsec_…, write the prefix too".into(),
            });
        }
    }
    if let Some(r) = &h.rate_limit {
        errors.extend(r.check(&format!("{at}.rateLimit")));
    }
    let plan = match ActionPlan::of(h, at) {
        Ok(plan) => plan,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let Some(plan) = &plan {
        check_plan(w, plan, at, errors, warnings);
    }
    errors.extend(super::fallback::check(w, h.target.as_ref(), at));
    if h.session_mode == SessionMode::Ephemeral && h.session_key.is_some() {
        warnings.push(Warning {
            path: format!("{at}.sessionKey"),
            message: "sessionKey is ignored unless sessionMode is \"persistent\"".into(),
        });
    }
    plan
}

/// A handler's `id` and `path`: usable in a URL, one segment or a path.
fn check_id_and_path(h: &Handler, at: &str, errors: &mut Vec<ConfigError>) {
    if h.id.is_empty()
        || !h
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        errors.push(ConfigError::new(
            format!("{at}.id"),
            format!(
                "{:?} must be non-empty and use only letters, digits, '-', '_', '.', ':'",
                h.id
            ),
        ));
    }
    if let Some(p) = &h.path {
        if !p.starts_with('/')
            || route_of(p).is_empty()
            || p.contains(char::is_whitespace)
            || p.contains(['?', '#'])
        {
            errors.push(ConfigError::new(
                format!("{at}.path"),
                format!("{p:?} must be a path like \"/github\""),
            ));
        }
    }
}

/// What an action's plan names that load can check beyond its presence:
/// its channel or agent configured, its URL, method and signing key.
fn check_plan(
    w: &super::Webhooks,
    plan: &ActionPlan,
    at: &str,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) {
    match plan {
        ActionPlan::SendMessage { target } if !w.channels.contains_key(&target.channel) => {
            warnings.push(Warning {
                path: format!("{at}.target.channel"),
                message: format!("channel {:?} is not configured under webhooks.channels; messages to it fail until it is", target.channel),
            })
        }
        ActionPlan::RunAgent { agent_id, .. } if !w.agents.contains_key(agent_id) => {
            warnings.push(Warning {
                path: format!("{at}.agentId"),
                message: format!("agent {agent_id:?} is not configured under webhooks.agents; runs fail until it is"),
            })
        }
        ActionPlan::Forward(f) => {
            check_url(f.url.as_str(), &format!("{at}.forward.url"), errors);
            check_method(&f.method, &format!("{at}.forward.method"), errors);
            warn_stripped_pass_headers(&w.incoming, f, at, warnings);
            if let Some(Err(e)) = f.secret.as_ref().map(|s| standard_webhooks::key(s.expose())) {
                errors.push(ConfigError::new(format!("{at}.forward.secret"), e.to_string()));
            }
        }
        _ => {}
    }
}

/// The admin secrets: not empty, not a hook secret (senders hold those),
/// long enough that guessing is hopeless; and a warning when the server
/// binds a non-loopback address with none (admin routes are then closed
/// to every other machine, which is safe but likely not what was meant).
fn check_admin(w: &super::Webhooks, errors: &mut Vec<ConfigError>, warnings: &mut Vec<Warning>) {
    let hook_secrets: Vec<&str> = w
        .incoming
        .secret
        .iter()
        .chain(w.handlers.iter().filter_map(|h| h.secret.as_ref()))
        .map(|s| s.expose())
        .collect();
    for (i, secret) in w.admin.credentials().enumerate() {
        let at = match i {
            0 if w.admin.secret.is_some() => "webhooks.admin.secret".to_string(),
            _ => format!(
                "webhooks.admin.secrets[{}]",
                i - usize::from(w.admin.secret.is_some())
            ),
        };
        if secret.is_empty() {
            errors.push(ConfigError::new(&at, "is empty"));
        } else if hook_secrets.contains(&secret.expose()) {
            errors.push(ConfigError::new(
                &at,
                "is also a hook secret; senders hold hook secrets, so the admin secret must differ",
            ));
        } else if secret.expose().len() < 16 {
            warnings.push(Warning {
                path: at,
                message: "is shorter than 16 characters; use a long random value".into(),
            });
        }
    }
    let host = w.incoming.host.trim_matches(['[', ']']);
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    if !loopback && !w.admin.has_secret() {
        warnings.push(Warning {
            path: "webhooks.admin.secret".into(),
            message: format!(
                "the server binds {} but has no admin secret: admin routes and the console answer only requests made on this machine",
                w.incoming.host
            ),
        });
    }
}

/// A credential header is gone before the handler runs, so passing it on
/// cannot work; saying so at load beats a downstream 401 later.
fn warn_stripped_pass_headers(
    inc: &super::Incoming,
    f: &super::Forward,
    at: &str,
    warnings: &mut Vec<Warning>,
) {
    for (j, name) in f.pass_headers.iter().enumerate() {
        if inc.strips(&name.to_ascii_lowercase()) {
            warnings.push(Warning {
                path: format!("{at}.forward.passHeaders[{j}]"),
                message: format!("{name:?} carries credentials and is stripped before the event is stored (webhooks.incoming.stripHeaders), so it is never forwarded; set the downstream credential in forward.headers"),
            });
        }
    }
}

fn check_retention(r: &crate::config::Retention, errors: &mut Vec<ConfigError>) {
    let most = crate::config::MAX_DEAD_LETTER_RETENTION;
    for (key, d) in [
        ("events", r.events),
        ("deliveries", r.deliveries),
        ("deadLetters", r.dead_letters),
    ] {
        if d.0 == 0 {
            errors.push(ConfigError::new(
                format!("webhooks.retention.{key}"),
                "must be at least 1s",
            ));
        }
    }
    if r.dead_letters > most {
        errors.push(ConfigError::new(
            "webhooks.retention.deadLetters",
            format!(
                "must be at most 14d ({}s, the longest SQS keeps a message), not {}s",
                most.0, r.dead_letters.0
            ),
        ));
    }
}

fn check_concurrency(c: &crate::config::Concurrency, errors: &mut Vec<ConfigError>) {
    let most = crate::config::MAX_CONCURRENCY;
    for (key, n) in [("handler", c.handler), ("egress", c.egress)] {
        if !(1..=most).contains(&n) {
            errors.push(ConfigError::new(
                format!("webhooks.concurrency.{key}"),
                format!("must be between 1 and {most}, not {n}"),
            ));
        }
    }
}

fn check_url(url: &str, at: &str, errors: &mut Vec<ConfigError>) {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
        Ok(u) => errors.push(ConfigError::new(
            at,
            format!("scheme {:?} is not http or https", u.scheme()),
        )),
        Err(e) => errors.push(ConfigError::new(at, format!("invalid URL: {e}"))),
    }
}

fn check_method(m: &str, at: &str, errors: &mut Vec<ConfigError>) {
    if !matches!(m, "POST" | "PUT" | "PATCH" | "GET" | "DELETE") {
        errors.push(ConfigError::new(
            at,
            format!("{m:?} is not one of POST, PUT, PATCH, GET, DELETE"),
        ));
    }
}

/// What a subscription's secret cannot be: empty, or, when it signs by
/// Standard Webhooks, a key [`standard_webhooks::key`] refuses. Egress
/// decodes it with the same function at start, so this never disagrees.
fn signing_secret_error(secret: &str, mode: super::Signing) -> Option<KeyError> {
    match mode {
        super::Signing::StandardWebhooks => standard_webhooks::key(secret).err(),
        super::Signing::Header => secret.is_empty().then_some(KeyError::Empty),
    }
}
