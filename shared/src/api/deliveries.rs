//! `GET /deliveries?event=<id>`: what happened to one event's deliveries
//! (a summary per subscription and every attempt). Without `event`, the
//! latest attempts over all events (`limit`, default 100).

use super::bodies::DeliveriesAnswer;
use super::extract::Query;
use super::AppState;
use crate::egress::log;
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

pub async fn list(
    State(ingress): State<AppState>,
    Query(query): Query,
) -> Result<Json<DeliveriesAnswer>, Refusal> {
    let store = ingress.backend.store.as_ref();
    let now = ingress.clock.now();
    if let Some(event) = query.get("event") {
        if event.is_empty() {
            return Err(Refusal::BadRequest(
                "query parameter `event` is empty".into(),
            ));
        }
        return match log::for_event(store, event, now).await {
            Ok(d) => Ok(Json(DeliveriesAnswer::Event {
                ok: true,
                event: event.clone(),
                subscriptions: d.subscriptions,
                attempts: d.attempts,
            })),
            Err(e) => Err(Refusal::backend("the delivery log", e)),
        };
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(Refusal::BadRequest(format!(
                "query parameter `limit` must be a number from 1 to {MAX_LIMIT}"
            )))
        }
    };
    let kept = ingress.config.config.webhooks.retention.deliveries_span();
    match log::recent(store, limit, now, kept).await {
        Ok(attempts) => Ok(Json(DeliveriesAnswer::Recent { ok: true, attempts })),
        Err(e) => Err(Refusal::backend("the delivery log", e)),
    }
}
