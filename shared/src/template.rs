//! Handlebars set up for chat text: no HTML escaping, missing values render
//! empty, objects render as JSON, plus a few helpers the seed's users reach
//! for (`json`, `default`, `truncate`, `upper`, `lower`; `eq` is built in).
//!
//! Templates are compiled once, when the config loads; rendering never parses.

use handlebars::{
    Context, Handlebars, Helper, HelperResult, JsonRender, Output, RenderContext, RenderErrorReason,
};
use serde_json::Value;

/// A fresh registry with our settings and helpers.
pub fn registry() -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.register_escape_fn(handlebars::no_escape);
    h.set_strict_mode(false);
    h.register_helper("json", Box::new(json_helper));
    h.register_helper("default", Box::new(default_helper));
    h.register_helper("truncate", Box::new(truncate_helper));
    h.register_helper("upper", Box::new(upper_helper));
    h.register_helper("lower", Box::new(lower_helper));
    h
}

/// Whether a template uses partials or decorators (`{{> p}}`,
/// `{{#*inline "p"}}`). Config templates may not: no partials are
/// registered, so only inline ones could be called, and an inline partial
/// that calls itself recurses until the stack overflows and the process
/// aborts (found by the `template` fuzz target). Unparsable text answers
/// `false`; compiling it reports the real error.
pub fn uses_partials(source: &str) -> bool {
    use handlebars::template::{Template, TemplateElement};
    fn any(t: &Template) -> bool {
        t.elements.iter().any(|e| match e {
            TemplateElement::PartialExpression(_)
            | TemplateElement::PartialBlock(_)
            | TemplateElement::DecoratorExpression(_)
            | TemplateElement::DecoratorBlock(_) => true,
            TemplateElement::HelperBlock(h)
            | TemplateElement::Expression(h)
            | TemplateElement::HtmlExpression(h) => {
                h.template.as_ref().is_some_and(any) || h.inverse.as_ref().is_some_and(any)
            }
            // RawString, Comment, and whatever later versions add.
            _ => false,
        })
    }
    Template::compile(source).is_ok_and(|t| any(&t))
}

/// Renders a value the way a person reading chat expects: strings bare,
/// objects and arrays as compact JSON.
pub fn display(v: &Value) -> String {
    match v {
        Value::Object(_) | Value::Array(_) => v.to_string(),
        other => other.render(),
    }
}

fn param<'a>(h: &'a Helper, i: usize) -> Option<&'a Value> {
    h.param(i).map(|p| p.value())
}

fn json_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let v = param(h, 0).cloned().unwrap_or(Value::Null);
    let pretty = h
        .hash_get("pretty")
        .map(|p| p.value().as_bool() == Some(true))
        .unwrap_or(false);
    let text = if pretty {
        serde_json::to_string_pretty(&v)
    } else {
        serde_json::to_string(&v)
    };
    out.write(&text.map_err(RenderErrorReason::SerdeError)?)?;
    Ok(())
}

fn default_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let v = param(h, 0);
    let empty = matches!(v, None | Some(Value::Null)) || v == Some(&Value::String(String::new()));
    let chosen = if empty { param(h, 1) } else { v };
    out.write(&chosen.map(display).unwrap_or_default())?;
    Ok(())
}

fn truncate_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let text = param(h, 0).map(display).unwrap_or_default();
    let max = param(h, 1).and_then(Value::as_u64).unwrap_or(100) as usize;
    if text.chars().count() <= max {
        out.write(&text)?;
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        out.write(&cut)?;
        out.write("…")?;
    }
    Ok(())
}

fn upper_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    out.write(&param(h, 0).map(display).unwrap_or_default().to_uppercase())?;
    Ok(())
}

fn lower_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    out.write(&param(h, 0).map(display).unwrap_or_default().to_lowercase())?;
    Ok(())
}

/// The data a handler's templates see, built the same way at ingress (for
/// `sessionKey` templates) and in the handler stage:
/// the posted body at the root and under `event`, the envelope's `data`
/// under `data`, then `headers`, `query`, `hook` and `now`.
pub fn context(ev: &crate::event::InboundEvent, body: &Value, now: &str) -> Value {
    let mut root = match body {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let envelope_data = envelope(body).map(|e| e.data.clone());
    root.insert("event".into(), body.clone());
    if let Some(d) = envelope_data {
        root.insert("data".into(), d);
    }
    root.insert(
        "headers".into(),
        serde_json::to_value(&ev.headers).unwrap_or_default(),
    );
    root.insert(
        "query".into(),
        serde_json::to_value(&ev.query).unwrap_or_default(),
    );
    root.insert(
        "hook".into(),
        serde_json::json!({
            "id": ev.hook_id,
            "handlerId": ev.handler_id,
            "eventId": ev.event_id,
            "sessionKey": ev.session_key,
            "receivedAt": crate::event::timestamp(ev.received_at),
            "sourceIp": ev.source_ip,
        }),
    );
    root.insert("now".into(), Value::String(now.to_string()));
    Value::Object(root)
}

/// The seed's incoming envelope: `{"event": "...", "data": {...}, "timestamp": "..."}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    pub event: &'a str,
    pub data: &'a Value,
    pub timestamp: Option<&'a str>,
}

/// Recognises the envelope: a string `event` and a `data` key, and nothing
/// beyond an optional `timestamp`.
pub fn envelope(body: &Value) -> Option<Envelope<'_>> {
    let m = body.as_object()?;
    let event = m.get("event")?.as_str()?;
    let data = m.get("data")?;
    if m.keys()
        .any(|k| !matches!(k.as_str(), "event" | "data" | "timestamp"))
    {
        return None;
    }
    Some(Envelope {
        event,
        data,
        timestamp: m.get("timestamp").and_then(Value::as_str),
    })
}
