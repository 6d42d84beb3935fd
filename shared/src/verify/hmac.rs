//! `hmac`: an HMAC of the raw body in a header of the user's choosing
//! (`header`), SHA-256 or SHA-512 (`algorithm`), hex or base64
//! (`encoding`), after an optional `prefix`. The only scheme with options
//! of its own; the secret is used as written. A replay is known by the body
//! and the signature.

use super::error::{header_str, malformed, require_match};
use super::replay::{digest, text};
use super::{parse_prefixed, Delivery, Encoding, Scheme, SignatureScheme};
use super::{VerifyConfig, VerifyError};
use crate::config::error::ConfigError;
use http::HeaderMap;

pub struct Verifier;

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "HMAC"
    }

    fn verify(
        &self,
        cfg: &VerifyConfig,
        d: &Delivery<'_>,
        keys: &[Vec<u8>],
    ) -> Result<(), VerifyError> {
        let s = Scheme::Hmac;
        let header = cfg.header.as_deref().unwrap_or_default();
        let encoding = cfg.encoding.unwrap_or_default();
        let value = header_str(d.headers, s, header)?;
        let reason = match encoding {
            Encoding::Hex => "expected a hex signature",
            Encoding::Base64 => "expected a base64 signature",
        };
        let prefix = cfg.prefix.as_deref().unwrap_or_default();
        let sig =
            parse_prefixed(value, prefix, encoding).ok_or_else(|| malformed(s, header, reason))?;
        let algorithm = cfg.algorithm.unwrap_or_default();
        require_match(s, algorithm, keys, &[d.body], &[sig])
    }

    fn replay_key(&self, cfg: &VerifyConfig, headers: &HeaderMap, body: &[u8]) -> String {
        let header = cfg.header.as_deref().unwrap_or_default();
        digest(
            Scheme::Hmac.name(),
            &[text(headers, header).as_bytes(), body],
        )
    }

    /// `header` is required; the other options have defaults.
    fn check_options(&self, cfg: &VerifyConfig, at: &str) -> Vec<ConfigError> {
        match cfg.header.as_deref() {
            None => vec![ConfigError::new(
                format!("{at}.header"),
                "scheme \"hmac\" needs the name of the header carrying the signature",
            )],
            Some(h) if http::HeaderName::from_bytes(h.as_bytes()).is_err() => {
                vec![ConfigError::new(
                    format!("{at}.header"),
                    format!("{h:?} is not a valid header name"),
                )]
            }
            Some(_) => Vec::new(),
        }
    }
}
