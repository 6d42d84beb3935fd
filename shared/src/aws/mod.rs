//! The AWS backend: SQS queues and DynamoDB tables behind the ports.
//!
//! A deployment's resources are named by environment variables, which the
//! SAM template (`infra/template.yaml`) sets on every function and which
//! [`bootstrap::bootstrap`] returns for the one-process server:
//!
//! | variable | what |
//! |---|---|
//! | `CLAWHOOKS_HANDLER_QUEUE_URL` / `CLAWHOOKS_HANDLER_DLQ_URL` | accepted hooks (FIFO) and their dead letters |
//! | `CLAWHOOKS_EVENTS_QUEUE_URL` / `CLAWHOOKS_EVENTS_DLQ_URL` | lifecycle events (FIFO) and their dead letters |
//! | `CLAWHOOKS_DELIVERY_QUEUE_URL` / `CLAWHOOKS_DELIVERY_DLQ_URL` | outgoing deliveries (standard) and their dead letters |
//! | `CLAWHOOKS_SESSIONS_TABLE`, `CLAWHOOKS_DEDUP_TABLE`, `CLAWHOOKS_EVENTS_TABLE`, `CLAWHOOKS_DELIVERIES_TABLE`, `CLAWHOOKS_LIMITS_TABLE` | DynamoDB table names |
//!
//! Endpoint, region and credentials are the standard AWS variables
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, …), read by [`clients::AwsClients`].

pub mod bootstrap;
pub mod clients;
pub mod dynamo;
pub mod intake;
#[cfg(feature = "lambda")]
pub mod secrets;
pub mod sqs;

pub use bootstrap::{bootstrap, BootstrapSettings};
pub use clients::AwsClients;
pub use dynamo::{DynamoStore, TableNames};
pub use sqs::SqsQueue;

use crate::ports::Backend;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("missing environment variables: {}", .0.join(", "))]
    MissingEnv(Vec<&'static str>),
    #[error("SQS {op} {queue}: {message}")]
    Sqs {
        op: &'static str,
        queue: String,
        message: String,
    },
    #[error("DynamoDB {op} {table}: {message}")]
    Dynamo {
        op: &'static str,
        table: String,
        message: String,
    },
    #[error("SSM {op} {path}: {message}")]
    Ssm {
        op: &'static str,
        path: String,
        message: String,
    },
}

/// Where one deployment's queues and tables are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub handler_queue_url: String,
    pub handler_dlq_url: String,
    pub events_queue_url: String,
    pub events_dlq_url: String,
    pub delivery_queue_url: String,
    pub delivery_dlq_url: String,
    pub tables: TableNames,
}

pub const HANDLER_QUEUE_URL: &str = "CLAWHOOKS_HANDLER_QUEUE_URL";
pub const HANDLER_DLQ_URL: &str = "CLAWHOOKS_HANDLER_DLQ_URL";
pub const EVENTS_QUEUE_URL: &str = "CLAWHOOKS_EVENTS_QUEUE_URL";
pub const EVENTS_DLQ_URL: &str = "CLAWHOOKS_EVENTS_DLQ_URL";
pub const DELIVERY_QUEUE_URL: &str = "CLAWHOOKS_DELIVERY_QUEUE_URL";
pub const DELIVERY_DLQ_URL: &str = "CLAWHOOKS_DELIVERY_DLQ_URL";
pub const SESSIONS_TABLE: &str = "CLAWHOOKS_SESSIONS_TABLE";
pub const DEDUP_TABLE: &str = "CLAWHOOKS_DEDUP_TABLE";
pub const EVENTS_TABLE: &str = "CLAWHOOKS_EVENTS_TABLE";
pub const DELIVERIES_TABLE: &str = "CLAWHOOKS_DELIVERIES_TABLE";
pub const LIMITS_TABLE: &str = "CLAWHOOKS_LIMITS_TABLE";

