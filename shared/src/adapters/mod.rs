//! Adapters that are not a backend: outbound HTTP, the sequenced intake,
//! and a store wrapper that counts operations.

pub mod counting;
pub mod http;
pub mod intake;
pub mod ssrf;
pub mod wanted_events;
