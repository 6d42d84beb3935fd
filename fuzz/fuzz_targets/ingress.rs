//! Whole requests through `Ingress::handle` on the embedded backend:
//! routing, source address, auth, signature, body limits and classification,
//! session keys (a template over the payload), dedup and enqueue. It must
//! answer every request with a status, never panic, never 5xx on bad input,
//! and never accept a hook without the secret.
#![no_main]
use arbitrary::Arbitrary;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::ingress::{Ingress, IngressRequest};
use clawhooks::ports::{Clock, TestClock};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::sync::Arc;

const CONFIG: &str = r#"{"webhooks":{
  "incoming": {"secret": "fuzz-secret", "maxBodyBytes": 4096, "trustedProxies": ["10.0.0.0/8"]},
  "handlers": [
    {"id": "alerts", "path": "/alerts", "sessionMode": "persistent", "sessionKey": "alerts-{{data.service}}-{{event}}"},
    {"id": "gh", "verify": {"scheme": "github", "secret": "gh-secret"}},
    {"id": "sw", "verify": {"scheme": "standard_webhooks", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
    {"id": "off", "enabled": false},
    {"id": "msg", "template": "{{event}} {{json data}}"}
  ]
}}"#;

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    with_secret: bool,
    content_type: u8,
    body: Vec<u8>,
    peer: [u8; 4],
}

struct World {
    rt: tokio::runtime::Runtime,
    ingress: Ingress,
    runs: usize,
}

fn world() -> World {
    let clock = Arc::new(TestClock::new(
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    ));
    let db = Embedded::memory().unwrap().with_clock(clock.clone());
    let config = clawhooks::config::load_str(CONFIG, &|_| None).expect("fuzz config loads");
    World {
        rt: tokio::runtime::Builder::new_current_thread().build().unwrap(),
        ingress: Ingress {
            config: Arc::new(config),
            backend: db.backend(BackendOptions::default()),
            clock: clock as Arc<dyn Clock>,
        },
        runs: 0,
    }
}

thread_local! {
    static WORLD: RefCell<World> = RefCell::new(world());
}

fuzz_target!(|input: Input| {
    let method = match input.method % 5 {
        0 => Method::GET,
        1 => Method::PUT,
        _ => Method::POST,
    };
    let mut headers = HeaderMap::new();
    for (k, v) in input.headers.iter().take(16) {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_bytes(v)) {
            headers.append(k, v);
        }
    }
    if input.with_secret {
        headers.insert("x-webhook-secret", HeaderValue::from_static("fuzz-secret"));
    }
    let ct = ["application/json", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"];
    if input.content_type < 200 {
        headers.insert(
            "content-type",
            HeaderValue::from_static(ct[input.content_type as usize % ct.len()]),
        );
    }
    let authorized = headers
        .get_all("x-webhook-secret")
        .iter()
        .next()
        .is_some_and(|v| v == "fuzz-secret")
        || headers
            .get("authorization")
            .is_some_and(|v| v.as_bytes().ends_with(b"fuzz-secret"));
    let path = if input.path.starts_with('/') {
        input.path.clone()
    } else {
        format!("/webhook/{}", input.path)
    };
    let req = IngressRequest {
        method,
        path: path.clone(),
        query: input.query.clone(),
        headers,
        body: bytes::Bytes::from(input.body.clone()),
        peer: std::net::IpAddr::from(input.peer),
    };
    WORLD.with(|w| {
        let mut w = w.borrow_mut();
        w.runs += 1;
        if w.runs % 2000 == 0 {
            *w = world(); // keep the in-memory database small
        }
        let resp = w.rt.block_on(w.ingress.handle(req));
        let status = resp.status.as_u16();
        assert!(status < 500, "{status} for {input:?}: {}", resp.body);
        if resp.status.is_success() && path.starts_with("/webhook/") {
            let hook = path.trim_end_matches('/').strip_prefix("/webhook/").unwrap_or_default();
            if !matches!(hook, "gh" | "sw") {
                assert!(authorized, "accepted without the secret: {input:?}");
            }
        }
    });
});
