//! Durations in config: `"24h"`, `"90s"`, `"1h 30m"`, or a bare number of seconds.

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub u64);

impl Seconds {
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            de::Error::custom("expected a duration such as \"24h\" or a number of seconds")
        })? {
            Raw::Number(n) => Ok(Seconds(n)),
            Raw::Text(t) => humantime::parse_duration(&t)
                .map(|d| Seconds(d.as_secs()))
                .map_err(|e| de::Error::custom(format!("invalid duration {t:?}: {e}"))),
        }
    }
}

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl JsonSchema for Seconds {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: \"24h\", \"30m\", \"90s\", or a number of seconds",
            "type": ["string", "integer"]
        })
    }
}
