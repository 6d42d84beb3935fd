//! `GET /config`: the config this gateway runs, as the console's config
//! page shows it, with `clawhooks validate`'s warnings. Secrets, option
//! values and every value a `${VAR}` filled in show as `[redacted]` (see
//! [`crate::config::CompiledConfig::shown`]), so nothing here is a credential.

use super::super::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::Value;

/// `GET /config`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConfigAnswer {
    pub ok: bool,
    /// The config file's shape (`webhooks`: incoming, handlers, outgoing,
    /// channels, agents…), every secret `[redacted]`.
    pub config: Value,
    pub warnings: Vec<ConfigWarning>,
}

/// One of `clawhooks validate`'s warnings.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConfigWarning {
    pub path: String,
    pub message: String,
}

pub async fn show(State(ingress): State<AppState>) -> Json<ConfigAnswer> {
    let compiled = &ingress.config;
    Json(ConfigAnswer {
        ok: true,
        config: compiled.shown(),
        warnings: compiled
            .warnings
            .iter()
            .map(|w| ConfigWarning {
                path: w.path.clone(),
                message: compiled.scrubbed(&w.message),
            })
            .collect(),
    })
}
