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
use crate::config::function_timeout::Invocation;
use crate::config::scope::{check_withheld, Function};
use crate::config::{CompiledConfig, ConfigError, ConfigErrors, Unset};
use crate::ports::{Backend, Clock, HttpSender, SystemClock};
use std::collections::BTreeMap;
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
pub use http::run_http;
#[cfg(feature = "lambda-sqs")]
pub use sqs::{dispatch, handle_sqs_event, received, run_sqs, Scheduled};

/// The function's log, as `lambda_runtime`'s default subscriber sets it up
/// (level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`, no timestamps: CloudWatch adds its own),
/// but without colour codes, which CloudWatch shows as noise. `RUST_LOG`
/// may name targets (`clawhooks=debug,warn`); span and field directives
/// are the local binary's (they need a regex engine in every zip).
pub fn init_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let env = |k: &str| std::env::var(k).ok();
    let level = env("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| env("RUST_LOG"))
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let targets = env("RUST_LOG")
        .and_then(|d| d.parse::<Targets>().ok())
        .unwrap_or_default()
        .with_default(level);
    let log = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let registry = tracing_subscriber::registry().with(targets);
    if env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        registry.with(log.json()).init();
    } else {
        registry.with(log).init();
    }
}

/// What every function builds once, at init: the config, the AWS clients
/// and backend and the clock ([`Init::outbound_http`] for the functions
/// that send HTTP).
pub struct Init {
    pub config: Arc<CompiledConfig>,
    pub clients: AwsClients,
    pub backend: Backend,
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

/// The SSM path whose parameters are this function's secrets (the
/// template gives each function its own: `<SecretsPath>/ingress`, …).
pub const SECRETS_PATH: &str = "CLAWHOOKS_SECRETS_PATH";

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
    /// in the config is filled from the function's own SSM parameters
    /// ([`SECRETS_PATH`]), then from its environment; a variable neither
    /// has is withheld, which is an error only if `function` uses it.
    pub async fn for_function(function: Function) -> Result<Self, InitError> {
        crate::telemetry::emf::install(function.name());
        let init = Self::try_for_function(function).await;
        if let Err(e) = &init {
            // Lambda shows only the log of a function that fails at init.
            tracing::error!(function = function.name(), "init failed: {e}");
        }
        init
    }

    async fn try_for_function(function: Function) -> Result<Self, InitError> {
        let env = crate::config::load::process_env;
        let clients = AwsClients::from_lambda_env(Arc::new(env))?;
        let (secrets, looked_in) = function_secrets(&clients, &env).await?;
        let lookup = |name: &str| secrets.get(name).cloned().or_else(|| env(name));
        let config = config_from_env(&lookup, Unset::Withhold)?;
        check_withheld(&config, function, &looked_in)?;
        if let Some(invocation) = invocation_from_env(&env)? {
            crate::config::function_timeout::check(&config.config, function, invocation)?;
        }
        for w in &config.warnings {
            tracing::warn!("config: {}", config.scrubbed(&w.to_string()));
        }
        let config = Arc::new(config);
        let backend = crate::egress::wanted_events::only_wanted(
            crate::aws::connect(&clients, &env)?,
            &config.config.webhooks.outgoing,
        );
        Ok(Init {
            config,
            clients,
            backend,
            clock: Arc::new(SystemClock),
        })
    }
}

