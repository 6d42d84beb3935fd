//! The OpenAPI 3.1 document `GET /openapi.json` serves, of every route in
//! [`super::routes::ROUTES`], its schemas generated (schemars, JSON Schema
//! 2020-12, which 3.1 uses) from the types the handlers answer with
//! ([`super::bodies`]). Built from the
//! running config, so the secret header it names is the one configured.

use super::bodies::RefusalBody;
use super::route::{schema, Operation, Route};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{json, Map, Value};

/// The document of `routes`, with `secret_header` as the header scheme's
/// name.
pub fn document(secret_header: &str, routes: &[Route]) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
    });
    let mut g = settings.into_generator();
    let refusal = schema::<RefusalBody>(&mut g);
    let mut paths = Map::new();
    for route in routes {
        let Some(op) = route.operation() else {
            continue;
        };
        let method = route.method.to_lowercase();
        let path = route.openapi_path();
        let entry = paths.entry(path.clone()).or_insert_with(|| json!({}));
        entry[&method] = operation(&method, &path, route.admin, op, &mut g, &refusal);
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

fn operation(
    method: &str,
    path: &str,
    admin: bool,
    op: &Operation,
    g: &mut SchemaGenerator,
    refusal: &Value,
) -> Value {
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
        "operationId": format!("{method}{}", path.replace(['/', '{', '}'], "_")),
        "parameters": params,
        "responses": {
            status.to_string(): success,
            "default": {"description": "a refusal", "content": {"application/json": {"schema": refusal}}}
        },
        "security": security(admin),
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
