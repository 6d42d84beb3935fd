//! Session lifecycle: exactly one `session_started` under concurrency,
//! idle timeouts (sweeper and late hooks), `DELETE /sessions/<key>`, and
//! redeliveries that must not count twice.

mod handler_support;

use chrono::Duration as Minutes;
use clawhooks::event::{Body, InboundEvent};
use clawhooks::handler::sweep_sessions;
use handler_support::*;
use http::Method;
use serde_json::json;

fn persistent(timeout: &str) -> String {
    json!({"webhooks": {
        "handlers": [{"id": "alerts", "sessionMode": "persistent",
                      "sessionKey": "alerts-{{alert.host}}", "sessionTimeout": timeout}],
        "sessions": {"history": 5}
    }})
    .to_string()
}

fn inbound(h: &Harness, n: usize) -> InboundEvent {
    InboundEvent {
        event_id: format!("evt-{n}"),
        hook_id: "alerts".into(),
        handler_id: Some("alerts".into()),
        session_key: "alerts-web-1".into(),
        persistent: true,
        received_at: clawhooks::ports::Clock::now(h.clock.as_ref()),
        source_ip: "127.0.0.1".into(),
        headers: Default::default(),
        query: Default::default(),
        content_type: Some("application/json".into()),
        body: Body::Json(format!(r#"{{"message": "alert {n}"}}"#)),
    }
}

/// Twenty hooks for one new session handled at the same moment (as two
/// consumers could): one creates the session, all twenty are counted.
/// Each handles at its own clock second, so a second creation would carry
/// its own `session_started` id and could not hide behind deduplication.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hooks_start_a_session_exactly_once() {
    let h = Harness::new(&persistent("1h"));
    let mut tasks = Vec::new();
    for n in 0..20 {
        let stage = h.stage.clone();
        let clock = h.clock.clone();
        let ev = inbound(&h, n);
        tasks.push(tokio::spawn(async move {
            clock.advance(Minutes::seconds(1));
            stage.handle(&ev, 1).await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("handled");
    }
    let events = h.events().await;
    assert_eq!(of_kind(&events, "session_started").len(), 1);
    assert_eq!(of_kind(&events, "message_received").len(), 20);
    let s = h.session("alerts-web-1").await.unwrap();
    assert_eq!(s.message_count, 20);
    assert_eq!(s.history.len(), 5, "bounded by webhooks.sessions.history");
    assert_eq!(s.recent_events.len(), 20);
}

#[tokio::test]
async fn the_sweeper_ends_idle_persistent_sessions_once() {
    let h = Harness::new(&persistent("1h"));
    let a = h.post("alerts", &[], &fixture("alert_firing.json")).await;
    assert_eq!(a.session(), "alerts-web-1", "sessionKey template rendered");
    h.run_handler().await;
    h.events().await;

    h.clock.advance(Minutes::minutes(59));
    let r = sweep_sessions(&h.backend, h.clock.as_ref()).await.unwrap();
    assert!(r.ended.is_empty());
    assert!(h.events().await.is_empty());

    h.clock.advance(Minutes::minutes(2));
    let r = sweep_sessions(&h.backend, h.clock.as_ref()).await.unwrap();
    assert_eq!(r.ended, ["alerts-web-1"]);
    let events = h.events().await;
    assert_eq!(kinds(&events), ["session_ended"]);
    assert_eq!(events[0].session, "alerts-web-1");
    assert_eq!(
        events[0].message.text,
        "session alerts-web-1 ended: idle timeout"
    );
    assert_eq!(events[0].handler_id.as_deref(), Some("alerts"));
    let s = h.session("alerts-web-1").await.unwrap();
    assert!(s.ended.as_ref().unwrap().announced);

    let again = sweep_sessions(&h.backend, h.clock.as_ref()).await.unwrap();
    assert!(again.ended.is_empty());
    assert!(h.events().await.is_empty());

    // The next hook opens a new incarnation of the session.
    h.post("alerts", &[], &fixture("alert_firing.json")).await;
    h.run_handler().await;
    assert_eq!(
        kinds(&h.events().await),
        ["session_started", "message_received"]
    );
    assert_eq!(h.session("alerts-web-1").await.unwrap().message_count, 1);
}

#[tokio::test]
async fn activity_keeps_a_session_alive() {
    let h = Harness::new(&persistent("1h"));
    h.post("alerts", &[], &fixture("alert_firing.json")).await;
    h.run_handler().await;
    h.clock.advance(Minutes::minutes(50));
    h.post("alerts", &[], &fixture("alert_firing.json")).await;
    h.run_handler().await;
    h.clock.advance(Minutes::minutes(50));
    let r = sweep_sessions(&h.backend, h.clock.as_ref()).await.unwrap();
    assert!(r.ended.is_empty(), "last activity was 50 minutes ago");
}

/// A hook that arrives after the timeout, before any sweep: the old
/// session ends and a new one starts, in that order.
#[tokio::test]
async fn a_late_hook_ends_the_idle_session_and_starts_a_new_one() {
    let h = Harness::new(&persistent("30m"));
    h.post("alerts", &[], &fixture("alert_firing.json")).await;
    h.run_handler().await;
    let first = h.events().await;
    h.clock.advance(Minutes::minutes(31));
    h.post("alerts", &[], &fixture("alert_firing.json")).await;
    h.run_handler().await;
    let events = h.events().await;
    assert_eq!(
        kinds(&events),
        ["session_ended", "session_started", "message_received"]
    );
    assert_ne!(
        events[1].id, first[0].id,
        "a new incarnation has its own id"
    );
}

#[tokio::test]
async fn delete_session_ends_it_and_emits_session_ended() {
    let h = Harness::new(&persistent("1h"));
    h.post("alerts", &[], &fixture("alert_firing.json")).await;
    h.run_handler().await;
    h.events().await;

    let got = h
        .request(Method::GET, "/sessions/alerts-web-1", &[], "")
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["session"]["messageCount"], 1);

    let del = h
        .request(Method::DELETE, "/sessions/alerts-web-1", &[], "")
        .await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(del.body["ended"]["reason"], "closed");
    let events = h.events().await;
    assert_eq!(kinds(&events), ["session_ended"]);
    assert_eq!(events[0].message.text, "session alerts-web-1 ended: closed");

    let again = h
        .request(Method::DELETE, "/sessions/alerts-web-1", &[], "")
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["alreadyEnded"], true);
    assert!(h.events().await.is_empty(), "ended once");
    let none = h.request(Method::DELETE, "/sessions/nope", &[], "").await;
    assert_eq!(none.status, 404);
}

#[tokio::test]
async fn hook_sessions_can_be_addressed_percent_encoded() {
    let h = Harness::new(&json!({"webhooks": {}}).to_string());
    let a = h.post("anything", &[], r#"{"message": "x"}"#).await;
    let path = format!("/sessions/{}", a.session().replace(':', "%3A"));
    assert_eq!(
        h.request(Method::GET, &path, &[], "").await.status,
        404,
        "not handled yet"
    );
    h.run_handler().await;
    let got = h.request(Method::GET, &path, &[], "").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["session"]["ended"]["reason"], "finished");
}

/// A message seen again after it was handled (the delete was lost): no
/// second message_received, no second count.
#[tokio::test]
async fn a_redelivered_message_is_not_handled_twice() {
    let h = Harness::new(&persistent("1h"));
    let a = h.post("alerts", &[], &fixture("alert_firing.json")).await;
    let msgs = h
        .backend
        .handler_queue
        .receive(
            1,
            std::time::Duration::from_secs(30),
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
    use clawhooks::worker::Stage;
    h.stage.process(&msgs[0]).await.unwrap();
    h.stage.process(&msgs[0]).await.unwrap();
    let events = h.events().await;
    assert_eq!(kinds(&events), ["session_started", "message_received"]);
    assert_eq!(h.session("alerts-web-1").await.unwrap().message_count, 1);
    assert_eq!(h.status(&a.event_id()).await["attempts"], 1);
}

/// The same event handled again before it finished (a crash after its
/// events went out): the same event ids come out, so the events queue
/// and receivers see repeats, and the session still counts it once.
#[tokio::test]
async fn retried_steps_reuse_their_event_ids() {
    let h = Harness::new(&persistent("1h"));
    let ev = inbound(&h, 1);
    h.stage.handle(&ev, 1).await.unwrap();
    let first = h.events().await;
    // Forget the progress, as if the process died before recording it.
    h.backend
        .store
        .delete(clawhooks::ports::Table::Events, "evt-1", "status")
        .await
        .unwrap();
    h.clock.advance(Minutes::minutes(6)); // past the FIFO dedup window
    h.stage.handle(&ev, 2).await.unwrap();
    let second = h.events().await;
    let ids =
        |v: &[clawhooks::event::LifecycleEvent]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&second), ids(&first));
    assert_eq!(h.session("alerts-web-1").await.unwrap().message_count, 1);
}

#[tokio::test]
async fn unknown_event_ids_are_404() {
    let h = Harness::new(&json!({"webhooks": {}}).to_string());
    let r = h
        .request(Method::GET, "/events/does-not-exist", &[], "")
        .await;
    assert_eq!(r.status, 404);
    let a = h.post("x", &[], "{}").await;
    let queued = h.status(&a.event_id()).await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["attempts"], 0);
    assert_eq!(queued["sessionKey"], a.session());
}
