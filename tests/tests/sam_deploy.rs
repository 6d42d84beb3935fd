//! The stack a user deploys, as a whole: `sam deploy` of
//! `infra/template.yaml` (an unchanged copy, beside its own code folders)
//! into ministack (which runs the three
//! functions as host processes behind its API Gateway, SQS event source
//! mappings and DynamoDB), then hooks through the API Gateway URL.
//!
//! `scripts/sam-deploy-test.sh` installs the tools, starts the emulator and
//! runs this test with `--ignored`; it sets:
//!
//! | variable | what |
//! |---|---|
//! | `CLAWHOOKS_SAM_ENDPOINT` | the emulator, `http://127.0.0.1:<port>` (also `AWS_ENDPOINT_URL`) |
//! | `CLAWHOOKS_SAM_BIN` / `CLAWHOOKS_AWS_BIN` | the `sam` and `aws` commands |
//! | `CLAWHOOKS_SAM_BUCKET` | the bucket `sam deploy` uploads the code to |

use clawhooks_e2e::emulator::{self, workspace_binary};
use clawhooks_e2e::signature::verify_standard_webhook;
use clawhooks_e2e::{Recorded, Recorder, Reply};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WEBHOOK_SECRET: &str = "your-webhook-secret";
const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DISCORD_TOKEN: &str = "bot-token-1";
const ADMIN_SECRET: &str = "the-operators-admin-secret-7d1c";

