//! Telegram bot webhooks: no signature; `setWebhook`'s `secret_token` comes
//! back in every update's `X-Telegram-Bot-Api-Secret-Token` header, and
//! that shared secret is what is checked (in constant time, after hashing
//! both sides, so neither content nor length leaks). A replay is known by
//! the update's `update_id` (Telegram retries an update until it is
//! acknowledged), else by the body.

use super::error::header_str;
use super::replay::digest;
use super::{Delivery, Scheme, SignatureScheme, VerifyConfig, VerifyError};
use http::HeaderMap;

const HEADER: &str = "x-telegram-bot-api-secret-token";

pub struct Verifier;

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "Telegram"
    }

    fn verify(
        &self,
        _: &VerifyConfig,
        d: &Delivery<'_>,
        keys: &[Vec<u8>],
    ) -> Result<(), VerifyError> {
        let sent = header_str(d.headers, Scheme::Telegram, HEADER)?.as_bytes();
        let known = keys.iter().any(|k| crate::secret::equal(k, sent));
        if known {
            Ok(())
        } else {
            Err(VerifyError::Mismatch {
                scheme: Scheme::Telegram,
            })
        }
    }

    fn replay_key(&self, _: &VerifyConfig, _: &HeaderMap, body: &[u8]) -> String {
        let update = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["update_id"].as_i64());
        match update {
            Some(id) => format!("telegram-update:{id}"),
            None => digest(Scheme::Telegram.name(), &[body]),
        }
    }
}
