//! Creates a deployment's queues and tables when they do not exist, for
//! `clawhooks serve --backend aws --bootstrap` and the tests (on AWS the SAM
//! template creates them). Safe to run again: existing resources are kept
//! and their redrive policies and TTL settings brought in line.
//!
//! Names, for a prefix `p`: queues `p-handler.fifo`, `p-events.fifo`,
//! `p-delivery`, each with a `-dlq` twin (`p-handler-dlq.fifo`, …); tables
//! `p-sessions`, `p-dedup`, `p-events`, `p-deliveries`, `p-limits`.

use super::{AwsClients, AwsError, Resources, TableNames};
use crate::ports::Table;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct BootstrapSettings {
    /// Prefix of every queue and table name.
    pub prefix: String,
    /// Receives before SQS moves a message to its dead-letter queue.
    pub max_receive_count: u32,
    /// The queues' default visibility timeout (a consumer may ask for another).
    pub visibility_timeout: Duration,
}

impl BootstrapSettings {
    pub fn new(prefix: impl Into<String>) -> Self {
        BootstrapSettings {
            prefix: prefix.into(),
            max_receive_count: 5,
            visibility_timeout: Duration::from_secs(60),
        }
    }
}

/// Creates (or finds) everything; returns where it is.
pub async fn bootstrap(
    clients: &AwsClients,
    settings: &BootstrapSettings,
) -> Result<Resources, AwsError> {
    let p = &settings.prefix;
    let (handler_queue_url, handler_dlq_url) =
        queue_pair(clients, settings, &format!("{p}-handler"), true).await?;
    let (events_queue_url, events_dlq_url) =
        queue_pair(clients, settings, &format!("{p}-events"), true).await?;
    let (delivery_queue_url, delivery_dlq_url) =
        queue_pair(clients, settings, &format!("{p}-delivery"), false).await?;
    let tables = TableNames::with_prefix(p);
    for t in Table::ALL {
        table(clients, tables.get(t)).await?;
    }
    Ok(Resources {
        handler_queue_url,
        handler_dlq_url,
        events_queue_url,
        events_dlq_url,
        delivery_queue_url,
        delivery_dlq_url,
        tables,
    })
}

/// A queue and its dead-letter queue, joined by a redrive policy.
async fn queue_pair(
    clients: &AwsClients,
    settings: &BootstrapSettings,
    base: &str,
    fifo: bool,
) -> Result<(String, String), AwsError> {
    let suffix = if fifo { ".fifo" } else { "" };
    let dlq_url = queue(clients, &format!("{base}-dlq{suffix}"), fifo).await?;
    let url = queue(clients, &format!("{base}{suffix}"), fifo).await?;
    let sqs_err = |op: &'static str, queue: &str, e: String| AwsError::Sqs {
        op,
        queue: queue.to_string(),
        message: e,
    };
    // The DLQ's ARN from SQS itself: account ids differ between AWS and
    // each emulator, so none is ever assumed.
    let dlq_arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| {
            sqs_err(
                "GetQueueAttributes",
                &dlq_url,
                DisplayErrorContext(&e).to_string(),
            )
        })?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| sqs_err("GetQueueAttributes", &dlq_url, "no QueueArn".into()))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": settings.max_receive_count,
    })
    .to_string();
    clients
        .sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            settings.visibility_timeout.as_secs().to_string(),
        )
        .send()
        .await
        .map_err(|e| {
            sqs_err(
                "SetQueueAttributes",
                &url,
                DisplayErrorContext(&e).to_string(),
            )
        })?;
    Ok((url, dlq_url))
}

/// Creates a queue with only the attributes that cannot change later, so
/// creating it again is a no-op rather than a "different attributes" error.
async fn queue(clients: &AwsClients, name: &str, fifo: bool) -> Result<String, AwsError> {
    let mut req = clients.sqs.create_queue().queue_name(name);
    if fifo {
        req = req.attributes(QueueAttributeName::FifoQueue, "true");
    }
    let out = req.send().await.map_err(|e| AwsError::Sqs {
        op: "CreateQueue",
        queue: name.to_string(),
        message: DisplayErrorContext(&e).to_string(),
    })?;
    out.queue_url()
        .map(str::to_string)
        .ok_or_else(|| AwsError::Sqs {
            op: "CreateQueue",
            queue: name.to_string(),
            message: "no queue URL in the answer".into(),
        })
}

/// A `pk`/`sk` table, on demand, with TTL on the `ttl` attribute.
async fn table(clients: &AwsClients, name: &str) -> Result<(), AwsError> {
    let db = &clients.dynamodb;
    let err = |op: &'static str, message: String| AwsError::Dynamo {
        op,
        table: name.to_string(),
        message,
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("name and type are set")
    };
    let created = db
        .create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(e) = created {
        if e.code() != Some("ResourceInUseException") {
            return Err(err("CreateTable", DisplayErrorContext(&e).to_string()));
        }
    }
    // Creation is asynchronous on AWS: wait until the table takes writes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let out = db
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| err("DescribeTable", DisplayErrorContext(&e).to_string()))?;
        let status = out.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(err(
                "DescribeTable",
                format!("still {status:?} after 120 s"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ttl = db
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| err("DescribeTimeToLive", DisplayErrorContext(&e).to_string()))?;
    let status = ttl
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status());
    if !matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name("ttl")
            .enabled(true)
            .build()
            .expect("name and flag are set");
        db.update_time_to_live()
            .table_name(name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| err("UpdateTimeToLive", DisplayErrorContext(&e).to_string()))?;
    }
    Ok(())
}
