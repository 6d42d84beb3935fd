//! Microsoft Graph change notifications: no signature header; each
//! notification in `value` carries the `clientState` the subscription was
//! created with, and that shared secret is what is checked (in constant
//! time; every notification of the batch must carry it). Graph's
//! subscription validation (`?validationToken=`) carries nothing secret and
//! is answered by `crate::ingress::handshake`. A replay is known by the
//! body: Graph signs no time and no id.

use super::error::malformed;
use super::replay::digest;
use super::{Delivery, Scheme, SignatureScheme, VerifyConfig, VerifyError};
use http::HeaderMap;
use subtle::ConstantTimeEq;

/// Where the shared secret travels, as refusals name it.
const FIELD: &str = "value[].clientState";

pub struct Verifier;

impl SignatureScheme for Verifier {
    fn label(&self) -> &'static str {
        "Microsoft Graph"
    }

    fn verify(
        &self,
        _: &VerifyConfig,
        d: &Delivery<'_>,
        keys: &[Vec<u8>],
    ) -> Result<(), VerifyError> {
        let s = Scheme::Graph;
        let body: serde_json::Value = serde_json::from_slice(d.body)
            .map_err(|_| malformed(s, FIELD, "the body is not JSON"))?;
        let items = body["value"]
            .as_array()
            .filter(|items| !items.is_empty())
            .ok_or_else(|| malformed(s, FIELD, "no notifications in value"))?;
        let known = |state: &str| keys.iter().any(|k| bool::from(k.ct_eq(state.as_bytes())));
        let all_known = items
            .iter()
            .all(|item| item["clientState"].as_str().is_some_and(known));
        if all_known {
            Ok(())
        } else {
            Err(VerifyError::Mismatch { scheme: s })
        }
    }

    fn replay_key(&self, _: &VerifyConfig, _: &HeaderMap, body: &[u8]) -> String {
        digest(Scheme::Graph.name(), &[body])
    }
}
