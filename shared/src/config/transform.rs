//! A `transform`: JavaScript that reshapes a hook (a handler's) or a
//! delivery (an outgoing subscription's), given as `code` or as a `file`
//! relative to the config file, with its limits. Its text is read at load
//! ([`inline_files`]); the functions that run transforms also compile it
//! there, so a syntax error is a load error with its line (feature
//! `transforms`; ingress keeps the text and never runs it).

use super::error::ConfigError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transform {
    /// The script: it defines `function transform(input)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A `.js` file holding the script, relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Wall-clock time one call may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Heap one call may use, in megabytes.
    #[serde(default = "default_max_memory_mb")]
    pub max_memory_mb: u64,
}

fn default_timeout_ms() -> u64 {
    50
}

fn default_max_memory_mb() -> u64 {
    16
}

impl Transform {
    /// The script's text (a `file` was read into it at load).
    pub fn source(&self) -> &str {
        self.code.as_deref().unwrap_or_default()
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.max_memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// What one run of this script may spend.
    #[cfg(feature = "transforms")]
    pub fn limits(&self) -> crate::transform::Limits {
        crate::transform::Limits {
            timeout: self.timeout(),
            memory_bytes: self.memory_bytes(),
        }
    }
}

/// Reads each `transform.file` of one config file (`raw`, as parsed) into
/// its `code`, relative to `dir`, the file's folder.
pub(super) fn inline_files(raw: &mut Value, dir: &Path) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for list in ["handlers", "outgoing"] {
        let Some(items) = raw
            .pointer_mut(&format!("/webhooks/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for (i, item) in items.iter_mut().enumerate() {
            let Some(t) = item.get_mut("transform").and_then(Value::as_object_mut) else {
                continue;
            };
            let Some(file) = t.get("file").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let path = format!("webhooks.{list}[{i}].transform");
            if t.contains_key("code") {
                errors.push(ConfigError::new(&path, "takes `code` or `file`, not both"));
                continue;
            }
            match std::fs::read_to_string(dir.join(&file)) {
                Ok(text) => {
                    t.insert("code".into(), Value::String(text));
                }
                Err(e) => errors.push(ConfigError::new(
                    format!("{path}.file"),
                    format!("cannot read {file:?} (relative to the config file): {e}"),
                )),
            }
        }
    }
    errors
}

/// The checks of one transform at `path`: its limits, its text, and, where
/// this build runs transforms, that it compiles and defines `transform`.
pub(super) fn check(path: &str, t: &Transform, errors: &mut Vec<ConfigError>) {
    if !(1..=5000).contains(&t.timeout_ms) {
        errors.push(ConfigError::new(
            format!("{path}.timeoutMs"),
            format!("must be between 1 and 5000, not {}", t.timeout_ms),
        ));
    }
    if !(1..=256).contains(&t.max_memory_mb) {
        errors.push(ConfigError::new(
            format!("{path}.maxMemoryMb"),
            format!("must be between 1 and 256, not {}", t.max_memory_mb),
        ));
    }
    if t.code.is_none() {
        let why = match &t.file {
            Some(_) => "`file` is read relative to a config file; give the script as `code` here",
            None => "needs `code` (the script) or `file` (a .js file beside the config)",
        };
        errors.push(ConfigError::new(path, why));
    } else {
        compiles(path, t, errors);
    }
}

/// A syntax error is a load error with its line, where the engine is built in.
#[cfg(feature = "transforms")]
fn compiles(path: &str, t: &Transform, errors: &mut Vec<ConfigError>) {
    if let Err(e) = crate::transform::check(t.source(), t.limits()) {
        errors.push(ConfigError::new(path, e.to_string()));
    }
}

#[cfg(not(feature = "transforms"))]
fn compiles(_: &str, _: &Transform, _: &mut Vec<ConfigError>) {}
