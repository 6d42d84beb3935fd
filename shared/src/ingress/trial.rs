//! `clawhooks try`: what ingress would decide for a hook, without keeping
//! it: which handler takes it (and which filters refused it first), and the
//! event the handler would get. No secret check, no rate limit, no store.

use super::{check_hook_id, inbound_event, parse_query, routing, within_size, Hook};
use crate::config::CompiledConfig;
use crate::event::InboundEvent;
use crate::refusal::Refusal;
use chrono::{DateTime, Utc};

/// Ingress's decision on a tried hook.
#[derive(Debug, Clone)]
pub struct Trial {
    /// The handlers the hook id reaches, in the order their filters are
    /// tried, by index in `webhooks.handlers`.
    pub candidates: Vec<usize>,
    /// The handlers whose filter refused the hook.
    pub refused_by: Vec<usize>,
    /// The handler that takes it, and the event it would get; `None` when
    /// every filter refused it (answered 200 `filtered`).
    pub taken: Option<(usize, InboundEvent)>,
}

/// Decides as ingress would for a hook posted to `/webhook/<hook_id>` at
/// `now`; a refusal is what the sender would get (an unknown hook id, a
/// body too large or not readable, a session key that cannot render).
pub fn trial(
    cfg: &CompiledConfig,
    hook_id: &str,
    req: &Hook,
    now: DateTime<Utc>,
) -> Result<Trial, Refusal> {
    check_hook_id(hook_id)?;
    let candidates = cfg.candidates(hook_id);
    if candidates.is_empty() {
        return Err(Refusal::NotFound(format!(
            "no handler has the id or path {hook_id:?}"
        )));
    }
    within_size(&cfg.config.webhooks.incoming, req)?;
    let query = parse_query(req.query.as_deref());
    let input = routing::input(req, &query)?;
    let pick = cfg.pick(hook_id, &input);
    let taken = match pick.taken_by {
        Some(i) => {
            let handler = cfg.config.webhooks.handlers.get(i);
            let ev = inbound_event(cfg, hook_id, handler, req.peer, query, req, now)?;
            Some((i, ev))
        }
        None => None,
    };
    Ok(Trial {
        candidates,
        refused_by: pick.refused_by,
        taken,
    })
}
