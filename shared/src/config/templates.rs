//! A handler's templates (its message, its session key, its forward body),
//! compiled once at load and rendered by name on each hook.

use super::error::ConfigError;
use super::{Handler, Target};
use crate::template;
use handlebars::Handlebars;
use serde_json::Value;

/// Which template of a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateField {
    Message,
    SessionKey,
    ForwardBody,
    Respond,
    /// `target.peer`, when it is a template.
    Peer,
    /// `target.thread`, when it is a template.
    Thread,
}

impl TemplateField {
    fn key(self) -> &'static str {
        match self {
            TemplateField::Message => "template",
            TemplateField::SessionKey => "sessionKey",
            TemplateField::ForwardBody => "forward.bodyTemplate",
            TemplateField::Respond => "respond.template",
            TemplateField::Peer => "target.peer",
            TemplateField::Thread => "target.thread",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct RenderError {
    pub name: String,
    pub message: String,
}

/// A handler's templates, compiled once at load.
pub(super) struct Templates {
    /// Message and body templates: objects render as JSON (template::compile).
    text: Handlebars<'static>,
    /// Session keys stay plain, and strict: a missing field is an error, not
    /// an empty string that would merge unrelated hooks into one session.
    keys: Handlebars<'static>,
}

impl Templates {
    pub(super) fn new() -> Self {
        let mut keys = template::registry();
        keys.set_strict_mode(true);
        Templates {
            text: template::registry(),
            keys,
        }
    }

    /// Compiles each template `h` has, with an error at its key for one
    /// that does not compile or uses what templates do not support.
    pub(super) fn add(&mut self, h: &Handler, at: &str, errors: &mut Vec<ConfigError>) {
        for (field, text) in [
            (TemplateField::Message, h.template.as_deref()),
            (
                TemplateField::SessionKey,
                h.session_key.as_deref().filter(|k| k.contains("{{")),
            ),
            (
                TemplateField::ForwardBody,
                h.forward.as_ref().and_then(|f| f.body_template.as_deref()),
            ),
            (
                TemplateField::Respond,
                h.respond.as_ref().and_then(|r| r.template.as_deref()),
            ),
            (TemplateField::Peer, target_template(h, |t| &t.peer)),
            (TemplateField::Thread, target_template(h, |t| &t.thread)),
        ] {
            let Some(text) = text else { continue };
            let at = format!("{at}.{}", field.key());
            if template::uses_partials(text) {
                errors.push(ConfigError::new(
                    at,
                    format!("handler {:?}: partials and decorators ({{{{> …}}}}, {{{{#*inline …}}}}) are not supported in templates", h.id),
                ));
                continue;
            }
            let name = template_name(&h.id, field);
            let compiled = if field == TemplateField::SessionKey {
                self.keys.register_template_string(&name, text)
            } else {
                template::compile(text).map(|t| self.text.register_template(&name, t))
            };
            if let Err(e) = compiled {
                errors.push(ConfigError::new(
                    at,
                    format!(
                        "handler {:?}: template does not compile: {}",
                        h.id,
                        e.reason()
                    ),
                ));
            }
        }
    }

    pub(super) fn has(&self, handler_id: &str, field: TemplateField) -> bool {
        self.registry(field)
            .has_template(&template_name(handler_id, field))
    }

    /// Renders a handler's compiled template against `data`.
    pub(super) fn render(
        &self,
        handler_id: &str,
        field: TemplateField,
        data: &Value,
    ) -> Result<String, RenderError> {
        let name = template_name(handler_id, field);
        self.registry(field)
            .render(&name, data)
            .map_err(|e| RenderError {
                name: format!("handlers.{handler_id}.{}", field.key()),
                message: match e.reason() {
                    handlebars::RenderErrorReason::MissingVariable(Some(v)) => {
                        format!("the payload has no value at {v}")
                    }
                    other => other.to_string(),
                },
            })
    }

    fn registry(&self, field: TemplateField) -> &Handlebars<'static> {
        match field {
            TemplateField::SessionKey => &self.keys,
            _ => &self.text,
        }
    }
}

/// A `target` field that is a template; a plain one is used as written.
fn target_template(h: &Handler, field: impl Fn(&Target) -> &Option<String>) -> Option<&str> {
    h.target
        .as_ref()
        .and_then(|t| field(t).as_deref())
        .filter(|s| s.contains("{{"))
}

fn template_name(handler_id: &str, field: TemplateField) -> String {
    format!("{handler_id}\u{0}{}", field.key())
}
