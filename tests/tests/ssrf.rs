//! The SSRF guard on the real outbound path: `ReqwestSender` against a
//! recording server on 127.0.0.1. By default the gateway must not reach it
//! (it is loopback), whether the URL names it by address or by a name that
//! resolves to it; `allowPrivate` or an `allow` entry opens it.

use clawhooks::config::Network;
use clawhooks::outbound::http::ReqwestSender;
use clawhooks::ports::{HttpRequest, HttpSender, SendError};
use clawhooks_e2e::{Recorder, Reply};
use std::time::Duration;

fn post(url: String) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        url,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"hello":"world"}"#.to_vec(),
        timeout: Duration::from_secs(5),
    }
}

fn network(allow_private: bool, allow: &[&str]) -> Network {
    Network {
        allow_private,
        allow: allow.iter().map(|s| s.to_string()).collect(),
    }
}

fn refused(r: Result<clawhooks::ports::HttpResponse, SendError>) -> String {
    match r {
        Err(SendError::Refused(msg)) => msg,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn loopback_is_refused_by_default_by_address_and_by_name() {
    let rec = Recorder::start().await;
    let port = rec.addr.port();
    let sender = ReqwestSender::new(&Network::default()).unwrap();

    let msg = refused(sender.send(post(rec.url("/by-address"))).await);
    assert!(msg.contains("127.0.0.1 is a loopback address"), "{msg}");

    let msg = refused(
        sender
            .send(post(format!("http://localhost:{port}/secret-path-token")))
            .await,
    );
    assert!(msg.starts_with("localhost resolves to "), "{msg}");
    assert!(msg.contains("a loopback address"), "{msg}");
    // The refusal names the host, never the path (webhook URLs carry tokens).
    assert!(!msg.contains("secret-path-token"), "{msg}");
    assert_eq!(rec.count(), 0, "nothing may reach the recorder");
}

#[tokio::test]
async fn allow_private_opens_loopback() {
    let rec = Recorder::start().await;
    let port = rec.addr.port();
    let sender = ReqwestSender::new(&network(true, &[])).unwrap();
    let r = sender.send(post(rec.url("/a"))).await.unwrap();
    assert_eq!(r.status, 200);
    let r = sender
        .send(post(format!("http://localhost:{port}/b")))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let got = rec.wait_for(2, clawhooks_e2e::wait::SETTLE).await;
    assert_eq!(got[0].path, "/a");
    assert_eq!(got[1].path, "/b");
    assert_eq!(got[1].json()["hello"], "world");
}

#[tokio::test]
async fn allow_entries_open_exactly_what_they_name() {
    let rec = Recorder::start().await;
    let port = rec.addr.port();

    // A CIDR entry opens the address, however the URL names it.
    let by_cidr = ReqwestSender::new(&network(false, &["127.0.0.0/8"])).unwrap();
    assert_eq!(
        by_cidr.send(post(rec.url("/cidr"))).await.unwrap().status,
        200
    );

    // A host entry opens that name, not the address behind it.
    let by_host = ReqwestSender::new(&network(false, &["localhost"])).unwrap();
    assert_eq!(
        by_host
            .send(post(format!("http://localhost:{port}/host")))
            .await
            .unwrap()
            .status,
        200
    );
    refused(by_host.send(post(rec.url("/literal"))).await);

    // An unrelated entry opens nothing.
    let other = ReqwestSender::new(&network(false, &["10.0.0.0/8", "example.internal"])).unwrap();
    refused(other.send(post(rec.url("/other"))).await);

    let paths: Vec<String> = rec.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/cidr", "/host"]);
}

#[tokio::test]
async fn metadata_addresses_are_refused_even_with_allow_private() {
    let sender = ReqwestSender::new(&network(true, &[])).unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
    ] {
        let msg = refused(sender.send(post(url.into())).await);
        assert!(msg.contains("a cloud metadata address"), "{url}: {msg}");
        assert!(!msg.contains("meta-data"), "{msg}");
    }
    let strict = ReqwestSender::new(&Network::default()).unwrap();
    for url in ["http://0.0.0.0:1/", "http://10.0.0.1/", "http://[fe80::1]/"] {
        refused(strict.send(post(url.into())).await);
    }
}

#[tokio::test]
async fn a_redirect_towards_metadata_is_reported_not_followed() {
    let rec = Recorder::start_with(
        Reply::status(302).header("location", "http://169.254.169.254/latest/meta-data/"),
    )
    .await;
    let sender = ReqwestSender::new(&network(false, &["127.0.0.1"])).unwrap();
    let r = sender.send(post(rec.url("/hop"))).await.unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(rec.count(), 1);
}
