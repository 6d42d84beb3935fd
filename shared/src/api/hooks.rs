//! `POST /webhook/<hook-id>` and `GET /health`: the routes a sender and a
//! load balancer use, open to anyone (a hook authenticates itself).

use super::bodies::{Health, HookAccepted, HookAnswered, HookFiltered, HookIgnored};
use super::extract::{Body, Peer, Tail};
use super::AppState;
use crate::config::Handler;
use crate::event::EventRecord;
use crate::ingress::{self, handshake, noise, wait, Accepted, Hook, Received};
use crate::refusal::Refusal;
use crate::telemetry;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, HeaderName, StatusCode};
use serde_json::Value;
use std::time::Instant;

pub async fn accept(
    State(ingress): State<AppState>,
    Tail(hook_id): Tail,
    Peer(peer): Peer,
    uri: http::Uri,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, Refusal> {
    let arrived = tokio::time::Instant::now();
    let hook_id = hook_id.trim_end_matches('/');
    // The hook as `{{event}}` sees it, for a `respond.template` (both are
    // reference-counted: no copy).
    let sent = (
        headers.get(http::header::CONTENT_TYPE).cloned(),
        body.clone(),
    );
    let asked = wait::requested(&headers, uri.query());
    let hook = Hook {
        query: uri.query().map(str::to_string),
        headers,
        body,
        peer,
    };
    let kept = match ingress.accept(hook_id, hook).await? {
        Received::Kept(kept) => kept,
        Received::Handshake(reply) => return Ok(handshake_answer(reply)),
        Received::Ignored(why) => return Ok(ignored_answer(why)),
        Received::Filtered => return Ok(filtered()),
    };
    let handler = kept
        .handler
        .as_deref()
        .and_then(|id| ingress.config.handler_by_id(id));
    let max_wait = ingress.config.config.webhooks.incoming.max_wait;
    let wait = wait::wanted(asked, handler, max_wait);
    let outcome = Outcome(if kept.duplicate {
        "duplicate"
    } else {
        "accepted"
    });
    let status = match kept.duplicate {
        true => noise::repeat_status(handler, ingress.success_status()),
        false => ingress.success_status(),
    };
    if let Some(now) = handler.and_then(immediate) {
        return Ok((Extension(outcome), now).into_response());
    }
    let Some(wait) = wait else {
        return Ok((status, Extension(outcome), Json(accepted(kept))).into_response());
    };
    let applied = [(
        HeaderName::from_static("preference-applied"),
        format!("wait={}", wait.as_secs()),
    )];
    match ingress.settled(&kept.event_id, arrived + wait).await {
        Some(record) => {
            let answer = handler.and_then(|h| shaped(&ingress, h, &record, sent));
            let answer =
                answer.unwrap_or_else(|| Json(answered(&record, kept.duplicate)).into_response());
            Ok((StatusCode::OK, applied, Extension(outcome), answer).into_response())
        }
        None => {
            let location = [(http::header::LOCATION, format!("/events/{}", kept.event_id))];
            let body = Json(accepted(kept));
            Ok((status, applied, location, Extension(outcome), body).into_response())
        }
    }
}

/// `GET /webhook/<hook-id>`: Meta's subscription check.
pub async fn subscription(
    State(ingress): State<AppState>,
    Tail(hook_id): Tail,
    Peer(peer): Peer,
    uri: http::Uri,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let hook = Hook {
        query: uri.query().map(str::to_string),
        headers,
        body: Default::default(),
        peer,
    };
    let reply = ingress
        .subscription(hook_id.trim_end_matches('/'), hook)
        .await?;
    Ok(handshake_answer(reply))
}

/// 200 with the provider's expected body; nothing was kept.
fn handshake_answer(reply: handshake::Reply) -> Response {
    let content_type = [(http::header::CONTENT_TYPE, reply.content_type)];
    (Extension(Outcome("handshake")), content_type, reply.body).into_response()
}

/// 200 `{"ok": true, "ignored": <why>}`: acknowledged so the sender does
/// not retry, and nothing kept.
fn ignored_answer(why: &'static str) -> Response {
    let body = HookIgnored {
        ok: true,
        ignored: why,
    };
    (Extension(Outcome("ignored")), Json(body)).into_response()
}

/// 200 `{"ok":true,"filtered":true}`: the sender has nothing to retry.
fn filtered() -> Response {
    let body = HookFiltered {
        ok: true,
        filtered: true,
    };
    (
        http::StatusCode::OK,
        Extension(Outcome("filtered")),
        Json(body),
    )
        .into_response()
}

/// 200 with the handler's `respond.immediate` body: the hook is kept and
/// will be handled; the caller does not wait for it.
fn immediate(handler: &Handler) -> Option<Response> {
    let respond = handler.respond.as_ref()?;
    let body = respond.immediate.clone()?;
    let content_type = [(
        http::header::CONTENT_TYPE,
        respond.content_type().to_string(),
    )];
    Some((content_type, body).into_response())
}

/// The 200's body from the handler's `respond.template`; `None` (the
/// usual JSON answer) when the template does not render, which is logged.
fn shaped(
    ingress: &AppState,
    handler: &Handler,
    record: &EventRecord,
    (content_type, body): (Option<http::HeaderValue>, bytes::Bytes),
) -> Option<Response> {
    let content_type = content_type.as_ref().and_then(|c| c.to_str().ok());
    let event = ingress::body::classify(content_type, &body).map_or(Value::Null, |(_, v)| v);
    match wait::shaped(&ingress.config, handler, record, event)? {
        Ok((content_type, text)) => {
            Some(([(http::header::CONTENT_TYPE, content_type)], text).into_response())
        }
        Err(e) => {
            tracing::warn!(event_id = %record.event_id, handler = %handler.id, error = %e, "respond.template did not render; answering JSON");
            None
        }
    }
}

fn accepted(kept: Accepted) -> HookAccepted {
    HookAccepted {
        ok: true,
        event_id: kept.event_id,
        session_key: kept.session_key,
        duplicate: kept.duplicate,
    }
}

/// The 200 for a caller that waited: the settled event's outcome.
fn answered(record: &EventRecord, duplicate: bool) -> HookAnswered {
    HookAnswered {
        ok: true,
        event_id: record.event_id.clone(),
        session_key: record.session_key.clone(),
        status: record.status,
        reply: wait::reply(record),
        result: record.result.clone(),
        error: record.error.clone(),
        duplicate,
    }
}

/// What a kept hook's answer counts as (a refusal counts as its status).
#[derive(Debug, Clone, Copy)]
struct Outcome(&'static str);

/// Counts and times every answer on `/webhook/*`, refusals by the body
/// reader and the method check included.
pub async fn measured(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(req).await;
    let outcome = match response.extensions().get::<Outcome>() {
        Some(Outcome(kept)) => (*kept).to_string(),
        None => response.status().as_u16().to_string(),
    };
    telemetry::hook_answered(&outcome, started.elapsed());
    response
}

pub async fn no_hook_id() -> Refusal {
    ingress::no_hook_id()
}

pub async fn health() -> Json<Health> {
    Json(Health { ok: true })
}
