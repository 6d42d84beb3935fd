//! clawhooks: a webhook gateway for the Clawdbot AI assistant.
//!
//! The crate is the functional core (config, routing, auth, templates,
//! retry schedules), the ports the stages need (queues, a store, outbound
//! HTTP, a clock) and the adapters behind them (SQLite for one process,
//! SQS and DynamoDB on AWS). The Lambda functions and the `clawhooks`
//! binary only wire these together.

pub mod agents;
#[cfg(feature = "api")]
pub mod api;
pub mod channels;
pub mod config;
pub mod egress;
pub mod event;
pub mod faults;
pub mod filter;
pub mod handler;
pub mod ingress;
pub mod limits;
pub mod outbound;
pub mod ports;
pub mod presets;
pub mod protocol;
pub mod refusal;
pub mod secret;
pub mod settled;
pub mod telemetry;
pub mod template;
#[cfg(feature = "transforms")]
pub mod transform;
pub mod verify;
pub mod worker;

#[cfg(feature = "embedded")]
pub mod embedded;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "lambda")]
pub mod lambda;

pub use secret::Secret;
