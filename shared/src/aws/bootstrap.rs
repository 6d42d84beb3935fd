//! Creates a deployment's queues and tables when they do not exist, for
//! `clawhooks serve --backend aws --bootstrap` and the tests (on AWS the SAM
//! template creates them). Safe to run again: existing resources are kept
//! and their redrive policies, TTL settings and index (GSI `by-index-key`, see
//! [`super::dynamo::index`]) brought in line.
//!
//! Names, for a prefix `p`: queues `p-handler.fifo`, `p-events.fifo`,
//! `p-delivery`, each with a `-dlq` twin (`p-handler-dlq.fifo`, …); tables
//! `p-sessions`, `p-dedup`, `p-events`, `p-deliveries`, `p-limits`.

use super::dynamo::index::{INDEX_NAME, KEY_ATTRIBUTE, SHARD_ATTRIBUTE};
use super::{AwsClients, AwsError, Resources, TableNames};
use crate::ports::Table;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use std::time::Duration;

/// How long a dead letter is kept unless `retention.deadLetters` says
/// otherwise: SQS's longest, the template's default too, so a failure
/// noticed after a long weekend can still be replayed.
pub const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// What `--bootstrap` creates is what `infra/template.yaml` deploys
/// (`tests/sam_deploy.rs` compares the two in one emulator), but for the
/// visibility timeout: the template sizes it for its function timeout,
/// `serve` takes `--visibility-timeout`.
#[derive(Debug, Clone)]
pub struct BootstrapSettings {
    /// Prefix of every queue and table name.
    pub prefix: String,
    /// Receives before SQS moves a message to its dead-letter queue.
    pub max_receive_count: u32,
    /// The queues' default visibility timeout (a consumer may ask for another).
    pub visibility_timeout: Duration,
    /// How long the dead-letter queues keep a message
    /// (`webhooks.retention.deadLetters`; SQS takes 60 s to 14 days).
    pub dead_letter_retention: Duration,
}

impl BootstrapSettings {
    pub fn new(prefix: impl Into<String>) -> Self {
        BootstrapSettings {
            prefix: prefix.into(),
            max_receive_count: 5,
            visibility_timeout: Duration::from_secs(60),
            dead_letter_retention: DEAD_LETTER_RETENTION,
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
    let dlq_arn = queue_arn(clients, &dlq_url).await?;
    let kept = settings
        .dead_letter_retention
        .clamp(Duration::from_secs(60), DEAD_LETTER_RETENTION);
    // Encrypted at rest with SQS's own keys, as AWS makes new queues.
    let sse = (QueueAttributeName::SqsManagedSseEnabled, "true".to_string());
    let dlq_attributes = [
        (
            QueueAttributeName::MessageRetentionPeriod,
            kept.as_secs().to_string(),
        ),
        sse.clone(),
    ];
    set_attributes(clients, &dlq_url, dlq_attributes).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": settings.max_receive_count,
    });
    let attributes = [
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        sse,
        (
            QueueAttributeName::VisibilityTimeout,
            settings.visibility_timeout.as_secs().to_string(),
        ),
    ];
    set_attributes(clients, &url, attributes).await?;
    Ok((url, dlq_url))
}

fn sqs_error(op: &'static str, queue: &str, message: String) -> AwsError {
    AwsError::Sqs {
        op,
        queue: queue.to_string(),
        message,
    }
}

/// A queue's ARN from SQS itself: account ids differ between AWS and each
/// emulator, so none is ever assumed.
async fn queue_arn(clients: &AwsClients, url: &str) -> Result<String, AwsError> {
    let op = "GetQueueAttributes";
    clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sqs_error(op, url, DisplayErrorContext(&e).to_string()))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| sqs_error(op, url, "no QueueArn".into()))
}

/// Sets a queue's attributes, the same ones on a new queue and on one a
/// later bootstrap brings in line.
async fn set_attributes(
    clients: &AwsClients,
    url: &str,
    attributes: impl IntoIterator<Item = (QueueAttributeName, String)>,
) -> Result<(), AwsError> {
    let mut req = clients.sqs.set_queue_attributes().queue_url(url);
    for (name, value) in attributes {
        req = req.attributes(name, value);
    }
    req.send().await.map_err(|e| {
        sqs_error(
            "SetQueueAttributes",
            url,
            DisplayErrorContext(&e).to_string(),
        )
    })?;
    Ok(())
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

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and type are set")
}

