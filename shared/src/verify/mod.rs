//! Provider signature verification for incoming hooks (a handler's
//! `verify` key): one file per scheme, each holding how it checks a
//! delivery, how it reads its configured secrets into keys, its name and
//! its replay key. [`Scheme`], the `verify.scheme` names, is generated from
//! the one [`registry!`] line per scheme below, so the names users write,
//! the names messages use and the dispatch cannot drift apart.
//!
//! Everything here is a pure function of (headers, raw body bytes, now,
//! secrets): no I/O, no clock, no parsing of the body. Ingress calls
//! [`VerifyConfig::verify`] on the bytes exactly as received, because a
//! signature covers bytes, and any re-encoding (JSON, form) would break it.
//!
//! Comparisons are constant time (`subtle`), several secrets may be
//! configured so a provider's secret can be rotated without downtime, and
//! timestamped schemes refuse deliveries outside a replay window in both
//! directions. A [`VerifyError`] names the scheme and the header, never a
//! secret or the signature we expected.
//!
//! # Adding a signature scheme
//!
//! 1. Write `verify/<scheme>.rs` (copy `slack.rs`, a timestamped HMAC
//!    scheme): a module doc naming the headers and what is signed, and
//!    `pub struct Verifier` with `impl SignatureScheme`: `label` (the name
//!    messages start with), `verify` (refuse through the helpers in
//!    `error.rs`, so messages read alike), `replay_key` (built only from
//!    what the signature covers; see `replay.rs`), and, where they differ
//!    from the defaults, `timestamped` (the `toleranceSeconds` window
//!    applies), `key` and `check_options`.
//! 2. A scheme that is not an HMAC fits the same shape: `key` turns each
//!    configured `secret`/`secrets` entry into the key bytes `verify`
//!    receives. For Discord's Ed25519, `key` hex-decodes the application's
//!    public key (refusing anything but 32 bytes, with a message that names
//!    no secret) and `verify` checks the `X-Signature-Ed25519` signature of
//!    `X-Signature-Timestamp` + body against each key; rotation and the
//!    load-time checks come for free.
//! 3. Add one line to the [`registry!`] call below: `Variant => module`,
//!    with the doc comment the JSON Schema shows. The module's name is the
//!    `verify.scheme` users write.
//! 4. Add the scheme's fixture test, signing as the provider documents
//!    (its published example where there is one), in `verify/tests.rs`
//!    or `tests/tests/security.rs`, and list it in [`FIXTURES`]; a unit
//!    test fails until you do.
//! 5. Document the scheme in `docs/security.md` and any new key in
//!    `docs/configuration.md` (`local/tests/docs.rs` fails on a schema key
//!    it does not name).

mod error;
mod header;
mod mac;
mod replay;

mod discord;
mod github;
mod graph;
mod hmac;
mod slack;
mod standard_webhooks;
mod stripe;
mod telegram;
mod zoom;

pub use crate::protocol::signature::MAX_CANDIDATES;
pub use error::{check_window, VerifyError};
pub use header::{parse_prefixed, parse_standard_signatures, parse_stripe_header, StripeHeader};

