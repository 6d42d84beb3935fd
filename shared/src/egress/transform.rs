//! An outgoing subscription's `transform` on one delivery: the script gets
//! `{type, payload, headers}` and answers `null` to cancel the delivery, or
//! an object that may replace `payload` (the request body) and `headers`.
//!
//! The subscription's own `headers` (which may carry credentials) are never
//! shown to the script, and they, the signature and the identity headers
//! are added after its answer, so a script cannot read or forge them.

use crate::config::load::kind;
use crate::config::Outgoing;
use crate::event::LifecycleEvent;
use serde_json::{json, Map, Value};

/// The request a delivery sends, before the subscription's own headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// What the transform made of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Shaped {
    Send(Parts),
    /// The script answered `null`: no request, logged `cancelled`.
    Cancel,
    /// The script failed; the same script fails the same way again.
    Failed(String),
}

/// The delivery of `ev` to `sub`, through its transform if it has one.
pub fn shape(sub: &Outgoing, ev: &LifecycleEvent) -> Shaped {
    let payload = serde_json::to_value(ev).expect("event serializes");
    let headers = json!({"content-type": "application/json"});
    let Some(t) = &sub.transform else {
        return Shaped::Send(parts(&payload, &headers));
    };
    let input = json!({"type": ev.kind, "payload": payload, "headers": headers});
    match run(t, &input) {
        Ok(out) => read(out, payload, headers),
        Err(e) => Shaped::Failed(format!("transform: {e}")),
    }
}

#[cfg(feature = "transforms")]
fn run(t: &crate::config::transform::Transform, input: &Value) -> Result<Value, String> {
    crate::transform::run(t.source(), input, t.limits()).map_err(|e| e.to_string())
}

#[cfg(not(feature = "transforms"))]
fn run(_: &crate::config::transform::Transform, _: &Value) -> Result<Value, String> {
    Err("this build runs no transforms (feature `transforms`)".into())
}

/// The script's answer: `null` cancels; `payload` and `headers` replace
/// what they name.
fn read(out: Value, payload: Value, headers: Value) -> Shaped {
    let mut out = match out {
        Value::Null => return Shaped::Cancel,
        Value::Object(o) => o,
        other => {
            return Shaped::Failed(format!(
                "transform: returned {}, not an object or null",
                kind(&other)
            ))
        }
    };
    let payload = out.remove("payload").unwrap_or(payload);
    let headers = out.remove("headers").unwrap_or(headers);
    if let Some(k) = out.keys().next() {
        let k: String = k.chars().take(64).collect();
        return Shaped::Failed(format!(
            "transform: returned an unknown key {k:?} (it may set payload, headers)"
        ));
    }
    match headers
        .as_object()
        .filter(|h| h.values().all(Value::is_string))
    {
        Some(_) => Shaped::Send(parts(&payload, &headers)),
        None => Shaped::Failed("transform: headers must be an object of strings".into()),
    }
}

fn parts(payload: &Value, headers: &Value) -> Parts {
    let strings = |m: &Map<String, Value>| {
        m.iter()
            .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
            .collect()
    };
    Parts {
        body: serde_json::to_vec(payload).expect("JSON serializes"),
        headers: headers.as_object().map(strings).unwrap_or_default(),
    }
}
