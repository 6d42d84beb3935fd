//! Test support shared by the end-to-end suites: recording HTTP servers on
//! 127.0.0.1 that stand in for Slack, Discord, model servers and outgoing
//! webhook receivers, and remember exactly what they were sent.

pub mod emulator;
pub mod ingress_kit;
pub mod logs;
pub mod process;
pub mod recorder;
pub mod signature;
pub mod wait;

pub use recorder::{Recorded, Recorder, Reply};

/// The outbound HTTP adapter as the tests need it: the SSRF guard allows
/// private addresses, because every recording server lives on 127.0.0.1
/// (a deployment keeps the default, which refuses them).
pub fn loopback_http() -> clawhooks::outbound::http::ReqwestSender {
    let network = clawhooks::config::Network {
        allow_private: true,
        allow: Vec::new(),
    };
    clawhooks::outbound::http::ReqwestSender::new(&network).expect("HTTP client builds")
}
