//! Ingress through the real local server: every refusal answers
//! `{"ok": false, "error"}` with the right status and queues nothing; every
//! acceptance queues exactly one event and answers at once.

mod common;

use common::{answer, server};
use serde_json::json;

const SECRET: &str = "your-webhook-secret";

fn base_config() -> String {
    json!({"webhooks": {
        "incoming": {"enabled": true, "port": 3011, "secret": SECRET, "maxBodyBytes": 1024},
        "handlers": [
            {"id": "github-events", "path": "/github", "action": "run_agent", "agentId": "devops",
             "template": "New GitHub event: {{event.action}} on {{event.repository.name}}"},
            {"id": "private", "secret": "handler-only-secret"},
            {"id": "off", "enabled": false},
            {"id": "alerts", "sessionMode": "persistent", "sessionKey": "alerts-session"},
            {"id": "per-repo", "sessionMode": "persistent", "sessionKey": "gh-{{event.repository.name}}"}
        ]
    }})
    .to_string()
}

#[tokio::test]
async fn the_seed_curl_example_is_accepted() {
    let s = server(&base_config()).await;
    // curl -X POST http://localhost:3011/webhook/my-hook -H "X-Webhook-Secret: …" -H "Content-Type: application/json" -d '{"message": …}'
    let resp = s
        .client
        .post(s.url("/webhook/my-hook"))
        .header("X-Webhook-Secret", SECRET)
        .header("Content-Type", "application/json")
        .body(r#"{"message": "Hello from external service"}"#)
        .send()
        .await
        .unwrap();
    let (status, body, _) = answer(resp).await;
    assert_eq!(status, 202);
    assert_eq!(body["ok"], true);
    let session = body["sessionKey"].as_str().unwrap();
    assert!(
        session.starts_with("hook:") && uuid::Uuid::parse_str(&session[5..]).is_ok(),
        "{session}"
    );
    let queued = s.take_queued().await;
    assert_eq!(queued.len(), 1);
    let ev = &queued[0];
    assert_eq!(ev.event_id, body["eventId"].as_str().unwrap());
    assert_eq!(ev.hook_id, "my-hook");
    assert_eq!(
        ev.handler_id, None,
        "no handler names my-hook; it is still accepted"
    );
    assert_eq!(ev.session_key, session);
    assert_eq!(
        ev.body.to_value(),
        json!({"message": "Hello from external service"})
    );
    assert_eq!(ev.source_ip, "127.0.0.1");
    assert!(
        !ev.headers.contains_key("x-webhook-secret"),
        "the secret is not passed downstream"
    );
    s.stop().await;
}

#[tokio::test]
async fn credential_headers_are_not_stored_but_signatures_are() {
    let mut cfg: serde_json::Value = serde_json::from_str(&base_config()).unwrap();
    cfg["webhooks"]["incoming"]["stripHeaders"] = json!(["X-Tenant-Token"]);
    let s = server(&cfg.to_string()).await;
    let resp = s
        .client
        .post(s.url("/webhook/my-hook"))
        .header("X-Webhook-Secret", SECRET)
        .header("X-Api-Key", "caller-api-key")
        .header("X-Gitlab-Token", "gitlab-token")
        .header("X-Auth-Token", "auth-token")
        .header("Cookie", "session=cookie")
        .header("X-Tenant-Token", "tenant-token")
        .header("X-Hub-Signature-256", "sha256=abc")
        .header("X-GitHub-Event", "push")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let queued = s.take_queued().await;
    let stored = serde_json::to_string(&queued[0]).unwrap();
    for value in [
        "caller-api-key",
        "gitlab-token",
        "auth-token",
        "session=cookie",
        "tenant-token",
        SECRET,
    ] {
        assert!(!stored.contains(value), "{value} stored: {stored}");
    }
    let h = &queued[0].headers;
    assert_eq!(
        h.get("x-hub-signature-256").map(String::as_str),
        Some("sha256=abc")
    );
    assert_eq!(h.get("x-github-event").map(String::as_str), Some("push"));
    s.stop().await;
}

#[tokio::test]
async fn routes_by_id_and_by_path_and_keys_persistent_sessions() {
    let s = server(&base_config()).await;
    let post = |path: &str, body: serde_json::Value| {
        s.client
            .post(s.url(path))
            .header("X-Webhook-Secret", SECRET)
            .json(&body)
            .send()
    };
    let (st, by_path, _) = answer(
        post("/webhook/github", json!({"action": "opened"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 202);
    let (_, by_id, _) = answer(post("/webhook/github-events", json!({})).await.unwrap()).await;
    let (_, a1, _) = answer(
        post("/webhook/alerts", json!({"alert": {"name": "x"}}))
            .await
            .unwrap(),
    )
    .await;
    let (_, a2, _) = answer(post("/webhook/alerts", json!({})).await.unwrap()).await;
    assert_eq!(a1["sessionKey"], "alerts-session");
    assert_eq!(a2["sessionKey"], "alerts-session");
    let (_, r, _) = answer(
        post("/webhook/per-repo", json!({"repository": {"name": "claw"}}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        r["sessionKey"], "gh-claw",
        "a sessionKey template renders from the payload: {r}"
    );
    let (st, empty, _) = answer(
        post("/webhook/per-repo", json!({"other": 1}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    assert!(empty["error"].as_str().unwrap().contains("the sessionKey template of handler \"per-repo\" cannot render from this payload: the payload has no value at event.repository.name"), "{empty}");

    let queued = s.take_queued().await;
    let handler_of = |id: &serde_json::Value| {
        queued
            .iter()
            .find(|e| e.event_id == id.as_str().unwrap())
            .unwrap()
            .handler_id
            .clone()
    };
    assert_eq!(
        handler_of(&by_path["eventId"]).as_deref(),
        Some("github-events")
    );
    assert_eq!(
        handler_of(&by_id["eventId"]).as_deref(),
        Some("github-events")
    );
    assert_eq!(queued.len(), 5);
    assert!(queued
        .iter()
        .filter(|e| e.session_key == "alerts-session")
        .all(|e| e.persistent));
    s.stop().await;
}

#[tokio::test]
async fn bearer_and_handler_secrets() {
    let s = server(&base_config()).await;
    let ok = s
        .client
        .post(s.url("/webhook/x"))
        .bearer_auth(SECRET)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    // A handler's own secret replaces the global one.
    let global = s
        .client
        .post(s.url("/webhook/private"))
        .header("X-Webhook-Secret", SECRET)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(global.status(), 401);
    let own = s
        .client
        .post(s.url("/webhook/private"))
        .header("X-Webhook-Secret", "handler-only-secret")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 202);
    assert_eq!(s.queued().await, 2);
    s.stop().await;
}

/// One refusal: what is sent, and what must come back.
struct Refusal {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    status: u16,
    error_contains: &'static str,
}

#[tokio::test]
async fn every_refusal_answers_json_and_queues_nothing() {
    let auth = ("X-Webhook-Secret", SECRET);
    let json_ct = ("Content-Type", "application/json");
    let cases = vec![
        Refusal {
            name: "no secret",
            method: "POST",
            path: "/webhook/h",
            headers: vec![],
            body: b"{}".to_vec(),
            status: 401,
            error_contains: "authentication failed: send the secret in the X-Webhook-Secret header",
        },
        Refusal {
            name: "wrong secret",
            method: "POST",
            path: "/webhook/h",
            headers: vec![("X-Webhook-Secret", "guess")],
            body: b"{}".to_vec(),
            status: 401,
            error_contains: "authentication failed",
        },
        Refusal {
            name: "wrong bearer",
            method: "POST",
            path: "/webhook/h",
            headers: vec![("Authorization", "Bearer guess")],
            body: b"{}".to_vec(),
            status: 401,
            error_contains: "authentication failed",
        },
        Refusal {
            name: "secret in query",
            method: "POST",
            path: "/webhook/h?secret=your-webhook-secret",
            headers: vec![auth],
            body: b"{}".to_vec(),
            status: 400,
            error_contains: "query parameter \"secret\" looks like a secret",
        },
        Refusal {
            name: "secret value in query",
            method: "POST",
            path: "/webhook/h?x=your-webhook-secret",
            headers: vec![],
            body: b"{}".to_vec(),
            status: 400,
            error_contains: "query parameter \"x\"",
        },
        Refusal {
            name: "GET a hook that is no subscription check",
            method: "GET",
            path: "/webhook/h",
            headers: vec![auth],
            body: vec![],
            status: 400,
            error_contains: "subscription check: hub.mode must be subscribe",
        },
        Refusal {
            name: "PUT a hook",
            method: "PUT",
            path: "/webhook/h",
            headers: vec![auth],
            body: b"{}".to_vec(),
            status: 405,
            error_contains: "use POST",
        },
        Refusal {
            name: "no hook id",
            method: "POST",
            path: "/webhook/",
            headers: vec![auth],
            body: b"{}".to_vec(),
            status: 404,
            error_contains: "no hook id",
        },
        Refusal {
            name: "disabled handler",
            method: "POST",
            path: "/webhook/off",
            headers: vec![auth],
            body: b"{}".to_vec(),
            status: 404,
            error_contains: "disabled",
        },
        Refusal {
            name: "malformed JSON",
            method: "POST",
            path: "/webhook/h",
            headers: vec![auth, json_ct],
            body: b"{\"a\": ".to_vec(),
            status: 400,
            error_contains: "malformed JSON body: EOF while parsing",
        },
        Refusal {
            name: "JSON that is not UTF-8",
            method: "POST",
            path: "/webhook/h",
            headers: vec![auth, json_ct],
            body: vec![0xff, 0xfe],
            status: 400,
            error_contains: "malformed JSON body",
        },
        Refusal {
            name: "body over the limit",
            method: "POST",
            path: "/webhook/h",
            headers: vec![auth],
            body: vec![b'a'; 1025],
            status: 413,
            error_contains: "maxBodyBytes",
        },
        Refusal {
            name: "unknown route",
            method: "POST",
            path: "/nowhere",
            headers: vec![auth],
            body: vec![],
            status: 404,
            error_contains: "no route",
        },
    ];
    let s = server(&base_config()).await;
    for case in cases {
        let mut req = s
            .client
            .request(case.method.parse().unwrap(), s.url(case.path))
            .body(case.body.clone());
        for (k, v) in &case.headers {
            req = req.header(*k, *v);
        }
        let (status, body, headers) = answer(req.send().await.unwrap()).await;
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["ok"], false, "{}", case.name);
        let err = body["error"].as_str().unwrap_or_default();
        assert!(
            err.contains(case.error_contains),
            "{}: error {err:?} lacks {:?}",
            case.name,
            case.error_contains
        );
        assert!(
            !err.contains(SECRET),
            "{}: the error echoes the secret",
            case.name
        );
        if status == 405 {
            assert_eq!(headers["allow"], "POST, GET", "{}", case.name);
        }
        assert_eq!(s.queued().await, 0, "{}: something was queued", case.name);
    }
    s.stop().await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let s = server(&base_config()).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..5).map(|_| Ok(vec![b'x'; 300])).collect();
    let body = reqwest::Body::wrap_stream(futures_stream(chunks));
    let resp = s
        .client
        .post(s.url("/webhook/h"))
        .header("X-Webhook-Secret", SECRET)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, body, _) = answer(resp).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(s.queued().await, 0);
    s.stop().await;
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Iter(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Iter {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(chunks.into_iter())
}

#[tokio::test]
async fn unknown_hooks_are_404_when_rejected_but_only_after_auth() {
    let cfg = json!({"webhooks": {"incoming": {"secret": SECRET, "rejectUnknownHooks": true}, "handlers": [{"id": "known"}]}}).to_string();
    let s = server(&cfg).await;
    let anon = s
        .client
        .post(s.url("/webhook/unknown"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        anon.status(),
        401,
        "an unauthenticated caller cannot probe which hooks exist"
    );
    let (status, body, _) = answer(
        s.client
            .post(s.url("/webhook/unknown"))
            .header("X-Webhook-Secret", SECRET)
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "no handler for hook \"unknown\"");
    let known = s
        .client
        .post(s.url("/webhook/known"))
        .header("X-Webhook-Secret", SECRET)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(known.status(), 202);
    assert_eq!(s.queued().await, 1);
    s.stop().await;
}

#[tokio::test]
async fn bodies_are_classified() {
    let s = server(&base_config()).await;
    let post = |ct: &'static str, body: &'static str| {
        s.client
            .post(s.url("/webhook/b"))
            .header("X-Webhook-Secret", SECRET)
            .header("Content-Type", ct)
            .body(body)
            .send()
    };
    assert_eq!(
        post(
            "application/x-www-form-urlencoded",
            "payload=%7B%22a%22%3A1%7D&x=y"
        )
        .await
        .unwrap()
        .status(),
        202
    );
    assert_eq!(post("text/plain", "just text").await.unwrap().status(), 202);
    assert_eq!(
        post(
            "application/json",
            r#"{"event":"custom_event","data":{"key":"value"},"timestamp":"2024-01-15T10:30:00Z"}"#
        )
        .await
        .unwrap()
        .status(),
        202
    );
    let q = s.take_queued().await;
    assert_eq!(
        q[0].body.to_value(),
        json!({"payload": "{\"a\":1}", "x": "y"})
    );
    assert_eq!(q[1].body.to_value(), json!("just text"));
    let envelope = q[2].body.to_value();
    let e = clawhooks::template::envelope(&envelope)
        .expect("the seed's incoming envelope is recognised");
    assert_eq!(e.event, "custom_event");
    assert_eq!(e.data, &json!({"key": "value"}));
    assert_eq!(e.timestamp, Some("2024-01-15T10:30:00Z"));
    s.stop().await;
}

#[tokio::test]
async fn success_status_200_when_configured_and_health() {
    let s = server(
        &json!({"webhooks": {"incoming": {"secret": SECRET, "successStatus": 200}}}).to_string(),
    )
    .await;
    let r = s
        .client
        .post(s.url("/webhook/x"))
        .header("X-Webhook-Secret", SECRET)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body, _) = answer(s.client.get(s.url("/health")).send().await.unwrap()).await;
    assert_eq!((status, body), (200, json!({"ok": true})));
    s.stop().await;
}

#[tokio::test]
async fn idempotency_keys_dedup_within_the_window() {
    let s = server(&base_config()).await;
    for header in ["Idempotency-Key", "webhook-id", "X-GitHub-Delivery"] {
        let send = || {
            s.client
                .post(s.url("/webhook/d"))
                .header("X-Webhook-Secret", SECRET)
                .header(header, format!("{header}-1"))
                .body("{}")
                .send()
        };
        let (s1, first, _) = answer(send().await.unwrap()).await;
        let (s2, second, _) = answer(send().await.unwrap()).await;
        assert_eq!((s1, s2), (202, 202), "{header}");
        assert!(first.get("duplicate").is_none(), "{header}: {first}");
        assert_eq!(second["duplicate"], true, "{header}");
        assert_eq!(
            second["eventId"], first["eventId"],
            "{header}: a repeat gets the first answer"
        );
        assert_eq!(second["sessionKey"], first["sessionKey"], "{header}");
    }
    // The same key on another hook is another delivery.
    let other = s
        .client
        .post(s.url("/webhook/e"))
        .header("X-Webhook-Secret", SECRET)
        .header("Idempotency-Key", "Idempotency-Key-1")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (_, other, _) = answer(other).await;
    assert!(other.get("duplicate").is_none());
    assert_eq!(
        s.queued().await,
        4,
        "three first deliveries and one on another hook"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_refused_hook_does_not_burn_its_idempotency_key() {
    let s = server(&base_config()).await;
    let bad = s
        .client
        .post(s.url("/webhook/d"))
        .header("X-Webhook-Secret", SECRET)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", "k")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let good = s
        .client
        .post(s.url("/webhook/d"))
        .header("X-Webhook-Secret", SECRET)
        .header("Idempotency-Key", "k")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, body, _) = answer(good).await;
    assert_eq!(status, 202);
    assert!(body.get("duplicate").is_none());
    assert_eq!(s.queued().await, 1);
    s.stop().await;
}

#[tokio::test]
async fn too_many_headers_are_refused_before_ingress() {
    let s = server(&base_config()).await;
    let mut req = s
        .client
        .post(s.url("/webhook/h"))
        .header("X-Webhook-Secret", SECRET)
        .body("{}");
    for i in 0..120 {
        req = req.header(format!("x-extra-{i}"), "v");
    }
    let resp = req.send().await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        431,
        "hyper refuses more than 100 headers"
    );
    assert_eq!(s.queued().await, 0);
    s.stop().await;
}
