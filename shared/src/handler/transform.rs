//! A handler's `transform` on one hook: the script gets `{body, headers,
//! query, hook}` and answers an object that may set `body` (what the
//! template sees as `event`), `sessionKey`, `vars` (the template's `vars`)
//! or `skip: true` (the hook is done with no action, status `skipped`).
//!
//! A throw, a timeout, the heap limit or an answer of another shape fails
//! the hook permanently: the same script fails the same way on the same
//! hook, so a retry would only repeat it.

use super::failure::ActionError;
use crate::config::load::kind;
use crate::config::transform::Transform;
use crate::event::InboundEvent;
use serde_json::{json, Map, Value};

/// The hook as the transform left it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shaped {
    pub body: Value,
    pub session_key: Option<String>,
    pub vars: Option<Value>,
    pub skip: bool,
}

impl Shaped {
    /// The hook untouched: no transform.
    pub fn plain(body: Value) -> Self {
        Shaped {
            body,
            session_key: None,
            vars: None,
            skip: false,
        }
    }
}

/// The longest session key a transform may set.
const MAX_SESSION_KEY: usize = 256;

/// What the script receives.
pub fn input(ev: &InboundEvent, body: &Value) -> Value {
    json!({"body": body, "headers": ev.headers, "query": ev.query, "hook": ev.hook_id})
}

/// Runs `t` on the hook whose parsed body is `body`.
pub fn apply(t: &Transform, ev: &InboundEvent, body: Value) -> Result<Shaped, ActionError> {
    let out = run(t, &input(ev, &body))?;
    read(out, body)
}

#[cfg(feature = "transforms")]
fn run(t: &Transform, input: &Value) -> Result<Value, ActionError> {
    crate::transform::run(t.source(), input, t.limits())
        .map_err(|e| ActionError::permanent("transform", e.to_string()))
}

#[cfg(not(feature = "transforms"))]
fn run(_: &Transform, _: &Value) -> Result<Value, ActionError> {
    Err(ActionError::permanent(
        "transform",
        "this build runs no transforms (feature `transforms`)",
    ))
}

/// The script's answer read into a [`Shaped`]; `body` stays as it was
/// unless the answer sets it.
pub fn read(out: Value, body: Value) -> Result<Shaped, ActionError> {
    let bad = |m: String| ActionError::permanent("transform", m);
    let Value::Object(mut out) = out else {
        return Err(bad(format!(
            "transform returned {}, not an object",
            kind(&out)
        )));
    };
    let mut shaped = Shaped::plain(body);
    if let Some(b) = out.remove("body") {
        shaped.body = b;
    }
    match out.remove("sessionKey") {
        None | Some(Value::Null) => {}
        Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_SESSION_KEY => {
            shaped.session_key = Some(k)
        }
        Some(v) => {
            return Err(bad(format!(
                "sessionKey must be a string of 1 to {MAX_SESSION_KEY} bytes, not {}",
                kind(&v)
            )))
        }
    }
    match out.remove("vars") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => shaped.vars = Some(v),
        Some(v) => return Err(bad(format!("vars must be an object, not {}", kind(&v)))),
    }
    match out.remove("skip") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => shaped.skip = b,
        Some(v) => return Err(bad(format!("skip must be true or false, not {}", kind(&v)))),
    }
    unknown(&out).map_or(Ok(shaped), |k| {
        Err(bad(format!(
            "transform returned an unknown key {k:?} (it may set body, sessionKey, vars, skip)"
        )))
    })
}

fn unknown(rest: &Map<String, Value>) -> Option<String> {
    rest.keys().next().map(|k| k.chars().take(64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_sets_only_what_it_names() {
        let body = json!({"a": 1});
        assert_eq!(
            read(json!({}), body.clone()).unwrap(),
            Shaped::plain(body.clone())
        );
        let shaped = read(
            json!({"body": {"b": 2}, "sessionKey": "k", "vars": {"v": 1}, "skip": false}),
            body.clone(),
        )
        .unwrap();
        assert_eq!(shaped.body, json!({"b": 2}));
        assert_eq!(shaped.session_key.as_deref(), Some("k"));
        assert_eq!(shaped.vars, Some(json!({"v": 1})));
        for (out, says) in [
            (json!(null), "transform returned null, not an object"),
            (json!({"sessionKey": 3}), "sessionKey must be a string"),
            (json!({"sessionKey": ""}), "sessionKey must be a string"),
            (json!({"vars": [1]}), "vars must be an object, not an array"),
            (json!({"skip": "yes"}), "skip must be true or false"),
            (json!({"bdy": {}}), "unknown key \"bdy\""),
        ] {
            let e = read(out.clone(), body.clone()).unwrap_err();
            assert!(!e.is_transient(), "{out}");
            assert!(e.message().contains(says), "{out}: {e}");
        }
    }
}
