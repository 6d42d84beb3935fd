//! The ingress function's API Gateway HTTP API (payload v2) glue: a request
//! becomes an [`IngressRequest`] with the caller's address from
//! `requestContext.http.sourceIp`, and the [`IngressResponse`] goes back.
//! Feature `lambda-http`, which only ingress needs.

use super::LambdaError;
use crate::ingress::{Ingress, IngressRequest, IngressResponse};
use lambda_http::{Body, RequestExt};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Serves API Gateway HTTP API requests with `ingress` until the runtime stops.
pub async fn run_http(ingress: Ingress) -> Result<(), LambdaError> {
    let ingress = Arc::new(ingress);
    lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
        let ingress = ingress.clone();
        async move {
            let res = ingress.handle(ingress_request(req)).await;
            Ok::<_, LambdaError>(http_response(&res))
        }
    }))
    .await
}

/// A request from API Gateway as ingress takes it. The peer is
/// `requestContext.http.sourceIp` (API Gateway's view of the caller, not a
/// header the caller controls); without one it is 0.0.0.0, which no
/// allowlist contains.
pub fn ingress_request(req: lambda_http::Request) -> IngressRequest {
    let peer = source_ip(&req).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    IngressRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        peer,
    }
}

fn source_ip(req: &lambda_http::Request) -> Option<IpAddr> {
    match req.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(ctx) => {
            ctx.http.source_ip.as_deref()?.parse().ok()
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The answer for API Gateway: status, headers, JSON body.
pub fn http_response(res: &IngressResponse) -> lambda_http::Response<Body> {
    let mut builder = lambda_http::Response::builder()
        .status(res.status)
        .header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in &res.headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(Body::Text(
            String::from_utf8(res.body_bytes()).unwrap_or_default(),
        ))
        .expect("status and headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_gateway_requests_keep_path_query_body_and_source_ip() {
        let raw = serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/webhook/github",
            "rawQueryString": "a=1&b=2",
            "headers": { "content-type": "application/json", "x-forwarded-for": "6.6.6.6" },
            "requestContext": {
                "accountId": "123", "apiId": "api", "domainName": "x.example", "domainPrefix": "x",
                "http": { "method": "POST", "path": "/webhook/github", "protocol": "HTTP/1.1",
                          "sourceIp": "203.0.113.9", "userAgent": "t" },
                "requestId": "id", "routeKey": "$default", "stage": "$default",
                "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390u64
            },
            "body": "eyJhIjoxfQ==", "isBase64Encoded": true
        });
        let req = lambda_http::request::from_str(&raw.to_string()).unwrap();
        let ir = ingress_request(req);
        assert_eq!(ir.method, http::Method::POST);
        assert_eq!(ir.path, "/webhook/github");
        assert_eq!(ir.query.as_deref(), Some("a=1&b=2"));
        assert_eq!(&ir.body[..], br#"{"a":1}"#);
        assert_eq!(ir.peer, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(ir.headers["content-type"], "application/json");
    }

    #[test]
    fn responses_carry_status_headers_and_json() {
        let res = IngressResponse::error(http::StatusCode::METHOD_NOT_ALLOWED, "use POST")
            .header("allow", "POST");
        let out = http_response(&res);
        assert_eq!(out.status(), 405);
        assert_eq!(out.headers()["allow"], "POST");
        assert_eq!(out.headers()["content-type"], "application/json");
        let Body::Text(t) = out.body() else {
            panic!("text body")
        };
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        assert_eq!(v["error"], "use POST");
    }
}
