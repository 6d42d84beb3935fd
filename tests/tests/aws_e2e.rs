//! clawhooks on SQS and DynamoDB, end to end, on a real AWS emulator:
//!
//! - the `clawhooks` binary as a user runs it, `serve --backend aws
//!   --bootstrap`, with the assertions made on the emulator's own queues
//!   and tables through the AWS SDK;
//! - the real Lambda binaries run by the emulator (ministack runs
//!   `provided.al2023` bootstraps as host processes) behind SQS event
//!   source mappings with `ReportBatchItemFailures`.
//!
//! Run: `cargo test -p clawhooks-e2e --test aws_e2e`.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use clawhooks_e2e::emulator::{self, Emulator};
use clawhooks_e2e::process::spawn_announced;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `clawhooks serve` process, killed on drop.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(config: &Value) -> PathBuf {
    let dir = emulator::target_dir().join("aws-e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.json", emulator::unique("config")));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Starts `clawhooks serve --backend aws --bootstrap` against the emulator
/// and waits for the line that gives its address.
fn serve(emu: &Emulator, prefix: &str, config: &Value, extra: &[&str]) -> Serve {
    let bin = emulator::workspace_binary("clawhooks").unwrap();
    let mut cmd = Command::new(bin);
    cmd.args([
        "serve",
        "--backend",
        "aws",
        "--bootstrap",
        "--aws-prefix",
        prefix,
    ])
    .args([
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--max-receive-count",
        "3",
    ])
    .arg("--config")
    .arg(write_config(config))
    .args(extra)
    .envs(emu.env())
    .env("RUST_LOG", "warn")
    .stderr(Stdio::inherit());
    let (child, base) = spawn_announced(cmd);
    Serve { child, base }
}