/// The secrets under [`SECRETS_PATH`] if it is set, and where they were
/// looked for, for the error that names a missing one.
async fn function_secrets(
    clients: &AwsClients,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(BTreeMap<String, String>, String), InitError> {
    let Some(path) = env(SECRETS_PATH).filter(|p| !p.is_empty()) else {
        let looked_in = format!("the environment; {SECRETS_PATH} is not set");
        return Ok((BTreeMap::new(), looked_in));
    };
    let ssm = aws_sdk_ssm::Client::new(&clients.config);
    let found = crate::aws::secrets::read_secrets(&ssm, &path).await?;
    tracing::info!(path, count = found.len(), "secrets read from SSM");
    let looked_in = format!("SSM parameters under {path} and the environment");
    Ok((found, looked_in))
}

/// The function's timeout in seconds, as the template set it.
pub const FUNCTION_TIMEOUT: &str = "CLAWHOOKS_FUNCTION_TIMEOUT";
/// The most records its event source mappings hand it at once.
pub const BATCH_SIZE: &str = "CLAWHOOKS_BATCH_SIZE";

/// The invocation limits the template gives the function, if it gives them
/// (a function started some other way has nothing to check against).
pub fn invocation_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Invocation>, ConfigErrors> {
    let number = |name: &str| -> Result<Option<u32>, ConfigErrors> {
        match env(name).filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                ConfigErrors(vec![ConfigError::new(
                    name,
                    format!("{v:?} is not a whole number"),
                )])
            }),
        }
    };
    let Some(timeout) = number(FUNCTION_TIMEOUT)? else {
        return Ok(None);
    };
    Ok(Some(Invocation {
        timeout: std::time::Duration::from_secs(timeout.into()),
        batch_size: number(BATCH_SIZE)?.unwrap_or(1),
    }))
}

impl Init {
    /// The outbound HTTP client, for the functions that call channels,
    /// agents and webhooks. Not part of every init: ingress sends no HTTP,
    /// and leaving the client unbuilt leaves it out of its zip.
    pub fn outbound_http(&self) -> Result<Arc<dyn HttpSender>, InitError> {
        let network = &self.config.config.webhooks.network;
        Ok(Arc::new(crate::outbound::http::ReqwestSender::new(
            network,
        )?))
    }
}

/// The config named by [`CONFIG_JSON`] or [`CONFIG_FILES`].
pub fn config_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    unset: Unset,
) -> Result<CompiledConfig, ConfigErrors> {
    if let Some(text) = env(CONFIG_JSON).filter(|t| !t.trim().is_empty()) {
        return crate::config::load_str_with(&text, env, unset);
    }
    if let Some(files) = env(CONFIG_FILES).filter(|t| !t.trim().is_empty()) {
        let paths = config_paths(&files, env(TASK_ROOT).as_deref());
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        return crate::config::load_files_with(&paths, env, unset);
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
    use std::time::Duration;

    #[test]
    fn config_comes_inline_or_from_files_with_env_substitution() {
        let text = r#"{"webhooks": {"incoming": {"secret": "${HOOK_SECRET}"}}}"#;
        let env = |k: &str| match k {
            CONFIG_JSON => Some(text.to_string()),
            "HOOK_SECRET" => Some("s3cret".to_string()),
            _ => None,
        };
        let cfg = config_from_env(&env, Unset::Error).unwrap();
        assert!(cfg.config.webhooks.incoming.secret.is_some());
        let none = config_from_env(&|_| None, Unset::Error)
            .unwrap_err()
            .to_string();
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
        let cfg = config_from_env(&env, Unset::Error).unwrap();
        assert!(cfg.config.webhooks.incoming.secret.is_some());
        assert_eq!(
            config_paths(" a.json, /etc/b.json ", Some("/var/task")),
            vec!["/var/task/a.json", "/etc/b.json"]
        );
        assert_eq!(config_paths("a.json", None), vec!["a.json"]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_template_limits_come_from_the_environment_and_bad_ones_are_named() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(invocation_from_env(&env(&[])).unwrap(), None);
        assert_eq!(
            invocation_from_env(&env(&[(FUNCTION_TIMEOUT, "180"), (BATCH_SIZE, "2")])).unwrap(),
            Some(Invocation {
                timeout: Duration::from_secs(180),
                batch_size: 2
            })
        );
        let err = invocation_from_env(&env(&[(FUNCTION_TIMEOUT, "3m")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CLAWHOOKS_FUNCTION_TIMEOUT: \"3m\" is not a whole number"
        );
    }
}
