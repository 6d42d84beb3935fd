//! The gateway as an attacker meets it: one test per attack a sender, a
//! stranger on the network, a page in the operator's browser or a proxy in
//! front could try, each through the router the server and the Lambda run.
//! Senders hold hook secrets; only operators hold the admin secret.

use clawhooks::api::{Answer, Call};
use clawhooks::config::load_str;
use clawhooks::ingress::Ingress;
use clawhooks::ports::Table;
use clawhooks_e2e::ingress_kit::{github_signature, ingress_for, post, Serve};
use clawhooks_e2e::logs::Captured;
use http::{Method, StatusCode};
use std::net::IpAddr;

const HOOK_SECRET: &str = "the-senders-hook-secret";
const ADMIN_SECRET: &str = "the-operators-admin-secret";
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const NOW: i64 = 1_700_000_000;

fn config() -> String {
    serde_json::json!({"webhooks": {
        "incoming": {"secret": HOOK_SECRET},
        "admin": {"secret": ADMIN_SECRET},
        "handlers": [
            {"id": "gh", "verify": {"scheme": "github", "secret": GITHUB_SECRET}},
            {"id": "sw", "verify": {"scheme": "standard_webhooks",
                                    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
            {"id": "room", "sessionMode": "persistent", "sessionKey": "room-{{room}}"}
        ]
    }})
    .to_string()
}

fn gateway(config: &str) -> Ingress {
    ingress_for(load_str(config, &|_| None).unwrap(), NOW).0
}

fn get(path: &str, headers: &[(&str, &str)]) -> Call {
    Call {
        method: Method::GET,
        ..post(path, headers, b"")
    }
}

fn from(mut call: Call, peer: &str) -> Call {
    call.peer = peer.parse::<IpAddr>().unwrap();
    call
}

const ADMIN_ROUTES: [(&str, &str); 5] = [
    ("GET", "/events"),
    ("GET", "/config"),
    ("GET", "/metrics"),
    ("POST", "/dlq/replay"),
    ("DELETE", "/sessions/webhook:x"),
];

fn admin_call(method: &str, path: &str, headers: &[(&str, &str)]) -> Call {
    Call {
        method: method.parse().unwrap(),
        ..post(path, headers, b"{}")
    }
}

/// Row 1: the hook secret, as its header or as a bearer token, opens no
/// admin route (401); the admin secret does.
#[tokio::test]
async fn the_hook_secret_opens_no_admin_route() {
    let ing = gateway(&config());
    let bearer_hook = format!("Bearer {HOOK_SECRET}");
    for (i, (method, path)) in ADMIN_ROUTES.iter().enumerate() {
        for headers in [
            vec![("x-webhook-secret", HOOK_SECRET)],
            vec![("authorization", bearer_hook.as_str())],
        ] {
            let peer = format!("198.51.100.{i}");
            let r = ing
                .handle(from(admin_call(method, path, &headers), &peer))
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(
                r.headers["www-authenticate"],
                "Bearer realm=\"clawhooks admin\""
            );
        }
    }
    let bearer = format!("Bearer {ADMIN_SECRET}");
    let r = ing
        .handle(get("/events", &[("authorization", &bearer)]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // The console's sign-in takes the admin secret only.
    for (secret, status) in [(HOOK_SECRET, 401), (ADMIN_SECRET, 200)] {
        let login = Call {
            body: format!("secret={secret}").into(),
            ..post(
                "/console/login",
                &[("content-type", "application/x-www-form-urlencoded")],
                b"",
            )
        };
        assert_eq!(ing.handle(login).await.status, status, "sign-in");
    }
}

/// Row 3: with no admin secret, a DNS-rebinding page (a foreign `Host`, a
/// matching `Origin`) reaching the loopback socket is refused.
#[tokio::test]
async fn a_rebinding_page_is_refused_without_an_admin_secret() {
    let ing = gateway("{}");
    let local = |c: Call| from(c, "127.0.0.1");
    let evil = [
        ("host", "evil.example:3412"),
        ("origin", "http://evil.example:3412"),
    ];
    let r = ing.handle(local(get("/events", &evil))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = ing
        .handle(local(admin_call("POST", "/dlq/replay", &evil)))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The same request to a local name is let in.
    let ok = ing
        .handle(local(get("/events", &[("host", "127.0.0.1:3412")])))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    // …and `allowedHosts` names more.
    let named = gateway(r#"{"webhooks":{"admin":{"allowedHosts":["box.lan"]}}}"#);
    let r = named
        .handle(local(get("/events", &[("host", "box.lan:3412")])))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Row 4: with no admin secret, a reverse proxy on the same host (the
/// socket peer is loopback) forwarding an internet caller is refused,
/// whichever forwarding header it sends; so is any other machine.
#[tokio::test]
async fn a_proxied_request_is_refused_without_an_admin_secret() {
    let ing = gateway(r#"{"webhooks":{"incoming":{"trustedProxies":["127.0.0.1/32"]}}}"#);
    for header in [
        ("x-forwarded-for", "203.0.113.9"),
        ("x-real-ip", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9"),
        ("x-forwarded-host", "hooks.example.com"),
    ] {
        let r = ing
            .handle(from(
                get("/events", &[("host", "localhost"), header]),
                "127.0.0.1",
            ))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{header:?}");
    }
    let r = ing.handle(from(get("/events", &[]), "192.0.2.7")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Row 5: 25 failed authentications from the sender's address (a
/// stranger behind the same NAT or proxy), then the sender's hook and
/// the operator's request with the right secrets: both pass.
#[tokio::test]
async fn failures_from_the_senders_address_never_lock_the_sender_out() {
    let ing = gateway(&config());
    for n in 0..25 {
        let r = ing
            .handle(post(
                "/webhook/any",
                &[("x-webhook-secret", "guess")],
                b"{}",
            ))
            .await;
        let want = if n < 20 { 401 } else { 429 };
        assert_eq!(r.status, want, "failure {n}");
    }
    let hook = ing
        .handle(post(
            "/webhook/any",
            &[("x-webhook-secret", HOOK_SECRET)],
            b"{}",
        ))
        .await;
    assert_eq!(hook.status, StatusCode::ACCEPTED, "{:?}", hook.body);
    let bearer = format!("Bearer {ADMIN_SECRET}");
    let admin = ing
        .handle(get("/events", &[("authorization", &bearer)]))
        .await;
    assert_eq!(admin.status, StatusCode::OK);
}

/// IPv6 sources count per /64: changing the low 64 bits does not reset
/// the count.
#[tokio::test]
async fn an_ipv6_source_counts_per_64() {
    let ing = gateway(&config());
    for n in 0..21u32 {
        let peer = format!("2001:db8:1:2::{:x}", n + 1);
        let r = ing
            .handle(from(
                post("/webhook/any", &[("x-webhook-secret", "guess")], b"{}"),
                &peer,
            ))
            .await;
        let want = if n < 20 { 401 } else { 429 };
        assert_eq!(r.status, want, "failure {n} from {peer}");
    }
    let other = ing
        .handle(from(
            post("/webhook/any", &[("x-webhook-secret", "guess")], b"{}"),
            "2001:db8:1:3::1",
        ))
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED, "another /64");
}

/// Concurrent failures from one source: the count and the decision are
/// one step, so no more than the limit are answered 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_failures_cannot_overrun_the_limit() {
    let ing = std::sync::Arc::new(gateway(&config()));
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let ing = ing.clone();
            tokio::spawn(async move {
                ing.handle(post(
                    "/webhook/any",
                    &[("x-webhook-secret", "guess")],
                    b"{}",
                ))
                .await
                .status
            })
        })
        .collect();
    let mut unauthorized = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 401 || status == 429, "{status}");
        unauthorized += usize::from(status == 401);
    }
    assert_eq!(unauthorized, 20);
}

async fn events_stored(ing: &Ingress) -> usize {
    ing.backend
        .store
        .scan(Table::Events, 1000, NOW)
        .await
        .unwrap()
        .len()
}

/// Row 6: a signed GitHub delivery replayed three times with fresh
/// `X-GitHub-Delivery` ids is handled once.
#[tokio::test]
async fn a_replayed_github_delivery_is_handled_once() {
    let ing = gateway(&config());
    let body = br#"{"action":"opened","number":1}"#;
    let sig = github_signature(GITHUB_SECRET, body);
    let mut ids = Vec::new();
    for delivery in ["d-1", "d-2", "d-3"] {
        let r = ing
            .handle(post(
                "/webhook/gh",
                &[
                    ("x-hub-signature-256", &sig),
                    ("x-github-delivery", delivery),
                ],
                body,
            ))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        ids.push(r.body["eventId"].as_str().unwrap().to_string());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(events_stored(&ing).await, 1);
    // A different body is a different delivery.
    let other = br#"{"action":"closed","number":1}"#;
    let r = ing
        .handle(post(
            "/webhook/gh",
            &[(
                "x-hub-signature-256",
                &github_signature(GITHUB_SECRET, other),
            )],
            other,
        ))
        .await;
    assert_ne!(r.body["eventId"], ids[0].as_str());
}

/// Row 7: a Standard Webhooks delivery replayed with an added unsigned
/// `Idempotency-Key` is still known by its signed `webhook-id`.
#[tokio::test]
async fn an_unsigned_idempotency_key_cannot_make_a_replay_new() {
    use clawhooks::protocol::standard_webhooks;
    let ing = gateway(&config());
    let key = standard_webhooks::key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body = br#"{"type":"invoice.paid"}"#;
    let sig = standard_webhooks::sign(&key, "msg_1", NOW, body);
    let ts = NOW.to_string();
    let mut ids = Vec::new();
    for extra in [None, Some("fresh-1"), Some("fresh-2")] {
        let mut headers = vec![
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", sig.as_str()),
        ];
        headers.extend(extra.map(|k| ("idempotency-key", k)));
        let r = ing.handle(post("/webhook/sw", &headers, body)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        ids.push(r.body["eventId"].as_str().unwrap().to_string());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(events_stored(&ing).await, 1);
}

/// Row 8: a 20,000-character hook id with the right secret is refused
/// (404) before anything is stored, and no log line quotes it.
#[tokio::test]
async fn a_huge_hook_id_is_refused_before_it_is_logged_or_stored() {
    let buffer = Captured::default();
    let subscriber = buffer.subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let ing = gateway(&config());
    let long = "a".repeat(20_000);
    // Percent-encoded in the path: a space, an `é`, a quote.
    for id in [long.as_str(), "a%20b", "%C3%A9", "a%22b"] {
        let r = ing
            .handle(post(
                &format!("/webhook/{id}"),
                &[("x-webhook-secret", HOOK_SECRET)],
                b"{}",
            ))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    }
    let at_limit = "b".repeat(256);
    let r = ing
        .handle(post(
            &format!("/webhook/{at_limit}"),
            &[("x-webhook-secret", HOOK_SECRET)],
            b"{}",
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "256 bytes is allowed");
    assert_eq!(events_stored(&ing).await, 1);
    let logs = buffer.text();
    let longest = logs.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1_000, "a {longest}-byte log line");
    assert!(!logs.contains(&"a".repeat(300)));
}

/// A session key rendered from the payload past 512 bytes is refused
/// with a message naming the handler and the limit.
#[tokio::test]
async fn a_huge_rendered_session_key_is_refused() {
    let ing = gateway(&config());
    let body = serde_json::json!({"room": "r".repeat(600)}).to_string();
    let r = ing
        .handle(post(
            "/webhook/room",
            &[("x-webhook-secret", HOOK_SECRET)],
            body.as_bytes(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let error = r.body["error"].as_str().unwrap();
    assert!(
        error.contains("\"room\"") && error.contains("at most 512"),
        "{error}"
    );
    assert_eq!(events_stored(&ing).await, 0);
}

fn answer_text(a: &Answer) -> String {
    format!("{} {}", a.status, a.body)
}

/// A page in the operator's browser, signed in to the console, cannot
/// make a state change from another origin; `publicOrigin` is ours.
#[tokio::test]
async fn a_cross_origin_state_change_is_refused_and_the_public_origin_is_not() {
    let cfg = serde_json::json!({"webhooks": {"admin": {
        "secret": ADMIN_SECRET, "publicOrigin": "https://hooks.example.com"}}})
    .to_string();
    let ing = gateway(&cfg);
    let bearer = format!("Bearer {ADMIN_SECRET}");
    let replay = |origin: &'static str| {
        admin_call(
            "POST",
            "/dlq/replay",
            &[
                ("authorization", &bearer),
                ("host", "10.0.0.5:3412"),
                ("origin", origin),
            ],
        )
    };
    let foreign = ing.handle(replay("https://evil.example")).await;
    assert_eq!(
        foreign.status,
        StatusCode::FORBIDDEN,
        "{}",
        answer_text(&foreign)
    );
    let public = ing.handle(replay("https://hooks.example.com")).await;
    assert_eq!(public.status, StatusCode::OK, "{}", answer_text(&public));
}

/// Rotation: both admin secrets work while `secrets` holds the new one;
/// a config without the old one refuses it.
#[tokio::test]
async fn an_admin_secret_rotates_without_downtime() {
    let both = gateway(
        r#"{"webhooks":{"admin":{"secret":"old-admin-secret-1234","secrets":["new-admin-secret-5678"]}}}"#,
    );
    for s in ["old-admin-secret-1234", "new-admin-secret-5678"] {
        let r = both
            .handle(get("/events", &[("authorization", &format!("Bearer {s}"))]))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{s}");
    }
    let after = gateway(r#"{"webhooks":{"admin":{"secret":"new-admin-secret-5678"}}}"#);
    let r = after
        .handle(get(
            "/events",
            &[("authorization", "Bearer old-admin-secret-1234")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// The config refuses an admin secret that is also a hook secret, and
/// `validate` warns about a public bind with no admin secret.
#[test]
fn the_config_keeps_operators_and_senders_apart() {
    let same = r#"{"webhooks":{"incoming":{"secret":"shared-secret-value"},"admin":{"secret":"shared-secret-value"}}}"#;
    let Err(err) = load_str(same, &|_| None) else {
        panic!("an admin secret equal to the hook secret loads")
    };
    let err = err.to_string();
    assert!(
        err.contains("webhooks.admin.secret: is also a hook secret"),
        "{err}"
    );
    let public = load_str(
        r#"{"webhooks":{"incoming":{"host":"0.0.0.0","secret":"a-hook-secret"}}}"#,
        &|_| None,
    )
    .unwrap();
    let warnings: Vec<String> = public.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("webhooks.admin.secret: the server binds 0.0.0.0")),
        "{warnings:?}"
    );
    let open_hook = load_str(
        r#"{"webhooks":{"handlers":[{"id":"a","secret":"s-e-c-r-e-t"},{"id":"b"}]}}"#,
        &|_| None,
    )
    .unwrap();
    assert!(
        open_hook
            .warnings
            .iter()
            .any(|w| w.path == "webhooks.handlers[1]" && w.message.contains("no secret")),
        "{:?}",
        open_hook.warnings
    );
}

/// Every `${NAME}` in `text`.
fn variables(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split(['}', ':']).next())
        .map(str::to_string)
        .collect()
}

fn marker(name: &str) -> String {
    format!("mk7q-{}-zz", name.to_lowercase())
}

/// Nothing secret in `/config`, the console or `/openapi.json`: each
/// example config, and one that puts a `${VAR}` in every free-form place
/// (templates, a prompt, options, URLs, headers), loaded with every
/// variable set to a marker. No marker is in the answers or the logs.
#[tokio::test]
async fn no_variable_value_is_shown_anywhere() {
    let buffer = Captured::default();
    let subscriber = buffer.subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let free_form = r#"{"webhooks":{
      "incoming": {"secret": "${HOOK}"},
      "admin": {"secret": "${ADMIN}"},
      "handlers": [
        {"id": "t", "template": "hello ${GREETING_TOKEN} {{x}}", "sessionKey": "s-${SESSION_SALT}",
         "sessionMode": "persistent"},
        {"id": "f", "action": "forward", "forward": {"url": "https://example.com/in/${PATH_TOKEN}?k=${QUERY_KEY}",
          "bodyTemplate": "{\"key\": \"${BODY_KEY}\"}", "headers": {"X-Key": "${HEADER_KEY}"}}},
        {"id": "c", "action": "custom", "custom": {"function": "extract_fields",
          "options": {"fields": {"a": "b"}, "apiKey": "${OPTION_KEY}", "region": "${REGION}"},
          "publicOptions": ["fields"]}},
        {"id": "a", "action": "run_agent", "agentId": "main"}
      ],
      "agents": {"main": {"type": "openai", "url": "https://api.example.com/v1", "model": "m", "apiKey": "${AGENT_KEY}",
                          "systemPrompt": "You are ${PROMPT_SECRET}."}},
      "outgoing": [{"id": "o", "url": "https://out.example.com/${OUT_PATH}", "headers": {"Authorization": "Bearer ${OUT_TOKEN}"}}]
    }}"#;
    let mut configs: Vec<(String, String)> = vec![("free-form".into(), free_form.into())];
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files = vec![examples.join("clawhooks.json")];
    for entry in std::fs::read_dir(examples.join("seed")).unwrap() {
        files.push(entry.unwrap().path());
    }
    for f in files {
        configs.push((
            f.display().to_string(),
            std::fs::read_to_string(&f).unwrap(),
        ));
    }
    let mut markers = Vec::new();
    for (name, text) in &configs {
        let vars = variables(text);
        markers.extend(vars.iter().map(|v| marker(v)));
        let lookup = |n: &str| Some(marker(n));
        let cfg = load_str(text, &lookup).unwrap_or_else(|e| panic!("{name}: {e}"));
        let admin = cfg
            .config
            .webhooks
            .admin
            .secret
            .as_ref()
            .map(|s| format!("Bearer {}", s.expose()));
        let ing = gateway_of(cfg);
        let headers: Vec<(&str, &str)> = admin
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        let mut shown = String::new();
        for path in ["/config", "/openapi.json", "/console", "/console/session"] {
            let r = ing.handle(from(get(path, &headers), "127.0.0.1")).await;
            assert_eq!(r.status, StatusCode::OK, "{name} {path}: {:?}", r.body);
            shown.push_str(&r.body.to_string());
        }
        for m in &markers {
            assert!(!shown.contains(m.as_str()), "{name}: {m} shown in {shown}");
        }
        if name == "free-form" {
            assert!(
                shown.contains(r#""fields":{"a":"b"}"#),
                "a public option is shown: {shown}"
            );
            assert!(shown.contains("hello [redacted] {{x}}"), "{shown}");
        }
    }
    assert!(markers.len() >= 15, "{markers:?}");
    let logs = buffer.text();
    for m in &markers {
        assert!(!logs.contains(m.as_str()), "{m} in the logs");
    }
}

fn gateway_of(cfg: clawhooks::config::CompiledConfig) -> Ingress {
    ingress_for(cfg, NOW).0
}

/// The headers each proxy snippet of docs/security.md sends to the
/// gateway on 127.0.0.1:3412 for a browser at https://hooks.example.com
/// and a client at `client`.
fn proxied(proxy: &str, client: &str) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("x-forwarded-for", client.to_string()),
        ("x-forwarded-proto", "https".to_string()),
    ];
    match proxy {
        // nginx: `proxy_pass http://127.0.0.1:3412;` sends `Host: 127.0.0.1:3412`,
        // plus the snippet's X-Real-IP and X-Forwarded-For / -Proto.
        "nginx" => h.extend([
            ("host", "127.0.0.1:3412".to_string()),
            ("x-real-ip", client.to_string()),
            ("connection", "close".to_string()),
        ]),
        // Caddy's `reverse_proxy` keeps the browser's Host and adds
        // X-Forwarded-For, -Proto and -Host.
        _ => h.extend([
            ("host", "hooks.example.com".to_string()),
            ("x-forwarded-host", "hooks.example.com".to_string()),
        ]),
    }
    h
}

fn via(proxy: &str, client: &str, mut call: Call, extra: &[(&str, &str)]) -> Call {
    for (k, v) in proxied(proxy, client) {
        call.headers.insert(k, v.parse().unwrap());
    }
    for (k, v) in extra {
        call.headers.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    from(call, "127.0.0.1")
}

/// docs/security.md's nginx and Caddy setups, with the headers those
/// proxies send: hooks pass and are known by the client's address; admin
/// routes are closed without an admin secret and open with it; the
/// console signs in from the public origin with a Secure cookie; one
/// client's failures do not lock out another behind the same proxy.
#[tokio::test]
async fn behind_nginx_or_caddy() {
    for proxy in ["nginx", "caddy"] {
        let open = gateway(r#"{"webhooks":{"incoming":{"trustedProxies":["127.0.0.1/32"]}}}"#);
        let r = open
            .handle(via(proxy, "203.0.113.9", get("/events", &[]), &[]))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{proxy}: no admin secret");

        let cfg = serde_json::json!({"webhooks": {
            "incoming": {"secret": HOOK_SECRET, "trustedProxies": ["127.0.0.1/32"]},
            "admin": {"secret": ADMIN_SECRET, "publicOrigin": "https://hooks.example.com"}}})
        .to_string();
        let ing = gateway(&cfg);
        let hook = post("/webhook/h", &[("x-webhook-secret", HOOK_SECRET)], b"{}");
        let r = ing.handle(via(proxy, "203.0.113.9", hook, &[])).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{proxy}: {:?}", r.body);
        let event = format!("/events/{}", r.body["eventId"].as_str().unwrap());
        let bearer = format!("Bearer {ADMIN_SECRET}");
        let auth = [("authorization", bearer.as_str())];
        let r = ing
            .handle(via(proxy, "203.0.113.9", get(&event, &[]), &auth))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{proxy}");
        assert!(
            r.body.to_string().contains(r#""sourceIp":"203.0.113.9""#),
            "{proxy}: {}",
            r.body
        );

        let login = Call {
            body: format!("secret={ADMIN_SECRET}").into(),
            ..post(
                "/console/login",
                &[("content-type", "application/x-www-form-urlencoded")],
                b"",
            )
        };
        let origin = [("origin", "https://hooks.example.com")];
        let r = ing.handle(via(proxy, "203.0.113.9", login, &origin)).await;
        assert_eq!(r.status, StatusCode::OK, "{proxy}: {:?}", r.body);
        let cookie = r.headers["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("; Secure"), "{proxy}: {cookie}");

        for n in 0..21 {
            let guess = post("/webhook/h", &[("x-webhook-secret", "guess")], b"{}");
            let r = ing.handle(via(proxy, "198.51.100.66", guess, &[])).await;
            assert_eq!(
                r.status,
                if n < 20 { 401 } else { 429 },
                "{proxy}: guess {n}"
            );
        }
        let other = post("/webhook/h", &[("x-webhook-secret", "guess")], b"{}");
        let r = ing.handle(via(proxy, "192.0.2.44", other, &[])).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{proxy}: another client"
        );
    }
}