async fn queue_url(emu: &Emulator, name: &str) -> String {
    let sqs = emu.clients().await.sqs;
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue {name}: {e:?}"))
        .queue_url()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_aws_bootstraps_and_queues_hooks_in_sqs_and_dynamodb() {
    let emu = emulator::shared();
    let prefix = emulator::unique("serve");
    let config = json!({
        "webhooks": {
            "incoming": { "secret": "s3cret" },
            "handlers": [{ "id": "github", "path": "/github" }]
        }
    });
    let server = serve(emu, &prefix, &config, &["--no-workers"]);
    clawhooks::outbound::http::install_crypto_provider();
    let http = reqwest::Client::new();
    let post = |key: &'static str| {
        http.post(format!("{}/webhook/github", server.base))
            .header("x-webhook-secret", "s3cret")
            .header("idempotency-key", key)
            .json(&json!({ "action": "opened", "number": 7 }))
            .send()
    };
    let first = post("delivery-1").await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let event_id = first["eventId"].as_str().unwrap().to_string();
    let session = first["sessionKey"].as_str().unwrap().to_string();
    let again: Value = post("delivery-1").await.unwrap().json().await.unwrap();
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["eventId"], event_id.as_str());

    // Bootstrap made every queue, with redrive to its dead-letter queue.
    let clients = emu.clients().await;
    let handler_url = queue_url(emu, &format!("{prefix}-handler.fifo")).await;
    for (queue, dlq) in [
        ("handler.fifo", "handler-dlq.fifo"),
        ("events.fifo", "events-dlq.fifo"),
        ("delivery", "delivery-dlq"),
    ] {
        let url = queue_url(emu, &format!("{prefix}-{queue}")).await;
        let attrs = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .unwrap();
        let policy: Value =
            serde_json::from_str(&attrs.attributes().unwrap()[&QueueAttributeName::RedrivePolicy])
                .unwrap();
        assert!(
            policy["deadLetterTargetArn"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{prefix}-{dlq}")),
            "{queue}: {policy}"
        );
        assert_eq!(policy["maxReceiveCount"].to_string().trim_matches('"'), "3");
    }

    // The hook is in the handler queue once, grouped by its session.
    let got = clients
        .sqs
        .receive_message()
        .queue_url(&handler_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let msgs = got.messages();
    assert_eq!(msgs.len(), 1, "queued once despite the repeat");
    let body: Value = serde_json::from_str(msgs[0].body().unwrap()).unwrap();
    assert_eq!(body["eventId"], event_id.as_str());
    assert_eq!(body["hookId"], "github");
    assert_eq!(
        msgs[0].attributes().unwrap()[&MessageSystemAttributeName::MessageGroupId],
        session
    );
    assert_eq!(
        msgs[0].message_attributes().unwrap()["hookId"].string_value(),
        Some("github")
    );

    // The dedup key and the event's status record are in their tables.
    let db = &clients.dynamodb;
    let dedup = db
        .scan()
        .table_name(format!("{prefix}-dedup"))
        .send()
        .await
        .unwrap();
    assert_eq!(dedup.count(), 1);
    assert!(
        dedup.items()[0].contains_key("ttl"),
        "dedup keys expire: {:?}",
        dedup.items()[0]
    );
    let status = db
        .get_item()
        .table_name(format!("{prefix}-events"))
        .key("pk", AttributeValue::S(format!("#{event_id}")))
        .key("sk", AttributeValue::S("#status".into()))
        .send()
        .await
        .unwrap();
    let record: Value = match status.item().and_then(|i| i.get("v")) {
        Some(AttributeValue::S(v)) => serde_json::from_str(v).unwrap(),
        other => panic!("no status record: {other:?}"),
    };
    assert_eq!(record["status"], "queued");
    assert_eq!(record["sessionKey"], session.as_str());
}

/// A function's deployment package: the binary as `bootstrap` at the zip's
/// root, as `provided.al2023` expects (zipped by Python's zipfile, which
/// keeps the executable bit; Python is on hand for the emulator anyway).
fn lambda_zip(binary: &std::path::Path) -> Vec<u8> {
    let dir = emulator::target_dir()
        .join("aws-e2e")
        .join(emulator::unique("zip"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(binary, dir.join("bootstrap")).unwrap();
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-c", "function.zip", "bootstrap"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "zip the bootstrap");
    let zip = std::fs::read(dir.join("function.zip")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    zip
}

/// The account id of the emulator, from an ARN it made (never assumed:
/// ministack, moto and AWS each have their own).
async fn account_of(clients: &clawhooks::aws::AwsClients, queue_url: &str) -> String {
    let attrs = clients
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attrs.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    arn.split(':').nth(4).unwrap().to_string()
}

/// Creates a `provided.al2023` function from a workspace binary, with the
/// deployment's resources and `config` in its environment.
async fn create_function(
    emu: &Emulator,
    res: &clawhooks::aws::Resources,
    bin: &str,
    config: &Value,
    extra_env: &[(&str, &str)],
) -> String {
    use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
    let clients = emu.clients().await;
    let lambda = aws_sdk_lambda::Client::new(&emu.sdk_config().await);
    let binary = emulator::workspace_binary(bin).unwrap();
    let account = account_of(&clients, &res.handler_queue_url).await;
    let name = emulator::unique(bin);
    let mut env = Environment::builder()
        .variables("AWS_ENDPOINT_URL", emu.endpoint.clone())
        .variables("RUST_LOG", "info")
        .variables("CLAWHOOKS_CONFIG_JSON", config.to_string());
    for (k, v) in res.to_env() {
        env = env.variables(k, v);
    }
    for (k, v) in extra_env {
        env = env.variables(*k, *v);
    }
    lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(format!("arn:aws:iam::{account}:role/clawhooks-test"))
        .timeout(30)
        .environment(env.build())
        .code(
            FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(lambda_zip(&binary)))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    name
}

/// An API Gateway HTTP API (payload v2) event, as AWS sends it.
fn api_event(path: &str, source_ip: &str, headers: Value, body: &Value) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
            "http": { "method": "POST", "path": path, "protocol": "HTTP/1.1",
                      "sourceIp": source_ip, "userAgent": "test" },
            "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "27/Nov/2026:12:00:00 +0000", "timeEpoch": 1_795_000_000_000u64
        },
        "body": body.to_string(), "isBase64Encoded": false
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingress_lambda_answers_api_gateway_and_queues_the_hook() {
    let emu = emulator::shared();
    if !emu.kind.runs_lambda() {
        eprintln!("skipped: {:?} runs no Lambda functions", emu.kind);
        return;
    }
    let clients = emu.clients().await;
    let res = clawhooks::aws::bootstrap(
        &clients,
        &clawhooks::aws::BootstrapSettings::new(emulator::unique("lambda-in")),
    )
    .await
    .unwrap();
    let config = json!({ "webhooks": { "incoming": {
        "secret": "${CLAWHOOKS_WEBHOOK_SECRET}",
        "allowedIPs": ["203.0.113.0/24"]
    }}});
    // The secret reaches the config from the environment, as from a NoEcho parameter.
    let function = create_function(
        emu,
        &res,
        "clawhooks-ingress",
        &config,
        &[("CLAWHOOKS_WEBHOOK_SECRET", "s3cret")],
    )
    .await;
    let lambda = aws_sdk_lambda::Client::new(&emu.sdk_config().await);

    let invoke = |event: Value| {
        let lambda = lambda.clone();
        let function = function.clone();
        async move {
            let out = lambda
                .invoke()
                .function_name(function)
                .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
                .send()
                .await
                .unwrap();
            assert!(out.function_error().is_none(), "{:?}", out.payload());
            let answer: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
            let body: Value =
                serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap();
            (answer["statusCode"].as_u64().unwrap(), body)
        }
    };
    let headers = json!({ "content-type": "application/json", "x-webhook-secret": "s3cret" });
    let payload = json!({ "alert": "disk full" });

    let (status, body) = invoke(api_event(
        "/webhook/alerts",
        "203.0.113.9",
        headers.clone(),
        &payload,
    ))
    .await;
    assert_eq!(status, 202, "{body}");
    let event_id = body["eventId"].as_str().unwrap().to_string();

    // The caller's address is API Gateway's sourceIp, not a header it sets.
    let mut spoofed = headers.clone();
    spoofed["x-forwarded-for"] = json!("203.0.113.9");
    let (status, body) = invoke(api_event(
        "/webhook/alerts",
        "198.51.100.7",
        spoofed,
        &payload,
    ))
    .await;
    assert_eq!(status, 403, "{body}");
    let mut wrong = headers.clone();
    wrong["x-webhook-secret"] = json!("nope");
    let (status, _) = invoke(api_event("/webhook/alerts", "203.0.113.9", wrong, &payload)).await;
    assert_eq!(status, 401);

    let got = clients
        .sqs
        .receive_message()
        .queue_url(&res.handler_queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let bodies: Vec<Value> = got
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 1, "only the accepted hook is queued");
    assert_eq!(bodies[0]["eventId"], event_id.as_str());
    assert_eq!(bodies[0]["sourceIp"], "203.0.113.9");
}

/// The handler Lambda behind a real SQS event source mapping with
/// `ReportBatchItemFailures`: a poison hook (its forward target always
/// answers 500) is retried and dead-lettered alone, while the hooks that
/// arrived in the same batches are handled once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_record_goes_to_the_dlq_alone_while_its_batch_mates_succeed() {
    use clawhooks::event::{Body, InboundEvent};
    use clawhooks::ports::NewMessage;
    use clawhooks_e2e::{Recorder, Reply};

    let emu = emulator::shared();
    if !emu.kind.runs_lambda() {
        eprintln!("skipped: {:?} runs no Lambda functions", emu.kind);
        return;
    }
    let good = Recorder::start().await;
    let bad = Recorder::start_with(Reply::status(500)).await;
    let clients = emu.clients().await;
    let mut settings = clawhooks::aws::BootstrapSettings::new(emulator::unique("poison"));
    settings.max_receive_count = 2;
    settings.visibility_timeout = Duration::from_secs(3);
    let res = clawhooks::aws::bootstrap(&clients, &settings)
        .await
        .unwrap();
    let config = json!({"webhooks": {
        "network": {"allowPrivate": true},
        "handlers": [
            {"id": "good", "action": "forward", "forward": {"url": good.url("/ok")}},
            {"id": "poison", "action": "forward", "forward": {"url": bad.url("/fail")}}
        ]
    }});
    let function = create_function(
        emu,
        &res,
        "clawhooks-handler",
        &config,
        &[("CLAWHOOKS_MAX_RECEIVE_COUNT", "2")],
    )
    .await;

    // Queue the hooks first, so the mapping's first polls see them together.
    let backend = clawhooks::aws::backend(&clients, &res);
    let hook = |handler: &str, n: usize| InboundEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        hook_id: handler.to_string(),
        handler_id: Some(handler.to_string()),
        session_key: format!("hook:{}", uuid::Uuid::new_v4()),
        persistent: false,
        received_at: chrono::Utc::now(),
        source_ip: "203.0.113.1".into(),
        headers: Default::default(),
        query: Default::default(),
        content_type: Some("application/json".into()),
        body: Body::Json(format!(r#"{{"n": {n}}}"#)),
    };
    let mut hooks: Vec<InboundEvent> = (0..4).map(|n| hook("good", n)).collect();
    hooks.insert(2, hook("poison", 99));
    let poison_id = hooks[2].event_id.clone();
    for ev in &hooks {
        let msg = NewMessage::new(serde_json::to_string(ev).unwrap()).group(ev.session_key.clone());
        backend
            .handler_queue
            .send(NewMessage {
                dedup_id: Some(ev.event_id.clone()),
                ..msg
            })
            .await
            .unwrap();
    }

    let lambda = aws_sdk_lambda::Client::new(&emu.sdk_config().await);
    let queue_arn = {
        let attrs = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&res.handler_queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        attrs.attributes().unwrap()[&QueueAttributeName::QueueArn].clone()
    };
    lambda
        .create_event_source_mapping()
        .function_name(&function)
        .event_source_arn(queue_arn)
        .batch_size(10)
        .function_response_types(
            aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures,
        )
        .send()
        .await
        .unwrap();

    // Wait for the four good hooks at their target and the poison in the DLQ.
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    let dead = loop {
        let got = backend
            .handler_dlq
            .receive(10, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .unwrap();
        if !got.is_empty() && good.count() >= 4 {
            break got;
        }
        for m in got {
            // Seen too early: put it back for the final look.
            backend
                .handler_dlq
                .change_visibility(&m.receipt, Duration::ZERO)
                .await
                .unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "good: {} of 4 forwarded; poison not yet dead-lettered",
            good.count()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let dead_ids: Vec<String> = dead
        .iter()
        .map(|m| {
            serde_json::from_str::<InboundEvent>(&m.body)
                .unwrap()
                .event_id
        })
        .collect();
    assert_eq!(
        dead_ids,
        vec![poison_id],
        "only the poison hook is dead-lettered"
    );
    assert!(
        bad.count() >= 2,
        "the poison was tried up to maxReceiveCount ({} tries)",
        bad.count()
    );
    // Each good hook reached its target exactly once: the poison's retries did not redeliver them.
    let mut ns: Vec<i64> = good
        .requests()
        .iter()
        .map(|r| r.json()["n"].as_i64().unwrap())
        .collect();
    ns.sort();
    assert_eq!(ns, vec![0, 1, 2, 3]);
}

/// A deployment bootstrapped before the store had an index: running the
/// bootstrap again adds the GSI to its tables, and indexed reads work there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_adds_the_index_to_tables_made_before_it() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use clawhooks::ports::{IndexOrder, Item, Table};
    let emu = emulator::shared();
    let clients = emu.clients().await;
    let prefix = emulator::unique("upgrade");
    let sessions = format!("{prefix}-sessions");
    let string_key = |name: &str, kind: KeyType| {
        let attribute = AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap();
        let key = KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap();
        (attribute, key)
    };
    let ((pk, pk_key), (sk, sk_key)) = (
        string_key("pk", KeyType::Hash),
        string_key("sk", KeyType::Range),
    );
    clients
        .dynamodb
        .create_table()
        .table_name(&sessions)
        .attribute_definitions(pk)
        .attribute_definitions(sk)
        .key_schema(pk_key)
        .key_schema(sk_key)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("a table as the first bootstrap made it");

    let settings = clawhooks::aws::BootstrapSettings::new(&prefix);
    let res = clawhooks::aws::bootstrap(&clients, &settings)
        .await
        .unwrap_or_else(|e| panic!("bootstrap: {e}\n{}", emu.log_text()));
    let table = clients
        .dynamodb
        .describe_table()
        .table_name(&sessions)
        .send()
        .await
        .unwrap();
    let indexes: Vec<_> = table
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    assert_eq!(indexes, ["by-index-key"]);

    let store = clawhooks::aws::backend(&clients, &res).store;
    let now = chrono::Utc::now().timestamp();
    let item = Item::new("webhook:alerts", "session", json!({})).index_key(now - 5);
    store.put(Table::Sessions, item).await.unwrap();
    let due = store
        .query_index(Table::Sessions, 0..=now, IndexOrder::Ascending, 10, now)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].pk, "webhook:alerts");
}
