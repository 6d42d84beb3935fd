//! The glue between AWS Lambda's event shapes and the stages, so each
//! function's `main.rs` is only wiring.
//!
//! - SQS: the records of one invocation go to a [`Stage`]; the answer is an
//!   [`SqsBatchResponse`] naming only the records to try again, so one bad
//!   record never sends its batch-mates back (the event source mapping must
//!   have `ReportBatchItemFailures`, as `infra/template.yaml` sets).
//! - API Gateway HTTP API (payload v2): a request becomes an
//!   [`IngressRequest`] with the caller's address from
//!   `requestContext.http.sourceIp`, and the [`IngressResponse`] goes back.

use crate::aws::AwsClients;
use crate::config::fit::Invocation;
use crate::config::scope::{check_withheld, Function};
use crate::config::{CompiledConfig, ConfigError, ConfigErrors, Unset};
use crate::ingress::{Ingress, IngressRequest, IngressResponse};
use crate::ports::{Backend, Clock, HttpSender, Queue, Received, SystemClock};
use crate::worker::{Stage, StageError};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_http::{Body, RequestExt};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

pub use lambda_http::lambda_runtime;
pub use lambda_http::Error as LambdaError;

/// The function's log, as `lambda_runtime`'s default subscriber sets it up
/// (level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`, no timestamps: CloudWatch adds its own),
/// but without colour codes, which CloudWatch shows as noise.
pub fn init_logging() {
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let env = |k: &str| std::env::var(k).ok();
    let level = env("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| env("RUST_LOG"))
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let log = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(filter);
    if env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        log.json().init();
    } else {
        log.init();
    }
}

/// One source queue of an SQS-triggered function and the stage for its records.
#[derive(Clone)]
pub struct SqsRoute {
    /// The queue the records come from; its name is matched against each
    /// record's `eventSourceARN`, and it takes the visibility change of a
    /// `Retry { after }`.
    pub queue: Arc<dyn Queue>,
    pub stage: Arc<dyn Stage>,
}

/// A job the function runs when EventBridge's schedule invokes it (the
/// handler's idle-session sweep); its `Ok` value is the invocation's answer.
pub type Scheduled = Arc<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<serde_json::Value, String>> + Send>,
        > + Send
        + Sync,
>;

/// Runs an SQS-triggered function until the Lambda runtime stops it: each
/// invocation's records go to the route of the queue they came from. Any
/// other invocation (a scheduled EventBridge event) runs `scheduled`, if
/// the function has such a job.
pub async fn run_sqs(
    routes: Vec<SqsRoute>,
    scheduled: Option<Scheduled>,
) -> Result<(), LambdaError> {
    let routes = Arc::new(routes);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |ev: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let (routes, scheduled) = (routes.clone(), scheduled.clone());
            async move { dispatch(&routes, scheduled.as_ref(), ev.payload).await }
        },
    ))
    .await
}

/// One invocation: an SQS batch (it has `Records`) or a scheduled run.
pub async fn dispatch(
    routes: &[SqsRoute],
    scheduled: Option<&Scheduled>,
    payload: serde_json::Value,
) -> Result<serde_json::Value, LambdaError> {
    if payload.get("Records").is_some_and(|r| r.is_array()) {
        let event: SqsEvent = serde_json::from_value(payload)?;
        let res = handle_sqs_event(routes, event).await;
        return Ok(serde_json::to_value(res)?);
    }
    match scheduled {
        Some(job) => Ok(job().await?),
        None => Err("this function takes SQS events only".into()),
    }
}

