//! The web console's session and the listings its pages read: a login
//! gives a cookie that opens the admin routes, state changes need its
//! CSRF token, a forged or expired cookie opens nothing, failed logins
//! lock out like failed secrets; `GET /events` lists newest first, filters,
//! and pages with a cursor without losing or repeating an event; the live
//! stream sends a new hook and does not hold a shutdown open; the
//! handler's dead letters are listed and replayed one by one.

mod common;

use chrono::{Duration as Span, Utc};
use clawhooks::api::listing::READ_BOUND;
use clawhooks::api::{serve, Call};
use clawhooks::config;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::{self, EventRecord, EventStatus};
use clawhooks::ingress::Ingress;
use clawhooks::ports::{Clock, Item, Store, Table, TestClock};
use common::{answer, server};
use http::{HeaderMap, Method};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// The admin secret: console sign-in and admin routes.
const SECRET: &str = "console-secret";
/// The hook secret senders hold: it opens neither.
const HOOK_SECRET: &str = "console-hook-secret";

fn config_json() -> String {
    json!({"webhooks": {"incoming": {"secret": HOOK_SECRET}, "admin": {"secret": SECRET}}})
        .to_string()
}

/// Logs in over HTTP; the cookie (`name=value`) and the CSRF token.
async fn login(s: &common::Server, secret: &str) -> reqwest::Response {
    s.client
        .post(s.url("/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("secret={secret}"))
        .send()
        .await
        .unwrap()
}

fn cookie_of(resp: &reqwest::Response) -> String {
    let set = resp
        .headers()
        .get("set-cookie")
        .expect("a login sets a cookie")
        .to_str()
        .unwrap()
        .to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    set.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn a_login_cookie_opens_the_admin_routes_and_state_changes_need_its_csrf_token() {
    let s = server(&config_json()).await;
    let resp = login(&s, SECRET).await;
    assert_eq!(resp.status(), 200);
    let cookie = cookie_of(&resp);
    assert!(!cookie.contains(SECRET));
    let (_, body, _) = answer(resp).await;
    let csrf = body["csrf"].as_str().unwrap().to_string();

    let get = |path: &str, cookie: Option<&str>| {
        let mut r = s.client.get(s.url(path));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    assert_eq!(get("/events", Some(&cookie)).await.unwrap().status(), 200);
    assert_eq!(get("/events", None).await.unwrap().status(), 401);
    assert_eq!(get("/config", Some(&cookie)).await.unwrap().status(), 200);
    let (_, session, _) = answer(get("/console/session", Some(&cookie)).await.unwrap()).await;
    assert_eq!(session["authenticated"], true);
    assert_eq!(session["csrf"], csrf.as_str());

    let replay = |token: Option<&str>, origin: Option<&str>| {
        let mut r = s
            .client
            .post(s.url("/dlq/replay"))
            .header("cookie", &cookie)
            .body("{}");
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(replay(None, None).await.unwrap().status(), 403);
    assert_eq!(replay(Some("forged"), None).await.unwrap().status(), 403);
    let other_session = cookie_of(&login(&s, SECRET).await);
    assert_ne!(other_session, cookie);
    assert_eq!(replay(Some(&csrf), None).await.unwrap().status(), 200);
    let own_origin = s.base.clone();
    assert_eq!(
        replay(Some(&csrf), Some(&own_origin))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        replay(Some(&csrf), Some("http://evil.example"))
            .await
            .unwrap()
            .status(),
        403
    );

    let forged = cookie.replace(|c: char| c.is_ascii_digit(), "9");
    assert_eq!(get("/events", Some(&forged)).await.unwrap().status(), 401);

    let out = s
        .client
        .post(s.url("/console/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    s.stop().await;
}

/// Sign-out ends the session in the store, so a copy of its cookie stops
/// working while other sessions go on; "sign out everywhere" ends them all
/// and a new sign-in works.
#[tokio::test]
async fn sign_out_ends_the_session_server_side_and_everywhere_ends_them_all() {
    let s = server(&config_json()).await;
    let signed_in = || async {
        let resp = login(&s, SECRET).await;
        let cookie = cookie_of(&resp);
        let (_, body, _) = answer(resp).await;
        (cookie, body["csrf"].as_str().unwrap().to_string())
    };
    let status = |cookie: String| {
        let req = s.client.get(s.url("/events")).header("cookie", cookie);
        async move { req.send().await.unwrap().status() }
    };
    let post = |path: &str, cookie: &str, csrf: &str| {
        s.client
            .post(s.url(path))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .send()
    };
    let (a, a_csrf) = signed_in().await;
    let (b, b_csrf) = signed_in().await;
    assert_eq!(status(a.clone()).await, 200);
    assert_eq!(
        post("/console/logout", &a, &a_csrf).await.unwrap().status(),
        200
    );
    assert_eq!(
        status(a.clone()).await,
        401,
        "a copy of the signed-out cookie"
    );
    assert_eq!(status(b.clone()).await, 200, "another session goes on");
    let everywhere = post("/console/logout-everywhere", &b, &b_csrf)
        .await
        .unwrap();
    assert_eq!(everywhere.status(), 200);
    assert_eq!(status(b).await, 401, "every session ended");
    let (c, _) = signed_in().await;
    assert_eq!(status(c).await, 200, "a new sign-in works");
    s.stop().await;
}

#[tokio::test]
async fn failed_logins_count_against_the_failed_authentication_limit() {
    let s = server(&config_json()).await;
    let mut refused = 0;
    loop {
        let status = login(&s, "wrong").await.status();
        if status == 429 {
            break;
        }
        assert_eq!(status, 401);
        refused += 1;
        assert!(refused <= 100, "never locked out");
    }
    assert!(refused >= 5, "locked out after {refused}");
    assert_eq!(
        login(&s, HOOK_SECRET).await.status(),
        429,
        "the hook secret is a failure"
    );
    let wrong_bearer = s
        .client
        .get(s.url("/events"))
        .bearer_auth("wrong")
        .send()
        .await;
    assert_eq!(
        wrong_bearer.unwrap().status(),
        429,
        "one limit for logins and the bearer"
    );
    // The right admin secret is never refused by the limit: whoever
    // shares the operator's address cannot lock the operator out.
    assert_eq!(login(&s, SECRET).await.status(), 200);
    let right_bearer = s
        .client
        .get(s.url("/events"))
        .bearer_auth(SECRET)
        .send()
        .await;
    assert_eq!(right_bearer.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn without_a_secret_the_console_works_from_loopback_without_login() {
    let s = server("{}").await;
    let (status, body, _) = answer(
        s.client
            .get(s.url("/console/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["authenticated"], true);
    assert_eq!(body["loginRequired"], false);
    let page = s.client.get(s.url("/console")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(page.text().await.unwrap().contains("/console/app.js"));
    let cross = s
        .client
        .post(s.url("/dlq/replay"))
        .header("origin", "http://evil.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cross.status(),
        403,
        "another site cannot replay from loopback"
    );
    s.stop().await;
}

/// An ingress over an in-memory backend on a clock the test moves.
fn ingress(config_json: &str) -> (Ingress, Arc<TestClock>) {
    let clock = Arc::new(TestClock::new(Utc::now()));
    let backend = Embedded::memory()
        .unwrap()
        .with_clock(clock.clone())
        .backend(BackendOptions::default());
    let cfg = config::load_str(config_json, &|_| None).unwrap();
    let ingress = Ingress {
        config: Arc::new(cfg),
        backend,
        clock: clock.clone(),
    };
    (ingress, clock)
}

fn call(method: Method, path: &str, headers: HeaderMap, body: &str) -> Call {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (path.to_string(), None),
    };
    Call {
        method,
        path,
        query,
        headers,
        body: bytes::Bytes::from(body.to_string()),
        peer: "127.0.0.1".parse().unwrap(),
    }
}

#[tokio::test]
async fn a_console_session_expires() {
    let (ingress, clock) = ingress(&config_json());
    let mut form = HeaderMap::new();
    form.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let a = serve(
        &ingress,
        call(
            Method::POST,
            "/console/login",
            form,
            "secret=console-secret",
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    let cookie = a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut with_cookie = HeaderMap::new();
    with_cookie.insert("cookie", cookie.parse().unwrap());
    let list = || {
        serve(
            &ingress,
            call(Method::GET, "/events", with_cookie.clone(), ""),
        )
    };
    assert_eq!(list().await.status, 200);
    clock.advance(Span::hours(11));
    assert_eq!(list().await.status, 200);
    clock.advance(Span::hours(2));
    assert_eq!(list().await.status, 401, "a day-old login no longer works");
}

/// The hook secret for hooks, the admin secret for admin routes.
fn secret_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-webhook-secret", HOOK_SECRET.parse().unwrap());
    h.insert("authorization", format!("Bearer {SECRET}").parse().unwrap());
    h.insert("content-type", "application/json".parse().unwrap());
    h
}

async fn events(ingress: &Ingress, query: &str) -> Value {
    let a = serve(
        ingress,
        call(
            Method::GET,
            &format!("/events?{query}"),
            secret_headers(),
            "",
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

fn ids(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn events_list_newest_first_filter_and_page_with_a_cursor() {
    let (ingress, clock) = ingress(&config_json());
    let mut posted = Vec::new();
    for i in 0..23 {
        let hook = if i % 3 == 0 { "github" } else { "alerts" };
        let a = serve(
            &ingress,
            call(
                Method::POST,
                &format!("/webhook/{hook}"),
                secret_headers(),
                "{}",
            ),
        )
        .await;
        assert_eq!(a.status, 202);
        posted.push((hook, a.body["eventId"].as_str().unwrap().to_string()));
        // Every third hook shares its millisecond with the next.
        if i % 3 != 1 {
            clock.advance(Span::milliseconds(1));
        }
    }
    let mut seen = Vec::new();
    let mut received = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = events(&ingress, &format!("limit=5&cursor={cursor}")).await;
        assert_eq!(page["boundHit"], false);
        seen.extend(ids(&page));
        for e in page["events"].as_array().unwrap() {
            received.push(e["receivedAt"].as_str().unwrap().to_string());
            assert!(
                e.get("request").is_none(),
                "a listing leaves the request out"
            );
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23, "every event once");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23);
    assert!(
        received.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {received:?}"
    );

    let github = events(&ingress, "hook=github&limit=100").await;
    let expected: Vec<&String> = posted
        .iter()
        .rev()
        .filter(|(h, _)| *h == "github")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids(&github).iter().collect::<Vec<_>>(), expected);
    assert!(ids(&events(&ingress, "status=failed").await).is_empty());
    assert_eq!(
        ids(&events(&ingress, "status=queued&limit=100").await).len(),
        23
    );
    let bad = serve(
        &ingress,
        call(Method::GET, "/events?status=lost", secret_headers(), ""),
    )
    .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn a_filter_that_matches_nothing_stops_at_the_read_bound_and_says_so() {
    let (ingress, clock) = ingress(&config_json());
    let store = ingress.backend.store.clone();
    let now = clock.now();
    for i in 0..READ_BOUND + 500 {
        put_record(store.as_ref(), i, "bulk", now).await;
    }
    let first = events(&ingress, "hook=nothing-like-this").await;
    assert_eq!(first["boundHit"], true);
    assert_eq!(first["scanned"], READ_BOUND);
    let cursor = first["nextCursor"].as_str().expect("a cursor to go on");
    let rest = events(&ingress, &format!("hook=nothing-like-this&cursor={cursor}")).await;
    assert_eq!(rest["boundHit"], false);
    assert_eq!(rest["scanned"], 500);
    assert!(rest["nextCursor"].is_null());
    let newest = events(&ingress, "limit=1").await;
    assert_eq!(ids(&newest), vec!["ev-000000".to_string()]);
    assert_eq!(
        newest["scanned"], 2,
        "an unfiltered page reads one more than it shows"
    );
}

#[tokio::test]
async fn the_live_stream_sends_a_new_hook_without_being_asked_again() {
    let s = server(&config_json()).await;
    let mut stream = s
        .client
        .get(s.url("/console/stream"))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    let mut read_until = async |needle: &str| {
        while !seen.contains(needle) {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} in {seen}"))
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    read_until("event: ready").await;
    let (status, posted, _) = answer(
        s.client
            .post(s.url("/webhook/alerts"))
            .header("x-webhook-secret", HOOK_SECRET)
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202);
    read_until(posted["eventId"].as_str().unwrap()).await;
    assert!(seen.contains("event: events"), "{seen}");
    tokio::time::timeout(std::time::Duration::from_secs(5), s.stop())
        .await
        .expect("an open stream does not hold the shutdown open");
    drop(stream);
}

/// Writes the `done` status record of event `ev-<i>` of `hook`, received
/// `i` milliseconds before `now`.
async fn put_record(store: &dyn Store, i: usize, hook: &str, now: chrono::DateTime<Utc>) {
    let at = now - Span::milliseconds(i as i64);
    let id = format!("ev-{i:06}");
    let record = EventRecord {
        event_id: id.clone(),
        status: EventStatus::Done,
        hook_id: hook.into(),
        handler_id: None,
        session_key: format!("hook:{id}"),
        received_at: event::timestamp(at),
        updated_at: event::timestamp(at),
        attempts: 1,
        result: None,
        error: None,
        request: None,
        rendered: None,
    };
    let item = Item::new(
        id.clone(),
        event::STATUS_SORT_KEY,
        serde_json::to_value(&record).unwrap(),
    )
    .expires_at(at.timestamp() + event::EVENT_RECORD_TTL_SECS)
    .index_key(event::status_index_key(&id, at));
    store.put(Table::Events, item).await.unwrap();
}

/// `bench/console/run.sh`: the events page on a database file of
/// `CLAWHOOKS_SCALE_EVENTS` events (default 100,000), one in a hundred
/// from hook `rare`; prints how long each listing took through the router.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a bench: fills 100,000 event records (bench/console/run.sh)"]
async fn the_events_page_at_scale() {
    let n: usize = std::env::var("CLAWHOOKS_SCALE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let path = std::env::temp_dir().join(format!("clawhooks-console-{}.db", uuid::Uuid::new_v4()));
    let clock = Arc::new(TestClock::new(Utc::now()));
    let backend = Embedded::open(&path)
        .unwrap()
        .with_clock(clock.clone())
        .backend(BackendOptions::default());
    let cfg = config::load_str(&config_json(), &|_| None).unwrap();
    let ingress = Ingress {
        config: Arc::new(cfg),
        backend,
        clock: clock.clone(),
    };
    let now = clock.now();
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..64 {
        let store = ingress.backend.store.clone();
        writers.spawn(async move {
            for i in (w..n).step_by(64) {
                let hook = if i % 100 == 7 { "rare" } else { "bulk" };
                put_record(store.as_ref(), i, hook, now).await;
            }
        });
    }
    while writers.join_next().await.is_some() {}
    let fill_s = started.elapsed().as_secs_f64();
    let timed = async |query: &str| {
        let t = Instant::now();
        let page = events(&ingress, query).await;
        (t.elapsed().as_secs_f64() * 1000.0, page)
    };
    let (first_ms, first) = timed("limit=50").await;
    assert_eq!(ids(&first)[0], "ev-000000");
    let mut cursor = first["nextCursor"].as_str().unwrap().to_string();
    let t = Instant::now();
    for _ in 0..10 {
        let (_, page) = timed(&format!("limit=50&cursor={cursor}")).await;
        cursor = page["nextCursor"].as_str().unwrap().to_string();
    }
    let ten_pages_ms = t.elapsed().as_secs_f64() * 1000.0;
    let (rare_ms, rare) = timed("limit=50&hook=rare").await;
    assert_eq!(ids(&rare).len(), 50);
    let (none_ms, none) = timed("limit=50&hook=absent").await;
    assert_eq!(none["boundHit"], true);
    println!(
        "RESULT events={n} fill_s={fill_s:.1} first_page_ms={first_ms:.1} next_10_pages_ms={ten_pages_ms:.1} \
         filter_1pct_ms={rare_ms:.1} (scanned {}) filter_none_ms={none_ms:.1} (scanned {}, boundHit)",
        rare["scanned"], none["scanned"]
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn a_hook_in_the_handler_dead_letter_queue_is_listed_and_replayed_by_id() {
    let s = server(&config_json()).await;
    for _ in 0..2 {
        let sent = s
            .client
            .post(s.url("/webhook/alerts"))
            .header("x-webhook-secret", HOOK_SECRET)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 202);
    }
    let dead = s.take_queued().await;
    for ev in &dead {
        let body = serde_json::to_string(ev).unwrap();
        let msg = clawhooks::ports::NewMessage::new(body).group(ev.session_key.clone());
        s.backend.handler_dlq.send(msg).await.unwrap();
    }
    let admin = |method: reqwest::Method, path: &str, body: &str| {
        s.client
            .request(method, s.url(path))
            .bearer_auth(SECRET)
            .body(body.to_string())
            .send()
    };
    let (_, listed, _) = answer(
        admin(reqwest::Method::GET, "/dlq/handler", "")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["count"], 2);
    let one = &dead[1].event_id;
    let (status, replayed, _) = answer(
        admin(
            reqwest::Method::POST,
            "/dlq/handler/replay",
            &json!({ "event": one }).to_string(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(replayed["replayed"], 1);
    assert_eq!(replayed["kept"], 1);
    let back = s.take_queued().await;
    assert_eq!(back.len(), 1);
    assert_eq!(
        &back[0].event_id, one,
        "the same event, for its status record"
    );
    let (_, left, _) = answer(
        admin(reqwest::Method::GET, "/dlq/handler", "")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(left["count"], 1);
    s.stop().await;
}

/// Past [`MAX_STREAMS`] open streams the next is refused with a 503 (the
/// page then polls), and a stream that closes frees its place.
#[tokio::test]
async fn open_streams_are_capped_and_a_closed_one_frees_its_place() {
    use clawhooks::api::console::MAX_STREAMS;
    let s = server(&config_json()).await;
    let open = async || {
        s.client
            .get(s.url("/console/stream"))
            .bearer_auth(SECRET)
            .send()
            .await
            .unwrap()
    };
    let mut streams = Vec::new();
    for _ in 0..MAX_STREAMS {
        let r = open().await;
        assert_eq!(r.status(), 200);
        streams.push(r);
    }
    let refused = open().await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    drop(streams.pop());
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = open().await;
        if r.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no stream after one closed: {}",
            r.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop(streams);
    s.stop().await;
}

/// Behind API Gateway (the transport sets the peer, as the Lambda glue
/// does) the stream would hold the invocation for its whole lifetime and
/// reach the page only at its end: it answers 204 at once instead.
#[tokio::test]
async fn behind_api_gateway_the_stream_ends_at_once() {
    let s = server(&config_json()).await;
    let ingress = Ingress {
        config: Arc::new(config::load_str(&config_json(), &|_| None).unwrap()),
        backend: s.backend.clone(),
        clock: Arc::new(clawhooks::ports::SystemClock),
    };
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {SECRET}").parse().unwrap());
    let call = Call {
        method: Method::GET,
        path: "/console/stream".into(),
        query: None,
        headers,
        body: Default::default(),
        peer: "203.0.113.9".parse().unwrap(),
    };
    let started = Instant::now();
    let a = tokio::time::timeout(std::time::Duration::from_secs(5), serve(&ingress, call))
        .await
        .expect("the stream answered within 5 s");
    assert_eq!(a.status, 204, "{:?}", a.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    s.stop().await;
}
