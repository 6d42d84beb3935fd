//! `GET /config`: the config this gateway runs, as the console's config
//! page shows it, with `clawhooks validate`'s warnings. Secrets serialize
//! as `[redacted]` (see `config::redact`), so nothing here is a credential.

use super::super::answer::ok;
use super::super::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub async fn show(State(ingress): State<AppState>) -> Json<Value> {
    let compiled = &ingress.config;
    let warnings: Vec<Value> = compiled
        .warnings
        .iter()
        .map(|w| json!({ "path": w.path, "message": w.message }))
        .collect();
    let config = serde_json::to_value(&compiled.config).unwrap_or(Value::Null);
    ok(json!({ "config": config, "warnings": warnings }))
}