/// Processes one SQS event and says which records failed.
///
/// Records of one FIFO message group are processed in order, one after
/// another; once one fails, the group's later records in the batch are not
/// processed and are reported failed too, so SQS hands the group back in its
/// original order. Different groups (and records of standard queues) run
/// concurrently.
pub async fn handle_sqs_event(routes: &[SqsRoute], event: SqsEvent) -> SqsBatchResponse {
    let mut sources: HashMap<String, String> = HashMap::new();
    let mut msgs = Vec::with_capacity(event.records.len());
    for rec in &event.records {
        let msg = received(rec);
        let source = rec
            .event_source_arn
            .as_deref()
            .and_then(|arn| arn.rsplit(':').next())
            .unwrap_or_default();
        sources.insert(msg.message_id.clone(), source.to_string());
        msgs.push(msg);
    }
    let sources = Arc::new(sources);

    let mut tasks = tokio::task::JoinSet::new();
    for chain in crate::worker::by_group(msgs) {
        let (routes, sources) = (routes.to_vec(), sources.clone());
        tasks.spawn(async move {
            let mut failed = Vec::new();
            let mut broken = false;
            for msg in chain {
                let source = sources.get(&msg.message_id).map(String::as_str);
                if broken {
                    release(&routes, source.unwrap_or_default(), &msg).await;
                    failed.push(msg.message_id);
                    continue;
                }
                if !process_record(&routes, source.unwrap_or_default(), &msg).await {
                    broken = true;
                    failed.push(msg.message_id);
                }
            }
            failed
        });
    }

    let mut failed: Vec<String> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(ids) => failed.extend(ids),
            Err(e) => {
                // Which records the panicking task held is unknown here:
                // report the whole batch, so nothing is lost (at-least-once).
                tracing::error!(error = %e, "stage task panicked; the whole batch will be retried");
                failed = sources.keys().cloned().collect();
                break;
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    for id in failed {
        let mut f = BatchItemFailure::default();
        f.item_identifier = id;
        response.batch_item_failures.push(f);
    }
    response
}

/// `true` when the record is done (Lambda deletes it).
async fn process_record(routes: &[SqsRoute], source: &str, msg: &Received) -> bool {
    let Some(route) = routes.iter().find(|r| r.queue.name() == source) else {
        // Not ours to process: leave it for redrive rather than drop it.
        tracing::error!(source, message_id = %msg.message_id, "record from a queue this function has no route for");
        return false;
    };
    match route.stage.process(msg).await {
        Ok(()) => true,
        Err(StageError::Retry { reason, after }) => {
            let after = after.unwrap_or_else(|| retry_delay(msg.receive_count));
            tracing::warn!(stage = route.stage.name(), message_id = %msg.message_id, receive_count = msg.receive_count, %reason, retry_in = ?after, "will retry");
            if let Err(e) = route.queue.change_visibility(&msg.receipt, after).await {
                tracing::warn!(stage = route.stage.name(), error = %e, "could not set retry delay");
            }
            false
        }
    }
}

/// How long a failed record waits before its next try when the failure
/// named no time of its own (a `Retry-After`): 5 s, doubling with each
/// receive, at most 5 minutes. Without it the record would wait out the
/// queue's visibility timeout, which is sized for the longest invocation
/// (twice the function timeout), far too long for a passing failure.
pub fn retry_delay(receive_count: u32) -> std::time::Duration {
    let doublings = receive_count.saturating_sub(1).min(6);
    std::time::Duration::from_secs((5u64 << doublings).min(300))
}

/// A record held back behind a failed one of its FIFO group goes back at
/// once: while it stays in flight SQS hands out nothing of its group, so it
/// would hold up even the failed record's retry until its own visibility
/// timeout ran out.
async fn release(routes: &[SqsRoute], source: &str, msg: &Received) {
    let Some(route) = routes.iter().find(|r| r.queue.name() == source) else {
        return;
    };
    if let Err(e) = route
        .queue
        .change_visibility(&msg.receipt, std::time::Duration::ZERO)
        .await
    {
        tracing::warn!(stage = route.stage.name(), message_id = %msg.message_id, error = %e, "could not release a held-back record");
    }
}

/// An SQS record as the stages see messages from any queue.
pub fn received(rec: &SqsMessage) -> Received {
    Received {
        message_id: rec.message_id.clone().unwrap_or_default(),
        receipt: rec.receipt_handle.clone().unwrap_or_default(),
        body: rec.body.clone().unwrap_or_default(),
        receive_count: rec
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        group: rec.attributes.get("MessageGroupId").cloned(),
        attributes: rec
            .message_attributes
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.string_value.clone()?)))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Serves API Gateway HTTP API requests with `ingress` until the runtime stops.
pub async fn run_http(ingress: Ingress) -> Result<(), LambdaError> {
    let ingress = Arc::new(ingress);
    lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
        let ingress = ingress.clone();
        async move {
            let res = ingress.handle(ingress_request(req)).await;
            Ok::<_, LambdaError>(http_response(&res))
        }
    }))
    .await
}

