//! `clawhooks serve --backend aws [--bootstrap]`: the same stages in one
//! process on SQS and DynamoDB at `AWS_ENDPOINT_URL` (AWS itself,
//! LocalStack, ministack, moto), the design's "local emulator against
//! LocalStack".

use anyhow::{Context, Result};
use clawhooks::aws::{self, AwsClients, BootstrapSettings};
use clawhooks::ports::Backend;

/// The backend on SQS and DynamoDB. With `bootstrap_prefix`, the queues,
/// dead-letter queues and tables are created first (idempotent) under that
/// prefix; without, they are named by the `CLAWHOOKS_*` variables of
/// `clawhooks::aws`, as on Lambda.
/// `dead_letters`: how long the dead-letter queues it creates keep a message.
pub async fn connect(
    bootstrap_prefix: Option<&str>,
    max_receive_count: u32,
    dead_letters: std::time::Duration,
) -> Result<Backend> {
    let clients = AwsClients::from_env().await;
    let resources = match bootstrap_prefix {
        Some(prefix) => {
            let settings = BootstrapSettings {
                max_receive_count,
                dead_letter_retention: dead_letters,
                ..BootstrapSettings::new(prefix)
            };
            let res = aws::bootstrap(&clients, &settings)
                .await
                .context("creating the queues and tables")?;
            tracing::info!(handler_queue = %res.handler_queue_url, prefix, "AWS resources ready");
            res
        }
        None => aws::Resources::from_env(&clawhooks::config::load::process_env)?,
    };
    Ok(aws::backend(&clients, &resources))
}
