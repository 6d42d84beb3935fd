//! The playground's work: the edited config, the past hooks, and both
//! handlers run on each.

use super::{Outcome, PlaygroundAnswer, PlaygroundRequest, Tried, BUDGET, PAYLOADS};
use crate::api::extract::Body;
use crate::api::listing::{events_page, EventFilter};
use crate::api::AppState;
use crate::config::{validate, CompiledConfig, Config, Handler};
use crate::event::{EventRecord, InboundEvent, ReceivedRequest};
use crate::handler::{context, status};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(
    State(ingress): State<AppState>,
    Body(body): Body,
) -> Result<Json<PlaygroundAnswer>, Refusal> {
    let ask: PlaygroundRequest = serde_json::from_slice(&body).map_err(|e| {
        Refusal::BadRequest(format!(
            "body must be JSON like {{\"handler\": \"id\", \"template\": \"…\"}}: {e}"
        ))
    })?;
    let current = Arc::clone(&ingress.config);
    let edited = Arc::new(edited(&current, &ask)?);
    let handler = current
        .handler_by_id(&ask.handler)
        .ok_or_else(|| unknown(&ask.handler))?;
    let records = past(&ingress, &hook_ids(handler)).await?;
    let now = ingress.clock.now();
    let id = ask.handler.clone();
    // Scripts run to their own timeouts: off the async workers, and no
    // payload starts once the call has spent its budget.
    let started = Instant::now();
    let (payloads, cut_short) = tokio::task::spawn_blocking(move || {
        let mut done = Vec::new();
        for r in &records {
            if started.elapsed() >= BUDGET {
                return (done, true);
            }
            done.extend(tried(&current, &edited, &id, r, now));
        }
        (done, false)
    })
    .await
    .map_err(|e| Refusal::backend("the playground", e))?;
    Ok(Json(PlaygroundAnswer {
        ok: true,
        handler: ask.handler,
        payloads,
        cut_short,
    }))
}

/// What a handler is posted to: its id, and its path if it has one.
fn hook_ids(h: &Handler) -> Vec<String> {
    let mut ids = vec![h.id.clone()];
    ids.extend(h.path.as_deref().map(crate::config::routing::route_of));
    ids.dedup();
    ids
}

fn unknown(id: &str) -> Refusal {
    Refusal::BadRequest(format!(
        "handler: no handler has the id {:?}",
        crate::event::cut(id, 128)
    ))
}

/// The config with the handler's keys replaced, compiled as load compiles it.
fn edited(current: &CompiledConfig, ask: &PlaygroundRequest) -> Result<CompiledConfig, Refusal> {
    let mut config: Config = current.config.clone();
    let Some(h) = config
        .webhooks
        .handlers
        .iter_mut()
        .find(|h| h.id == ask.handler)
    else {
        return Err(unknown(&ask.handler));
    };
    replace(h, ask)?;
    let mut compiled = validate::compile(config).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    compiled.substituted = current.substituted.clone();
    Ok(compiled)
}

fn replace(h: &mut Handler, ask: &PlaygroundRequest) -> Result<(), Refusal> {
    let bad = |m: String| Refusal::BadRequest(m);
    if let Some(f) = &ask.filter {
        h.filter = (!f.is_null()).then(|| f.clone());
    }
    if let Some(t) = &ask.transform {
        h.transform = match t {
            Value::Null => None,
            t => {
                let t: crate::config::transform::Transform = serde_json::from_value(t.clone())
                    .map_err(|e| bad(format!("transform: {e}")))?;
                if t.file.is_some() {
                    return Err(bad(
                        "transform.file: a file is read only at load; give the script as `code`"
                            .into(),
                    ));
                }
                Some(t)
            }
        };
    }
    if let Some(t) = &ask.template {
        h.template = match t {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(bad("template: must be a string or null".into())),
        };
    }
    Ok(())
}

