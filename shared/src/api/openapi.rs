//! `GET /openapi.json`: an OpenAPI 3.1 document of every route, its
//! schemas generated (schemars, JSON Schema 2020-12, which 3.1 uses) from
//! the types the handlers answer with ([`super::bodies`]). Built from the
//! running config, so the secret header it names is the one configured.

use super::bodies::*;
use super::AppState;
use axum::extract::State;
use axum::Json;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// One documented operation.
pub struct Operation {
    pub method: &'static str,
    /// The path as OpenAPI writes it (`/events/{eventId}`).
    pub path: &'static str,
    pub summary: &'static str,
    pub admin: bool,
    /// `(name, where, description, required)`: `path` or `query`.
    pub params: &'static [(&'static str, &'static str, &'static str, bool)],
    /// The success status and its body's schema (`None`: the metrics text).
    pub success: (u16, fn(&mut SchemaGenerator) -> Option<Value>),
    pub body: Option<fn(&mut SchemaGenerator) -> Value>,
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

/// A dead-letter listing's page size.
const PAGE_LIMIT: (&str, &str, &str, bool) = (
    "limit",
    "query",
    "dead letters per page: 1 to 1000, default 100",
    false,
);
/// Where a dead-letter listing's page starts.
const PAGE_CURSOR: (&str, &str, &str, bool) = (
    "cursor",
    "query",
    "the nextCursor of the previous page",
    false,
);

/// Every route of [`super::router`] but `/openapi.json` itself.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/webhook/{hookId}",
        summary: "Send a hook: authenticated, kept, and answered at once",
        admin: false,
        params: &[("hookId", "path", "a handler's id or path, or any id", true)],
        success: (202, |g| Some(schema::<HookAccepted>(g))),
        body: Some(|_| json!({})),
    },
    Operation {
        method: "get",
        path: "/health",
        summary: "Liveness",
        admin: false,
        params: &[],
        success: (200, |g| Some(schema::<Health>(g))),
        body: None,
    },
    Operation {
        method: "get",
        path: "/events/{eventId}",
        summary: "What happened to a hook",
        admin: true,
        params: &[("eventId", "path", "the eventId a hook's answer gave", true)],
        success: (200, |g| Some(schema::<EventAnswer>(g))),
        body: None,
    },
    Operation {
        method: "get",
        path: "/sessions/{key}",
        summary: "A session record",
        admin: true,
        params: &[("key", "path", "the session key, percent-encoded", true)],
        success: (200, |g| Some(schema::<SessionAnswer>(g))),
        body: None,
    },
    Operation {
        method: "delete",
        path: "/sessions/{key}",
        summary: "End a session now (emits session_ended)",
        admin: true,
        params: &[("key", "path", "the session key, percent-encoded", true)],
        success: (200, |g| Some(schema::<SessionEnded>(g))),
        body: None,
    },
    Operation {
        method: "get",
        path: "/deliveries",
        summary: "One event's delivery log, or the latest attempts",
        admin: true,
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
    },
    Operation {
        method: "get",
        path: "/dlq",
        summary: "Dead-lettered deliveries, read without changing them",
        admin: true,
        params: &[
            ("subscription", "query", "only this subscription's", false),
            (
                "since",
                "query",
                "an RFC 3339 time or an age such as 2h",
                false,
            ),
            PAGE_LIMIT,
            PAGE_CURSOR,
        ],
        success: (200, |g| Some(schema::<DeadLetters>(g))),
        body: None,
    },
    Operation {
        method: "post",
        path: "/dlq/replay",
        summary: "Put dead letters back for delivery, each once",
        admin: true,
        params: &[
            ("subscription", "query", "only this subscription's", false),
            (
                "since",
                "query",
                "an RFC 3339 time or an age such as 2h",
                false,
            ),
            ("event", "query", "only this (lifecycle) event's", false),
        ],
        success: (200, |g| Some(schema::<Replayed>(g))),
        body: Some(schema::<ReplayRequest>),
    },
    Operation {
        method: "get",
        path: "/events",
        summary: "Events newest first, filtered and paged (the console's list)",
        admin: true,
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
        success: (200, |g| Some(schema::<super::listing::EventPage>(g))),
        body: None,
    },
    Operation {
        method: "get",
        path: "/events/{eventId}/deliveries",
        summary: "The deliveries of the lifecycle events a hook emitted",
        admin: true,
        params: &[("eventId", "path", "the eventId a hook's answer gave", true)],
        success: (200, |g| {
            Some(schema::<super::event_deliveries::EventDeliveries>(g))
        }),
        body: None,
    },
    Operation {
        method: "get",
        path: "/sessions",
        summary: "Live sessions, most recently active first",
        admin: true,
        params: &[("limit", "query", "how many (1-500, default 50)", false)],
        success: (200, |g| Some(schema::<super::listing::Sessions>(g))),
        body: None,
    },
    Operation {
        method: "get",
        path: "/dlq/handler",
        summary: "Hooks the handler gave up on, read without changing them",
        admin: true,
        params: &[PAGE_LIMIT, PAGE_CURSOR],
        success: (200, |g| Some(schema::<super::handler_dlq::DeadHooks>(g))),
        body: None,
    },
    Operation {
        method: "post",
        path: "/dlq/handler/replay",
        summary: "Put hooks the handler gave up on back on its queue, each once",
        admin: true,
        params: &[],
        success: (200, |g| Some(schema::<Replayed>(g))),
        body: Some(schema::<super::handler_dlq::HandlerReplayRequest>),
    },
    Operation {
        method: "get",
        path: "/config",
        summary: "The running config (secrets redacted) with validate's warnings",
        admin: true,
        params: &[],
        success: (200, |g| {
            Some(schema::<super::console::config::ConfigAnswer>(g))
        }),
        body: None,
    },
    Operation {
        method: "get",
        path: "/metrics",
        summary: "Counters, gauges and histograms in the Prometheus text format",
        admin: true,
        params: &[],
        success: (200, |_| None),
        body: None,
    },
];

