//! A function's secrets come from SSM Parameter Store, read with the real
//! SDK from the AWS emulator: every page, decrypted, only its own folder.

use clawhooks::aws::secrets::read_secrets;
use clawhooks_e2e::emulator;

#[tokio::test]
async fn a_function_reads_every_secret_of_its_own_folder_and_nothing_else() {
    let emu = emulator::shared();
    let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
    let root = format!("/{}", emulator::unique("secrets"));
    let put = |name: String, value: String| {
        let ssm = ssm.clone();
        async move {
            ssm.put_parameter()
                .name(name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .send()
                .await
                .unwrap();
        }
    };
    // More than one page (SSM answers ten at a time).
    for n in 0..13 {
        put(format!("{root}/handler/TOKEN_{n}"), format!("value-{n}")).await;
    }
    put(format!("{root}/handler/deeper/NOT_MINE"), "x".into()).await;
    put(format!("{root}/ingress/INBOUND"), "y".into()).await;

    let found = read_secrets(&ssm, &format!("{root}/handler"))
        .await
        .unwrap();
    assert_eq!(found.len(), 13, "{:?}", found.keys());
    for n in 0..13 {
        assert_eq!(
            found[&format!("TOKEN_{n}")],
            format!("value-{n}"),
            "decrypted"
        );
    }
    assert!(read_secrets(&ssm, &format!("{root}/egress"))
        .await
        .unwrap()
        .is_empty());
}

/// What the template tells every function where its queues and tables are.
const RESOURCES: [&str; 11] = [
    "CLAWHOOKS_HANDLER_QUEUE_URL",
    "CLAWHOOKS_HANDLER_DLQ_URL",
    "CLAWHOOKS_EVENTS_QUEUE_URL",
    "CLAWHOOKS_EVENTS_DLQ_URL",
    "CLAWHOOKS_DELIVERY_QUEUE_URL",
    "CLAWHOOKS_DELIVERY_DLQ_URL",
    "CLAWHOOKS_SESSIONS_TABLE",
    "CLAWHOOKS_DEDUP_TABLE",
    "CLAWHOOKS_EVENTS_TABLE",
    "CLAWHOOKS_DELIVERIES_TABLE",
    "CLAWHOOKS_LIMITS_TABLE",
];

/// Starts the ingress function's bootstrap as Lambda would, with `config`
/// and its secrets path, against a runtime API that is not there; its
/// output (its log goes to stdout, as on Lambda) once it has stopped.
fn start_ingress(config: &str, secrets_path: &str, timeout: &str) -> String {
    let emu = emulator::shared();
    let bin = emulator::workspace_binary("clawhooks-ingress").unwrap();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(bin)
        .envs(emu.env())
        .env("CLAWHOOKS_CONFIG_JSON", config)
        .env("CLAWHOOKS_SECRETS_PATH", secrets_path)
        .env("CLAWHOOKS_FUNCTION_TIMEOUT", timeout)
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "clawhooks-ingress")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("RUST_LOG", "info")
        .envs(
            RESOURCES
                .iter()
                .map(|r| (*r, "not-used-before-the-first-event")),
        )
        .output()
        .unwrap();
    eprintln!("ingress stopped after {:?}", started.elapsed());
    assert!(!out.status.success(), "no runtime API, yet it ran");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a function's log: {log:?}"
    );
    log
}

#[tokio::test]
async fn a_function_without_its_own_secret_or_time_refuses_to_start_and_says_why() {
    let emu = emulator::shared();
    let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
    let root = format!("/{}", emulator::unique("init"));
    // The handler's token exists, in the handler's folder only.
    ssm.put_parameter()
        .name(format!("{root}/handler/BOT"))
        .value("bot-1")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let config = r#"{"webhooks":{"incoming":{"secret":"${IN_SECRET}","acceptTimeout":20,"maxWait":5},
        "handlers":[{"id":"d","action":"send_message","template":"x","target":{"channel":"discord"}}],
        "channels":{"discord":{"type":"discord","botToken":"${BOT}","channelId":"1"}}}}"#;

    let log = start_ingress(config, &format!("{root}/ingress"), "30");
    assert!(
        log.contains(&format!(
            "webhooks.incoming.secret: ${{IN_SECRET}} is not set for the ingress function (looked in SSM parameters under {root}/ingress and the environment)"
        )),
        "{log}"
    );
    assert!(
        !log.contains("BOT"),
        "the handler's secret is not ingress's concern: {log}"
    );

    ssm.put_parameter()
        .name(format!("{root}/ingress/IN_SECRET"))
        .value("s3cret")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let log = start_ingress(config, &format!("{root}/ingress"), "10");
    assert!(log.contains("webhooks.incoming.acceptTimeout: "), "{log}");
    assert!(log.contains("timeout of 10 s"), "{log}");
    assert!(
        !log.contains("s3cret") && !log.contains("bot-1"),
        "a secret in the log: {log}"
    );

    // With its secret and time it gets as far as asking the (absent)
    // runtime for an event.
    let log = start_ingress(config, &format!("{root}/ingress"), "30");
    assert!(
        log.contains("secrets read from SSM") && log.contains("count=1"),
        "{log}"
    );
    assert!(!log.contains("init failed"), "{log}");
    assert!(log.contains("Connection refused"), "{log}");
}
