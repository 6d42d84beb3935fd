//! `GET /subscriptions` lists the outgoing subscriptions with their
//! operator state; `POST /subscriptions/<id>/pause` holds a subscription's
//! deliveries and `POST /subscriptions/<id>/resume` releases them
//! ([`crate::egress::control`]).

use super::bodies::{SubscriptionAnswer, SubscriptionState, Subscriptions};
use super::extract::Tail;
use super::AppState;
use crate::egress::breaker;
use crate::egress::control::{self, Control, RunState};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;

pub async fn list(State(ingress): State<AppState>) -> Result<Json<Subscriptions>, Refusal> {
    let now = ingress.clock.now();
    let store = ingress.backend.store.as_ref();
    let backend_down = |e| Refusal::backend("subscription state", e);
    let stored = control::load_all(store, now).await.map_err(backend_down)?;
    let breakers = breaker::load_all(store, now).await.map_err(backend_down)?;
    let backlog = ingress
        .backend
        .delivery_queue
        .count_by_attribute(crate::egress::job::SUBSCRIPTION_ATTRIBUTE)
        .await
        .map_err(|e| Refusal::backend("delivery queue", e))?;
    let subscriptions = ingress
        .config
        .config
        .webhooks
        .outgoing
        .iter()
        .map(|o| {
            let state = SubscriptionState::of(o, stored.get(&o.id).cloned().unwrap_or_default());
            SubscriptionState {
                backlog: backlog.as_ref().map(|b| b.get(&o.id).copied().unwrap_or(0)),
                ..state.with_breaker(
                    &breakers.get(&o.id).cloned().unwrap_or_default(),
                    now.timestamp_millis(),
                )
            }
        })
        .collect();
    Ok(Json(Subscriptions {
        ok: true,
        subscriptions,
    }))
}

pub async fn pause(
    State(ingress): State<AppState>,
    Tail(id): Tail,
) -> Result<Json<SubscriptionAnswer>, Refusal> {
    change(&ingress, &id, RunState::Paused).await
}

pub async fn resume(
    State(ingress): State<AppState>,
    Tail(id): Tail,
) -> Result<Json<SubscriptionAnswer>, Refusal> {
    change(&ingress, &id, RunState::Active).await
}

pub async fn enable(
    State(ingress): State<AppState>,
    Tail(id): Tail,
) -> Result<Json<SubscriptionAnswer>, Refusal> {
    let sub = configured(&ingress, &id)?;
    let (store, now) = (ingress.backend.store.as_ref(), ingress.clock.now());
    let backend_down = |e| Refusal::backend("subscription state", e);
    let record = breaker::enable(store, &id, now)
        .await
        .map_err(backend_down)?;
    let stored = control::load_all(store, now).await.map_err(backend_down)?;
    tracing::info!(subscription = %id, "subscription enabled");
    let control = stored.get(&id).cloned().unwrap_or_default();
    Ok(Json(SubscriptionAnswer {
        ok: true,
        subscription: SubscriptionState::of(sub, control)
            .with_breaker(&record, now.timestamp_millis()),
    }))
}

/// The configured subscription `id`, or a 404 naming it.
fn configured<'a>(ingress: &'a AppState, id: &str) -> Result<&'a crate::config::Outgoing, Refusal> {
    let outgoing = &ingress.config.config.webhooks.outgoing;
    outgoing.iter().find(|o| o.id == id).ok_or_else(|| {
        let shown: String = id.chars().take(100).collect();
        Refusal::NotFound(format!("no subscription {shown:?} in webhooks.outgoing"))
    })
}

async fn change(
    ingress: &AppState,
    id: &str,
    state: RunState,
) -> Result<Json<SubscriptionAnswer>, Refusal> {
    let sub = configured(ingress, id)?;
    let store = ingress.backend.store.as_ref();
    let stored: Control = control::set(store, id, state, ingress.clock.now())
        .await
        .map_err(|e| Refusal::backend("subscription state", e))?;
    tracing::info!(subscription = %id, state = state.as_str(), "subscription state changed");
    Ok(Json(SubscriptionAnswer {
        ok: true,
        subscription: SubscriptionState::of(sub, stored),
    }))
}