/// Each secret, the function that holds it, and the `${VAR}` it fills.
const SECRETS: [(&str, &str, &str); 4] = [
    ("ingress", "CLAWHOOKS_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ("ingress", "CLAWHOOKS_ADMIN_SECRET", ADMIN_SECRET),
    ("handler", "DISCORD_BOT_TOKEN", DISCORD_TOKEN),
    ("egress", "CLAWHOOKS_SIGNING_SECRET", SIGNING_SECRET),
];

/// What the script hands over.
struct Tools {
    endpoint: String,
    port: u16,
    sam: PathBuf,
    aws: PathBuf,
    bucket: String,
}

impl Tools {
    fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var(k)
                .unwrap_or_else(|_| panic!("{k} is not set: run scripts/sam-deploy-test.sh"))
        };
        let endpoint = var("CLAWHOOKS_SAM_ENDPOINT");
        let port = endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("CLAWHOOKS_SAM_ENDPOINT ends with :<port>");
        Tools {
            endpoint,
            port,
            sam: var("CLAWHOOKS_SAM_BIN").into(),
            aws: var("CLAWHOOKS_AWS_BIN").into(),
            bucket: var("CLAWHOOKS_SAM_BUCKET"),
        }
    }

    /// Runs `program args` against the emulator; its stdout, or a panic
    /// with everything it printed.
    fn run(&self, program: &Path, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .current_dir(repo_root())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("SAM_CLI_TELEMETRY", "0")
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\n{stdout}\n{}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// The secrets as SecureString parameters under `/<stack>/<function>/`,
    /// as docs/deploy.md tells a user to create them before deploying.
    fn put_secrets(&self, stack: &str) {
        for (function, name, value) in SECRETS {
            let name = format!("/{stack}/{function}/{name}");
            let args = [
                "ssm",
                "put-parameter",
                "--name",
                &name,
                "--type",
                "SecureString",
            ];
            self.run(
                &self.aws,
                &[&args[..], &["--value", value, "--overwrite"]].concat(),
            );
        }
    }

    fn delete_secrets(&self, stack: &str) {
        let names: Vec<String> = SECRETS
            .iter()
            .map(|(function, name, _)| format!("/{stack}/{function}/{name}"))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.run(
            &self.aws,
            &[&["ssm", "delete-parameters", "--names"], &names[..]].concat(),
        );
    }

    /// `sam deploy` of the template as a user runs it, with the
    /// parameters this test needs: host bootstraps, the secrets' path, a
    /// quick redrive and a sweep every minute.
    fn deploy(&self, template: &Path, stack: &str) {
        self.run(
            &self.sam,
            &[
                "deploy",
                "--template-file",
                &template.display().to_string(),
                "--stack-name",
                stack,
                "--s3-bucket",
                &self.bucket,
                "--capabilities",
                "CAPABILITY_IAM",
                "--no-confirm-changeset",
                "--no-progressbar",
                "--parameter-overrides",
                "Architecture=x86_64",
                // The poison hook reaches the dead-letter queue after two receives.
                "MaxReceiveCount=2",
                // Quoted: SAM splits unquoted values at spaces.
                "SweepSchedule=\"rate(1 minute)\"",
                &format!("SecretsPath=/{stack}"),
            ],
        );
    }

    /// `sam delete`, then the stack is gone from the list.
    fn delete(&self, stack: &str) {
        let args = [
            "delete",
            "--stack-name",
            stack,
            "--no-prompts",
            "--s3-bucket",
            &self.bucket,
        ];
        self.run(&self.sam, &args);
        let query = "StackSummaries[?StackStatus!='DELETE_COMPLETE'].StackName";
        let args = [
            "cloudformation",
            "list-stacks",
            "--query",
            query,
            "--output",
            "text",
        ];
        let listed = self.run(&self.aws, &args);
        assert!(
            !listed.contains(stack),
            "the stack is still there: {listed}"
        );
    }

    fn stack_output(&self, stack: &str, key: &str) -> String {
        let query = format!("Stacks[0].Outputs[?OutputKey=='{key}'].OutputValue");
        let args = ["cloudformation", "describe-stacks", "--stack-name", stack];
        let value = self.run(
            &self.aws,
            &[&args[..], &["--query", &query, "--output", "text"]].concat(),
        );
        let value = value.trim().to_string();
        assert!(
            !value.is_empty() && value != "None",
            "stack output {key} missing"
        );
        value
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The recording servers on 127.0.0.1 the deployed functions call.
struct StandIns {
    /// An outgoing webhook receiver (`message_received`, `session_ended`, signed).
    receiver: Recorder,
    /// Discord's bot API, for the seed's GitHub example.
    discord: Recorder,
    /// A forward target that takes everything.
    good: Recorder,
    /// A forward target that always answers 429 with `Retry-After: 1`, so
    /// its hooks are retried quickly (the handler changes the record's
    /// visibility) until SQS moves them to the dead-letter queue.
    poison: Recorder,
    /// An OpenAI-compatible agent whose answer goes back to a caller that waits.
    model: Recorder,
}

impl StandIns {
    async fn start() -> Self {
        StandIns {
            receiver: Recorder::start().await,
            discord: Recorder::start_with(Reply::json(
                200,
                json!({"id": "1199", "channel_id": "4242"}),
            ))
            .await,
            good: Recorder::start().await,
            poison: Recorder::start_with(Reply::status(429).header("retry-after", "1")).await,
            model: Recorder::start_with(Reply::json(
                200,
                json!({"choices": [{"message": {"role": "assistant", "content": "forty-two"}}]}),
            ))
            .await,
        }
    }
}

/// The config bundled into the functions: the seed's incoming secret, its
/// GitHub example, forward targets and a signed outgoing webhook, all on
/// 127.0.0.1; secrets as `${VAR}`, each filled by its function from SSM.
fn write_config(at: &StandIns) -> PathBuf {
    let config = json!({"webhooks": {
        "incoming": {"secret": "${CLAWHOOKS_WEBHOOK_SECRET}"},
        "admin": {"secret": "${CLAWHOOKS_ADMIN_SECRET}"},
        "network": {"allowPrivate": true},
        "handlers": [
            {"id": "github", "path": "/github", "action": "send_message",
             "target": {"channel": "discord", "peer": "dev-channel"},
             "template": "🔔 {{event.action}}: {{event.pull_request.title}}",
             // Run by the handler function's QuickJS.
             "transform": {"code": "function transform(i) { var b = i.body; b.action = b.action.toUpperCase(); return {body: b}; }"}},
            {"id": "good", "action": "forward", "forward": {"url": at.good.url("/ok")}},
            {"id": "poison", "action": "forward", "forward": {"url": at.poison.url("/fail")}},
            {"id": "alerts", "sessionMode": "persistent", "sessionKey": "alerts-session",
             "sessionTimeout": "1s"},
            {"id": "ask", "action": "run_agent", "agentId": "bot", "template": "{{question}}"}
        ],
        "agents": {"bot": {"type": "openai", "url": at.model.url("/v1"), "model": "m",
                           "timeoutMs": 10000}},
        "channels": {"discord": {"type": "discord", "botToken": "${DISCORD_BOT_TOKEN}",
                                  "apiBase": at.discord.url("/api/v10"),
                                  "peers": {"dev-channel": "4242"}}},
        "outgoing": [{
            "id": "receiver", "url": at.receiver.url("/hook"),
            "events": ["message_received", "session_ended"], "secret": "${CLAWHOOKS_SIGNING_SECRET}",
            // Run by the egress function's QuickJS, before the signature;
            // a file beside the config, which lambda-package.sh inlines.
            "transform": {"file": "transforms/receiver.js"}
        }]
    }});
    let dir = emulator::target_dir().join("sam-deploy");
    std::fs::create_dir_all(dir.join("transforms")).unwrap();
    std::fs::write(
        dir.join("transforms/receiver.js"),
        "function transform(e) {\n  e.payload.via = 'egress transform';\n  e.headers['x-event-type'] = e.type;\n  return {payload: e.payload, headers: e.headers};\n}\n",
    )
    .unwrap();
    let path = dir.join("clawhooks.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    path
}

/// A byte-for-byte copy of infra/template.yaml with its code folders
/// (`dist/*`, filled by scripts/lambda-package.sh with the host's debug
/// bootstraps and `config`) beside it, under the target directory: the
/// same template, and a developer's own infra/dist is left alone.
fn package(config: &Path) -> PathBuf {
    let work = emulator::target_dir().join("sam-deploy");
    let template = work.join("template.yaml");
    std::fs::copy(repo_root().join("infra/template.yaml"), &template).unwrap();
    let bins = workspace_binary("clawhooks-ingress").unwrap();
    let out = Command::new(repo_root().join("scripts/lambda-package.sh"))
        .arg(config)
        .arg(bins.parent().unwrap())
        .arg(work.join("dist"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lambda-package.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    template
}

/// The API Gateway URL of the stack's HTTP API, as ministack serves it:
/// `http://<apiId>.execute-api.localhost:<port>`, resolved to 127.0.0.1.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(api_id: &str, port: u16) -> Self {
        let host = format!("{api_id}.execute-api.localhost");
        clawhooks::outbound::http::install_crypto_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .resolve(&host, ([127, 0, 0, 1], port).into())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Api {
            base: format!("http://{host}:{port}"),
            http,
        }
    }

    /// As the seed's curl does: `POST /webhook/<hook>` with the secret header.
    async fn post_hook(&self, hook: &str, secret: &str, body: &Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/webhook/{hook}", self.base))
            .header("X-Webhook-Secret", secret)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Posts and expects 202; the event id.
    async fn accepted(&self, hook: &str, body: &Value) -> String {
        let (status, answer) = self.post_hook(hook, WEBHOOK_SECRET, body).await;
        assert_eq!(
            status, 202,
            "POST /webhook/{hook} through API Gateway: {answer}"
        );
        answer["eventId"].as_str().expect("eventId").to_string()
    }

    async fn event_status(&self, event_id: &str) -> Value {
        let res = self
            .http
            .get(format!("{}/events/{event_id}", self.base))
            .bearer_auth(ADMIN_SECRET)
            .send()
            .await
            .unwrap();
        res.json().await.unwrap_or(Value::Null)
    }
}

/// The first request `recorder` got that `wanted` accepts, waiting up to `within`.
async fn first_request(
    recorder: &Recorder,
    within: Duration,
    what: &str,
    wanted: impl Fn(&Recorded) -> bool,
) -> Recorded {
    let deadline = Instant::now() + within;
    loop {
        let got = recorder.requests();
        if let Some(r) = got.iter().find(|r| wanted(r)) {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {within:?}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn message_received_of(req: &Recorded, event_id: &str) -> bool {
    let ev = req.json();
    ev["type"] == "message_received" && ev["eventId"] == event_id
}

fn session_ended_of(req: &Recorded, key: &str) -> bool {
    let ev = req.json();
    ev["type"] == "session_ended" && ev["session"].as_str().is_some_and(|s| s.contains(key))
}

/// The event ids in the dead-letter queue at `url`, once it has any.
async fn dead_letter_ids(tools: &Tools, url: &str) -> Vec<String> {
    let config = sdk(tools).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        let ids: Vec<String> = got
            .messages()
            .iter()
            .map(|m| {
                let body: Value = serde_json::from_str(m.body().unwrap_or_default()).unwrap();
                body["eventId"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        if !ids.is_empty() {
            return ids;
        }
        assert!(Instant::now() < deadline, "nothing reached {url}");
    }
}

/// The emulator's SDK configuration, as the functions see it.
async fn sdk(tools: &Tools) -> aws_config::SdkConfig {
    clawhooks::aws::clients::config_loader()
        .endpoint_url(&tools.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .load()
        .await
}

/// What `lambda:GetFunctionConfiguration` shows of each function holds
/// no secret: each reads its own from SSM at init.
fn assert_no_secret_in_function_configurations(tools: &Tools, stack: &str) {
    for key in [
        "IngressFunctionName",
        "HandlerFunctionName",
        "EgressFunctionName",
    ] {
        let name = tools.stack_output(stack, key);
        let args = [
            "lambda",
            "get-function-configuration",
            "--function-name",
            &name,
        ];
        let shown = tools.run(&tools.aws, &args);
        for (_, var, value) in SECRETS {
            assert!(!shown.contains(value), "{key} shows {var}'s value: {shown}");
        }
        assert!(shown.contains("CLAWHOOKS_SECRETS_PATH"), "{key}: {shown}");
    }
}

/// Logical id to physical id (a queue's URL, a table's name) of the stack's resources.
fn stack_resources(tools: &Tools, stack: &str) -> std::collections::HashMap<String, String> {
    let args = [
        "cloudformation",
        "describe-stack-resources",
        "--stack-name",
        stack,
        "--output",
        "json",
    ];
    let listed: Value = serde_json::from_str(&tools.run(&tools.aws, &args)).unwrap();
    listed["StackResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (id("LogicalResourceId"), id("PhysicalResourceId"))
        })
        .collect()
}

/// A queue's attributes without what names or dates it; the redrive policy
/// without the dead-letter queue's ARN.
async fn queue_shape(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> std::collections::BTreeMap<String, String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let got = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e:?}"));
    let skip = [
        "QueueArn",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "Policy",
    ];
    let mut shape: std::collections::BTreeMap<String, String> = got
        .attributes()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.clone()))
        .filter(|(k, _)| !skip.contains(&k.as_str()) && !k.starts_with("ApproximateNumber"))
        .map(|(k, v)| match k.as_str() {
            // CloudFormation passes the count as a string, the SDK as a number.
            "RedrivePolicy" => {
                let policy: Value = serde_json::from_str(&v).unwrap();
                let count = &policy["maxReceiveCount"];
                let count = count
                    .as_str()
                    .map_or_else(|| count.to_string(), str::to_string);
                (k, count)
            }
            _ => (k, v),
        })
        .collect();
    // ministack lists this default for queues made by CreateQueue only.
    if shape.get("FifoQueue").is_some_and(|f| f == "true") {
        shape
            .entry("ContentBasedDeduplication".into())
            .or_insert_with(|| "false".into());
    }
    shape
}

/// A table's keys, attributes, billing, index and TTL, without its name.
async fn table_shape(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Value {
    let t = ddb.describe_table().table_name(name).send().await.unwrap();
    let t = t.table().unwrap();
    let keys = |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<String> {
        ks.iter()
            .map(|k| format!("{}:{}", k.attribute_name(), k.key_type().as_str()))
            .collect()
    };
    let mut attributes: Vec<String> = t
        .attribute_definitions()
        .iter()
        .map(|a| format!("{}:{}", a.attribute_name(), a.attribute_type().as_str()))
        .collect();
    attributes.sort();
    let indexes: Vec<Value> = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            json!({
                "name": g.index_name(),
                "keys": keys(g.key_schema()),
                "projection": g.projection().and_then(|p| p.projection_type()).map(|p| p.as_str()),
            })
        })
        .collect();
    let ttl = ddb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    json!({
        "keys": keys(t.key_schema()),
        "attributes": attributes,
        "billing": t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str()),
        "indexes": indexes,
        "ttl": [ttl.attribute_name(), ttl.time_to_live_status().map(|s| s.as_str())],
    })
}

/// Whether the template's `logical` table enables TTL on `ttl`.
fn template_declares_ttl(logical: &str) -> bool {
    let template = std::fs::read_to_string(repo_root().join("infra/template.yaml")).unwrap();
    let block: String = template
        .lines()
        .skip_while(|l| *l != format!("  {logical}:"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n");
    block.contains("TimeToLiveSpecification: { AttributeName: ttl, Enabled: true }")
}

/// `serve --backend aws --bootstrap` creates the queues and tables the
/// template deploys: the same attributes, read back from one emulator.
/// The visibility timeout is the one setting each takes from its own
/// caller; here the bootstrap is given the template's (twice its default
/// FunctionTimeout of 180 s).
async fn assert_bootstrap_matches_the_stack(tools: &Tools, stack: &str) {
    let sdk = sdk(tools).await;
    let clients = clawhooks::aws::AwsClients::from_config(sdk);
    let settings = clawhooks::aws::BootstrapSettings {
        max_receive_count: 2,
        visibility_timeout: Duration::from_secs(360),
        ..clawhooks::aws::BootstrapSettings::new(emulator::unique("boot"))
    };
    let boot = clawhooks::aws::bootstrap(&clients, &settings)
        .await
        .unwrap();
    let deployed = stack_resources(tools, stack);
    for (logical, url) in [
        ("HandlerQueue", &boot.handler_queue_url),
        ("HandlerDeadLetterQueue", &boot.handler_dlq_url),
        ("EventsQueue", &boot.events_queue_url),
        ("EventsDeadLetterQueue", &boot.events_dlq_url),
        ("DeliveryQueue", &boot.delivery_queue_url),
        ("DeliveryDeadLetterQueue", &boot.delivery_dlq_url),
    ] {
        let from_stack = queue_shape(&clients.sqs, &deployed[logical]).await;
        let from_bootstrap = queue_shape(&clients.sqs, url).await;
        assert_eq!(
            from_stack, from_bootstrap,
            "{logical}: template vs --bootstrap"
        );
    }
    use clawhooks::ports::Table;
    for (logical, table) in [
        ("SessionsTable", Table::Sessions),
        ("DedupTable", Table::Dedup),
        ("EventsTable", Table::Events),
        ("DeliveriesTable", Table::Deliveries),
        ("LimitsTable", Table::Limits),
    ] {
        let mut from_stack = table_shape(&clients.dynamodb, &deployed[logical]).await;
        let from_bootstrap = table_shape(&clients.dynamodb, boot.tables.get(table)).await;
        // ministack's CloudFormation does not apply TimeToLiveSpecification
        // (its table provisioner skips it), so the stack's TTL is read
        // from the template; what --bootstrap sets is read back live.
        let declared = template_declares_ttl(logical);
        from_stack["ttl"] = json!([declared.then_some("ttl"), declared.then_some("ENABLED")]);
        assert_eq!(
            from_stack, from_bootstrap,
            "{logical}: template vs --bootstrap"
        );
    }
}

/// Posts `n` hooks one after another and waits for each one's
/// `message_received` at the outgoing webhook: curl to receiver, through
/// API Gateway, both functions' queues and Lambda invocations. Prints the
/// figures; asserts only that every hook arrived.
async fn chain_latency(api: &Api, receiver: &Recorder, n: usize) {
    let mut sent = std::collections::HashMap::new();
    let posting = Instant::now();
    for i in 0..n {
        let at = Instant::now();
        let id = api
            .accepted("my-hook", &json!({"message": format!("latency {i}")}))
            .await;
        sent.insert(id, at);
    }
    let posted = posting.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut took: Vec<Duration> = loop {
        let got: Vec<Duration> = receiver
            .requests()
            .iter()
            .filter_map(|r| {
                let ev = r.json();
                let id = ev["eventId"].as_str()?;
                (ev["type"] == "message_received").then(|| sent.get(id).map(|s| r.at - *s))?
            })
            .collect();
        if got.len() >= n {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} hooks reached the receiver",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    took.sort();
    let pick = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
    eprintln!(
        "deployed chain, {n} hooks posted one after another in {} ms, curl -> outgoing webhook: p50 {} ms, p99 {} ms, max {} ms",
        posted.as_millis(),
        pick(0.50).as_millis(),
        pick(0.99).as_millis(),
        took[took.len() - 1].as_millis()
    );
}

/// `Prefer: wait=10` on a `run_agent` hook through the deployed API: the
/// ingress function waits on the status record the handler function
/// writes, and the agent's answer comes back in the 200.
async fn answer_back(api: &Api, model: &Recorder) {
    let asked = Instant::now();
    let answer = api
        .http
        .post(format!("{}/webhook/ask", api.base))
        .header("X-Webhook-Secret", WEBHOOK_SECRET)
        .header("Prefer", "wait=10")
        .json(&json!({"question": "what is six times seven?"}))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "Prefer: wait=10 through API Gateway: {body}");
    assert_eq!(body["status"], "done", "{body}");
    assert_eq!(body["reply"], "forty-two", "{body}");
    let asked_model = model.requests();
    assert!(
        asked_model[0].text().contains("six times seven"),
        "{}",
        asked_model[0].text()
    );
    eprintln!("Prefer: wait=10 answered in {:.0?}", asked.elapsed());
}

#[tokio::test]
#[ignore = "needs the deploy tools and an emulator: run scripts/sam-deploy-test.sh"]
async fn sam_deploy_of_the_template_serves_the_seed_end_to_end() {
    let tools = Tools::from_env();
    let at = StandIns::start().await;
    let template = package(&write_config(&at));
    let stack = emulator::unique("clawhooks-sam");

    let started = Instant::now();
    tools.put_secrets(&stack);
    tools.deploy(&template, &stack);
    eprintln!("sam deploy: {:.0?}", started.elapsed());
    assert_no_secret_in_function_configurations(&tools, &stack);
    assert_bootstrap_matches_the_stack(&tools, &stack).await;
    let api = Api::new(&tools.stack_output(&stack, "HttpApiId"), tools.port);

    let (status, _) = api
        .post_hook("my-hook", "wrong-secret", &json!({"message": "no"}))
        .await;
    assert_eq!(status, 401, "a wrong secret through API Gateway");
    // The hook secret opens no admin route; the admin secret (from the
    // ingress SSM folder) is what `event_status` below uses.
    let refused = api
        .http
        .get(format!("{}/events", api.base))
        .header("X-Webhook-Secret", WEBHOOK_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "the hook secret on an admin route");

    let sent_at = Instant::now();
    let seed = api
        .accepted(
            "my-hook",
            &json!({"message": "Hello from external service"}),
        )
        .await;
    let github: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo_root().join("tests/fixtures/github_pull_request_opened.json"),
        )
        .unwrap(),
    )
    .unwrap();
    api.accepted("github", &github).await;
    // A persistent session idle for 1 s: the scheduled sweep ends it.
    api.accepted("alerts", &json!({"alert": "disk full"})).await;
    let mut batch = Vec::new();
    for n in 0..4 {
        batch.push(api.accepted("good", &json!({"n": n})).await);
        if n == 1 {
            batch.push(api.accepted("poison", &json!({"n": 99})).await);
        }
    }
    let poison = batch.remove(2);

    let delivered = first_request(
        &at.receiver,
        Duration::from_secs(120),
        "message_received",
        |r| message_received_of(r, &seed),
    )
    .await;
    eprintln!("curl -> outgoing webhook: {:.0?}", sent_at.elapsed());
    assert!(
        verify_standard_webhook(SIGNING_SECRET, &delivered),
        "the signature does not verify: {:?}",
        delivered.headers
    );
    assert_eq!(
        delivered.json()["message"]["text"],
        "Hello from external service"
    );
    assert_eq!(delivered.json()["via"], "egress transform");
    assert_eq!(delivered.header("x-event-type"), Some("message_received"));

    let discord = at.discord.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(discord[0].path, "/api/v10/channels/4242/messages");
    // The handler's token, from its own SSM folder.
    assert_eq!(discord[0].header("authorization"), Some("Bot bot-token-1"));
    assert_eq!(
        discord[0].json()["content"],
        "🔔 OPENED: Update the README with new information.",
        "the handler's transform upper-cased the action"
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = api.event_status(&seed).await;
        if status["event"]["status"] == "done" {
            break;
        }
        assert!(Instant::now() < deadline, "GET /events/{seed}: {status}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    answer_back(&api, &at.model).await;

    let dead = dead_letter_ids(
        &tools,
        &tools.stack_output(&stack, "HandlerDeadLetterQueueUrl"),
    )
    .await;
    assert_eq!(dead, vec![poison], "only the poison hook is dead-lettered");
    assert!(
        at.poison.count() >= 2,
        "the poison hook was tried {} times",
        at.poison.count()
    );
    let good = at.good.wait_for(4, Duration::from_secs(60)).await;
    assert_eq!(good.len(), 4, "every batch mate was forwarded once");

    first_request(
        &at.receiver,
        Duration::from_secs(150),
        "the sweep's session_ended",
        |r| session_ended_of(r, "alerts-session"),
    )
    .await;
    eprintln!("idle session swept after {:.0?}", started.elapsed());

    chain_latency(&api, &at.receiver, 200).await;

    tools.delete(&stack);
    tools.delete_secrets(&stack);
    eprintln!("deploy, checks and delete: {:.0?}", started.elapsed());
}
