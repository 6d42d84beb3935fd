//! How a [Standard Webhooks](https://www.standardwebhooks.com/) secret
//! becomes an HMAC key. The outgoing subscriptions, `forward` and the
//! `verify` check all decode `whsec_<base64>` here, so a secret that one of
//! them accepts means the same key to the others, and a malformed one is a
//! load error instead of a key nobody's receiver expects.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

pub const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The message never includes the secret itself.
    #[error("a whsec_ secret must be base64 after the prefix")]
    BadBase64,
    #[error("the secret is empty")]
    Empty,
}

/// Key bytes written in base64 (the part after `whsec_`): never empty.
pub fn base64_key(b64: &str) -> Result<Vec<u8>, KeyError> {
    let key = STANDARD.decode(b64).map_err(|_| KeyError::BadBase64)?;
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(key)
}

/// The key a signer uses: `whsec_<base64>` decoded, any other secret as
/// its bytes.
pub fn signing_key(secret: &str) -> Result<Vec<u8>, KeyError> {
    match secret.strip_prefix(SECRET_PREFIX) {
        Some(b64) => base64_key(b64),
        None if secret.is_empty() => Err(KeyError::Empty),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whsec_secrets_are_their_base64_and_others_their_bytes() {
        assert_eq!(signing_key("whsec_a2V5"), Ok(b"key".to_vec()));
        assert_eq!(signing_key("plain"), Ok(b"plain".to_vec()));
    }

    #[test]
    fn malformed_or_empty_secrets_are_refused_without_echoing_them() {
        let e = signing_key("whsec_not*base64!").unwrap_err();
        assert_eq!(e, KeyError::BadBase64);
        assert!(!e.to_string().contains("not*base64"));
        assert_eq!(signing_key("whsec_"), Err(KeyError::Empty));
        assert_eq!(signing_key(""), Err(KeyError::Empty));
    }
}
