//! `custom.lambda`: real Lambda Invoke calls against the AWS emulator
//! (ministack, from PyPI, started here on 127.0.0.1), with Python functions
//! created through the Lambda API.

mod handler_support;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime, State};
use clawhooks::handler::custom::lambda::LambdaInvoker;
use clawhooks_e2e::Recorder;
use handler_support::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MINISTACK: &str = "ministack==1.5.33";

/// A ministack process; killed on drop.
struct Emulator {
    child: Child,
    endpoint: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Installs ministack into a venv under the target directory (once), and
/// starts it on a free port.
fn emulator() -> Emulator {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let venv = target.join("ministack-venv");
    let bin = venv.join("bin/ministack");
    if !bin.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success()
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", MINISTACK])
                .status()
                .unwrap()
                .success();
        assert!(ok, "could not install {MINISTACK}");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
        .env("BIND_HOST", "127.0.0.1")
        .env("GATEWAY_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ministack did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Emulator { child, endpoint }
}

/// A zip holding `index.py`.
fn zip_of(code: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("clawhooks-lambda-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.py"), code).unwrap();
    let zip = dir.join("f.zip");
    let ok = Command::new("python3")
        .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w'); z.write(sys.argv[2], 'index.py'); z.close()"])
        .arg(&zip)
        .arg(dir.join("index.py"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let bytes = std::fs::read(&zip).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

async fn create(invoker: &LambdaInvoker, name: &str, code: &str) {
    let c = invoker.client();
    c.create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role("arn:aws:iam::000000000000:role/lambda-role")
        .handler("index.handler")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(zip_of(code)))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let f = c.get_function().function_name(name).send().await.unwrap();
        if f.configuration().and_then(|c| c.state()) == Some(&State::Active) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never became Active");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_functions_are_invoked_with_the_event() {
    let emu = emulator();
    // Only this test runs in this binary, so setting the environment is safe.
    for (k, v) in [
        ("AWS_ENDPOINT_URL", emu.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        std::env::set_var(k, v);
    }
    let invoker = LambdaInvoker::from_env().await;
    create(
        &invoker,
        "summarise",
        "def handler(event, context):\n    a = event['body']['alert']\n    return {'text': event['handlerId'] + ': ' + a['name'] + ' on ' + a['host'], 'eventId': event['event']['eventId'], 'options': event['options']}\n",
    )
    .await;
    create(
        &invoker,
        "broken",
        "def handler(event, context):\n    raise ValueError('boom')\n",
    )
    .await;

    let chat = Recorder::start().await;
    let h = Harness::new_with(
        &json!({"webhooks": {
            "handlers": [
                {"id": "alerts", "action": "custom", "target": {"channel": "c"},
                 "custom": {"lambda": "summarise", "options": {"team": "sre"}}},
                {"id": "broken", "action": "custom", "custom": {"lambda": "broken"}},
                {"id": "missing", "action": "custom", "custom": {"lambda": "no-such-function"}}
            ],
            "channels": {"c": {"type": "webhook", "url": chat.url("/c")}}
        }})
        .to_string(),
        |stage| stage.with_lambda(invoker.clone()),
    );

    let ok = h.post("alerts", &[], &fixture("alert_firing.json")).await;
    let broken = h.post("broken", &[], "{}").await;
    let missing = h.post("missing", &[], "{}").await;
    assert_eq!(h.run_handler().await, vec![Ok(()), Ok(()), Ok(())]);

    assert_eq!(
        chat.requests()[0].json()["text"],
        "alerts: HighCPU on web-1"
    );
    let status = h.status(&ok.event_id()).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["result"]["data"]["eventId"], ok.event_id());
    assert_eq!(status["result"]["data"]["options"], json!({"team": "sre"}));

    let status = h.status(&broken.event_id()).await;
    assert_eq!(status["status"], "failed");
    assert!(
        status["error"].as_str().unwrap().contains("boom"),
        "{status}"
    );

    let status = h.status(&missing.event_id()).await;
    assert_eq!(
        status["status"], "failed",
        "a missing function is not retried: {status}"
    );
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .contains("no-such-function"),
        "{status}"
    );
}
