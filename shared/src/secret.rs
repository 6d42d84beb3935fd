//! A string that must never be printed.
//!
//! Config secrets, signing keys, channel tokens and agent keys are all held as
//! [`Secret`], whose `Debug`, `Display` and `Serialize` all give
//! `[redacted]`, so a stray `{:?}` in a log line or an error, or a config
//! serialized for an answer or a page, cannot leak them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Whether a presented secret equals a known one, in constant time: both
/// are hashed first, so neither their content nor their length leaks.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (Sha256::digest(a), Sha256::digest(b));
    bool::from(ha.as_slice().ct_eq(hb.as_slice()))
}

/// What a secret shows instead of its value.
pub const REDACTED: &str = "[redacted]";

#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret's bytes, for the few places (HMAC keys, constant-time
    /// comparison, outbound auth headers) that need the real value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Nothing reads a secret back from serialized form (configs are only ever
/// read from their files), so serializing is only ever for showing.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// A URL as scheme, host and port; any path or query becomes `[redacted]`
/// (Slack and Discord webhook URLs, Telegram's bot URLs carry their token
/// there).
pub fn url_shape(url: &str) -> String {
    let Ok(u) = reqwest::Url::parse(url) else {
        return format!("[unparsable URL {REDACTED}]");
    };
    let mut shown = format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
    if let Some(port) = u.port() {
        shown.push_str(&format!(":{port}"));
    }
    if u.path() != "/" || u.query().is_some() {
        shown.push('/');
        shown.push_str(REDACTED);
    }
    shown
}

/// A URL that may carry a token in its path or query (a service's
/// `apiBase`, a generic webhook's `url`): `Debug` and `Serialize` show only
/// its [`url_shape`].
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct TokenUrl(String);

impl TokenUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", url_shape(&self.0))
    }
}

impl Serialize for TokenUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&url_shape(&self.0))
    }
}

/// A free-form value that may hold credentials (`custom.options`): `Debug`
/// and `Serialize` show `[redacted]`, whatever its shape, so a new key in it
/// is hidden without anyone listing it. What may be shown of it (the
/// options named in `publicOptions`) is picked out explicitly.
#[derive(Clone, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    pub fn new(value: T) -> Self {
        Redacted(value)
    }

    /// The value, for the function it is passed to.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> Serialize for Redacted<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_shape_only() {
        for (url, shown) in [
            (
                "https://hooks.slack.com/services/T0/B0/token",
                "\"https://hooks.slack.com/[redacted]\"",
            ),
            ("http://127.0.0.1:8080/", "\"http://127.0.0.1:8080\""),
            (
                "https://api.example.com?key=abc",
                "\"https://api.example.com/[redacted]\"",
            ),
            ("not a url", "\"[unparsable URL [redacted]]\""),
        ] {
            let u: TokenUrl = serde_json::from_value(url.into()).unwrap();
            assert_eq!(format!("{u:?}"), shown);
            assert_eq!(serde_json::to_string(&u).unwrap(), shown);
        }
    }

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(s.expose(), "hunter2");
        let r: Redacted<serde_json::Value> =
            serde_json::from_str(r#"{"token": "hunter2"}"#).unwrap();
        assert_eq!(format!("{r:?}"), "[redacted]");
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"[redacted]\"");
        assert_eq!(r.expose()["token"], "hunter2");
    }
}
