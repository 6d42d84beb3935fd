//! Provider signature verification for incoming hooks: GitHub, Stripe,
//! Slack, Standard Webhooks and a generic HMAC header.
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

mod header;
mod mac;
mod replay;

pub use crate::protocol::signature::MAX_CANDIDATES;
pub use header::{parse_prefixed, parse_standard_signatures, parse_stripe_header, StripeHeader};

use crate::config::error::ConfigError;
use crate::protocol::signature::{unix_seconds, Stale};
use crate::protocol::standard_webhooks::{self, Invalid, KeyError};
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
    /// Webhooks), applied both to old and to future timestamps.
    #[serde(default = "default_tolerance")]
    pub tolerance_seconds: u64,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// `X-Hub-Signature-256: sha256=<hex>` over the raw body.
    Github,
    /// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `<t>.<body>`.
    Stripe,
    /// `X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>`.
    Slack,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …`
    /// over `<id>.<timestamp>.<body>`; a `whsec_<base64>` secret is its
    /// decoded bytes, any other its own bytes, as when we sign.
    StandardWebhooks,
    /// An HMAC of the raw body in a header of your choosing.
    Hmac,
}

impl Scheme {
    /// The name used in messages.
    pub fn label(self) -> &'static str {
        match self {
            Scheme::Github => "GitHub",
            Scheme::Stripe => "Stripe",
            Scheme::Slack => "Slack",
            Scheme::StandardWebhooks => "Standard Webhooks",
            Scheme::Hmac => "HMAC",
        }
    }

    fn timestamped(self) -> bool {
        matches!(
            self,
            Scheme::Stripe | Scheme::Slack | Scheme::StandardWebhooks
        )
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

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

/// Why a delivery was refused. Every message starts with the scheme's
/// name; none contains a secret, the expected signature, or the value sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{scheme} signature check failed: the {header} header is missing")]
    Missing { scheme: Scheme, header: String },
    #[error("{scheme} signature check failed: the {header} header is malformed ({reason})")]
    Malformed {
        scheme: Scheme,
        header: String,
        reason: &'static str,
    },
    #[error("{scheme} signature check failed: the timestamp is {skew}s {direction}, outside the {tolerance}s tolerance")]
    Stale {
        scheme: Scheme,
        skew: u64,
        direction: &'static str,
        tolerance: u64,
    },
    #[error("{scheme} signature check failed: the signature does not match")]
    Mismatch { scheme: Scheme },
    /// Only reachable with a config that skipped validation.
    #[error("{scheme} signature check failed: no usable secret is configured")]
    NoSecret { scheme: Scheme },
}

impl VerifyError {
    pub fn scheme(&self) -> Scheme {
        match self {
            VerifyError::Missing { scheme, .. }
            | VerifyError::Malformed { scheme, .. }
            | VerifyError::Stale { scheme, .. }
            | VerifyError::Mismatch { scheme }
            | VerifyError::NoSecret { scheme } => *scheme,
        }
    }

    /// A short reason for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::Missing { .. } => "missing signature",
            VerifyError::Malformed { .. } => "malformed signature",
            VerifyError::Stale { .. } => "stale timestamp",
            VerifyError::Mismatch { .. } => "signature mismatch",
            VerifyError::NoSecret { .. } => "no secret",
        }
    }
}

impl VerifyConfig {
    /// A config for `scheme` with one secret and the defaults.
    pub fn new(scheme: Scheme, secret: impl Into<String>) -> Self {
        VerifyConfig {
            scheme,
            secret: Some(Secret::new(secret)),
            secrets: Vec::new(),
            tolerance_seconds: DEFAULT_TOLERANCE_SECS,
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

    /// The HMAC keys of the configured secrets (see [`key_bytes`]).
    fn keys(&self) -> Vec<Vec<u8>> {
        self.all_secrets()
            .filter_map(|s| key_bytes(self.scheme, s).ok())
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
        let tolerance = self.tolerance_seconds;
        match self.scheme {
            Scheme::Github => github(headers, body, &keys),
            Scheme::Stripe => stripe(headers, body, now, tolerance, &keys),
            Scheme::Slack => slack(headers, body, now, tolerance, &keys),
            Scheme::StandardWebhooks => standard_webhooks(headers, body, now, tolerance, &keys),
            Scheme::Hmac => generic(
                &GenericHmac {
                    header: self.header.as_deref().unwrap_or_default(),
                    algorithm: self.algorithm.unwrap_or_default(),
                    encoding: self.encoding.unwrap_or_default(),
                    prefix: self.prefix.as_deref().unwrap_or_default(),
                },
                headers,
                body,
                &keys,
            ),
        }
    }

    /// Every configured secret with its JSON path under `at`.
    fn secrets_at<'a>(&'a self, at: &'a str) -> impl Iterator<Item = (String, &'a Secret)> + 'a {
        let first = self.secret.iter().map(move |s| (format!("{at}.secret"), s));
        let more = self.secrets.iter().enumerate();
        first.chain(more.map(move |(i, s)| (format!("{at}.secrets[{i}]"), s)))
    }

    /// The paths of Standard Webhooks secrets that look like a base64 key
    /// which lost its `whsec_` prefix. Such a secret is its own bytes (the
    /// rule we sign by too), not the key a sender that gave it out as
    /// `whsec_…` signs with: legal, but worth a warning.
    pub fn unprefixed_base64_secrets(&self, at: &str) -> Vec<String> {
        use base64::Engine;
        let looks_like_key = |t: &str| {
            !t.starts_with(standard_webhooks::SECRET_PREFIX)
                && base64::engine::general_purpose::STANDARD
                    .decode(t)
                    .is_ok_and(|k| k.len() >= 16)
        };
        if self.scheme != Scheme::StandardWebhooks {
            return Vec::new();
        }
        self.secrets_at(at)
            .filter(|(_, s)| looks_like_key(s.expose()))
            .map(|(path, _)| path)
            .collect()
    }

    /// Load-time checks, with `at` the JSON path of this `verify` key. The
    /// messages never include a secret.
    pub fn check(&self, at: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let scheme = self.scheme;
        if self.secret.is_none() && self.secrets.is_empty() {
            errors.push(ConfigError::new(
                format!("{at}.secret"),
                format!(
                    "scheme {:?} needs a secret (or secrets)",
                    scheme_key(scheme)
                ),
            ));
        }
        for (path, s) in self.secrets_at(at) {
            if s.is_empty() {
                errors.push(ConfigError::new(path, "is empty"));
            } else if let Err(e) = key_bytes(scheme, s) {
                errors.push(ConfigError::new(path, e.to_string()));
            }
        }
        if scheme.timestamped() && self.tolerance_seconds == 0 {
            errors.push(ConfigError::new(
                format!("{at}.toleranceSeconds"),
                "must be at least 1",
            ));
        }
        if scheme == Scheme::Hmac {
            match self.header.as_deref() {
                None => errors.push(ConfigError::new(
                    format!("{at}.header"),
                    "scheme \"hmac\" needs the name of the header carrying the signature",
                )),
                Some(h) if http::HeaderName::from_bytes(h.as_bytes()).is_err() => {
                    errors.push(ConfigError::new(
                        format!("{at}.header"),
                        format!("{h:?} is not a valid header name"),
                    ))
                }
                Some(_) => {}
            }
        } else {
            for (key, set) in [
                ("header", self.header.is_some()),
                ("algorithm", self.algorithm.is_some()),
                ("encoding", self.encoding.is_some()),
                ("prefix", self.prefix.is_some()),
            ] {
                if set {
                    errors.push(ConfigError::new(
                        format!("{at}.{key}"),
                        format!(
                            "only applies to scheme \"hmac\"; {:?} fixes its own",
                            scheme_key(scheme)
                        ),
                    ));
                }
            }
        }
        errors
    }
}

fn scheme_key(s: Scheme) -> &'static str {
    match s {
        Scheme::Github => "github",
        Scheme::Stripe => "stripe",
        Scheme::Slack => "slack",
        Scheme::StandardWebhooks => "standard_webhooks",
        Scheme::Hmac => "hmac",
    }
}

/// The HMAC key a secret stands for under `scheme`: Standard Webhooks
/// decodes it by the rule its signers use too
/// ([`standard_webhooks::key`]); the providers use secrets as written.
fn key_bytes(scheme: Scheme, s: &Secret) -> Result<Vec<u8>, KeyError> {
    let text = s.expose();
    match scheme {
        Scheme::StandardWebhooks => standard_webhooks::key(text),
        _ if text.is_empty() => Err(KeyError::Empty),
        _ => Ok(text.as_bytes().to_vec()),
    }
}

fn header_str<'a>(
    headers: &'a HeaderMap,
    scheme: Scheme,
    name: &str,
) -> Result<&'a str, VerifyError> {
    let v = headers.get(name).ok_or_else(|| VerifyError::Missing {
        scheme,
        header: name.to_string(),
    })?;
    v.to_str()
        .map(str::trim)
        .map_err(|_| VerifyError::Malformed {
            scheme,
            header: name.to_string(),
            reason: "not ASCII",
        })
}

fn malformed(scheme: Scheme, header: &str, reason: &'static str) -> VerifyError {
    VerifyError::Malformed {
        scheme,
        header: header.to_string(),
        reason,
    }
}

/// Unix seconds as the providers send them: ASCII digits only.
fn parse_timestamp(scheme: Scheme, header: &str, text: &str) -> Result<i64, VerifyError> {
    unix_seconds(text).ok_or_else(|| malformed(scheme, header, "the timestamp is not unix seconds"))
}

/// Refuses timestamps more than `tolerance` seconds from `now`, either way.
pub fn check_window(scheme: Scheme, ts: i64, now: i64, tolerance: u64) -> Result<(), VerifyError> {
    crate::protocol::signature::check_window(ts, now, tolerance).map_err(|e| stale(scheme, e))
}

fn stale(scheme: Scheme, e: Stale) -> VerifyError {
    VerifyError::Stale {
        scheme,
        skew: e.skew,
        direction: e.direction,
        tolerance: e.tolerance,
    }
}

/// `Ok` when a candidate is the HMAC of `parts` under one of `keys`.
fn require_match(
    scheme: Scheme,
    algorithm: Algorithm,
    keys: &[Vec<u8>],
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> Result<(), VerifyError> {
    if mac::any_matches(algorithm, keys, parts, candidates) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch { scheme })
    }
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex>`.
pub fn github(headers: &HeaderMap, body: &[u8], keys: &[Vec<u8>]) -> Result<(), VerifyError> {
    const H: &str = "x-hub-signature-256";
    let s = Scheme::Github;
    let value = header_str(headers, s, H)?;
    let sig = parse_prefixed(value, "sha256=", Encoding::Hex)
        .ok_or_else(|| malformed(s, H, "expected sha256=<hex>"))?;
    require_match(s, Algorithm::Sha256, keys, &[body], &[sig])
}

/// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>,…` over `<t>.<body>`.
pub fn stripe(
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance: u64,
    keys: &[Vec<u8>],
) -> Result<(), VerifyError> {
    const H: &str = "stripe-signature";
    let s = Scheme::Stripe;
    let value = header_str(headers, s, H)?;
    let parsed = parse_stripe_header(value).map_err(|reason| malformed(s, H, reason))?;
    let ts = parse_timestamp(s, H, parsed.timestamp)?;
    check_window(s, ts, now, tolerance)?;
    require_match(
        s,
        Algorithm::Sha256,
        keys,
        &[parsed.timestamp.as_bytes(), b".", body],
        &parsed.v1,
    )
}

/// Slack: `X-Slack-Signature: v0=<hex>` over `v0:<timestamp>:<body>`.
pub fn slack(
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance: u64,
    keys: &[Vec<u8>],
) -> Result<(), VerifyError> {
    const H: &str = "x-slack-signature";
    const T: &str = "x-slack-request-timestamp";
    let s = Scheme::Slack;
    let value = header_str(headers, s, H)?;
    let ts_text = header_str(headers, s, T)?;
    let ts = parse_timestamp(s, T, ts_text)?;
    check_window(s, ts, now, tolerance)?;
    let sig = parse_prefixed(value, "v0=", Encoding::Hex)
        .ok_or_else(|| malformed(s, H, "expected v0=<hex>"))?;
    require_match(
        s,
        Algorithm::Sha256,
        keys,
        &[b"v0:", ts_text.as_bytes(), b":", body],
        &[sig],
    )
}

