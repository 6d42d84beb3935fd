//! The shared-secret check: the configured header or `Authorization: Bearer`,
//! compared in constant time. Both sides are hashed first so neither the
//! content nor the length of the secret leaks through timing.

use crate::secret::{equal, Secret};
use http::HeaderMap;
use std::collections::BTreeMap;

/// Why a secret did not check out, for the log only: every cause gets the
/// same answer ([`crate::refusal::Refusal::Unauthenticated`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMismatch {
    Missing,
    Invalid,
}

impl SecretMismatch {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretMismatch::Missing => "missing secret",
            SecretMismatch::Invalid => "invalid secret",
        }
    }
}

pub fn check_secret(
    headers: &HeaderMap,
    header: &str,
    secret: &Secret,
) -> Result<(), SecretMismatch> {
    let presented = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(|v| v.trim().to_string())
        })
        .ok_or(SecretMismatch::Missing)?;
    if equal(presented.as_bytes(), secret.expose().as_bytes()) {
        Ok(())
    } else {
        Err(SecretMismatch::Invalid)
    }
}

/// Names a query parameter that carries a secret: one named like a secret,
/// or one whose value is the configured secret. URLs end up in access logs,
/// proxies and browser history, so such a request is refused outright.
pub fn secret_in_query(
    query: &BTreeMap<String, String>,
    header: &str,
    secret: Option<&Secret>,
) -> Option<String> {
    let header = header.to_ascii_lowercase();
    query.iter().find_map(|(k, v)| {
        let lk = k.to_ascii_lowercase();
        let named = matches!(
            lk.as_str(),
            "secret" | "token" | "webhook_secret" | "webhooksecret" | "api_key" | "apikey"
        ) || lk == header;
        let valued = secret.is_some_and(|s| equal(v.as_bytes(), s.expose().as_bytes()));
        (named || valued).then(|| k.clone())
    })
}