use crate::config::error::ConfigError;
use crate::secret::Secret;
use http::HeaderMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How long a timestamped signature stays valid, either side of now.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The `verify` key of a handler.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyConfig {
    pub scheme: Scheme,
    /// The signing secret (`${ENV}` works, as everywhere in the config).
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Further secrets accepted at the same time, for rotation.
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// Replay window of the timestamped schemes (Stripe, Slack, Standard
    /// Webhooks, Discord, Zoom), applied both to old and to future timestamps.
    #[serde(default = "default_tolerance")]
    pub tolerance_seconds: u64,
    /// Meta (WhatsApp, Instagram, Messenger): the verify token entered
    /// with the callback URL; a `GET` with `hub.mode=subscribe` and this
    /// `hub.verify_token` is answered with its `hub.challenge`.
    #[serde(default)]
    pub verify_token: Option<Secret>,
    /// `hmac` only: the header carrying the signature.
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac` only: `sha256` (default) or `sha512`.
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// `hmac` only: `hex` (default) or `base64`.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// `hmac` only: text before the signature in the header, e.g. `sha256=`.
    #[serde(default)]
    pub prefix: Option<String>,
}

fn default_tolerance() -> u64 {
    DEFAULT_TOLERANCE_SECS
}

/// A delivery as ingress received it, and the moment it is checked.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    /// The body bytes exactly as received.
    pub body: &'a [u8],
    /// Unix seconds.
    pub now: i64,
    /// `toleranceSeconds`, for the timestamped schemes.
    pub tolerance: u64,
}

/// Why a configured secret is no key of its scheme. Never holds the
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadKey(pub String);

/// What every signature scheme does. Implemented by a unit `Verifier` in
/// the scheme's file; [`Scheme::kind`] finds it.
pub trait SignatureScheme: Sync {
    /// The scheme's name in messages ("GitHub").
    fn label(&self) -> &'static str;

    /// Whether the signed text carries a time that `toleranceSeconds`
    /// bounds (and so must be at least 1).
    fn timestamped(&self) -> bool {
        false
    }

    /// The key one configured secret stands for, refused at load when it
    /// is none: an HMAC key, or a public key for a signature scheme. By
    /// default the secret's own bytes.
    fn key(&self, secret: &str) -> Result<Vec<u8>, BadKey> {
        match secret {
            "" => Err(BadKey("the secret is empty".into())),
            text => Ok(text.as_bytes().to_vec()),
        }
    }

    /// A secret that is a valid key but likely not the one meant; load
    /// warns about it.
    fn doubtful_secret(&self, _secret: &str) -> bool {
        false
    }

    /// Checks one delivery against `keys` (never empty).
    fn verify(
        &self,
        cfg: &VerifyConfig,
        delivery: &Delivery<'_>,
        keys: &[Vec<u8>],
    ) -> Result<(), VerifyError>;

    /// The deduplication key of a delivery that passed [`Self::verify`],
    /// built only from what the signature covers.
    fn replay_key(&self, cfg: &VerifyConfig, headers: &HeaderMap, body: &[u8]) -> String;

    /// Load-time checks of the scheme's own options. By default the
    /// `hmac` scheme's options are refused: the scheme fixes its own.
    fn check_options(&self, cfg: &VerifyConfig, at: &str) -> Vec<ConfigError> {
        let set = [
            ("header", cfg.header.is_some()),
            ("algorithm", cfg.algorithm.is_some()),
            ("encoding", cfg.encoding.is_some()),
            ("prefix", cfg.prefix.is_some()),
        ];
        let name = cfg.scheme.name();
        set.iter()
            .filter(|(_, set)| *set)
            .map(|(key, _)| {
                ConfigError::new(
                    format!("{at}.{key}"),
                    format!("only applies to scheme \"hmac\"; {name:?} fixes its own"),
                )
            })
            .collect()
    }
}

/// The signature schemes: `Variant => module`, the module's name being the
/// `verify.scheme` users write. One line per scheme.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident => $module:ident),* $(,)?) => {
        /// The `verify.scheme` of a handler: which provider's signature to check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Scheme {
            $($(#[$doc])* $variant,)*
        }

        /// Every scheme, in registry order.
        pub const SCHEMES: &[Scheme] = &[$(Scheme::$variant),*];

        impl Scheme {
            /// The name users write in `verify.scheme`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($module),)*
                }
            }

            /// What this scheme does.
            pub fn kind(self) -> &'static dyn SignatureScheme {
                match self {
                    $(Self::$variant => &$module::Verifier,)*
                }
            }
        }
    };
}

registry! {
    /// `X-Hub-Signature-256: sha256=<hex>` over the raw body.
    Github => github,
    /// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `<t>.<body>`.
    Stripe => stripe,
    /// `X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>`.
    Slack => slack,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …`
    /// over `<id>.<timestamp>.<body>`; a `whsec_<base64>` secret is its
    /// decoded bytes, any other its own bytes, as when we sign.
    StandardWebhooks => standard_webhooks,
    /// An HMAC of the raw body in a header of your choosing.
    Hmac => hmac,
    /// `X-Signature-Ed25519: <hex>` over `<X-Signature-Timestamp><body>`;
    /// the secret is the application's hex Ed25519 public key.
    Discord => discord,
    /// `x-zm-signature: v0=<hex>` over `v0:<x-zm-request-timestamp>:<body>`.
    Zoom => zoom,
    /// Microsoft Graph change notifications: each `value[].clientState`
    /// must be the secret (Graph signs nothing).
    Graph => graph,
    /// `X-Telegram-Bot-Api-Secret-Token` must be the secret (the
    /// `secret_token` given to `setWebhook`; Telegram signs nothing).
    Telegram => telegram,
}