/// The newest [`PAYLOADS`] hooks posted to any of `hook_ids`, with the
/// requests their records keep.
async fn past(ingress: &AppState, hook_ids: &[String]) -> Result<Vec<EventRecord>, Refusal> {
    let store = ingress.backend.store.as_ref();
    let now = ingress.clock.now().timestamp();
    let kept = ingress.config.config.webhooks.status_kept_secs();
    let failed = |e| Refusal::backend("the playground's events", e);
    let mut listed = Vec::new();
    for hook in hook_ids {
        let filter = EventFilter {
            hook: Some(hook.clone()),
            ..EventFilter::default()
        };
        let page = events_page(store, &filter, None, PAYLOADS, now, kept)
            .await
            .map_err(failed)?;
        listed.extend(page.events);
    }
    listed.sort_by(|a, b| b.received_at.cmp(&a.received_at));
    listed.truncate(PAYLOADS);
    let mut records = Vec::new();
    for r in listed {
        if let Some(full) = status::load(store, &r.event_id, now)
            .await
            .map_err(failed)?
        {
            records.push(full);
        }
    }
    Ok(records)
}

/// One record's hook through both handlers; `None` for a record that
/// kept no request.
fn tried(
    current: &CompiledConfig,
    edited: &CompiledConfig,
    handler: &str,
    r: &EventRecord,
    now: DateTime<Utc>,
) -> Option<Tried> {
    let req = r.request.as_ref()?;
    let ev = inbound(r, req)?;
    Some(Tried {
        event_id: r.event_id.clone(),
        received_at: r.received_at.clone(),
        truncated: req.body_truncated,
        current: outcome(current, handler, &ev, now)?,
        edited: outcome(edited, handler, &ev, now)?,
    })
}

/// The hook as the handler got it, rebuilt from its record.
fn inbound(r: &EventRecord, req: &ReceivedRequest) -> Option<InboundEvent> {
    let body = match req.content_type.as_deref() {
        Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => {
            crate::event::Body::Form(serde_json::from_str(&req.body).ok()?)
        }
        ct => crate::ingress::body::classify(ct, req.body.as_bytes())
            .map(|(b, _)| b)
            .unwrap_or(crate::event::Body::Text(req.body.clone())),
    };
    Some(InboundEvent {
        event_id: r.event_id.clone(),
        hook_id: r.hook_id.clone(),
        handler_id: r.handler_id.clone(),
        session_key: r.session_key.clone(),
        persistent: false,
        received_at: DateTime::parse_from_rfc3339(&r.received_at)
            .ok()?
            .with_timezone(&Utc),
        source_ip: req.source_ip.clone(),
        headers: req.headers.clone(),
        query: req.query.clone(),
        content_type: req.content_type.clone(),
        body,
    })
}

fn outcome(
    cfg: &CompiledConfig,
    handler: &str,
    ev: &InboundEvent,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    let h = cfg.handler_by_id(handler)?;
    let input = crate::filter::input(
        ev.body.to_value(),
        ev.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &ev.query,
    );
    let matched = match &h.filter {
        None => true,
        Some(f) => crate::filter::compile(f).is_ok_and(|f| f.matches(&input)),
    };
    let p = context::prepare(cfg, Some(h), ev, now);
    let transform = (h.transform.is_some() && p.render_error.is_none()).then(|| {
        let mut out = serde_json::json!({"body": p.body, "skip": p.skip});
        if let Some(vars) = p.context.get("vars") {
            out["vars"] = vars.clone();
        }
        if let Some(key) = &p.session_key {
            out["sessionKey"] = key.clone().into();
        }
        out
    });
    Some(Outcome {
        matched,
        transform,
        error: p.render_error.map(|e| cfg.scrubbed(&e.to_string())),
        rendered: cfg.scrubbed(&p.text),
        session_key: p.session_key.unwrap_or_else(|| ev.session_key.clone()),
    })
}
