//! What a hook says, as text: the handler's template rendered against the
//! template context (see [`crate::template::context`]), or, without a
//! template, the body's own words.
//!
//! Pure: no I/O, so every template in the seed is tested against real
//! payloads without a queue or a store.

use super::failure::ActionError;
use super::transform::Shaped;
use crate::config::validate::TemplateField;
use crate::config::{CompiledConfig, Handler};
use crate::event::{self, Body, InboundEvent};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The parsed body, the template context, and the hook's text.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub body: Value,
    pub context: Value,
    pub text: String,
    /// The transform failed or the template failed to render; `text`
    /// holds the fallback, and the failure is reported once the hook is
    /// recorded.
    pub render_error: Option<ActionError>,
    /// The transform's `skip: true`: done, with no action.
    pub skip: bool,
    /// The session the transform put the hook in.
    pub session_key: Option<String>,
}

pub fn prepare(
    cfg: &CompiledConfig,
    handler: Option<&Handler>,
    ev: &InboundEvent,
    now: DateTime<Utc>,
) -> Prepared {
    let (shaped, failed) = shape(handler, ev);
    let moved = shaped.session_key.as_deref().map(|k| ev.in_session(k));
    let ev = moved.as_ref().unwrap_or(ev);
    let body = shaped.body;
    let mut context = crate::template::context(ev, &body, &event::timestamp(now));
    if let (Some(vars), Value::Object(root)) = (shaped.vars, &mut context) {
        root.insert("vars".into(), vars);
    }
    let rendered = handler
        .filter(|h| failed.is_none() && cfg.has_template(&h.id, TemplateField::Message))
        .map(|h| cfg.render(&h.id, TemplateField::Message, &context));
    let (text, render_error) = match rendered {
        Some(Ok(t)) => (t, None),
        Some(Err(e)) => (
            default_text(ev, &body),
            Some(ActionError::permanent("template", e.to_string())),
        ),
        None => (default_text(ev, &body), failed),
    };
    Prepared {
        body,
        context,
        text,
        render_error,
        skip: shaped.skip,
        session_key: shaped.session_key,
    }
}

/// The hook through the handler's transform, if it has one; a failed
/// transform leaves the body as posted, with its error.
fn shape(handler: Option<&Handler>, ev: &InboundEvent) -> (Shaped, Option<ActionError>) {
    let body = ev.body.to_value();
    match handler.and_then(|h| h.transform.as_ref()) {
        None => (Shaped::plain(body), None),
        Some(t) => match super::transform::apply(t, ev, body.clone()) {
            Ok(shaped) => (shaped, None),
            Err(e) => (Shaped::plain(body), Some(e)),
        },
    }
}

/// A body's words without a template: a `message` or `text` field (the
/// seed's curl example posts `{"message": "Hello from external service"}`),
/// else the body itself.
pub fn default_text(ev: &InboundEvent, body: &Value) -> String {
    for key in ["message", "text"] {
        if let Some(s) = body.get(key).and_then(Value::as_str) {
            return s.to_string();
        }
    }
    match &ev.body {
        Body::Json(t) | Body::Text(t) => t.trim().to_string(),
        Body::Form(m) => serde_json::to_string(m).unwrap_or_default(),
        Body::Binary(b64) => format!("(binary body, {} bytes base64)", b64.len()),
        Body::Empty => String::new(),
    }
}
