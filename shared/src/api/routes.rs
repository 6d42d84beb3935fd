//! Every route of the API, defined once: its method, its path, its axum
//! handler, who may call it and its OpenAPI operation. [`super::router`]
//! and `GET /openapi.json` ([`super::openapi`]) are both built from
//! [`ROUTES`], so a route cannot be served undocumented or documented
//! unserved. The console's page, assets and session routes are its own
//! ([`super::console::routes`]).
//!
//! # Adding a route
//!
//! 1. Write the handler in the file of its resource (`events.rs`, …), its
//!    answer type in [`super::bodies`] (with `JsonSchema`).
//! 2. Add one [`Route`] below: the method, the path in axum's syntax (a
//!    parameter named as the document names it: `{eventId}`, or `{*key}`
//!    for the rest of the path), `admin` (behind the admin secret), the
//!    handler, and its [`Operation`].
//! 3. Add its row to `docs/http-api.md`. `tests/tests/openapi.rs` fails
//!    until the route is routed, documented and in that page.

pub use super::route::{Doc, Operation, Route, ANY};

use super::route::{schema, Param};
use super::{bodies::*, deliveries, dlq, event_deliveries, events, handler_dlq, hooks};
use super::{console, listing, metrics, openapi, playground, sessions, subscriptions, AppState};
use axum::extract::State;
use axum::routing::{any, on};
use axum::{middleware, Json};
use serde_json::{json, Value};

const EVENT_ID: Param = ("eventId", "path", "the eventId a hook's answer gave", true);
const SESSION_KEY: Param = ("key", "path", "the session key, percent-encoded", true);
/// A dead-letter listing's page size.
const PAGE_LIMIT: Param = (
    "limit",
    "query",
    "dead letters per page: 1 to 1000, default 100",
    false,
);
/// Where a dead-letter listing's page starts.
const PAGE_CURSOR: Param = (
    "cursor",
    "query",
    "the nextCursor of the previous page",
    false,
);
const SUBSCRIPTION_ID: Param = ("id", "path", "a webhooks.outgoing subscription id", true);
const SUBSCRIPTION: Param = ("subscription", "query", "only this subscription's", false);
const SINCE: Param = (
    "since",
    "query",
    "an RFC 3339 time or an age such as 2h",
    false,
);

