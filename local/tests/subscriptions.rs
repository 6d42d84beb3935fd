//! Pausing and resuming an outgoing subscription: held deliveries use no
//! attempt and are not dead-lettered, the pause holds across a restart
//! (the state is in the database), and resuming delivers everything held.

mod common;

use clawhooks::config::load_str;
use clawhooks::egress::EgressStage;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::{self, LifecycleEvent};
use clawhooks::ports::{Backend, SystemClock};
use clawhooks_e2e::{wait, Recorder, Reply};
use common::egress::{message_received, pass};
use common::spawned::{run_cli as clawhooks, TempDir};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

fn lifecycle(n: usize) -> LifecycleEvent {
    message_received("hook:paused", &format!("message {n}"))
}

/// The egress stage on the database file, as `serve` would build it.
fn open_stage(db: &Path, url: &str) -> (Backend, EgressStage) {
    open_stage_with(
        db,
        serde_json::json!([
            {"id": "crm", "url": url, "events": ["message_received"], "retry": {"maxAttempts": 1}},
        ]),
    )
}

/// The same with these outgoing subscriptions.
fn open_stage_with(db: &Path, outgoing: serde_json::Value) -> (Backend, EgressStage) {
    let doc = serde_json::json!({"webhooks": {"outgoing": outgoing}});
    let cfg = Arc::new(load_str(&doc.to_string(), &|_| None).unwrap());
    let backend = Embedded::open(db)
        .unwrap()
        .backend(BackendOptions::default());
    let http = Arc::new(clawhooks_e2e::loopback_http());
    let stage = EgressStage::new(cfg, backend.clone(), http, Arc::new(SystemClock)).unwrap();
    (backend, stage)
}

#[tokio::test]
async fn a_paused_subscription_gets_nothing_until_resumed_across_a_restart() {
    clawhooks::outbound::http::install_crypto_provider();
    let sink = Recorder::start().await;
    let dir = TempDir::new("paused");
    let db = dir.0.join("clawhooks.db");
    let dbs = db.to_str().unwrap();
    let (backend, stage) = open_stage(&db, &sink.url("/crm"));

    let (ok, out, err) = clawhooks(&["subscriptions", "pause", "crm", "--db", dbs]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "subscription crm: paused");
    let sent: Vec<_> = (0..3).map(lifecycle).collect();
    for ev in &sent {
        event::emit(backend.events_queue.as_ref(), ev)
            .await
            .unwrap();
    }
    // Fanned out and held: every job was looked at and put back.
    let seen = &AtomicUsize::new(0);
    wait::until("the three jobs held", wait::SETTLE, || {
        let (backend, stage) = (&backend, &stage);
        async move {
            let n = pass(backend, stage).await;
            let seen = seen.fetch_add(n, SeqCst) + n;
            let held = backend.delivery_queue.approximate_len().await.unwrap();
            (held == 3 && seen >= 6)
                .then_some(())
                .ok_or(format!("{held} queued after {seen} processed"))
        }
    })
    .await;
    assert_eq!(sink.count(), 0, "a paused subscription was called");
    drop((stage, backend));

    // A new process on the same file: still paused, the jobs come round
    // again and are held again.
    let (backend, stage) = open_stage(&db, &sink.url("/crm"));
    let again = &AtomicUsize::new(0);
    wait::until(
        "the held jobs looked at after the restart",
        wait::SETTLE,
        || {
            let (backend, stage) = (&backend, &stage);
            async move {
                let n = pass(backend, stage).await;
                let again = again.fetch_add(n, SeqCst) + n;
                (again >= 3)
                    .then_some(())
                    .ok_or(format!("{again} processed"))
            }
        },
    )
    .await;
    assert_eq!(sink.count(), 0, "the pause did not hold across a restart");
    let (ok, out, _) = clawhooks(&["subscriptions", "list", "--db", dbs]);
    assert!(ok);
    assert!(out.contains("crm") && out.contains("paused"), "{out}");

    let (ok, out, err) = clawhooks(&["subscriptions", "resume", "crm", "--db", dbs]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "subscription crm: active");
    wait::until("every held delivery made", wait::SETTLE, || {
        let (backend, stage, sink) = (&backend, &stage, &sink);
        async move {
            pass(backend, stage).await;
            (sink.count() == 3)
                .then_some(())
                .ok_or(format!("{} delivered", sink.count()))
        }
    })
    .await;
    let mut got: Vec<String> = sink
        .requests()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = sent.iter().map(|e| e.id.clone()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "each held event delivered once");
    // Held, not failed: each was delivered on its first attempt, and
    // nothing was dead-lettered.
    let (_, out, _) = clawhooks(&["deliveries", "list", "--json", "--db", dbs]);
    let attempts: serde_json::Value = serde_json::from_str(&out).unwrap();
    let attempts = attempts.as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(
        attempts
            .iter()
            .all(|a| a["attempt"] == 1 && a["outcome"] == "delivered"),
        "{attempts:?}"
    );
    assert_eq!(backend.delivery_dlq.approximate_len().await.unwrap(), 0);
}

