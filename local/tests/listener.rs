//! The listener bounds what a client can hold: a connection that sends no
//! headers is closed after the header timeout, one that goes quiet after
//! the idle timeout, and past the connection cap new clients wait while
//! the open connections keep being answered.

mod common;

use clawhooks_local::ConnectionLimits;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONFIG: &str = r#"{"webhooks": {"incoming": {"secret": "s"}}}"#;
const DEADLINE: Duration = Duration::from_secs(30);
const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n";

fn limits(header: u64, idle: u64, max: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(header),
        idle_timeout: Duration::from_secs(idle),
        max_connections: max,
    }
}

/// Reads until the server closes the connection; the time it took.
async fn closed_after(conn: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(DEADLINE, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("connection still open after {DEADLINE:?}"),
        }
    }
}

/// Sends `GET /health` and reads one whole answer (it has a body length).
async fn health(conn: &mut TcpStream) -> String {
    conn.write_all(HEALTH).await.unwrap();
    read_answer(conn).await
}

async fn read_answer(conn: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(DEADLINE, conn.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no whole answer after {DEADLINE:?}: {got:?}"))
            .unwrap();
        assert!(
            n > 0,
            "closed mid-answer: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .expect("a content-length");
            if body.len() >= len {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn a_client_that_sends_no_headers_is_disconnected_after_the_header_timeout() {
    let s = common::server_limited(CONFIG, "127.0.0.1:0", limits(1, 60, 16)).await;
    let addr = s.running.as_ref().unwrap().addr;

    let mut silent = TcpStream::connect(addr).await.unwrap();
    let waited = closed_after(&mut silent).await;
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );

    // Half a request line, then nothing: the deadline is for the whole head.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /webhook/x HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    closed_after(&mut slow).await;

    // The server still answers.
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    assert!(health(&mut fresh).await.starts_with("HTTP/1.1 200"));
    s.stop().await;
}

#[tokio::test]
async fn a_connection_quiet_past_the_idle_timeout_is_closed() {
    let s = common::server_limited(CONFIG, "127.0.0.1:0", limits(30, 1, 16)).await;
    let addr = s.running.as_ref().unwrap().addr;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    assert!(health(&mut conn).await.starts_with("HTTP/1.1 200"));
    // Kept alive after its answer, then closed for being quiet, well
    // before the 30 s header timeout.
    let waited = closed_after(&mut conn).await;
    assert!(waited < Duration::from_secs(20), "closed after {waited:?}");
    s.stop().await;
}

#[tokio::test]
async fn past_the_connection_cap_new_clients_wait_while_open_ones_are_answered() {
    let s = common::server_limited(CONFIG, "127.0.0.1:0", limits(30, 30, 2)).await;
    let addr = s.running.as_ref().unwrap().addr;
    let mut open = TcpStream::connect(addr).await.unwrap();
    assert!(health(&mut open).await.starts_with("HTTP/1.1 200"));
    let idle = TcpStream::connect(addr).await.unwrap();

    // The third connects (the kernel's backlog) but is not served...
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_secs(1), third.read(&mut buf)).await;
    assert!(early.is_err(), "served past the cap: {early:?}");
    // ...while an open connection keeps being answered.
    assert!(health(&mut open).await.starts_with("HTTP/1.1 200"));

    // A slot comes free: the waiting client is served.
    drop(idle);
    assert!(read_answer(&mut third).await.starts_with("HTTP/1.1 200"));
    s.stop().await;
}
