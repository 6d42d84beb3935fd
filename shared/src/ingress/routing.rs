//! Content routing in ingress: after the hook authenticated as its route's
//! first handler and before anything is kept, the handlers' filters pick
//! the one that takes it ([`crate::config::routing`]), or none, and then
//! nothing is kept or queued.

use super::{body, Hook};
use crate::config::{CompiledConfig, Handler};
use crate::filter;
use crate::refusal::Refusal;
use serde_json::Value;
use std::collections::BTreeMap;

/// What the filters decided for a hook.
pub(super) enum Routed<'a> {
    /// This handler takes it (or no handler is named: the unknown-hook rules apply).
    To(Option<&'a Handler>),
    /// Every handler on the route refused it by its filter.
    Filtered,
}

/// Picks the handler a hook goes to; a route without filters costs nothing
/// (the body is read by a filter only where one exists). The body's size
/// has been checked; a body that does not read as its content type says
/// is refused here as it would be when kept.
pub(super) fn route<'a>(
    cfg: &'a CompiledConfig,
    hook_id: &str,
    first: Option<&'a Handler>,
    req: &Hook,
    query: &BTreeMap<String, String>,
) -> Result<Routed<'a>, Refusal> {
    if !cfg.filters(hook_id) {
        return Ok(Routed::To(first));
    }
    let input = input(req, query)?;
    let pick = cfg.pick(hook_id, &input);
    Ok(match pick.taken_by {
        Some(i) => Routed::To(cfg.config.webhooks.handlers.get(i)),
        None => Routed::Filtered,
    })
}

/// What the filters read: the body as ingress reads it, the headers, the
/// query. 400 for a body that does not read as its content type says.
pub(super) fn input(req: &Hook, query: &BTreeMap<String, String>) -> Result<Value, Refusal> {
    let content_type = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let (_, body) = body::classify(content_type, &req.body).map_err(Refusal::BadRequest)?;
    Ok(filter::input(body, headers(req), query))
}

/// The hook's headers as text; a value that is not text is left out.
fn headers(req: &Hook) -> impl Iterator<Item = (&str, &str)> {
    req.headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
}
