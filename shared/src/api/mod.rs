//! The HTTP layer: one axum [`Router`] for every route, served by the
//! local server and, through `lambda_http`, by the ingress Lambda.
//! Handlers return `Result<_, Refusal>`; [`answer`] alone turns a
//! refusal into its status, headers and JSON body.
//!
//! Admin routes (events, sessions, deliveries, dead letters) sit behind
//! [`Ingress::authorize_admin`]; so does every unknown path, so a prober
//! without the secret cannot tell which routes exist.

mod answer;
pub mod bodies;
mod call;
pub mod console;
pub mod deliveries;
pub mod dlq;
pub mod event_deliveries;
pub mod events;
mod extract;
pub mod handler_dlq;
mod hooks;
pub mod listing;
pub mod metrics;
pub mod openapi;
pub mod sessions;

pub use call::{serve, Answer, Call};
pub use extract::Peer;

use crate::ingress::Ingress;
use crate::refusal::Refusal;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post, MethodRouter};
use axum::Router;
use std::sync::Arc;

/// What every handler gets: the ingress stage with its config and backend.
pub type AppState = Arc<Ingress>;

/// Every route of the gateway.
pub fn router(ingress: Ingress) -> Router {
    let state: AppState = Arc::new(ingress);
    let admin = Router::new()
        .route("/events", only("GET", get(listing::events)))
        .route("/events/{id}", only("GET", get(events::show)))
        .route(
            "/events/{id}/deliveries",
            only("GET", get(event_deliveries::list)),
        )
        .route("/sessions", only("GET", get(listing::sessions)))
        .route(
            "/sessions/{*key}",
            only("GET, DELETE", get(sessions::show).delete(sessions::end)),
        )
        .route("/deliveries", only("GET", get(deliveries::list)))
        .route("/dlq", only("GET", get(dlq::list)))
        .route("/dlq/replay", only("POST", post(dlq::replay)))
        .route("/dlq/handler", only("GET", get(handler_dlq::list)))
        .route(
            "/dlq/handler/replay",
            only("POST", post(handler_dlq::replay)),
        )
        .route("/metrics", only("GET", get(metrics::show)))
        .route_layer(middleware::from_fn_with_state(state.clone(), admin_only));
    Router::new()
        .route(
            "/webhook/{*hook_id}",
            only("POST", post(hooks::accept)).layer(middleware::from_fn(hooks::measured)),
        )
        .route("/webhook", any(hooks::no_hook_id))
        .route("/webhook/", any(hooks::no_hook_id))
        .route("/health", only("GET", get(hooks::health)))
        .route("/health/", only("GET", get(hooks::health)))
        .route("/openapi.json", only("GET", get(openapi::show)))
        .merge(admin)
        .merge(console::routes(state.clone()))
        .fallback(no_route)
        .with_state(state)
}

/// `route` answers any other method with 405 and `Allow: <allow>`.
fn only(allow: &'static str, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(move || async move { Refusal::MethodNotAllowed { allow } })
}

async fn admin_only(
    State(ingress): State<AppState>,
    Peer(peer): Peer,
    req: Request,
    next: Next,
) -> Result<Response, Refusal> {
    console::auth::authorize(
        &ingress,
        req.headers(),
        req.method(),
        peer,
        req.uri().path(),
    )
    .await?;
    Ok(next.run(req).await)
}

/// An unknown path: 404, but only to a caller that may use the admin
/// routes; anyone else gets the admin refusal.
async fn no_route(State(ingress): State<AppState>, Peer(peer): Peer, req: Request) -> Refusal {
    let path = req.uri().path();
    match ingress.authorize_admin(req.headers(), peer, path).await {
        Ok(()) => Refusal::NotFound(format!("no route for {} {path}", req.method())),
        Err(refusal) => refusal,
    }
}
