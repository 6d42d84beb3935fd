//! The config model: one JSON document with the top key `webhooks`, in the
//! camelCase spelling of the seed document. Every key the seed leaves out has
//! a default here, so each seed example loads on its own.
//!
//! Parsing, merging and `${ENV}` substitution live in [`load`]; checks that
//! span several keys (templates, references, duplicates) in [`validate`].

pub mod budget;
pub mod coalesce;
pub mod delivery_control;
pub mod duration;
pub mod error;
pub mod fallback;
pub mod function_timeout;
pub mod load;
pub mod net;
pub mod plan;
mod redact;
pub mod respond;
pub mod routing;
pub mod scope;
pub mod templates;
pub mod transform;
pub mod validate;

pub use crate::agents::{Agent, AgentKind};
pub use crate::channels::Channel;
pub use crate::event::EventType;
pub use duration::Seconds;
pub use error::{ConfigError, ConfigErrors};
pub use load::{load_files, load_files_with, load_str, load_str_with, LoadedConfig, Unset};
pub use net::IpNetwork;
pub use plan::{ActionPlan, CustomCall, CustomPlan};
pub use validate::{CompiledConfig, Warning, Withheld};

use crate::secret::{Redacted, Secret, TokenUrl};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub webhooks: Webhooks,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhooks {
    #[serde(default)]
    pub incoming: Incoming,
    /// The operators' credentials and where admin routes may be reached.
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub handlers: Vec<Handler>,
    #[serde(default)]
    pub outgoing: Vec<Outgoing>,
    /// Channel adapters that `send_message` targets by name (`target.channel`).
    #[serde(default)]
    pub channels: BTreeMap<String, Channel>,
    /// Agents that `run_agent` targets by `agentId`.
    #[serde(default)]
    pub agents: BTreeMap<String, Agent>,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub sessions: SessionDefaults,
    #[serde(default)]
    pub concurrency: Concurrency,
    #[serde(default)]
    pub retention: Retention,
}

/// How long what a hook leaves behind is kept. Past it, an event answers
/// 404, and the embedded backend deletes its rows (DynamoDB's TTL and the
/// dead-letter queues' retention do the same on AWS), so a server that runs
/// for months keeps a bounded file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retention {
    /// An event's status record (`GET /events/<id>`).
    #[serde(default = "default_events_retention")]
    pub events: Seconds,
    /// The outgoing-webhook delivery log.
    #[serde(default = "default_deliveries_retention")]
    pub deliveries: Seconds,
    /// Dead letters, counted from when the message was first sent (as SQS
    /// does); at most 14 days, SQS's limit.
    #[serde(default = "default_dead_letters_retention")]
    pub dead_letters: Seconds,
}

impl Webhooks {
    /// How long an event's status record is kept (seconds): `retention.events`,
    /// or the `dedupWindow` if that is longer, so a repeat of a key still
    /// remembered always finds the record of the event it names (without
    /// it, a repeat would be taken for a hook never queued and run again).
    pub fn status_kept_secs(&self) -> i64 {
        self.retention.events.max(self.incoming.dedup_window).0 as i64
    }
}

/// The longest `retention.deadLetters`: SQS keeps a message 14 days at most.
pub const MAX_DEAD_LETTER_RETENTION: Seconds = Seconds(14 * 24 * 3600);

impl Retention {
    /// `events` in seconds, as the store's expiry takes it.
    pub fn events_secs(&self) -> i64 {
        self.events.0 as i64
    }
    /// `deliveries` as a span of time.
    pub fn deliveries_span(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.deliveries.0 as i64)
    }
}

impl Default for Retention {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults deserialize")
    }
}

fn default_events_retention() -> Seconds {
    Seconds(7 * 24 * 3600)
}
fn default_deliveries_retention() -> Seconds {
    Seconds(30 * 24 * 3600)
}
fn default_dead_letters_retention() -> Seconds {
    MAX_DEAD_LETTER_RETENTION
}

/// How many messages each stage of `clawhooks serve` works on at once. A
/// slow service (a model answering in seconds) holds its task for that
/// long, so these bound how many slow calls overlap before unrelated hooks
/// wait behind them; one session's hooks still run one at a time, in order.
/// On AWS, Lambda's own concurrency decides instead.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Concurrency {
    /// Inbound hooks handled at once (each may wait on an agent or a channel).
    #[serde(default = "default_handler_concurrency")]
    pub handler: usize,
    /// Lifecycle events fanned out and deliveries attempted at once, per
    /// queue (each may wait on a subscriber).
    #[serde(default = "default_egress_concurrency")]
    pub egress: usize,
}

