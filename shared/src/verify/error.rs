//! Why a delivery was refused, and the small steps every scheme refuses
//! with, so each message names the scheme and the header the same way.

use super::mac;
use super::{Algorithm, Scheme};
use crate::protocol::signature::{unix_seconds, Stale};
use http::HeaderMap;

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

/// The trimmed ASCII value of header `name`.
pub(super) fn header_str<'a>(
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
        .map_err(|_| malformed(scheme, name, "not ASCII"))
}

pub(super) fn malformed(scheme: Scheme, header: &str, reason: &'static str) -> VerifyError {
    VerifyError::Malformed {
        scheme,
        header: header.to_string(),
        reason,
    }
}

/// Unix seconds as the providers send them: ASCII digits only.
pub(super) fn parse_timestamp(
    scheme: Scheme,
    header: &str,
    text: &str,
) -> Result<i64, VerifyError> {
    unix_seconds(text).ok_or_else(|| malformed(scheme, header, "the timestamp is not unix seconds"))
}

/// Refuses timestamps more than `tolerance` seconds from `now`, either way.
pub fn check_window(scheme: Scheme, ts: i64, now: i64, tolerance: u64) -> Result<(), VerifyError> {
    crate::protocol::signature::check_window(ts, now, tolerance).map_err(|e| stale(scheme, e))
}

pub(super) fn stale(scheme: Scheme, e: Stale) -> VerifyError {
    VerifyError::Stale {
        scheme,
        skew: e.skew,
        direction: e.direction,
        tolerance: e.tolerance,
    }
}

/// `Ok` when a candidate is the HMAC of `parts` under one of `keys`.
pub(super) fn require_match(
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
