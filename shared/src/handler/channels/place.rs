//! Where in a channel one hook's message goes: the handler's `target.peer`
//! and `target.thread`, each used as written or, when it is a template
//! (compiled at load), rendered against the hook, so an answer goes back
//! into the conversation the hook came from.

use crate::config::validate::TemplateField;
use crate::config::{CompiledConfig, Target};
use crate::handler::failure::ActionError;
use serde_json::Value;

/// The peer and thread for one hook; a field rendered empty is none (no
/// thread: a message of its own; no peer: the channel's `channelId`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub peer: Option<String>,
    pub thread: Option<String>,
}

/// Renders `target`'s templated fields for the hook whose template context
/// is `context`.
pub fn place(
    cfg: &CompiledConfig,
    handler_id: &str,
    target: &Target,
    context: &Value,
) -> Result<Place, ActionError> {
    let field = |value: &Option<String>, which: TemplateField| {
        let text = if cfg.has_template(handler_id, which) {
            cfg.render(handler_id, which, context)
                .map_err(|e| ActionError::permanent("template", e.to_string()))?
        } else {
            value.clone().unwrap_or_default()
        };
        let text = text.trim();
        Ok::<_, ActionError>((!text.is_empty()).then(|| text.to_string()))
    };
    Ok(Place {
        peer: field(&target.peer, TemplateField::Peer)?,
        thread: field(&target.thread, TemplateField::Thread)?,
    })
}
