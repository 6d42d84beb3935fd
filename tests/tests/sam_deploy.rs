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

    /// `sam deploy` of the template as a user runs it, with the
    /// parameters this test needs: host bootstraps, a quick redrive and a
    /// sweep every minute.
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
                &format!("WebhookSecret={WEBHOOK_SECRET}"),
                &format!("SigningSecret={SIGNING_SECRET}"),
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
        }
    }
}

/// The config bundled into the functions: the seed's incoming secret, its
/// GitHub example, forward targets and a signed outgoing webhook, all on
/// 127.0.0.1; secrets as `${VAR}`, filled from the NoEcho parameters.
fn write_config(at: &StandIns) -> PathBuf {
    let config = json!({"webhooks": {
        "incoming": {"secret": "${CLAWHOOKS_WEBHOOK_SECRET}"},
        "network": {"allowPrivate": true},
        "handlers": [
            {"id": "github", "path": "/github", "action": "send_message",
             "target": {"channel": "discord", "peer": "dev-channel"},
             "template": "🔔 {{event.action}}: {{event.pull_request.title}}"},
            {"id": "good", "action": "forward", "forward": {"url": at.good.url("/ok")}},
            {"id": "poison", "action": "forward", "forward": {"url": at.poison.url("/fail")}},
            {"id": "alerts", "sessionMode": "persistent", "sessionKey": "alerts-session",
             "sessionTimeout": "1s"}
        ],
        "channels": {"discord": {"type": "discord", "botToken": "bot-token-1",
                                  "apiBase": at.discord.url("/api/v10"),
                                  "peers": {"dev-channel": "4242"}}},
        "outgoing": [{
            "id": "receiver", "url": at.receiver.url("/hook"),
            "events": ["message_received", "session_ended"], "secret": "${CLAWHOOKS_SIGNING_SECRET}"
        }]
    }});
    let dir = emulator::target_dir().join("sam-deploy");
    std::fs::create_dir_all(&dir).unwrap();
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
        clawhooks::adapters::http::install_crypto_provider();
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
            .header("X-Webhook-Secret", WEBHOOK_SECRET)
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
    let config = clawhooks::aws::clients::config_loader()
        .endpoint_url(&tools.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .load()
        .await;
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

#[tokio::test]
#[ignore = "needs the deploy tools and an emulator: run scripts/sam-deploy-test.sh"]
async fn sam_deploy_of_the_template_serves_the_seed_end_to_end() {
    let tools = Tools::from_env();
    let at = StandIns::start().await;
    let template = package(&write_config(&at));
    let stack = emulator::unique("clawhooks-sam");

    let started = Instant::now();
    tools.deploy(&template, &stack);
    eprintln!("sam deploy: {:.0?}", started.elapsed());
    let api = Api::new(&tools.stack_output(&stack, "HttpApiId"), tools.port);

    let (status, _) = api
        .post_hook("my-hook", "wrong-secret", &json!({"message": "no"}))
        .await;
    assert_eq!(status, 401, "a wrong secret through API Gateway");

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

    let discord = at.discord.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(discord[0].path, "/api/v10/channels/4242/messages");
    assert_eq!(
        discord[0].json()["content"],
        "🔔 opened: Update the README with new information."
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
    let good = at.good.wait_for(4, Duration::from_secs(30)).await;
    assert_eq!(good.len(), 4, "every batch mate was forwarded once");

    first_request(
        &at.receiver,
        Duration::from_secs(150),
        "the sweep's session_ended",
        |r| session_ended_of(r, "alerts-session"),
    )
    .await;
    eprintln!("idle session swept after {:.0?}", started.elapsed());

    tools.delete(&stack);
    eprintln!("deploy, checks and delete: {:.0?}", started.elapsed());
}
