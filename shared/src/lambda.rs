//! The glue between AWS Lambda's event shapes and the stages, so each
//! function's `main.rs` is only wiring, and what every function builds at
//! init ([`Init`]).
//!
//! - SQS (feature `lambda-sqs`, the handler and egress): the records of one
//!   invocation go to a stage; the answer names only the records to try
//!   again, so one bad record never sends its batch-mates back (the event
//!   source mapping must have `ReportBatchItemFailures`, as
//!   `infra/template.yaml` sets).
//! - API Gateway HTTP API, payload v2 (feature `lambda-http`, ingress): a
//!   request becomes an ingress request with the caller's address from
//!   `requestContext.http.sourceIp`, and the answer goes back.

use crate::aws::AwsClients;
use crate::config::{CompiledConfig, ConfigError, ConfigErrors};
use crate::ports::{Backend, Clock, HttpSender, SystemClock};
use std::sync::Arc;

pub use lambda_runtime;
pub use lambda_runtime::Error as LambdaError;

// Each function compiles only the glue of its own trigger (features
// `lambda-http` and `lambda-sqs`), so ingress carries no SQS event types
// and the SQS functions no API Gateway ones.
#[cfg(feature = "lambda-http")]
mod http;
#[cfg(feature = "lambda-sqs")]
mod sqs;
#[cfg(feature = "lambda-http")]
pub use http::{http_response, ingress_request, run_http};
#[cfg(feature = "lambda-sqs")]
pub use sqs::{dispatch, handle_sqs_event, received, run_sqs, Scheduled, SqsRoute};

/// What every function builds once, at init: the config, the AWS clients
/// and backend, outbound HTTP and the clock.
pub struct Init {
    pub config: Arc<CompiledConfig>,
    pub clients: AwsClients,
    pub backend: Backend,
    pub http: Arc<dyn HttpSender>,
    pub clock: Arc<dyn Clock>,
}

/// The config document inline (a template parameter; Lambda caps all
/// variables of a function at 4 KB together).
pub const CONFIG_JSON: &str = "CLAWHOOKS_CONFIG_JSON";
/// Or config files bundled in the function's zip, comma-separated
/// (`scripts/lambda-package.sh` puts `clawhooks.json` beside `bootstrap`;
/// the template sets `clawhooks.json`). Relative paths are read from
/// [`TASK_ROOT`], so they do not depend on the runtime's working directory.
pub const CONFIG_FILES: &str = "CLAWHOOKS_CONFIG";
/// Where Lambda unpacked the function's zip (`/var/task` on AWS; an
/// emulator that runs functions as host processes sets its own folder).
pub const TASK_ROOT: &str = "LAMBDA_TASK_ROOT";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("config:\n{0}")]
    Config(#[from] ConfigErrors),
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    #[error("outbound HTTP client: {0}")]
    Http(#[from] crate::ports::SendError),
}

impl Init {
    /// From the function's environment (see `infra/template.yaml`). `${VAR}`
    /// in the config is substituted from the environment, which is how
    /// secrets from NoEcho parameters reach it.
    pub async fn from_env() -> Result<Self, InitError> {
        let config = Arc::new(config_from_env(&crate::config::load::process_env)?);
        for w in &config.warnings {
            tracing::warn!("config: {w}");
        }
        let clients = AwsClients::from_env().await;
        let backend = crate::aws::connect(&clients, &crate::config::load::process_env)?;
        let http = crate::adapters::http::ReqwestSender::new(&config.config.webhooks.network)?;
        Ok(Init {
            config,
            clients,
            backend,
            http: Arc::new(http),
            clock: Arc::new(SystemClock),
        })
    }
}

/// The config named by [`CONFIG_JSON`] or [`CONFIG_FILES`].
pub fn config_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CompiledConfig, ConfigErrors> {
    if let Some(text) = env(CONFIG_JSON).filter(|t| !t.trim().is_empty()) {
        return crate::config::load_str(&text, env);
    }
    if let Some(files) = env(CONFIG_FILES).filter(|t| !t.trim().is_empty()) {
        let paths = config_paths(&files, env(TASK_ROOT).as_deref());
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        return crate::config::load_files(&paths, env);
    }
    Err(ConfigErrors(vec![ConfigError::new(
        "",
        format!("no config: set {CONFIG_JSON} (the JSON text) or {CONFIG_FILES} (file paths)"),
    )]))
}

/// The comma-separated `files`, relative ones joined to `task_root`.
fn config_paths(files: &str, task_root: Option<&str>) -> Vec<String> {
    files
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| match task_root {
            Some(root) if std::path::Path::new(f).is_relative() => {
                std::path::Path::new(root).join(f).display().to_string()
            }
            _ => f.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_comes_inline_or_from_files_with_env_substitution() {
        let text = r#"{"webhooks": {"incoming": {"secret": "${HOOK_SECRET}"}}}"#;
        let env = |k: &str| match k {
            CONFIG_JSON => Some(text.to_string()),
            "HOOK_SECRET" => Some("s3cret".to_string()),
            _ => None,
        };
        let cfg = config_from_env(&env).unwrap();
        assert!(cfg.config.webhooks.incoming.secret.is_some());
        let none = config_from_env(&|_| None).unwrap_err().to_string();
        assert!(
            none.contains(CONFIG_JSON) && none.contains(CONFIG_FILES),
            "{none}"
        );
    }

    #[test]
    fn bundled_config_files_are_read_from_the_task_root() {
        let root = std::env::temp_dir().join(format!("clawhooks-task-root-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("clawhooks.json"),
            r#"{"webhooks": {"incoming": {"secret": "${HOOK_SECRET}"}}}"#,
        )
        .unwrap();
        let root_text = root.display().to_string();
        let env = |k: &str| match k {
            CONFIG_FILES => Some("clawhooks.json".to_string()),
            TASK_ROOT => Some(root_text.clone()),
            "HOOK_SECRET" => Some("s3cret".to_string()),
            _ => None,
        };
        let cfg = config_from_env(&env).unwrap();
        assert!(cfg.config.webhooks.incoming.secret.is_some());
        assert_eq!(
            config_paths(" a.json, /etc/b.json ", Some("/var/task")),
            vec!["/var/task/a.json", "/etc/b.json"]
        );
        assert_eq!(config_paths("a.json", None), vec!["a.json"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
