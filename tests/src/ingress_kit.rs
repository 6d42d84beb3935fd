//! Ingress on the embedded backend with a test clock, and requests to it
//! served in process through the gateway's router ([`Serve::handle`]).

use clawhooks::api::{Answer, Call};
use clawhooks::config::CompiledConfig;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::ingress::Ingress;
use clawhooks::ports::{Clock, TestClock};
use hmac::{KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::sync::Arc;

/// Serves one request through the router the server and the Lambda run.
pub trait Serve {
    fn handle(&self, call: Call) -> impl std::future::Future<Output = Answer> + Send;
}

impl Serve for Ingress {
    fn handle(&self, call: Call) -> impl std::future::Future<Output = Answer> + Send {
        clawhooks::api::serve(self, call)
    }
}

/// An ingress over a fresh in-memory embedded backend, its clock at `now`.
pub fn ingress_for(config: CompiledConfig, now: i64) -> (Ingress, Arc<TestClock>) {
    let clock = Arc::new(TestClock::new(
        chrono::DateTime::from_timestamp(now, 0).unwrap(),
    ));
    let db = Embedded::memory().unwrap().with_clock(clock.clone());
    let ingress = Ingress {
        config: Arc::new(config),
        backend: db.backend(BackendOptions::default()),
        clock: clock.clone() as Arc<dyn Clock>,
    };
    (ingress, clock)
}

/// A POST from 203.0.113.9; JSON unless `headers` name a content type, and
/// `path` may carry a `?query`.
pub fn post(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Call {
    let mut h = HeaderMap::new();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        h.insert("content-type", HeaderValue::from_static("application/json"));
    }
    for (k, v) in headers {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (path.to_string(), None),
    };
    Call {
        method: Method::POST,
        path,
        query,
        headers: h,
        body: bytes::Bytes::copy_from_slice(body),
        peer: "203.0.113.9".parse().unwrap(),
    }
}

/// `sha256=<hex>` as GitHub computes it.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    let mac = m.finalize().into_bytes();
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}