/// Every route of [`super::router`] but the console's.
pub static ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/webhook/{*hookId}",
        admin: false,
        handler: |m| on(m, hooks::accept),
        around: Some(|r| r.layer(middleware::from_fn(hooks::measured))),
        doc: Doc::Operation(Operation {
            summary: "Send a hook: authenticated, kept, and answered at once (202), or with `Prefer: wait=N` once handled (200 with the reply; 202 with Location when not done in time); 200 `{\"ok\":true,\"filtered\":true}` when no handler's filter on the route takes it, 200 `{\"ok\":true,\"ignored\":…}` for a provider's noise, nothing kept either way",
            params: &[
                ("hookId", "path", "a handler's id or path, or any id", true),
                ("Prefer", "header", "wait=N (RFC 7240): wait up to N seconds (at most incoming.maxWait) for the reply", false),
                ("wait", "query", "the same as Prefer: wait=N", false),
            ],
            success: (202, |g| Some(json!({"oneOf": [schema::<HookAccepted>(g), schema::<HookAnswered>(g), schema::<HookFiltered>(g), schema::<HookIgnored>(g)]}))),
            body: Some(|_| json!({})),
        }),
    },
    Route {
        method: "GET",
        path: "/webhook/{*hookId}",
        admin: false,
        handler: |m| on(m, hooks::subscription),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Meta's subscription check: the hub.challenge back when hub.verify_token is the hook's verify.verifyToken",
            params: &[
                ("hookId", "path", "a handler's id or path", true),
                ("hub.mode", "query", "subscribe", true),
                ("hub.verify_token", "query", "the handler's verify.verifyToken", true),
                ("hub.challenge", "query", "echoed back as text/plain", true),
            ],
            success: (200, |_| None),
            body: None,
        }),
    },
    Route {
        method: ANY,
        path: "/webhook",
        admin: false,
        handler: |_| any(hooks::no_hook_id),
        around: None,
        doc: Doc::Hidden("a hook without its id: 404 to any method"),
    },
    Route {
        method: ANY,
        path: "/webhook/",
        admin: false,
        handler: |_| any(hooks::no_hook_id),
        around: None,
        doc: Doc::Hidden("a hook without its id: 404 to any method"),
    },
    Route {
        method: "GET",
        path: "/health",
        admin: false,
        handler: |m| on(m, hooks::health),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Liveness",
            params: &[],
            success: (200, |g| Some(schema::<Health>(g))),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/health/",
        admin: false,
        handler: |m| on(m, hooks::health),
        around: None,
        doc: Doc::Hidden("/health with a trailing slash, for probes that add one"),
    },
    Route {
        method: "GET",
        path: "/openapi.json",
        admin: false,
        handler: |m| on(m, openapi_json),
        around: None,
        doc: Doc::Hidden("the document itself"),
    },
    Route {
        method: "GET",
        path: "/events",
        admin: true,
        handler: |m| on(m, listing::events),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Events newest first, filtered and paged (the console's list)",
            params: &[
                ("hook", "query", "only this hook id's", false),
                ("handler", "query", "only this handler's", false),
                (
                    "status",
                    "query",
                    "queued, processing, done or failed",
                    false,
                ),
                ("session", "query", "only this session key's", false),
                (
                    "cursor",
                    "query",
                    "a page's nextCursor: the page after it",
                    false,
                ),
                (
                    "limit",
                    "query",
                    "events per page (1-500, default 50)",
                    false,
                ),
            ],
            success: (200, |g| Some(schema::<listing::EventPage>(g))),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/events/{eventId}",
        admin: true,
        handler: |m| on(m, events::show),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "What happened to a hook",
            params: &[EVENT_ID],
            success: (200, |g| Some(schema::<EventAnswer>(g))),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/events/{eventId}/deliveries",
        admin: true,
        handler: |m| on(m, event_deliveries::list),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "The deliveries of the lifecycle events a hook emitted",
            params: &[EVENT_ID],
            success: (200, |g| {
                Some(schema::<event_deliveries::EventDeliveries>(g))
            }),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/sessions",
        admin: true,
        handler: |m| on(m, listing::sessions),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Live sessions, most recently active first",
            params: &[("limit", "query", "how many (1-500, default 50)", false)],
            success: (200, |g| Some(schema::<listing::Sessions>(g))),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/sessions/{*key}",
        admin: true,
        handler: |m| on(m, sessions::show),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "A session record",
            params: &[SESSION_KEY],
            success: (200, |g| Some(schema::<SessionAnswer>(g))),
            body: None,
        }),
    },
    Route {
        method: "DELETE",
        path: "/sessions/{*key}",
        admin: true,
        handler: |m| on(m, sessions::end),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "End a session now (emits session_ended)",
            params: &[SESSION_KEY],
            success: (200, |g| Some(schema::<SessionEnded>(g))),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/deliveries",
        admin: true,
        handler: |m| on(m, deliveries::list),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "One event's delivery log, or the latest attempts",
            params: &[
                ("event", "query", "an event id: its whole log", false),
                (
                    "limit",
                    "query",
                    "how many latest attempts (1-1000, default 100)",
                    false,
                ),
            ],
            success: (200, |g| Some(schema::<DeliveriesAnswer>(g))),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/dlq",
        admin: true,
        handler: |m| on(m, dlq::list),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Dead-lettered deliveries, read without changing them",
            params: &[SUBSCRIPTION, SINCE, PAGE_LIMIT, PAGE_CURSOR],
            success: (200, |g| Some(schema::<DeadLetters>(g))),
            body: None,
        }),
    },
    Route {
        method: "POST",
        path: "/dlq/replay",
        admin: true,
        handler: |m| on(m, dlq::replay),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Put dead letters back for delivery, each once",
            params: &[
                SUBSCRIPTION,
                SINCE,
                ("event", "query", "only this (lifecycle) event's", false),
            ],
            success: (200, |g| Some(schema::<Replayed>(g))),
            body: Some(schema::<ReplayRequest>),
        }),
    },
    Route {
        method: "GET",
        path: "/dlq/handler",
        admin: true,
        handler: |m| on(m, handler_dlq::list),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Hooks the handler gave up on, read without changing them",
            params: &[PAGE_LIMIT, PAGE_CURSOR],
            success: (200, |g| Some(schema::<handler_dlq::DeadHooks>(g))),
            body: None,
        }),
    },
    Route {
        method: "POST",
        path: "/dlq/handler/replay",
        admin: true,
        handler: |m| on(m, handler_dlq::replay),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Put hooks the handler gave up on back on its queue, each once",
            params: &[],
            success: (200, |g| Some(schema::<Replayed>(g))),
            body: Some(schema::<handler_dlq::HandlerReplayRequest>),
        }),
    },
    Route {
        method: "POST",
        path: "/playground",
        admin: true,
        handler: |m| on(m, playground::run),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "A handler's filter, transform and template as configured and as edited, run on the last 20 hooks it received; nothing is kept or sent",
            params: &[],
            success: (200, |g| Some(schema::<playground::PlaygroundAnswer>(g))),
            body: Some(schema::<playground::PlaygroundRequest>),
        }),
    },
    Route {
        method: "GET",
        path: "/subscriptions",
        admin: true,
        handler: |m| on(m, subscriptions::list),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "The outgoing subscriptions and whether each is paused",
            params: &[],
            success: (200, |g| Some(schema::<Subscriptions>(g))),
            body: None,
        }),
    },
    Route {
        method: "POST",
        path: "/subscriptions/{id}/pause",
        admin: true,
        handler: |m| on(m, subscriptions::pause),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Hold a subscription's deliveries (no attempt used) until resumed",
            params: &[SUBSCRIPTION_ID],
            success: (200, |g| Some(schema::<SubscriptionAnswer>(g))),
            body: None,
        }),
    },
    Route {
        method: "POST",
        path: "/subscriptions/{id}/resume",
        admin: true,
        handler: |m| on(m, subscriptions::resume),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Release a paused subscription's held deliveries",
            params: &[SUBSCRIPTION_ID],
            success: (200, |g| Some(schema::<SubscriptionAnswer>(g))),
            body: None,
        }),
    },
    Route {
        method: "POST",
        path: "/subscriptions/{id}/enable",
        admin: true,
        handler: |m| on(m, subscriptions::enable),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Enable a subscription disabled for failing too long; its held deliveries go",
            params: &[SUBSCRIPTION_ID],
            success: (200, |g| Some(schema::<SubscriptionAnswer>(g))),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/config",
        admin: true,
        handler: |m| on(m, console::config::show),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "The running config (secrets redacted) with validate's warnings",
            params: &[],
            success: (200, |g| Some(schema::<console::config::ConfigAnswer>(g))),
            body: None,
        }),
    },
    Route {
        method: "GET",
        path: "/metrics",
        admin: true,
        handler: |m| on(m, metrics::show),
        around: None,
        doc: Doc::Operation(Operation {
            summary: "Counters, gauges and histograms in the Prometheus text format",
            params: &[],
            success: (200, |_| None),
            body: None,
        }),
    },
];

/// `GET /openapi.json`: the document of [`ROUTES`], naming the configured
/// secret header.
async fn openapi_json(State(ingress): State<AppState>) -> Json<Value> {
    let header = &ingress.config.config.webhooks.incoming.secret_header;
    Json(openapi::document(header, ROUTES))
}
