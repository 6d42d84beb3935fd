//! The IP allowlist is checked against the real source address: the socket
//! peer, or `X-Forwarded-For` only through trusted proxies.

mod common;

use bytes::Bytes;
use clawhooks::api::Call;
use clawhooks::config;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::ingress::Ingress;
use clawhooks::ports::SystemClock;
use clawhooks_e2e::ingress_kit::Serve;
use common::{answer, server, server_on};
use http::{HeaderMap, Method};
use serde_json::json;
use std::net::IpAddr;
use std::sync::Arc;

const SEED_ALLOWLIST: &[&str] = &["192.168.1.0/24", "10.0.0.1"];

async fn post_from(ingress: &Ingress, peer: &str, xff: Option<&str>) -> (u16, serde_json::Value) {
    let mut headers = HeaderMap::new();
    headers.insert("x-webhook-secret", "s".parse().unwrap());
    if let Some(x) = xff {
        headers.insert("x-forwarded-for", x.parse().unwrap());
    }
    let r = ingress
        .handle(Call {
            method: Method::POST,
            path: "/webhook/h".into(),
            query: None,
            headers,
            body: Bytes::from_static(b"{}"),
            peer: peer.parse::<IpAddr>().unwrap(),
        })
        .await;
    (r.status.as_u16(), r.body)
}

fn ingress(incoming: serde_json::Value) -> Ingress {
    let mut inc = incoming;
    inc["secret"] = json!("s");
    let cfg = config::load_str(&json!({"webhooks": {"incoming": inc}}).to_string(), &|_| {
        None
    })
    .unwrap();
    let backend = Embedded::memory()
        .unwrap()
        .backend(BackendOptions::default());
    Ingress {
        config: Arc::new(cfg),
        backend,
        clock: Arc::new(SystemClock),
    }
}

#[tokio::test]
async fn v4_cidrs_and_single_addresses() {
    let ing = ingress(json!({"allowedIPs": SEED_ALLOWLIST}));
    for (peer, status) in [
        ("192.168.1.1", 202),
        ("192.168.1.254", 202),
        ("192.168.2.1", 403),
        ("10.0.0.1", 202),
        ("10.0.0.2", 403),
        ("::ffff:192.168.1.9", 202),
    ] {
        let (got, body) = post_from(&ing, peer, None).await;
        assert_eq!(got, status, "{peer}: {body}");
        if status == 403 {
            assert_eq!(
                body,
                json!({"ok": false, "error": format!("source address {peer} is not allowed")})
            );
        }
    }
    assert_eq!(
        ing.backend.handler_queue.approximate_len().await.unwrap(),
        4
    );
}

#[tokio::test]
async fn v6_networks() {
    let ing = ingress(json!({"allowedIPs": ["2001:db8::/32", "::1"]}));
    for (peer, status) in [
        ("2001:db8:0:1::5", 202),
        ("2001:db9::1", 403),
        ("::1", 202),
        ("127.0.0.1", 403),
    ] {
        assert_eq!(post_from(&ing, peer, None).await.0, status, "{peer}");
    }
}

#[tokio::test]
async fn forwarded_for_counts_only_through_trusted_proxies() {
    let untrusting = ingress(json!({"allowedIPs": SEED_ALLOWLIST}));
    assert_eq!(
        post_from(&untrusting, "203.0.113.5", Some("10.0.0.1"))
            .await
            .0,
        403,
        "a spoofed header is ignored"
    );

    let behind_proxy =
        ingress(json!({"allowedIPs": SEED_ALLOWLIST, "trustedProxies": ["172.16.0.0/12"]}));
    assert_eq!(
        post_from(&behind_proxy, "172.16.0.9", Some("10.0.0.1"))
            .await
            .0,
        202
    );
    assert_eq!(
        post_from(&behind_proxy, "172.16.0.9", Some("10.0.0.1, 203.0.113.5"))
            .await
            .0,
        403,
        "the hop the proxy saw decides"
    );
    assert_eq!(
        post_from(&behind_proxy, "203.0.113.5", Some("10.0.0.1"))
            .await
            .0,
        403,
        "only trusted peers may forward"
    );
}

