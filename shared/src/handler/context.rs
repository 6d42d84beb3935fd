//! What a hook says, as text: the handler's template rendered against the
//! template context (see [`crate::template::context`]), or, without a
//! template, the body's own words.
//!
//! Pure: no I/O, so every template in the seed is tested against real
//! payloads without a queue or a store.

use super::failure::ActionError;
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
    /// The template failed to render; `text` holds the fallback, and the
    /// failure is reported once the hook is recorded.
    pub render_error: Option<ActionError>,
}

pub fn prepare(
    cfg: &CompiledConfig,
    handler: Option<&Handler>,
    ev: &InboundEvent,
    now: DateTime<Utc>,
) -> Prepared {
    let body = ev.body.to_value();
    let context = crate::template::context(ev, &body, &event::timestamp(now));
    let rendered = handler
        .filter(|h| cfg.has_template(&h.id, TemplateField::Message))
        .map(|h| cfg.render(&h.id, TemplateField::Message, &context));
    let (text, render_error) = match rendered {
        Some(Ok(t)) => (t, None),
        Some(Err(e)) => (
            default_text(ev, &body),
            Some(ActionError::permanent("template", e.to_string())),
        ),
        None => (default_text(ev, &body), None),
    };
    Prepared {
        body,
        context,
        text,
        render_error,
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
