//! Handlebars set up for chat text: no HTML escaping, missing values render
//! empty, objects render as JSON, plus a few helpers the seed's users reach
//! for (`json`, `default`, `truncate`, `upper`, `lower`; `eq` is built in).
//!
//! Templates are compiled once, when the config loads; rendering never parses.
//! [`compile`] also rewrites every bare `{{path}}` into a call of a value
//! helper, because handlebars itself prints objects as `[object]`, which
//! tells a chat reader nothing.

use handlebars::template::{Parameter, Template, TemplateElement};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, JsonRender, Output, Path, RenderContext,
    RenderErrorReason, TemplateError,
};
use serde_json::Value;

/// The helper bare expressions are rewritten to. Its name cannot clash with
/// a key of a posted body that anyone would write in a template.
const VALUE_HELPER: &str = "__clawhooks_value";

/// A fresh registry with our settings and helpers.
pub fn registry() -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.register_escape_fn(handlebars::no_escape);
    h.set_strict_mode(false);
    h.register_helper("json", Box::new(json_helper));
    h.register_helper("default", Box::new(default_helper));
    h.register_helper("truncate", Box::new(truncate_helper));
    h.register_helper("upper", text_helper(|s| s.to_uppercase()));
    h.register_helper("lower", text_helper(|s| s.to_lowercase()));
    h.register_helper(VALUE_HELPER, text_helper(|s| s));
    h
}

/// Parses a template and rewrites its bare value expressions (`{{a.b}}`,
/// also inside `#each`/`#if`/`#with` blocks) so objects and arrays render
/// as JSON. Expressions naming a helper of `registry` are left alone.
pub fn compile(text: &str) -> Result<Template, TemplateError> {
    let mut t = Template::compile(text)?;
    rewrite(&mut t);
    Ok(t)
}

/// Helpers a bare `{{name}}` may call: handlebars' own and [`registry`]'s.
/// (Handlebars does not let us ask a registry which helpers it has.)
const HELPERS: &[&str] = &[
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "raw",
    "log",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
    "json",
    "default",
    "truncate",
    "upper",
    "lower",
    VALUE_HELPER,
];

fn is_helper(name: &str) -> bool {
    HELPERS.contains(&name)
}

fn rewrite(t: &mut Template) {
    for el in &mut t.elements {
        match el {
            TemplateElement::Expression(ht) | TemplateElement::HtmlExpression(ht)
                if ht.params.is_empty() && ht.hash.is_empty() && !ht.block =>
            {
                let path = match &ht.name {
                    Parameter::Path(p) if !is_helper(p_raw(&ht.name)) => Some(p.clone()),
                    Parameter::Name(n) if !is_helper(n) => Path::parse(n).ok(),
                    _ => None,
                };
                if let Some(path) = path {
                    ht.params = vec![Parameter::Path(path)];
                    ht.name = Parameter::Name(VALUE_HELPER.to_string());
                }
            }
            TemplateElement::HelperBlock(ht) => {
                if let Some(inner) = ht.template.as_mut() {
                    rewrite(inner);
                }
                if let Some(inner) = ht.inverse.as_mut() {
                    rewrite(inner);
                }
            }
            _ => {}
        }
    }
}

fn p_raw(p: &Parameter) -> &str {
    p.as_name().unwrap_or_default()
}

/// A helper that writes its first parameter, displayed, through `f`.
fn text_helper(f: fn(String) -> String) -> Box<dyn HelperDef + Send + Sync> {
    Box::new(
        move |h: &Helper,
              _: &Handlebars,
              _: &Context,
              _: &mut RenderContext,
              out: &mut dyn Output|
              -> HelperResult {
            out.write(&f(param(h, 0).map(display).unwrap_or_default()))?;
            Ok(())
        },
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(text: &str, data: Value) -> String {
        let mut reg = registry();
        let t = compile(text).expect("compiles");
        reg.register_template("t", t);
        reg.render("t", &data).expect("renders")
    }

    #[test]
    fn objects_and_arrays_render_as_json_not_as_placeholders() {
        let data = json!({"repo": {"name": "x", "id": 1}, "tags": ["a", "b"], "n": 3});
        assert_eq!(render("{{repo}}", data.clone()), r#"{"id":1,"name":"x"}"#);
        assert_eq!(render("{{tags}} {{n}}", data.clone()), r#"["a","b"] 3"#);
        assert_eq!(
            render("{{#each tags}}[{{this}}]{{/each}}", data.clone()),
            "[a][b]"
        );
        assert_eq!(render("{{#with repo}}{{name}}{{/with}}", data.clone()), "x");
        assert_eq!(
            render("{{#if repo}}{{repo.name}}{{else}}none{{/if}}", data),
            "x"
        );
    }

    #[test]
    fn missing_values_render_empty_and_text_is_not_html_escaped() {
        let data = json!({"a": "<b> & \"c\""});
        assert_eq!(render("[{{missing}}][{{a.b.c}}]", data.clone()), "[][]");
        assert_eq!(render("{{a}}", data), r#"<b> & "c""#);
    }

    #[test]
    fn helpers() {
        let data = json!({"s": "Hello World", "o": {"k": 1}, "e": "", "x": "a"});
        assert_eq!(
            render("{{upper s}} {{lower s}}", data.clone()),
            "HELLO WORLD hello world"
        );
        assert_eq!(render("{{truncate s 6}}", data.clone()), "Hello…");
        assert_eq!(
            render(
                "{{default e \"none\"}}|{{default s \"none\"}}",
                data.clone()
            ),
            "none|Hello World"
        );
        assert_eq!(render("{{json o}}", data.clone()), r#"{"k":1}"#);
        assert_eq!(
            render("{{#if (eq x \"a\")}}yes{{else}}no{{/if}}", data),
            "yes"
        );
    }
}