/// A request from API Gateway as ingress takes it. The peer is
/// `requestContext.http.sourceIp` (API Gateway's view of the caller, not a
/// header the caller controls); without one it is 0.0.0.0, which no
/// allowlist contains.
pub fn ingress_request(req: lambda_http::Request) -> IngressRequest {
    let peer = source_ip(&req).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    IngressRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        peer,
    }
}

fn source_ip(req: &lambda_http::Request) -> Option<IpAddr> {
    match req.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(ctx) => {
            ctx.http.source_ip.as_deref()?.parse().ok()
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The answer for API Gateway: status, headers, JSON body.
pub fn http_response(res: &IngressResponse) -> lambda_http::Response<Body> {
    let mut builder = lambda_http::Response::builder()
        .status(res.status)
        .header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in &res.headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(Body::Text(
            String::from_utf8(res.body_bytes()).unwrap_or_default(),
        ))
        .expect("status and headers are valid")
}

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
        let init = Self::try_for_function(function).await;
        if let Err(e) = &init {
            // Lambda shows only the log of a function that fails at init.
            tracing::error!(function = function.name(), "init failed: {e}");
        }
        init
    }

    async fn try_for_function(function: Function) -> Result<Self, InitError> {
        let env = crate::config::load::process_env;
        let clients = AwsClients::from_env().await;
        let (secrets, looked_in) = function_secrets(&clients, &env).await?;
        let lookup = |name: &str| secrets.get(name).cloned().or_else(|| env(name));
        let config = config_from_env(&lookup, Unset::Withhold)?;
        check_withheld(&config, function, &looked_in)?;
        if let Some(invocation) = invocation_from_env(&env)? {
            crate::config::fit::check(&config.config, function, invocation)?;
        }
        for w in &config.warnings {
            tracing::warn!("config: {w}");
        }
        let config = Arc::new(config);
        let backend = crate::aws::connect(&clients, &env)?;
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
    use crate::ports::{NewMessage, QueueError};
    use async_trait::async_trait;
    use std::sync::Mutex;
    use std::time::Duration;

    /// A stage that fails the bodies it is told to, and records what it saw.
    struct Picky {
        fail: Vec<&'static str>,
        seen: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Stage for Picky {
        fn name(&self) -> &'static str {
            "picky"
        }
        async fn process(&self, msg: &Received) -> Result<(), StageError> {
            self.seen.lock().unwrap().push(msg.body.clone());
            if self.fail.contains(&msg.body.as_str()) {
                Err(StageError::retry("told to"))
            } else {
                Ok(())
            }
        }
    }

    /// Only a name: the SQS glue never sends or receives itself.
    struct Named(&'static str, Mutex<Vec<(String, Duration)>>);

    #[async_trait]
    impl Queue for Named {
        fn name(&self) -> &str {
            self.0
        }
        async fn send(&self, _: NewMessage) -> Result<String, QueueError> {
            unreachable!("the glue does not send")
        }
        async fn receive(
            &self,
            _: usize,
            _: Duration,
            _: Duration,
        ) -> Result<Vec<Received>, QueueError> {
            unreachable!("the glue does not receive")
        }
        async fn delete(&self, _: &str) -> Result<(), QueueError> {
            unreachable!("Lambda deletes, not the glue")
        }
        async fn peek(&self, _: usize) -> Result<Vec<Received>, QueueError> {
            unreachable!("the glue does not read queues")
        }
        async fn change_visibility(&self, r: &str, t: Duration) -> Result<(), QueueError> {
            self.1.lock().unwrap().push((r.to_string(), t));
            Ok(())
        }
        async fn approximate_len(&self) -> Result<usize, QueueError> {
            Ok(0)
        }
    }

    fn record(id: &str, body: &str, group: Option<&str>, queue: &str) -> serde_json::Value {
        let mut attributes = serde_json::json!({ "ApproximateReceiveCount": "2" });
        if let Some(g) = group {
            attributes["MessageGroupId"] = g.into();
        }
        serde_json::json!({
            "messageId": id, "receiptHandle": format!("r-{id}"), "body": body,
            "attributes": attributes,
            "messageAttributes": { "hookId": { "stringValue": "github", "dataType": "String" } },
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:us-east-1:111122223333:{queue}"),
            "awsRegion": "us-east-1"
        })
    }

    fn event(records: Vec<serde_json::Value>) -> SqsEvent {
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    fn failed(r: &SqsBatchResponse) -> Vec<String> {
        let mut ids: Vec<_> = r
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        ids.sort();
        ids
    }

    fn route(queue: &'static str, stage: Arc<Picky>) -> (SqsRoute, Arc<Named>) {
        let q = Arc::new(Named(queue, Mutex::new(Vec::new())));
        (
            SqsRoute {
                queue: q.clone(),
                stage,
            },
            q,
        )
    }

    #[tokio::test]
    async fn only_the_failed_records_are_reported() {
        let stage = Arc::new(Picky {
            fail: vec!["bad"],
            seen: Mutex::default(),
        });
        let (r, _) = route("q", stage.clone());
        let res = handle_sqs_event(
            &[r],
            event(vec![
                record("1", "ok", None, "q"),
                record("2", "bad", None, "q"),
                record("3", "ok", None, "q"),
            ]),
        )
        .await;
        assert_eq!(failed(&res), vec!["2"]);
        assert_eq!(stage.seen.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_failed_fifo_record_holds_back_the_rest_of_its_group_only() {
        let stage = Arc::new(Picky {
            fail: vec!["a2"],
            seen: Mutex::default(),
        });
        let (r, queue) = route("q.fifo", stage.clone());
        let res = handle_sqs_event(
            &[r],
            event(vec![
                record("1", "a1", Some("a"), "q.fifo"),
                record("2", "b1", Some("b"), "q.fifo"),
                record("3", "a2", Some("a"), "q.fifo"),
                record("4", "b2", Some("b"), "q.fifo"),
                record("5", "a3", Some("a"), "q.fifo"),
            ]),
        )
        .await;
        assert_eq!(failed(&res), vec!["3", "5"]);
        let seen = stage.seen.lock().unwrap().clone();
        assert!(
            !seen.contains(&"a3".to_string()),
            "a3 ran after a2 failed: {seen:?}"
        );
        let a: Vec<_> = seen.iter().filter(|b| b.starts_with('a')).collect();
        assert_eq!(a, vec!["a1", "a2"]);
        // The failed record waits its backoff (second receive: 10 s), not
        // the queue's long visibility timeout; the one held back behind it
        // goes back at once, so it does not block its group's retry.
        let mut changes = queue.1.lock().unwrap().clone();
        changes.sort();
        assert_eq!(
            changes,
            vec![
                ("r-3".to_string(), Duration::from_secs(10)),
                ("r-5".to_string(), Duration::ZERO)
            ]
        );
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

    #[test]
    fn retries_back_off_from_5_s_to_5_minutes() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(retry_delay(0).as_secs(), 5);
    }

    #[tokio::test]
    async fn records_go_to_the_route_of_their_queue_and_strangers_fail() {
        let events = Arc::new(Picky {
            fail: vec![],
            seen: Mutex::default(),
        });
        let deliveries = Arc::new(Picky {
            fail: vec![],
            seen: Mutex::default(),
        });
        let (r1, _) = route("p-events.fifo", events.clone());
        let (r2, _) = route("p-delivery", deliveries.clone());
        let res = handle_sqs_event(
            &[r1, r2],
            event(vec![
                record("1", "e", Some("s"), "p-events.fifo"),
                record("2", "d", None, "p-delivery"),
                record("3", "x", None, "elsewhere"),
            ]),
        )
        .await;
        assert_eq!(failed(&res), vec!["3"]);
        assert_eq!(*events.seen.lock().unwrap(), vec!["e"]);
        assert_eq!(*deliveries.seen.lock().unwrap(), vec!["d"]);
    }

    #[test]
    fn records_carry_receive_count_group_and_attributes() {
        let ev = event(vec![record("1", "b", Some("g"), "q.fifo")]);
        let msg = received(&ev.records[0]);
        assert_eq!(msg.receive_count, 2);
        assert_eq!(msg.group.as_deref(), Some("g"));
        assert_eq!(msg.receipt, "r-1");
        assert_eq!(
            msg.attributes.get("hookId").map(String::as_str),
            Some("github")
        );
    }

    #[test]
    fn api_gateway_requests_keep_path_query_body_and_source_ip() {
        let raw = serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/webhook/github",
            "rawQueryString": "a=1&b=2",
            "headers": { "content-type": "application/json", "x-forwarded-for": "6.6.6.6" },
            "requestContext": {
                "accountId": "123", "apiId": "api", "domainName": "x.example", "domainPrefix": "x",
                "http": { "method": "POST", "path": "/webhook/github", "protocol": "HTTP/1.1",
                          "sourceIp": "203.0.113.9", "userAgent": "t" },
                "requestId": "id", "routeKey": "$default", "stage": "$default",
                "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390u64
            },
            "body": "eyJhIjoxfQ==", "isBase64Encoded": true
        });
        let req = lambda_http::request::from_str(&raw.to_string()).unwrap();
        let ir = ingress_request(req);
        assert_eq!(ir.method, http::Method::POST);
        assert_eq!(ir.path, "/webhook/github");
        assert_eq!(ir.query.as_deref(), Some("a=1&b=2"));
        assert_eq!(&ir.body[..], br#"{"a":1}"#);
        assert_eq!(ir.peer, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(ir.headers["content-type"], "application/json");
    }

    #[test]
    fn responses_carry_status_headers_and_json() {
        let res = IngressResponse::error(http::StatusCode::METHOD_NOT_ALLOWED, "use POST")
            .header("allow", "POST");
        let out = http_response(&res);
        assert_eq!(out.status(), 405);
        assert_eq!(out.headers()["allow"], "POST");
        assert_eq!(out.headers()["content-type"], "application/json");
        let Body::Text(t) = out.body() else {
            panic!("text body")
        };
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        assert_eq!(v["error"], "use POST");
    }

    #[tokio::test]
    async fn scheduled_invocations_run_the_job_and_batches_go_to_the_stage() {
        let stage = Arc::new(Picky {
            fail: vec!["bad"],
            seen: Mutex::default(),
        });
        let (r, _) = route("q", stage.clone());
        let job: Scheduled = Arc::new(|| Box::pin(async { Ok(serde_json::json!({ "swept": 2 })) }));
        let scheduled = serde_json::json!({
            "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}
        });
        let out = dispatch(std::slice::from_ref(&r), Some(&job), scheduled.clone())
            .await
            .unwrap();
        assert_eq!(out["swept"], 2);
        assert!(stage.seen.lock().unwrap().is_empty());
        assert!(dispatch(std::slice::from_ref(&r), None, scheduled)
            .await
            .is_err());

        let batch = serde_json::json!({ "Records": [record("1", "bad", None, "q")] });
        let out = dispatch(&[r], Some(&job), batch).await.unwrap();
        assert_eq!(out["batchItemFailures"][0]["itemIdentifier"], "1");
    }

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
}
