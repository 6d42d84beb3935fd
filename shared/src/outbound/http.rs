//! [`HttpSender`] on reqwest with rustls and ring (the one TLS stack of the
//! build). One client is built at start and shared: it pools connections.

use super::ssrf::{refusal_in, GuardedResolver, Policy};
use crate::config::Network;
use crate::ports::http::{HttpRequest, HttpResponse, HttpSender, SendError};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Responses bodies past this are cut: callers log or parse the first part only.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct ReqwestSender {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

/// Installs ring as rustls' process-wide provider; harmless when repeated.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl ReqwestSender {
    /// A sender behind the SSRF guard that `network` configures: every
    /// destination address is checked (see [`super::ssrf`]).
    pub fn new(network: &Network) -> Result<Self, SendError> {
        Self::with_policy(Policy::from_network(network))
    }

    pub fn with_policy(policy: Policy) -> Result<Self, SendError> {
        install_crypto_provider();
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver::new(policy.clone()))
            // A proxy would resolve and connect on our behalf, around the guard.
            .no_proxy()
            // Redirects are not followed: a 3xx is an answer to report, and
            // following one could lead the gateway somewhere it must not go.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("clawhooks/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| SendError::Invalid(e.to_string()))?;
        Ok(ReqwestSender { client, policy })
    }
}

#[async_trait]
impl HttpSender for ReqwestSender {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, SendError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| SendError::Invalid(format!("bad method {:?}", req.method)))?;
        let url = reqwest::Url::parse(&req.url)
            .map_err(|e| SendError::Invalid(format!("bad URL: {e}")))?;
        self.policy
            .check_url(&url)
            .map_err(|r| SendError::Refused(r.to_string()))?;
        let mut builder = self.client.request(method, url).timeout(req.timeout);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let started = Instant::now();
        let mut resp = builder
            .body(req.body)
            .send()
            .await
            .map_err(|e| classify(e, req.timeout))?;
        let status = resp.status().as_u16();
        let headers: BTreeMap<String, String> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(e, req.timeout))? {
            let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            latency: started.elapsed(),
        })
    }
}

/// reqwest's errors print the URL, which may hold a token (Slack and
/// Discord webhook URLs do); we keep only the kind of failure.
fn classify(e: reqwest::Error, timeout: std::time::Duration) -> SendError {
    if let Some(r) = refusal_in(&e) {
        SendError::Refused(r.to_string())
    } else if e.is_timeout() {
        SendError::Timeout(timeout)
    } else if e.is_connect() {
        SendError::Connect("could not connect".into())
    } else if e.is_request() || e.is_body() {
        SendError::Connect("the connection failed while sending".into())
    } else {
        SendError::Connect("request failed".into())
    }
}
