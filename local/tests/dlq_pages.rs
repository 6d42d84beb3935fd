//! `GET /dlq` and `GET /dlq/handler` answer a page at a time: `limit`
//! (default 100, at most 1000) and `cursor`, with `nextCursor` until the
//! last page; every dead letter is on exactly one page, oldest first, and a
//! bad `limit` or `cursor` is a 400 naming it.

mod common;

use chrono::Utc;
use clawhooks::egress::DeliveryJob;
use clawhooks::ports::NewMessage;
use common::{answer, server, Server};
use serde_json::{json, Value};

const CONFIG: &str = r#"{"webhooks": {"incoming": {"secret": "s"}}}"#;

fn dead_letter(n: usize, subscription: &str) -> NewMessage {
    let event = serde_json::from_value(json!({
        "id": format!("ev-{n:04}"), "type": "message_received", "session": "hook:1",
        "message": {"from": "x", "text": "hi", "timestamp": "2026-01-01T00:00:00.000Z"},
        "timestamp": "2026-01-01T00:00:00.000Z"
    }))
    .unwrap();
    let mut job = DeliveryJob::first(event, subscription);
    job.dead_lettered_at = Some(Utc::now());
    job.last_error = Some("HTTP 500".into());
    job.message(Utc::now())
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    let r = s.client.get(s.url(path)).send().await.unwrap();
    let (status, body, _) = answer(r).await;
    (status, body)
}

/// Every page of `path` (which has a `?`), following `nextCursor`.
async fn all_pages(s: &Server, path: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_string(),
        };
        let (status, body) = get(s, &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        let letters = body["deadLetters"].as_array().unwrap().clone();
        assert_eq!(body["count"], letters.len(), "{body}");
        pages.push(letters);
        match body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert!(body["nextCursor"].is_null(), "{body}");
                return pages;
            }
        }
        assert!(pages.len() < 100, "more pages than dead letters");
    }
}

#[tokio::test]
async fn delivery_dead_letters_are_listed_a_page_at_a_time() {
    let s = server(CONFIG).await;
    let dlq = &s.backend.delivery_dlq;
    for n in 0..250 {
        dlq.send(dead_letter(n, if n % 2 == 0 { "even" } else { "odd" }))
            .await
            .unwrap();
    }
    let pages = all_pages(&s, "/dlq?limit=100").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let ids: Vec<String> = pages
        .concat()
        .iter()
        .map(|l| l["eventId"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..250).map(|n| format!("ev-{n:04}")).collect();
    assert_eq!(ids, expected, "each once, oldest first");

    // A filter pages over the matches: 125 of the 250.
    let odd = all_pages(&s, "/dlq?subscription=odd&limit=60").await;
    assert_eq!(odd.iter().map(Vec::len).collect::<Vec<_>>(), [60, 60, 5]);
    assert!(odd.concat().iter().all(|l| l["subscription"] == "odd"));

    // The default page is 100.
    let (_, first) = get(&s, "/dlq").await;
    assert_eq!(first["count"], 100);
    assert!(first["nextCursor"].is_string());
    s.stop().await;
}

#[tokio::test]
async fn handler_dead_letters_are_listed_a_page_at_a_time() {
    let s = server(CONFIG).await;
    for n in 0..30 {
        let r = s
            .client
            .post(s.url("/webhook/dead"))
            .header("X-Webhook-Secret", "s")
            .json(&json!({ "n": n }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let events = s.take_queued().await;
    for ev in &events {
        let body = serde_json::to_string(ev).unwrap();
        s.backend
            .handler_dlq
            .send(NewMessage::new(body).group(ev.session_key.clone()))
            .await
            .unwrap();
    }
    let pages = all_pages(&s, "/dlq/handler?limit=7").await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [7, 7, 7, 7, 2]
    );
    let listed: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|h| h["eventId"].as_str().unwrap())
        .collect();
    let sent: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(listed, sent);
    s.stop().await;
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_refused_naming_it() {
    let s = server(CONFIG).await;
    for path in ["/dlq", "/dlq/handler"] {
        for limit in ["0", "1001", "ten"] {
            let (status, body) = get(&s, &format!("{path}?limit={limit}")).await;
            assert_eq!(status, 400, "{path} limit={limit}: {body}");
            assert!(body.to_string().contains("limit"), "{body}");
        }
        let (status, body) = get(&s, &format!("{path}?cursor=not-a-cursor")).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.to_string().contains("cursor"), "{body}");
        let (status, body) = get(&s, path).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["nextCursor"].is_null(), "empty: {body}");
    }
    s.stop().await;
}