/// The most tasks one stage may run at once: beyond it, the memory and the
/// SQLite writer's queue grow with no gain on any machine this runs on.
pub const MAX_CONCURRENCY: usize = 4096;

fn default_handler_concurrency() -> usize {
    128
}

fn default_egress_concurrency() -> usize {
    64
}

impl Default for Concurrency {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults deserialize")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Incoming {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Port of the local server (`clawhooks serve`). Ignored on Lambda.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Address the local server binds. Loopback by default: exposing the
    /// gateway is a decision, not an accident.
    #[serde(default = "default_host")]
    pub host: String,
    /// The shared secret every hook must present (unless its handler has its own).
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default = "default_secret_header")]
    pub secret_header: String,
    /// Source addresses allowed to post (CIDRs or single addresses, v4 or v6).
    /// Empty means any address.
    #[serde(default, rename = "allowedIPs")]
    pub allowed_ips: Vec<IpNetwork>,
    /// Proxies whose `X-Forwarded-For` is believed. Empty means none is.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNetwork>,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Answer 404 to hook ids that no handler names, instead of accepting them.
    #[serde(default)]
    pub reject_unknown_hooks: bool,
    /// 202 (default) or 200.
    #[serde(default = "default_success_status")]
    pub success_status: u16,
    /// How long an idempotency key is remembered.
    #[serde(default = "default_dedup_window")]
    pub dedup_window: Seconds,
    /// How long a hook may wait for the queue and the store before it is
    /// answered 503 with `Retry-After`: below every sender's own timeout
    /// (GitHub waits 10 s), so a sender hears an answer, never a timeout.
    #[serde(default = "default_accept_timeout")]
    pub accept_timeout: Seconds,
    /// The longest a caller may wait for its hook to be handled
    /// (`Prefer: wait=N`, `?wait=N`, a handler's `respond`) before it gets
    /// the usual 202: below API Gateway's 30 s.
    #[serde(default = "default_max_wait")]
    pub max_wait: Seconds,
    /// Request headers dropped before the event is stored, besides the
    /// credential headers always dropped ([`ALWAYS_STRIPPED`])
    /// and `secretHeader`. Adds to that list; it cannot shorten it.
    #[serde(default)]
    pub strip_headers: Vec<String>,
    /// What a 2xx promises on the embedded backend (`clawhooks serve`).
    #[serde(default)]
    pub durability: Durability,
}

/// `webhooks.admin`: the operators' side. Hook secrets are handed to every
/// sender (GitHub, an alerting system, a partner), so they never open an
/// admin route or the console; only these do.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Admin {
    /// Sent as `Authorization: Bearer <secret>` to the admin routes, and
    /// typed into the console's sign-in. Without one (nor `secrets`),
    /// admin routes answer only local requests (see `allowedHosts`).
    #[serde(default)]
    pub secret: Option<Secret>,
    /// More admin secrets accepted beside `secret`: add the new one here,
    /// move the callers, then remove the old one (rotation without downtime).
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// Host names (with or without a port) a local request may address
    /// besides `localhost`, `127.0.0.1` and `[::1]`, when no admin secret
    /// is set. Anything else is taken as a DNS-rebinding page and refused.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The origin (`https://hooks.example.com`) browsers see when a proxy
    /// in front rewrites `Host`; the console's same-origin check accepts it.
    #[serde(default)]
    pub public_origin: Option<String>,
}

impl Admin {
    /// Every admin secret accepted, `secret` first.
    pub fn credentials(&self) -> impl Iterator<Item = &Secret> {
        self.secret.iter().chain(self.secrets.iter())
    }

    /// Whether admin routes take a credential (else: local requests only).
    pub fn has_secret(&self) -> bool {
        self.credentials().next().is_some()
    }
}

/// How far the embedded backend's commit of a hook goes before its 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// SQLite `synchronous=NORMAL` in WAL mode: the commit is in the OS's
    /// hands, so a 2xx survives a process crash but not an OS crash or a
    /// power loss. Cheaper: the WAL is flushed at checkpoints, not per commit.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is flushed to disk before it is
    /// answered, so a 2xx survives power loss too.
    Fsync,
}

/// Credential headers never kept, whatever the config says. Provider
/// signatures (`x-hub-signature-256`, `stripe-signature`,
/// `webhook-signature`) are not among them: they prove one body only, and
/// templates and forwards rely on them.
pub const ALWAYS_STRIPPED: [&str; 10] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "x-gitlab-token",
    "x-webhook-secret",
    "x-webhook-token",
];