/// The index attributes, to declare beside `pk` and `sk`.
fn index_attributes() -> [AttributeDefinition; 2] {
    [
        attribute(SHARD_ATTRIBUTE, ScalarAttributeType::S),
        attribute(KEY_ATTRIBUTE, ScalarAttributeType::N),
    ]
}

/// The GSI `by-index-key`: shard, then index key; every attribute projected, as the
/// store reads whole items from it.
fn index_keys() -> (Vec<KeySchemaElement>, Projection) {
    (
        vec![
            key(SHARD_ATTRIBUTE, KeyType::Hash),
            key(KEY_ATTRIBUTE, KeyType::Range),
        ],
        Projection::builder()
            .projection_type(ProjectionType::All)
            .build(),
    )
}

/// A `pk`/`sk` table, on demand, with TTL on the `ttl` attribute and the
/// GSI `by-index-key`.
async fn table(clients: &AwsClients, name: &str) -> Result<(), AwsError> {
    create_table(clients, name).await?;
    let existing = wait_until_ready(clients, name).await?;
    if !has_index(&existing) {
        add_index(clients, name).await?;
        wait_until_ready(clients, name).await?;
    }
    enable_ttl(clients, name).await
}

fn dynamo_error(op: &'static str, table: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::Dynamo {
        op,
        table: table.to_string(),
        message: e.to_string(),
    }
}

/// Creates the table unless it exists (then it may lack what later
/// versions added; the caller checks).
async fn create_table(clients: &AwsClients, name: &str) -> Result<(), AwsError> {
    let (index_key_schema, projection) = index_keys();
    let index = GlobalSecondaryIndex::builder()
        .index_name(INDEX_NAME)
        .set_key_schema(Some(index_key_schema))
        .projection(projection)
        .build()
        .expect("name and keys are set");
    let mut attributes = vec![
        attribute("pk", ScalarAttributeType::S),
        attribute("sk", ScalarAttributeType::S),
    ];
    attributes.extend(index_attributes());
    let created = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attributes))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(index)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Err(e) if e.code() != Some("ResourceInUseException") => {
            Err(dynamo_error("CreateTable", name, DisplayErrorContext(&e)))
        }
        _ => Ok(()),
    }
}

async fn enable_ttl(clients: &AwsClients, name: &str) -> Result<(), AwsError> {
    let db = &clients.dynamodb;
    let ttl = db
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| dynamo_error("DescribeTimeToLive", name, DisplayErrorContext(&e)))?;
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
            .map_err(|e| dynamo_error("UpdateTimeToLive", name, DisplayErrorContext(&e)))?;
    }
    Ok(())
}

fn has_index(table: &TableDescription) -> bool {
    table
        .global_secondary_indexes()
        .iter()
        .any(|i| i.index_name() == Some(INDEX_NAME))
}

/// Adds the GSI to a table made before it existed. DynamoDB fills it from
/// the items that carry its attributes, so items written before the
/// upgrade join it at their next write.
async fn add_index(clients: &AwsClients, name: &str) -> Result<(), AwsError> {
    let (index_key_schema, projection) = index_keys();
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(INDEX_NAME)
        .set_key_schema(Some(index_key_schema))
        .projection(projection)
        .build()
        .expect("name and keys are set");
    clients
        .dynamodb
        .update_table()
        .table_name(name)
        .set_attribute_definitions(Some(index_attributes().to_vec()))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(create).build(),
        )
        .send()
        .await
        .map_err(|e| dynamo_error("UpdateTable", name, DisplayErrorContext(&e)))?;
    Ok(())
}

/// Waits until the table and its indexes take reads and writes (creating
/// either is asynchronous on AWS); returns the table's description.
async fn wait_until_ready(clients: &AwsClients, name: &str) -> Result<TableDescription, AwsError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let out = clients
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| dynamo_error("DescribeTable", name, DisplayErrorContext(&e)))?;
        let table = out
            .table
            .unwrap_or_else(|| TableDescription::builder().build());
        let indexes_ready = table
            .global_secondary_indexes()
            .iter()
            .all(|i| i.index_status() == Some(&IndexStatus::Active));
        if table.table_status() == Some(&TableStatus::Active) && indexes_ready {
            return Ok(table);
        }
        if tokio::time::Instant::now() > deadline {
            let status = table.table_status();
            let message = format!("not ready after 120 s (table {status:?})");
            return Err(dynamo_error("DescribeTable", name, message));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
