//! The HTTP layer: one axum [`Router`] for every route, served by the
//! local server and, through `lambda_http`, by the ingress Lambda.
//! Handlers return `Result<_, Refusal>`; [`answer`] alone turns a
//! refusal into its status, headers and JSON body.
//!
//! Each route is declared once, in [`routes::ROUTES`]: [`router`] and the
//! OpenAPI document ([`openapi`]) are both built from it.
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
pub mod playground;
pub mod route;
pub mod routes;
pub mod sessions;
pub mod subscriptions;

pub use call::{serve, Answer, Call};
pub use extract::Peer;

use crate::ingress::Ingress;
use crate::refusal::Refusal;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use route::{Route, ANY};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// What every handler gets: the ingress stage with its config and backend.
pub type AppState = Arc<Ingress>;

/// Every route of the gateway: [`routes::ROUTES`], the console's, and the
/// fallback for any other path.
pub fn router(ingress: Ingress) -> Router {
    let state: AppState = Arc::new(ingress);
    let mut open = Router::new();
    let mut admin = Router::new();
    for (path, methods) in by_path() {
        let first = methods[0];
        let mut route = methods.iter().fold(MethodRouter::new(), |r, m| {
            r.merge((m.handler)(filter(m.method)))
        });
        if methods.iter().all(|m| m.method != ANY) {
            route = only(allow(path, &methods), route);
        }
        if let Some(around) = first.around {
            route = around(route);
        }
        if first.admin {
            admin = admin.route(path, route);
        } else {
            open = open.route(path, route);
        }
    }
    let admin = admin.route_layer(middleware::from_fn_with_state(state.clone(), admin_only));
    open.merge(admin)
        .merge(console::routes(state.clone()))
        .fallback(no_route)
        .with_state(state)
}

/// [`routes::ROUTES`] grouped by path, in their order. A path's methods
/// share its access and middleware, so those are read from its first.
fn by_path() -> Vec<(&'static str, Vec<&'static Route>)> {
    let mut paths: Vec<(&'static str, Vec<&'static Route>)> = Vec::new();
    for r in routes::ROUTES {
        match paths.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, methods)) => methods.push(r),
            None => paths.push((r.path, vec![r])),
        }
    }
    paths
}

fn filter(method: &str) -> MethodFilter {
    if method == ANY {
        return [
            MethodFilter::DELETE,
            MethodFilter::HEAD,
            MethodFilter::OPTIONS,
        ]
        .into_iter()
        .chain([MethodFilter::PATCH, MethodFilter::POST, MethodFilter::PUT])
        .chain([MethodFilter::TRACE, MethodFilter::CONNECT])
        .fold(MethodFilter::GET, MethodFilter::or);
    }
    let m = http::Method::from_bytes(method.as_bytes()).expect("a route's method is a method");
    MethodFilter::try_from(m).expect("a route's method is one axum routes")
}

/// The `Allow` value of a path: its methods, joined once per process
/// (the refusal holds a `&'static str`).
fn allow(path: &'static str, methods: &[&Route]) -> &'static str {
    static ALLOW: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let mut known = ALLOW
        .get_or_init(Default::default)
        .lock()
        .expect("not poisoned");
    known.entry(path).or_insert_with(|| {
        let names: Vec<&str> = methods.iter().map(|m| m.method).collect();
        names.join(", ").leak()
    })
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