pub async fn show(State(ingress): State<AppState>) -> Json<Value> {
    let header = &ingress.config.config.webhooks.incoming.secret_header;
    Json(document(header))
}

/// The document, with `secret_header` as the header scheme's name.
pub fn document(secret_header: &str) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
    });
    let mut g = settings.into_generator();
    let refusal = schema::<RefusalBody>(&mut g);
    let mut paths = Map::new();
    for op in OPERATIONS {
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        entry[op.method] = operation(op, &mut g, &refusal);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "clawhooks",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Webhook gateway for the Clawdbot AI assistant. Every refusal answers {\"ok\": false, \"error\": \"…\"} with the status the table of refusals in docs/http-api.md gives."
        },
        "paths": paths,
        "components": {
            "schemas": g.take_definitions(true),
            "securitySchemes": {
                "secretHeader": {"type": "apiKey", "in": "header", "name": secret_header,
                                 "description": "a hook secret (webhooks.incoming.secret or a handler's secret)"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a hook secret as a bearer token"},
                "adminBearer": {"type": "http", "scheme": "bearer",
                                "description": "an admin secret (webhooks.admin.secret or secrets); hook secrets never open admin operations"}
            }
        }
    })
}

fn operation(op: &Operation, g: &mut SchemaGenerator, refusal: &Value) -> Value {
    let (status, body) = op.success;
    let success = match body(g) {
        Some(schema) => {
            json!({"description": "done", "content": {"application/json": {"schema": schema}}})
        }
        None => {
            json!({"description": "done", "content": {"text/plain": {"schema": {"type": "string"}}}})
        }
    };
    let params: Vec<Value> = op
        .params
        .iter()
        .map(|(name, place, description, required)| {
            json!({"name": name, "in": place, "description": description,
                   "required": required, "schema": {"type": "string"}})
        })
        .collect();
    let mut out = json!({
        "summary": op.summary,
        "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}'], "_")),
        "parameters": params,
        "responses": {
            status.to_string(): success,
            "default": {"description": "a refusal", "content": {"application/json": {"schema": refusal}}}
        },
        "security": security(op.admin),
    });
    if let Some(body) = op.body {
        out["requestBody"] =
            json!({"required": false, "content": {"application/json": {"schema": body(g)}}});
    }
    out
}

/// Admin routes take an admin secret as a bearer token. A hook takes a
/// hook secret in its header or as a bearer token, or comes without (a
/// handler with no secret, or one that checks a provider's signature).
fn security(admin: bool) -> Value {
    match admin {
        true => json!([{"adminBearer": []}]),
        false => json!([{"secretHeader": []}, {"bearer": []}, {}]),
    }
}
