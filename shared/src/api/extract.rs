//! What handlers take from a request, each refusing in the gateway's own
//! terms (a JSON [`Refusal`]) rather than axum's plain-text rejections.

use super::AppState;
use crate::refusal::Refusal;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::request::Parts;
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// A body that trickles in slower than this is cut off (slowloris).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The caller's address as the transport saw it: a `Peer` extension set by
/// the transport (the Lambda glue sets API Gateway's `sourceIp`), else the
/// socket's peer, else 0.0.0.0, which no allowlist contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let ext = &parts.extensions;
        Ok(ext.get::<Peer>().copied().unwrap_or_else(|| {
            Peer(
                ext.get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip())
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            )
        }))
    }
}

/// The query string, decoded (the last of a repeated name wins).
pub struct Query(pub BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let q = parts.uri.query().unwrap_or_default();
        Ok(Query(
            form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        ))
    }
}

/// The rest of the path after the route's prefix, percent-decoded
/// (session keys may hold `:` and `/`).
pub struct Tail(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tail {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let axum::extract::Path(tail) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| {
                    Refusal::BadRequest("the path is not valid percent-encoded UTF-8".into())
                })?;
        Ok(Tail(tail))
    }
}

/// The body, read whole but never more than `incoming.maxBodyBytes`
/// (checked while reading, chunked bodies too) nor for longer than
/// [`BODY_TIMEOUT`].
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Refusal> {
        let limit = state.config.config.webhooks.incoming.max_body_bytes;
        let too_large = || {
            Refusal::TooLarge(format!(
                "body exceeds the limit (webhooks.incoming.maxBodyBytes) of {limit} bytes"
            ))
        };
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let limited = http_body_util::Limited::new(req.into_body(), limit);
        match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
            Err(_) => Err(Refusal::BodyTimeout),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Ok(Err(_)) => Err(Refusal::BadRequest("could not read the body".into())),
            Ok(Ok(collected)) => Ok(Body(collected.to_bytes())),
        }
    }
}
