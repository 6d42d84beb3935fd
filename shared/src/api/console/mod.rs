//! The web console at `/console`: a page and its script and styles,
//! embedded in the binary, that show events, sessions, deliveries, dead
//! letters and the config through the admin JSON routes, live over
//! server-sent events (`/console/stream`).
//!
//! The page itself holds no data and is open to anyone; everything it
//! shows comes from admin routes, which take an admin secret or the
//! console's session cookie (see [`auth`]).

pub mod auth;
pub mod config;
mod keep;
mod stream;

pub use stream::{close_all as close_streams, MAX_STREAMS};

use super::extract::{Body, Peer};
use super::AppState;
use crate::refusal::Refusal;
use axum::extract::{Request, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;

/// What the page may load and talk to: itself only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

const INDEX_HTML: &str = include_str!("assets/index.html");
/// The page's scripts, each served at `/console/<name>`: one file per
/// view, so a new view adds a line here and a `<script>` in index.html.
const SCRIPTS: &[(&str, &str)] = &[
    ("/console/app.js", include_str!("assets/app.js")),
    ("/console/thread.js", include_str!("assets/thread.js")),
    (
        "/console/subscriptions.js",
        include_str!("assets/subscriptions.js"),
    ),
    (
        "/console/playground.js",
        include_str!("assets/playground.js"),
    ),
];
const APP_CSS: &str = include_str!("assets/app.css");
const ICON_SVG: &str = include_str!("assets/icon.svg");

/// The console's routes; the router merges them beside the API.
pub fn routes(state: AppState) -> Router<AppState> {
    let admin = Router::new()
        .route("/console/stream", get(stream::events))
        .route("/console/logout-everywhere", post(logout_everywhere))
        .route_layer(middleware::from_fn_with_state(state, super::admin_only));
    let scripts = SCRIPTS.iter().fold(Router::new(), |router, &(path, js)| {
        router.route(
            path,
            get(move || asset(js, "text/javascript; charset=utf-8")),
        )
    });
    Router::new()
        .route("/console", get(page))
        .route("/console/", get(page))
        .merge(scripts)
        .route(
            "/console/app.css",
            get(|| asset(APP_CSS, "text/css; charset=utf-8")),
        )
        .route(
            "/console/icon.svg",
            get(|| asset(ICON_SVG, "image/svg+xml")),
        )
        .route("/console/session", get(session))
        .route("/console/login", post(login))
        .route("/console/logout", post(logout))
        .merge(admin)
}

fn hardened(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn page() -> Response {
    let mut r = asset(INDEX_HTML, "text/html; charset=utf-8").await;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    hardened(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// `GET /console/session`: whether this browser may use the console, the
/// CSRF token its state-changing requests send, and the hook secret
/// header's name (for the test-hook form). Never a secret.
async fn session(
    State(ingress): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
) -> Response {
    let webhooks = &ingress.config.config.webhooks;
    let admin = &webhooks.admin;
    let (authenticated, csrf) = match auth::cookie(&headers) {
        _ if !admin.has_secret() => (
            ingress
                .authorize_admin(&headers, peer, "/console/session")
                .await
                .is_ok(),
            None,
        ),
        Some(token) => match auth::session(&ingress, token).await {
            Ok(Ok(keys)) => (true, Some(keys.csrf(token))),
            Ok(Err(_)) => (false, None),
            Err(refusal) => return refusal.into_response(),
        },
        None => (false, None),
    };
    let body = json!({
        "ok": true,
        "authenticated": authenticated,
        "csrf": csrf,
        "loginRequired": admin.has_secret(),
        "secretHeader": webhooks.incoming.secret_header,
    });
    no_store(Json(body).into_response())
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /console/login` with a form `secret=…`: an admin secret, checked
/// like the bearer token (constant time, counted against the
/// failed-authentication limit), then a session cookie bound to that
/// secret. The answer carries the CSRF token.
async fn login(
    State(ingress): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, Refusal> {
    let admin = &ingress.config.config.webhooks.admin;
    auth::same_origin(&headers, &Method::POST, admin.public_origin.as_deref())?;
    let typed: String = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut presented = headers.clone();
    let value = HeaderValue::from_str(&format!("Bearer {typed}"))
        .map_err(|_| Refusal::BadRequest("the secret holds characters no header can".into()))?;
    presented.insert(header::AUTHORIZATION, value);
    ingress
        .authorize_admin(&presented, peer, "/console/login")
        .await?;
    let Some(secret) = crate::ingress::admin::credential(&presented, admin)
        .ok()
        .and_then(|i| admin.credentials().nth(i))
    else {
        return Ok(no_store(
            Json(json!({ "ok": true, "csrf": null })).into_response(),
        ));
    };
    let now = ingress.clock.now().timestamp();
    let console_key = keep::console_key(ingress.backend.store.as_ref(), now)
        .await
        .map_err(|e| Refusal::backend("reading the console key", e))?;
    let keys = auth::Keys::signed_in(secret, &console_key);
    let token = keys.issue(now);
    let mut r = Json(json!({ "ok": true, "csrf": keys.csrf(&token) })).into_response();
    let cookie = HeaderValue::from_str(&auth::set_cookie(Some(&token), &headers))
        .expect("a token is header-safe");
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(no_store(r))
}

/// `POST /console/logout`: clears the cookie and signs the session out in
/// the store, so a copy of the token stops working too (with the
/// session's CSRF token, so another site cannot sign a user out).
async fn logout(State(ingress): State<AppState>, req: Request) -> Result<Response, Refusal> {
    let headers = req.headers().clone();
    let admin = &ingress.config.config.webhooks.admin;
    auth::same_origin(&headers, &Method::POST, admin.public_origin.as_deref())?;
    if let Some(token) = auth::cookie(&headers).filter(|_| admin.has_secret()) {
        if let Ok(keys) = auth::session(&ingress, token).await? {
            auth::csrf_ok(&keys, token, &headers, &Method::POST)?;
            let (expiry, nonce) = auth::parts(token).expect("a checked token has its parts");
            keep::sign_out(ingress.backend.store.as_ref(), nonce, expiry)
                .await
                .map_err(|e| Refusal::backend("signing a console session out", e))?;
        }
    }
    let mut r = (StatusCode::OK, Json(json!({ "ok": true }))).into_response();
    let cookie = HeaderValue::from_str(&auth::set_cookie(None, &headers))
        .expect("a cleared cookie is header-safe");
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(no_store(r))
}

/// `POST /console/logout-everywhere` (an admin route): a new console key,
/// so every console session, in every browser, is signed out at once.
async fn logout_everywhere(State(ingress): State<AppState>) -> Result<Response, Refusal> {
    keep::rotate(ingress.backend.store.as_ref())
        .await
        .map_err(|e| Refusal::backend("replacing the console key", e))?;
    tracing::warn!("every console session signed out");
    let mut r = (StatusCode::OK, Json(json!({ "ok": true }))).into_response();
    let cookie = HeaderValue::from_static(
        "clawhooks_console=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
    );
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(no_store(r))
}
