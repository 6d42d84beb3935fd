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

#[async_trait]
pub trait HttpSender: Send + Sync {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, SendError>;
}