impl Incoming {
    /// Whether a request header (name lower-cased, as `http` gives it) is
    /// dropped before the event is stored: one of [`ALWAYS_STRIPPED`], the
    /// configured `secretHeader`, or one of `stripHeaders`.
    pub fn strips(&self, name: &str) -> bool {
        ALWAYS_STRIPPED.contains(&name)
            || self.secret_header.eq_ignore_ascii_case(name)
            || self
                .strip_headers
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
    }
}

impl Default for Incoming {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults deserialize")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    SendMessage,
    RunAgent,
    Forward,
    Custom,
    /// No action: the hook only opens its session and emits `message_received`.
    #[default]
    None,
}

impl Action {
    /// Every action; a test fails on a variant missing here.
    pub const ALL: [Action; 5] = [
        Action::SendMessage,
        Action::RunAgent,
        Action::Forward,
        Action::Custom,
        Action::None,
    ];

    /// The name the config uses (`send_message`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SendMessage => "send_message",
            Action::RunAgent => "run_agent",
            Action::Forward => "forward",
            Action::Custom => "custom",
            Action::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum SessionMode {
    /// A fresh `hook:<uuid>` session per request (the seed's default).
    #[default]
    #[serde(alias = "per_request", alias = "per-request")]
    Ephemeral,
    /// One session shared by successive hooks, keyed by `sessionKey`.
    Persistent,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Handler {
    pub id: String,
    /// A preset ([`crate::presets`]) filling every key this handler leaves out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Extra route under `/webhook`: `"/github"` answers `POST /webhook/github`.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub action: Action,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub target: Option<Target>,
    /// Handlebars template rendered into the message text.
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub session_mode: SessionMode,
    /// Key of a persistent session; may be a template (`gh-{{event.repository.name}}`).
    #[serde(default)]
    pub session_key: Option<String>,
    /// Idle time after which a persistent session ends.
    #[serde(default)]
    pub session_timeout: Option<Seconds>,
    /// A secret for this handler alone; it replaces the global one.
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub forward: Option<Forward>,
    #[serde(default)]
    pub custom: Option<Custom>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A provider signature (GitHub, Stripe, Slack, Standard Webhooks, HMAC)
    /// checked on the raw body; it stands in for the global shared secret.
    #[serde(default)]
    pub verify: Option<crate::verify::VerifyConfig>,
    /// Hooks accepted per minute on this handler; past it, 429.
    #[serde(default)]
    pub rate_limit: Option<crate::limits::RateLimit>,
    /// Take messages posted by bots (the assistant's own included) on a
    /// `slack` or `discord` handler; by default they are ignored.
    #[serde(default)]
    pub allow_bots: bool,
    /// Rules on `{"body", "headers", "query"}` a hook must pass for this
    /// handler to take it ([`crate::filter`]); compiled at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub filter: Option<serde_json::Value>,
    /// The caller waits for the answer by default, shaped by a template.
    #[serde(default)]
    pub respond: Option<respond::Respond>,
    /// Hooks of one session arriving within a window become one agent turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coalesce: Option<coalesce::Coalesce>,
    /// Agent runs allowed per hour; past it, hooks are kept and skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<budget::Budget>,
    /// JavaScript that reshapes the hook before the template sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<transform::Transform>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    pub channel: String,
    /// Where in the channel: a peer name or the service's id; may be a
    /// template (`{{event.event.channel}}`).
    #[serde(default)]
    pub peer: Option<String>,
    /// The thread or message to answer (Slack `thread_ts`, Discord and
    /// Telegram the message replied to); may be a template. Rendered
    /// empty: not in a thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    /// Where the message goes when `channel` fails for good or runs out of retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<fallback::Fallback>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Forward {
    /// Where the hook goes; shown by its shape only (a path or query may
    /// hold a token).
    pub url: TokenUrl,
    #[serde(default = "default_method")]
    pub method: String,
    /// Headers set on the forwarded request (values may use `${ENV}`; they
    /// are secrets).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Incoming headers copied onto the forwarded request.
    #[serde(default)]
    pub pass_headers: Vec<String>,
    /// Body template; when absent the body is sent as received.
    #[serde(default)]
    pub body_template: Option<String>,
    /// Signs the forwarded body (Standard Webhooks).
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// The built-in functions `custom.function` may name. The config owns the
/// names (they are part of its language, checked at load); the handler's
/// `custom::REGISTRY` implements them, and its tests keep the two equal.
pub const CUSTOM_FUNCTIONS: [&str; 2] = ["github_summary", "extract_fields"];

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Custom {
    /// A function from the library's registry (see `clawhooks::handler::custom`).
    #[serde(default)]
    pub function: Option<String>,
    /// An AWS Lambda function name or ARN, invoked with the event as payload.
    #[serde(default)]
    pub lambda: Option<String>,
    /// Free-form options passed to the function. They often hold
    /// credentials, so `/config` and the console show each value as
    /// `[redacted]` unless its name is in `publicOptions`.
    #[serde(default)]
    pub options: Redacted<serde_json::Value>,
    /// Names of `options` that hold no secret and may be shown.
    #[serde(default)]
    pub public_options: Vec<String>,
    /// How long a `lambda` invocation may take before it counts as failed
    /// (and is tried again): a function that never answers would otherwise
    /// hold the hook for good.
    #[serde(default = "default_agent_timeout_ms")]
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Outgoing {
    pub id: String,
    /// Where events are delivered. A subscription without one is kept but
    /// inert (the seed's retry example has none); `validate` warns.
    #[serde(default)]
    pub url: Option<TokenUrl>,
    /// Event types delivered; empty means all of them.
    #[serde(default)]
    pub events: Vec<EventType>,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub retry: Retry,
    /// Headers set on every delivery (values are secrets).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Signing secret (`whsec_…` for Standard Webhooks).
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub signing: Signing,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "yes")]
    pub dead_letter: bool,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// At most this many deliveries a second or a minute (see
    /// [`delivery_control::RateLimit`]); none: as fast as the receiver answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<delivery_control::RateLimit>,
    /// Stops calling a failing receiver for a while ([`delivery_control::Breaker`]).
    #[serde(default)]
    pub breaker: delivery_control::Breaker,
    /// Disables a subscription failing without a success this long; null: never.
    #[serde(default = "delivery_control::default_disable_after")]
    pub disable_after: Option<Seconds>,
    /// JavaScript that rewrites or cancels each delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<transform::Transform>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Signing {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` (Standard Webhooks).
    #[default]
    StandardWebhooks,
    /// The secret sent as-is in `X-Webhook-Secret`.
    Header,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub hook_ids: Vec<String>,
    #[serde(default)]
    pub handler_ids: Vec<String>,
    #[serde(default)]
    pub session_prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    #[default]
    Exponential,
    Linear,
    Fixed,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default)]
    pub backoff: Backoff,
    #[serde(default = "default_initial_delay_ms")]
    pub initial_delay_ms: u64,
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// Full jitter: each wait is drawn uniformly between zero and the
    /// backoff, so receivers that failed together are not retried together.
    /// Off gives the plain schedule (predictable, for tests and debugging).
    #[serde(default = "yes")]
    pub jitter: bool,
}

