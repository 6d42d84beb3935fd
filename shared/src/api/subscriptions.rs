//! `GET /subscriptions` lists the outgoing subscriptions with their
//! operator state; `POST /subscriptions/<id>/pause` holds a subscription's
//! deliveries and `POST /subscriptions/<id>/resume` releases them
//! ([`crate::egress::control`]).

use super::bodies::{SubscriptionAnswer, SubscriptionState, Subscriptions};
use super::extract::Tail;
use super::AppState;
use crate::egress::control::{self, Control, RunState};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;

pub async fn list(State(ingress): State<AppState>) -> Result<Json<Subscriptions>, Refusal> {
    let now = ingress.clock.now();
    let stored = control::load_all(ingress.backend.store.as_ref(), now)
        .await
        .map_err(|e| Refusal::backend("subscription state", e))?;
    let subscriptions = ingress
        .config
        .config
        .webhooks
        .outgoing
        .iter()
        .map(|o| SubscriptionState::of(o, stored.get(&o.id).cloned().unwrap_or_default()))
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

async fn change(
    ingress: &AppState,
    id: &str,
    state: RunState,
) -> Result<Json<SubscriptionAnswer>, Refusal> {
    let outgoing = &ingress.config.config.webhooks.outgoing;
    let Some(sub) = outgoing.iter().find(|o| o.id == id) else {
        let shown: String = id.chars().take(100).collect();
        return Err(Refusal::NotFound(format!(
            "no subscription {shown:?} in webhooks.outgoing"
        )));
    };
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