impl Scheme {
    /// The name used in messages.
    pub fn label(self) -> &'static str {
        self.kind().label()
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Each scheme's fixture test, signing as the provider documents, as
/// `(scheme, file, test)`. A scheme in [`SCHEMES`] missing here fails
/// `every_scheme_has_its_fixture_test`.
pub const FIXTURES: &[(&str, &str, &str)] = &[
    ("github", UNIT_TESTS, "github_docs_example"),
    (
        "github",
        "tests/tests/security.rs",
        "github_signature_replaces_the_shared_secret",
    ),
    ("stripe", UNIT_TESTS, "stripe_signatures"),
    ("slack", UNIT_TESTS, "slack_docs_example"),
    (
        "standard_webhooks",
        UNIT_TESTS,
        "standard_webhooks_specification_vector",
    ),
    (
        "standard_webhooks",
        "tests/tests/security.rs",
        "standard_webhooks_with_rotation_and_replay_window",
    ),
    ("hmac", UNIT_TESTS, "generic_hmac_options"),
    ("discord", UNIT_TESTS, "discord_ed25519_signatures"),
    ("zoom", "tests/tests/handshakes.rs", "zoom_url_validation"),
    (
        "graph",
        "tests/tests/handshakes.rs",
        "graph_validation_token",
    ),
    ("telegram", UNIT_TESTS, "telegram_secret_token"),
];

const UNIT_TESTS: &str = "shared/src/verify/tests.rs";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    #[default]
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

impl VerifyConfig {
    /// A config for `scheme` with one secret and the defaults.
    pub fn new(scheme: Scheme, secret: impl Into<String>) -> Self {
        VerifyConfig {
            scheme,
            secret: Some(Secret::new(secret)),
            secrets: Vec::new(),
            tolerance_seconds: DEFAULT_TOLERANCE_SECS,
            verify_token: None,
            header: None,
            algorithm: None,
            encoding: None,
            prefix: None,
        }
    }

    /// Every configured secret, `secret` first.
    pub fn all_secrets(&self) -> impl Iterator<Item = &Secret> {
        self.secret.iter().chain(self.secrets.iter())
    }

    /// The keys of the configured secrets ([`SignatureScheme::key`]).
    fn keys(&self) -> Vec<Vec<u8>> {
        let kind = self.scheme.kind();
        self.all_secrets()
            .filter_map(|s| kind.key(s.expose()).ok())
            .collect()
    }

    /// Checks one delivery. `now` is unix seconds.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        let keys = self.keys();
        if keys.is_empty() {
            return Err(VerifyError::NoSecret {
                scheme: self.scheme,
            });
        }
        let delivery = Delivery {
            headers,
            body,
            now,
            tolerance: self.tolerance_seconds,
        };
        self.scheme.kind().verify(self, &delivery, &keys)
    }

    /// Every configured secret with its JSON path under `at`.
    fn secrets_at<'a>(&'a self, at: &'a str) -> impl Iterator<Item = (String, &'a Secret)> + 'a {
        let first = self.secret.iter().map(move |s| (format!("{at}.secret"), s));
        let more = self.secrets.iter().enumerate();
        first.chain(more.map(move |(i, s)| (format!("{at}.secrets[{i}]"), s)))
    }

    /// The paths of secrets that are valid keys but likely not the ones
    /// meant ([`SignatureScheme::doubtful_secret`]): a Standard Webhooks
    /// base64 key that lost its `whsec_` prefix. Legal, but worth a
    /// warning.
    pub fn unprefixed_base64_secrets(&self, at: &str) -> Vec<String> {
        let kind = self.scheme.kind();
        self.secrets_at(at)
            .filter(|(_, s)| kind.doubtful_secret(s.expose()))
            .map(|(path, _)| path)
            .collect()
    }

    /// Load-time checks, with `at` the JSON path of this `verify` key. The
    /// messages never include a secret.
    pub fn check(&self, at: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let kind = self.scheme.kind();
        if self.secret.is_none() && self.secrets.is_empty() {
            errors.push(ConfigError::new(
                format!("{at}.secret"),
                format!(
                    "scheme {:?} needs a secret (or secrets)",
                    self.scheme.name()
                ),
            ));
        }
        for (path, s) in self.secrets_at(at) {
            if s.is_empty() {
                errors.push(ConfigError::new(path, "is empty"));
            } else if let Err(e) = kind.key(s.expose()) {
                errors.push(ConfigError::new(path, e.to_string()));
            }
        }
        if self.verify_token.as_ref().is_some_and(|t| t.is_empty()) {
            errors.push(ConfigError::new(format!("{at}.verifyToken"), "is empty"));
        }
        if kind.timestamped() && self.tolerance_seconds == 0 {
            errors.push(ConfigError::new(
                format!("{at}.toleranceSeconds"),
                "must be at least 1",
            ));
        }
        errors.extend(kind.check_options(self, at));
        errors
    }
}

#[cfg(test)]
mod tests;
