//! Outbound HTTP, behind a trait so the SSRF guard, timeouts and redaction
//! sit in one place for channels, agents, forwarding and outgoing webhooks.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub latency: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    /// The destination is not allowed (SSRF guard); never worth retrying.
    #[error("refused: {0}")]
    Refused(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl SendError {
    /// Whether the same request would fail the same way next time: a
    /// destination the SSRF guard refuses, a request that cannot be built.
    /// Timeouts and connection failures pass, so they are worth another
    /// try. The one rule for every outbound call: the handler's actions
    /// and egress deliveries both ask it.
    pub fn is_permanent(&self) -> bool {
        match self {
            SendError::Timeout(_) | SendError::Connect(_) => false,
            SendError::Refused(_) | SendError::Invalid(_) => true,
        }
    }
}

#[async_trait]
pub trait HttpSender: Send + Sync {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, SendError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_passes_and_the_request_does_not() {
        let transient = [
            SendError::Timeout(Duration::from_secs(15)),
            SendError::Connect("connection refused".into()),
        ];
        let permanent = [
            SendError::Refused("private address 10.0.0.1".into()),
            SendError::Invalid("relative URL without a base".into()),
        ];
        for e in &transient {
            assert!(!e.is_permanent(), "{e}");
        }
        for e in &permanent {
            assert!(e.is_permanent(), "{e}");
        }
    }
}
