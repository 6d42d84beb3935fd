//! `POST /webhook/<hook-id>` and `GET /health`: the routes a sender and a
//! load balancer use, open to anyone (a hook authenticates itself).

use super::bodies::{Health, HookAccepted, HookFiltered, HookIgnored};
use super::extract::{Body, Peer, Tail};
use super::AppState;
use crate::ingress::{self, handshake, noise, Hook, Received};
use crate::refusal::Refusal;
use crate::telemetry;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::HeaderMap;
use std::time::Instant;

pub async fn accept(
    State(ingress): State<AppState>,
    Tail(hook_id): Tail,
    Peer(peer): Peer,
    uri: http::Uri,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, Refusal> {
    let hook = Hook {
        query: uri.query().map(str::to_string),
        headers,
        body,
        peer,
    };
    let hook_id = hook_id.trim_end_matches('/');
    let kept = match ingress.accept(hook_id, hook).await? {
        Received::Kept(kept) => kept,
        Received::Handshake(reply) => return Ok(handshake_answer(reply)),
        Received::Ignored(why) => return Ok(ignored_answer(why)),
        Received::Filtered => return Ok(filtered()),
    };
    let outcome = Outcome(if kept.duplicate {
        "duplicate"
    } else {
        "accepted"
    });
    let body = HookAccepted {
        ok: true,
        event_id: kept.event_id,
        session_key: kept.session_key,
        duplicate: kept.duplicate,
    };
    let status = match kept.duplicate {
        true => noise::repeat_status(
            ingress.config.handler_for(hook_id),
            ingress.success_status(),
        ),
        false => ingress.success_status(),
    };
    Ok((status, Extension(outcome), Json(body)).into_response())
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
