//! Adapters that are not a backend: outbound HTTP.

pub mod http;
pub mod ssrf;