impl Default for Retry {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults deserialize")
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    /// Let outbound calls reach loopback and private addresses (tests, local setups).
    #[serde(default)]
    pub allow_private: bool,
    /// Hosts or CIDRs reachable even though private.
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionDefaults {
    /// Idle timeout of persistent sessions unless a handler sets its own.
    #[serde(default = "default_session_timeout")]
    pub timeout: Seconds,
    /// Messages kept per session for agent context.
    #[serde(default = "default_history")]
    pub history: usize,
}

impl Default for SessionDefaults {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults deserialize")
    }
}

fn yes() -> bool {
    true
}
fn default_port() -> u16 {
    3011
}
fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_secret_header() -> String {
    "X-Webhook-Secret".into()
}
fn default_max_body() -> usize {
    256 * 1024
}
fn default_success_status() -> u16 {
    202
}
fn default_dedup_window() -> Seconds {
    Seconds(24 * 3600)
}
fn default_accept_timeout() -> Seconds {
    Seconds(5)
}
fn default_max_wait() -> Seconds {
    Seconds(25)
}
fn default_session_timeout() -> Seconds {
    Seconds(24 * 3600)
}
fn default_method() -> String {
    "POST".into()
}
fn default_timeout_ms() -> u64 {
    15_000
}
fn default_agent_timeout_ms() -> u64 {
    120_000
}
fn default_max_attempts() -> u32 {
    3
}
fn default_initial_delay_ms() -> u64 {
    1_000
}
fn default_max_delay_ms() -> u64 {
    3_600_000
}
fn default_history() -> usize {
    20
}