const ADMIN: &str = "admin-secret-0123456789";

#[tokio::test]
async fn pause_resume_and_the_listing_over_http() {
    let doc = serde_json::json!({"webhooks": {"admin": {"secret": ADMIN}, "outgoing": [
        {"id": "crm", "url": "http://127.0.0.1:9/crm"},
        {"id": "audit", "url": "http://127.0.0.1:9/audit", "enabled": false},
    ]}});
    let server = common::server(&doc.to_string()).await;
    let post = |path: &str, auth: bool| {
        let req = server.client.post(server.url(path));
        if auth {
            req.bearer_auth(ADMIN)
        } else {
            req
        }
    };
    let (status, _, _) = common::answer(
        post("/subscriptions/crm/pause", false)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "pausing is admin only");
    let (status, body, _) = common::answer(
        post("/subscriptions/nope/pause", true)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("\"nope\""),
        "{body}"
    );

    let (status, body, _) =
        common::answer(post("/subscriptions/crm/pause", true).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subscription"]["state"], "paused");
    let list = || {
        server
            .client
            .get(server.url("/subscriptions"))
            .bearer_auth(ADMIN)
            .send()
    };
    let (status, body, _) = common::answer(list().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let subs = body["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "{body}");
    assert_eq!(
        (subs[0]["id"].as_str(), subs[0]["state"].as_str()),
        (Some("crm"), Some("paused"))
    );
    assert_eq!(
        (subs[1]["id"].as_str(), subs[1]["state"].as_str()),
        (Some("audit"), Some("active"))
    );
    assert_eq!(subs[1]["enabled"], false);
    assert_eq!(
        (
            subs[0]["breaker"].as_str(),
            subs[0]["consecutiveFailures"].as_u64()
        ),
        (Some("closed"), Some(0))
    );
    assert!(subs[0]["changedAt"].is_string(), "{body}");

    let (status, body, _) = common::answer(
        post("/subscriptions/crm/resume", true)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subscription"]["state"], "active");
    let (_, body, _) = common::answer(list().await.unwrap()).await;
    assert_eq!(body["subscriptions"][0]["state"], "active");
    let (status, body, _) = common::answer(
        post("/subscriptions/nope/enable", true)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body, _) = common::answer(
        post("/subscriptions/crm/enable", true)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["subscription"]["disabledAt"].is_null(), "{body}");
    server.stop().await;
}

/// 40 events to a subscription limited to 10 a second, through the whole
/// server (every egress consumer task): spread over at least 3.5 s, at
/// most 11 in any one second, none lost, none dead-lettered, each on its
/// first attempt; an unlimited subscription beside it is not held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_spreads_deliveries_and_loses_none() {
    let sink = Recorder::start().await;
    let doc = serde_json::json!({"webhooks": {"network": {"allowPrivate": true}, "outgoing": [
        {"id": "slow", "url": sink.url("/slow"), "rateLimit": {"perSecond": 10}},
        {"id": "fast", "url": sink.url("/fast")},
    ]}});
    let cfg = Arc::new(load_str(&doc.to_string(), &|_| None).unwrap());
    let (running, backend) = common::whole_server_polling(cfg, Default::default()).await;
    for n in 0..40 {
        let mut ev = lifecycle(n);
        ev.session = format!("hook:rate-{n}");
        event::emit(backend.events_queue.as_ref(), &ev)
            .await
            .unwrap();
    }
    let arrivals = |path: &str| -> Vec<std::time::Instant> {
        let mut at: Vec<_> = sink
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .map(|r| r.at)
            .collect();
        at.sort();
        at
    };
    wait::until_sync("40 deliveries to each subscription", wait::SETTLE, || {
        let (slow, fast) = (arrivals("/slow").len(), arrivals("/fast").len());
        (slow == 40 && fast == 40)
            .then_some(())
            .ok_or(format!("slow {slow}, fast {fast}"))
    })
    .await;
    let slow = arrivals("/slow");
    let spread = slow[39] - slow[0];
    assert!(
        spread >= Duration::from_millis(3500),
        "40 at 10/s arrived within {spread:?}"
    );
    for (i, start) in slow.iter().enumerate() {
        let inside = slow[i..]
            .iter()
            .take_while(|&&t| t - *start < Duration::from_secs(1))
            .count();
        assert!(
            inside <= 11,
            "{inside} deliveries within one second from arrival {i}"
        );
    }
    let fast = arrivals("/fast");
    assert!(
        fast[39] - fast[0] < spread,
        "the unlimited subscription was held back: {:?}",
        fast[39] - fast[0]
    );
    let ids: std::collections::HashSet<_> = sink
        .requests()
        .iter()
        .filter(|r| r.path == "/slow")
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 40, "each event once");
    assert_eq!(backend.delivery_dlq.approximate_len().await.unwrap(), 0);
    running.shutdown().await;
}

/// A receiver that always fails opens the breaker after `failures` in a
/// row: while it is open the receiver gets only the probes (one per
/// cool-down, the cool-down doubling), the held deliveries keep their
/// attempts (none is dead-lettered), and once the receiver recovers a
/// probe closes the breaker and every held event is delivered.
#[tokio::test]
async fn an_open_breaker_spares_a_failing_receiver_and_delivers_once_it_recovers() {
    clawhooks::outbound::http::install_crypto_provider();
    let sink = Recorder::start_with(Reply::status(500)).await;
    let dir = TempDir::new("breaker");
    let db = dir.0.join("clawhooks.db");
    let (backend, stage) = open_stage_with(
        &db,
        serde_json::json!([{"id": "crm", "url": sink.url("/crm"), "events": ["message_received"],
            "retry": {"maxAttempts": 6, "initialDelayMs": 100, "jitter": false},
            "breaker": {"failures": 3, "cooldown": "1s"}}]),
    );
    let sent: Vec<_> = (0..10).map(lifecycle).collect();
    for ev in &sent {
        event::emit(backend.events_queue.as_ref(), ev)
            .await
            .unwrap();
    }
    // Three seconds of a dead receiver: without a breaker, 10 events at
    // 6 attempts 100 ms apart (doubling) would make 60 requests.
    let window = std::time::Instant::now();
    while window.elapsed() < Duration::from_secs(3) {
        if pass(&backend, &stage).await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let failing = sink.count();
    assert!(
        (3..=6).contains(&failing),
        "{failing} requests to a dead receiver in 3 s (3 to open, then a probe per cool-down)"
    );
    let store = backend.store.as_ref();
    let breakers = clawhooks::egress::breaker::load_all(store, chrono::Utc::now())
        .await
        .unwrap();
    assert!(breakers["crm"].is_open(), "{breakers:?}");
    assert_eq!(backend.delivery_dlq.approximate_len().await.unwrap(), 0);

    sink.set_default(Reply::status(200));
    let delivered = || {
        sink.requests()[failing..]
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_string())
            .collect::<std::collections::HashSet<_>>()
    };
    wait::until("every held event delivered", wait::SETTLE, || {
        let (backend, stage) = (&backend, &stage);
        async move {
            pass(backend, stage).await;
            let got = delivered().len();
            (got == 10)
                .then_some(())
                .ok_or(format!("{got} of 10 delivered"))
        }
    })
    .await;
    let breakers = clawhooks::egress::breaker::load_all(store, chrono::Utc::now())
        .await
        .unwrap();
    assert!(
        !breakers["crm"].is_open(),
        "a success closes it: {breakers:?}"
    );
    assert_eq!(backend.delivery_dlq.approximate_len().await.unwrap(), 0);
}

/// `GET /subscriptions` shows how each subscription is doing: a dead
/// receiver's open breaker, its failures in a row, last error, since when
/// it fails and its backlog (held and retrying jobs); a healthy one's last
/// success and an empty backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_shows_breaker_backlog_last_success_and_last_error() {
    let dead = Recorder::start_with(Reply::status(500)).await;
    let fine = Recorder::start().await;
    let doc = serde_json::json!({"webhooks": {"admin": {"secret": ADMIN},
        "network": {"allowPrivate": true}, "outgoing": [
        {"id": "dead", "url": dead.url("/"), "breaker": {"failures": 2, "cooldown": "10m"},
         "retry": {"maxAttempts": 5, "initialDelayMs": 600000}},
        {"id": "fine", "url": fine.url("/")},
    ]}});
    let cfg = Arc::new(load_str(&doc.to_string(), &|_| None).unwrap());
    let (running, backend) = common::whole_server_polling(cfg, Default::default()).await;
    for n in 0..3 {
        event::emit(backend.events_queue.as_ref(), &lifecycle(n))
            .await
            .unwrap();
    }
    let client = reqwest::Client::new();
    let url = format!("http://{}/subscriptions", running.addr);
    let listing = wait::until(
        "the dead receiver's breaker open, 3 waiting",
        wait::SETTLE,
        || {
            let req = client.get(&url).bearer_auth(ADMIN).send();
            async move {
                let body: serde_json::Value = req.await.unwrap().json().await.unwrap();
                let (d, f) = (&body["subscriptions"][0], &body["subscriptions"][1]);
                (d["breaker"] == "open"
                    && d["backlog"] == 3
                    && f["backlog"] == 0
                    && f["lastSuccessAt"].is_string())
                .then(|| body.clone())
                .ok_or(format!("{body}"))
            }
        },
    )
    .await;
    let d = &listing["subscriptions"][0];
    // Two failures open it; a third attempt may have been under way then.
    assert_eq!(d["consecutiveFailures"], dead.count(), "{d}");
    assert_eq!(d["lastError"], "HTTP 500", "{d}");
    assert!(
        d["lastErrorAt"].is_string() && d["failingSince"].is_string(),
        "{d}"
    );
    assert!(d["lastSuccessAt"].is_null(), "{d}");
    let f = &listing["subscriptions"][1];
    assert_eq!(
        (f["breaker"].as_str(), f["consecutiveFailures"].as_u64()),
        (Some("closed"), Some(0))
    );
    assert!(
        f["lastError"].is_null() && f["failingSince"].is_null(),
        "{f}"
    );
    assert!(dead.count() <= 3, "{} requests", dead.count());
    running.shutdown().await;
}

/// A subscription failing without a success for its `disableAfter` is
/// disabled: its deliveries are held (none dead-lettered, no request made),
/// the other subscriptions get an `endpoint_disabled` event, and enabling it
/// (`clawhooks subscriptions enable`) delivers what was held.
#[tokio::test]
async fn failing_for_disable_after_disables_holds_tells_the_others_and_enable_releases() {
    clawhooks::outbound::http::install_crypto_provider();
    let dead = Recorder::start_with(Reply::status(500)).await;
    let watch = Recorder::start().await;
    let dir = TempDir::new("disable");
    let db = dir.0.join("clawhooks.db");
    let (backend, stage) = open_stage_with(
        &db,
        serde_json::json!([
            {"id": "dead", "url": dead.url("/"), "events": ["message_received"], "disableAfter": "1s",
             "breaker": {"enabled": false},
             "retry": {"maxAttempts": 50, "initialDelayMs": 200, "jitter": false}},
            {"id": "watch", "url": watch.url("/"), "events": ["endpoint_disabled"]},
        ]),
    );
    let sent: Vec<_> = (0..2).map(lifecycle).collect();
    for ev in &sent {
        event::emit(backend.events_queue.as_ref(), ev)
            .await
            .unwrap();
    }
    let told = wait::until(
        "the endpoint_disabled event delivered",
        wait::SETTLE,
        || {
            let (backend, stage, watch, dead) = (&backend, &stage, &watch, &dead);
            async move {
                pass(backend, stage).await;
                watch
                    .requests()
                    .first()
                    .map(|r| r.json())
                    .ok_or(format!("{} requests to the dead receiver", dead.count()))
            }
        },
    )
    .await;
    assert_eq!(told["type"], "endpoint_disabled", "{told}");
    assert_eq!(told["error"]["subscriptionId"], "dead", "{told}");
    // Held: no request while disabled, nothing dead-lettered.
    let before = dead.count();
    let window = std::time::Instant::now();
    while window.elapsed() < Duration::from_secs(2) {
        if pass(&backend, &stage).await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(dead.count(), before, "a disabled subscription was called");
    assert_eq!(backend.delivery_dlq.approximate_len().await.unwrap(), 0);
    assert_eq!(watch.count(), 1, "one endpoint_disabled event");

    dead.set_default(Reply::status(200));
    let (ok, out, err) = clawhooks(&[
        "subscriptions",
        "enable",
        "dead",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "subscription dead: enabled");
    wait::until("both held events delivered", wait::SETTLE, || {
        let (backend, stage, dead) = (&backend, &stage, &dead);
        async move {
            pass(backend, stage).await;
            let got: std::collections::HashSet<String> = dead.requests()[before..]
                .iter()
                .map(|r| r.json()["id"].as_str().unwrap().to_string())
                .collect();
            (got.len() == 2)
                .then_some(())
                .ok_or(format!("{got:?} delivered"))
        }
    })
    .await;
    assert_eq!(backend.delivery_dlq.approximate_len().await.unwrap(), 0);
}
