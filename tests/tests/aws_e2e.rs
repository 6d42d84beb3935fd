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
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
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
    let bin = emulator::workspace_binary("clawhooks-local", "clawhooks").unwrap();
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
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("clawhooks listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("clawhooks serve printed its address");
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
    clawhooks::adapters::http::install_crypto_provider();
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
