//! One request served in process through the very [`Router`] the server
//! and the Lambda run: for tests, benchmarks and tools that hold an
//! [`Ingress`] and no socket.

use super::extract::Peer;
use crate::ingress::Ingress;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::net::IpAddr;
use tower::ServiceExt;

/// A request as a transport would hand it over.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: IpAddr,
}

/// The answer, its body parsed as JSON (`Null` when it is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Serves `call` with a router over `ingress`.
pub async fn serve(ingress: &Ingress, call: Call) -> Answer {
    let uri = match &call.query {
        Some(q) => format!("{}?{q}", call.path),
        None => call.path.clone(),
    };
    let mut req = http::Request::builder()
        .method(call.method)
        .uri(uri)
        .body(axum::body::Body::from(call.body))
        .expect("a method, a path and a body make a request");
    *req.headers_mut() = call.headers;
    req.extensions_mut().insert(Peer(call.peer));
    let response = super::router(ingress.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|never| match never {});
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}
