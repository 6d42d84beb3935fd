//! Calls out of the gateway: the one HTTP client every channel, agent,
//! forward and outgoing webhook goes through (`http.rs`), behind the SSRF
//! guard that keeps it out of the network it runs in (`ssrf.rs`).

pub mod http;
pub mod ssrf;
