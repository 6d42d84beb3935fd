//! Adapters that are not a backend: outbound HTTP.

pub mod http;
pub mod intake;
pub mod ssrf;