#[tokio::test]
async fn through_the_real_socket_v4_and_v6() {
    let cfg = |allowed: serde_json::Value| {
        json!({"webhooks": {"incoming": {"secret": "s", "allowedIPs": allowed, "trustedProxies": ["127.0.0.1"]}}}).to_string()
    };
    let s = server(&cfg(json!(["192.168.1.0/24"]))).await;
    let send = |xff: &'static str| {
        s.client
            .post(s.url("/webhook/h"))
            .header("X-Webhook-Secret", "s")
            .header("X-Forwarded-For", xff)
            .body("{}")
            .send()
    };
    assert_eq!(send("192.168.1.20").await.unwrap().status(), 202);
    let (status, body, _) = answer(send("192.168.9.9").await.unwrap()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(s.queued().await, 1);
    s.stop().await;

    // Over IPv6 loopback, where the machine has it.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let s = server_on(
            &json!({"webhooks": {"incoming": {"secret": "s", "allowedIPs": ["::1/128"]}}})
                .to_string(),
            "[::1]:0",
        )
        .await;
        let r = s
            .client
            .post(s.url("/webhook/h"))
            .header("X-Webhook-Secret", "s")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        s.stop().await;
    }
}

#[tokio::test]
/// Past 20 failed authentications in a minute, a source's next failure
/// is 429; its right secret still passes, so whoever shares the sender's
/// address cannot lock the sender out.
async fn twenty_failed_authentications_refuse_a_sources_guesses_never_its_right_secret() {
    let ing = ingress(json!({}));
    let attempt = |peer: &'static str, secret: &'static str| {
        let ing = &ing;
        async move {
            let mut headers = HeaderMap::new();
            headers.insert("x-webhook-secret", secret.parse().unwrap());
            let r = ing
                .handle(Call {
                    method: Method::POST,
                    path: "/webhook/h".into(),
                    query: None,
                    headers,
                    body: Bytes::from_static(b"{}"),
                    peer: peer.parse::<IpAddr>().unwrap(),
                })
                .await;
            (r.status.as_u16(), r.body, r.headers)
        }
    };
    for _ in 0..20 {
        assert_eq!(attempt("203.0.113.7", "guess").await.0, 401);
    }
    let (status, body, headers) = attempt("203.0.113.7", "guess").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["error"],
        "too many failed authentications from 203.0.113.7; retry later"
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        attempt("203.0.113.7", "s").await.0,
        202,
        "the right secret is never refused by the limit"
    );
    assert_eq!(
        attempt("198.51.100.1", "guess").await.0,
        401,
        "other sources are not affected"
    );
    assert_eq!(
        ing.backend.handler_queue.approximate_len().await.unwrap(),
        1
    );
}

#[tokio::test]
async fn rate_limit_per_hook_answers_429_through_the_server() {
    let cfg = json!({"webhooks": {"incoming": {"secret": "s"}, "handlers": [{"id": "limited", "rateLimit": {"perMinute": 3}}]}}).to_string();
    let s = server(&cfg).await;
    let send = || {
        s.client
            .post(s.url("/webhook/limited"))
            .header("X-Webhook-Secret", "s")
            .body("{}")
            .send()
    };
    for _ in 0..3 {
        assert_eq!(send().await.unwrap().status(), 202);
    }
    let (status, body, headers) = answer(send().await.unwrap()).await;
    assert_eq!(status, 429);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("at most 3 hooks per minute (rateLimit.perMinute)"),
        "{body}"
    );
    assert!(headers.contains_key("retry-after"));
    let other = s
        .client
        .post(s.url("/webhook/unlimited"))
        .header("X-Webhook-Secret", "s")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 202, "the limit is per hook");
    assert_eq!(s.queued().await, 4);
    s.stop().await;
}
