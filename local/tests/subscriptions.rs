//! Pausing and resuming an outgoing subscription: held deliveries use no
//! attempt and are not dead-lettered, the pause holds across a restart
//! (the state is in the database), and resuming delivers everything held.

mod common;

use clawhooks::config::{load_str, EventType};
use clawhooks::egress::EgressStage;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::{self, LifecycleEvent, Message};
use clawhooks::ports::{Backend, SystemClock};
use clawhooks::worker::process_one;
use clawhooks_e2e::{wait, Recorder};
use common::spawned::{run_cli as clawhooks, TempDir};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

fn lifecycle(n: usize) -> LifecycleEvent {
    let ts = event::timestamp(chrono::Utc::now());
    LifecycleEvent {
        id: event::new_id(),
        kind: EventType::MessageReceived,
        session: "hook:paused".into(),
        message: Message {
            from: "+1555".into(),
            text: format!("message {n}"),
            timestamp: ts.clone(),
        },
        timestamp: ts,
        event_id: None,
        hook_id: Some("my-hook".into()),
        handler_id: None,
        error: None,
        folded_event_ids: Vec::new(),
    }
}

/// The egress stage on the database file, as `serve` would build it.
fn open_stage(db: &Path, url: &str) -> (Backend, EgressStage) {
    let doc = serde_json::json!({"webhooks": {"outgoing": [
        {"id": "crm", "url": url, "events": ["message_received"], "retry": {"maxAttempts": 1}},
    ]}});
    let cfg = Arc::new(load_str(&doc.to_string(), &|_| None).unwrap());
    let backend = Embedded::open(db)
        .unwrap()
        .backend(BackendOptions::default());
    let http = Arc::new(clawhooks_e2e::loopback_http());
    let stage = EgressStage::new(cfg, backend.clone(), http, Arc::new(SystemClock)).unwrap();
    (backend, stage)
}

/// Processes what is visible on both egress queues now; returns how many.
async fn pass(backend: &Backend, stage: &EgressStage) -> usize {
    let mut got = 0;
    for q in [&backend.events_queue, &backend.delivery_queue] {
        let msgs = q
            .receive(10, Duration::from_secs(60), Duration::ZERO)
            .await
            .unwrap();
        got += msgs.len();
        for m in msgs {
            process_one(q.as_ref(), stage, &m).await;
        }
    }
    got
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