impl Resources {
    /// Reads every variable; the error names all that are missing at once.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, AwsError> {
        let mut missing = Vec::new();
        let mut get = |name: &'static str| {
            env(name).filter(|v| !v.is_empty()).unwrap_or_else(|| {
                missing.push(name);
                String::new()
            })
        };
        let res = Resources {
            handler_queue_url: get(HANDLER_QUEUE_URL),
            handler_dlq_url: get(HANDLER_DLQ_URL),
            events_queue_url: get(EVENTS_QUEUE_URL),
            events_dlq_url: get(EVENTS_DLQ_URL),
            delivery_queue_url: get(DELIVERY_QUEUE_URL),
            delivery_dlq_url: get(DELIVERY_DLQ_URL),
            tables: TableNames {
                sessions: get(SESSIONS_TABLE),
                dedup: get(DEDUP_TABLE),
                events: get(EVENTS_TABLE),
                deliveries: get(DELIVERIES_TABLE),
                limits: get(LIMITS_TABLE),
            },
        };
        if missing.is_empty() {
            Ok(res)
        } else {
            Err(AwsError::MissingEnv(missing))
        }
    }

    /// The variables [`Resources::from_env`] reads, with these values (for
    /// function configurations and child processes).
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (HANDLER_QUEUE_URL, self.handler_queue_url.clone()),
            (HANDLER_DLQ_URL, self.handler_dlq_url.clone()),
            (EVENTS_QUEUE_URL, self.events_queue_url.clone()),
            (EVENTS_DLQ_URL, self.events_dlq_url.clone()),
            (DELIVERY_QUEUE_URL, self.delivery_queue_url.clone()),
            (DELIVERY_DLQ_URL, self.delivery_dlq_url.clone()),
            (SESSIONS_TABLE, self.tables.sessions.clone()),
            (DEDUP_TABLE, self.tables.dedup.clone()),
            (EVENTS_TABLE, self.tables.events.clone()),
            (DELIVERIES_TABLE, self.tables.deliveries.clone()),
            (LIMITS_TABLE, self.tables.limits.clone()),
        ]
    }
}

/// The backend over these resources. Cheap: the clients are shared.
pub fn backend(clients: &AwsClients, res: &Resources) -> Backend {
    let q = |url: &str| -> Arc<dyn crate::ports::Queue> {
        Arc::new(SqsQueue::new(clients.sqs.clone(), url))
    };
    let store: Arc<dyn crate::ports::Store> = Arc::new(DynamoStore::new(
        clients.dynamodb.clone(),
        res.tables.clone(),
    ));
    let handler_queue = q(&res.handler_queue_url);
    Backend {
        intake: Arc::new(intake::SequencedIntake::new(
            store.clone(),
            handler_queue.clone(),
        )),
        limiter: Arc::new(crate::limits::StoreLimiter::new(store.clone())),
        handler_queue,
        handler_dlq: q(&res.handler_dlq_url),
        events_queue: q(&res.events_queue_url),
        events_dlq: q(&res.events_dlq_url),
        delivery_queue: q(&res.delivery_queue_url),
        delivery_dlq: q(&res.delivery_dlq_url),
        store,
        settled: None,
    }
}

/// The backend named by the environment (see the module docs), as a Lambda
/// function builds it at init: `connect(&clients, &config::load::process_env)`.
pub fn connect(
    clients: &AwsClients,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Backend, AwsError> {
    Ok(backend(clients, &Resources::from_env(env)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn resources_round_trip_through_the_environment() {
        let res = Resources {
            handler_queue_url: "http://q/handler.fifo".into(),
            handler_dlq_url: "http://q/handler-dlq.fifo".into(),
            events_queue_url: "http://q/events.fifo".into(),
            events_dlq_url: "http://q/events-dlq.fifo".into(),
            delivery_queue_url: "http://q/delivery".into(),
            delivery_dlq_url: "http://q/delivery-dlq".into(),
            tables: TableNames::with_prefix("p"),
        };
        let env: HashMap<_, _> = res.to_env().into_iter().collect();
        let back = Resources::from_env(&|k| env.get(k).cloned()).unwrap();
        assert_eq!(back, res);
    }

    #[test]
    fn missing_variables_are_all_named() {
        let e = Resources::from_env(&|k| {
            (k != DEDUP_TABLE && k != EVENTS_QUEUE_URL).then(|| "x".into())
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(DEDUP_TABLE) && e.contains(EVENTS_QUEUE_URL),
            "{e}"
        );
    }
}
