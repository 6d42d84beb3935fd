//! The ingress function's API Gateway HTTP API (payload v2) glue:
//! `lambda_http` runs the gateway's [`crate::api::router`] as it is; this
//! only tells it the caller's address, `requestContext.http.sourceIp`
//! (API Gateway's view of the caller, not a header the caller controls).
//! Feature `lambda-http`, which only ingress needs.

use super::LambdaError;
use crate::api::{self, Peer};
use crate::ingress::Ingress;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use lambda_http::request::RequestContext;
use std::net::{IpAddr, Ipv4Addr};

/// Serves API Gateway HTTP API requests with `ingress` until the runtime stops.
pub async fn run_http(ingress: Ingress) -> Result<(), LambdaError> {
    lambda_http::run(app(ingress)).await
}

/// The router with each request's [`Peer`] taken from API Gateway.
pub fn app(ingress: Ingress) -> axum::Router {
    api::router(ingress).layer(middleware::from_fn(peer_from_api_gateway))
}

/// Without a `sourceIp` the peer is 0.0.0.0, which no allowlist contains.
/// After the answer, what the request counted goes out as one EMF line.
async fn peer_from_api_gateway(mut req: Request, next: Next) -> Response {
    let ip = source_ip(req.extensions().get::<RequestContext>());
    req.extensions_mut()
        .insert(Peer(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
    let response = next.run(req).await;
    crate::telemetry::emf::flush();
    response
}

fn source_ip(context: Option<&RequestContext>) -> Option<IpAddr> {
    match context? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref()?.parse().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn api_gateway_requests_keep_path_query_body_and_source_ip() {
        let config = crate::config::load_str(
            r#"{"webhooks":{"incoming":{"allowedIPs":["203.0.113.9/32"]}}}"#,
            &|_| None,
        )
        .unwrap();
        let raw = |source: &str| {
            serde_json::json!({
                "version": "2.0", "routeKey": "$default", "rawPath": "/webhook/github",
                "rawQueryString": "a=1&b=2",
                "headers": { "content-type": "application/json", "x-forwarded-for": "6.6.6.6" },
                "requestContext": {
                    "accountId": "123", "apiId": "api", "domainName": "x.example", "domainPrefix": "x",
                    "http": { "method": "POST", "path": "/webhook/github", "protocol": "HTTP/1.1",
                              "sourceIp": source, "userAgent": "t" },
                    "requestId": "id", "routeKey": "$default", "stage": "$default",
                    "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390u64
                },
                "body": "eyJhIjoxfQ==", "isBase64Encoded": true
            })
            .to_string()
        };
        let db = crate::embedded::Embedded::memory().unwrap();
        let ingress = Ingress {
            config: std::sync::Arc::new(config),
            backend: db.backend(Default::default()),
            clock: std::sync::Arc::new(crate::ports::SystemClock),
        };
        let answer = |source: &'static str| {
            let app = app(ingress.clone());
            async move {
                let req = lambda_http::request::from_str(&raw(source)).unwrap();
                let res = app.oneshot(req).await.unwrap();
                let status = res.status();
                let body = res.into_body().collect().await.unwrap().to_bytes();
                (
                    status,
                    serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
                )
            }
        };
        // The allowlisted sourceIp is let in (x-forwarded-for is not trusted).
        let (status, body) = answer("203.0.113.9").await;
        assert_eq!(status, 202, "{body}");
        let queued = db.backend(Default::default()).handler_queue;
        let m = queued
            .receive(
                1,
                std::time::Duration::from_secs(30),
                std::time::Duration::ZERO,
            )
            .await
            .unwrap();
        let ev: serde_json::Value = serde_json::from_str(&m[0].body).unwrap();
        assert_eq!(ev["hookId"], "github");
        assert_eq!(ev["sourceIp"], "203.0.113.9");
        assert_eq!(ev["query"]["b"], "2");
        assert_eq!(ev["body"]["value"], r#"{"a":1}"#);
        // Another caller is refused by address, in the gateway's JSON.
        let (status, body) = answer("198.51.100.1").await;
        assert_eq!(status, 403);
        assert_eq!(body["ok"], false);
    }
}