/// Standard Webhooks, checked by [`standard_webhooks::verify`]: its
/// reasons, told with the scheme's name.
pub fn standard_webhooks(
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance: u64,
    keys: &[Vec<u8>],
) -> Result<(), VerifyError> {
    let scheme = Scheme::StandardWebhooks;
    standard_webhooks::verify(headers, body, now, tolerance, keys).map_err(|e| match e {
        Invalid::Missing(header) => VerifyError::Missing { scheme, header },
        Invalid::Malformed { header, reason } => VerifyError::Malformed {
            scheme,
            header,
            reason,
        },
        Invalid::Stale(e) => stale(scheme, e),
        Invalid::Mismatch => VerifyError::Mismatch { scheme },
    })
}

/// The generic scheme's settings.
#[derive(Debug, Clone, Copy)]
pub struct GenericHmac<'a> {
    pub header: &'a str,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    pub prefix: &'a str,
}

/// Generic: `<header>: <prefix><hex or base64 HMAC of the body>`.
pub fn generic(
    cfg: &GenericHmac<'_>,
    headers: &HeaderMap,
    body: &[u8],
    keys: &[Vec<u8>],
) -> Result<(), VerifyError> {
    let s = Scheme::Hmac;
    let value = header_str(headers, s, cfg.header)?;
    let reason = match cfg.encoding {
        Encoding::Hex => "expected a hex signature",
        Encoding::Base64 => "expected a base64 signature",
    };
    let sig = parse_prefixed(value, cfg.prefix, cfg.encoding)
        .ok_or_else(|| malformed(s, cfg.header, reason))?;
    require_match(s, cfg.algorithm, keys, &[body], &[sig])
}

#[cfg(test)]
mod tests;
