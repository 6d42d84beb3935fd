//! `custom` handlers: named Rust functions compiled into the library, or
//! an AWS Lambda function invoked with the event (feature `lambda-invoke`).
//!
//! # Adding a function
//!
//! 1. Write a pure function with the signature [`CustomFn`] in a file of
//!    this folder: it gets the inbound event, the parsed body, the template
//!    context and the handler's `custom.options`, and returns an optional
//!    `text` plus free-form `data`.
//! 2. Add it to [`REGISTRY`] under the name configs use:
//!    `{"action": "custom", "custom": {"function": "<name>", "options": {…}}}`,
//!    and the name to `config::CUSTOM_FUNCTIONS`, which the load checks.
//! 3. Return [`CustomError`] for input it cannot handle: that is a
//!    permanent failure (recorded, `error` emitted, never retried).
//!
//! The `text` a function returns is posted to the handler's `target`
//! channel when it has one, and becomes the event record's result either way.

pub mod extract;
pub mod github;
#[cfg(feature = "lambda-invoke")]
pub mod lambda;

use crate::event::InboundEvent;
use serde_json::Value;

/// What a custom function sees.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub event: &'a InboundEvent,
    /// The posted body, parsed.
    pub body: &'a Value,
    /// The template context (body at the root and under `event`, `headers`, `hook`…).
    pub context: &'a Value,
    /// The handler's `custom.options`.
    pub options: &'a Value,
}

/// What a custom function gives back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Output {
    /// A message for the handler's `target` channel, if any.
    pub text: Option<String>,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CustomError(pub String);

pub type CustomFn = fn(&Input<'_>) -> Result<Output, CustomError>;

/// The functions a config can name, with what they do.
pub const REGISTRY: &[(&str, CustomFn, &str)] = &[
    (
        "github_summary",
        github::summarize,
        "one line per GitHub webhook event (pull_request, push, issues, issue_comment, release, workflow_run, ping…)",
    ),
    (
        "extract_fields",
        extract::extract,
        "picks fields by dotted path (options.fields: {name: path}), with an optional options.format template line",
    ),
];

pub fn lookup(name: &str) -> Option<CustomFn> {
    REGISTRY
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, f, _)| *f)
}

pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|(n, _, _)| *n).collect()
}

/// A value at a dotted path (`pull_request.user.login`, `items.0.id`).
pub fn at_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(v, |cur, seg| match cur {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
}

/// A string field, or "".
pub(crate) fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    at_path(v, path).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name the load accepts must run, and a function must be nameable.
    #[test]
    fn the_registry_implements_exactly_the_names_configs_may_use() {
        assert_eq!(names(), crate::config::CUSTOM_FUNCTIONS);
    }
}
