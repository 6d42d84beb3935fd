//! clawhooks in one process: the ingress function behind an HTTP listener,
//! and the stage consumers polling their queues, on the embedded backend or
//! on SQS/DynamoDB. The very same library functions the Lambdas call.

pub mod listener;
pub mod server;
pub mod stages;

pub use listener::ConnectionLimits;
pub use server::{start, Running, ServerOptions, Signal, Signals};
