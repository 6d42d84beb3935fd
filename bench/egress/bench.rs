//! `bench/egress`: deliveries per second from the events queue to a
//! loopback sink that answers 200 at once, through the real egress stage
//! (fan-out, delivery, delivery log) on the embedded backend (a SQLite file
//! in WAL mode, as `clawhooks serve` runs), with the real reqwest sender and
//! the `worker::run` consumer loops. One process: the sink, the consumers
//! and the emitter share the machine, so the figure is end to end.
//!
//! Prints `RESULT` lines: a burst run (throughput) and a paced run at half
//! that rate (latency without a backlog), each with p50/p99 from event
//! emitted to sink received.
//!
//! Environment: EVENTS (burst size, default 20000), SUBS (subscriptions per
//! event, default 1), CONCURRENCY (per consumer, default 64), EMITTERS
//! (concurrent emitting tasks in the burst, default 32), PACED_SECS
//! (default 5), SIGN (1: Standard Webhooks signatures), MEMORY (1: in-memory
//! database instead of a file), LIMITED (N > 0: one more subscription, rate
//! limited to N per second, beside the unlimited ones: the burst's figure is
//! the unlimited ones', and a `run=limited` line says what the limited one
//! got meanwhile and its busiest one-second window).

use clawhooks::config::{load_str, EventType};
use clawhooks::egress::EgressStage;
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::event::{self, LifecycleEvent, Message};
use clawhooks::ports::{Backend, SystemClock};
use clawhooks::worker::{self, PollSettings};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The allocator `clawhooks serve` runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the sink saw: per event index, when it was emitted; latencies of arrivals.
struct Sink {
    origin: Instant,
    emitted_ns: Vec<AtomicU64>,
    latencies_ns: Mutex<Vec<u64>>,
    received: AtomicUsize,
    target: AtomicUsize,
    done: Notify,
    /// Arrival times (ns since `origin`) at the rate-limited subscription.
    limited_ns: Mutex<Vec<u64>>,
}

impl Sink {
    fn arrived(&self, index: usize) {
        let now = self.origin.elapsed().as_nanos() as u64;
        let sent = self.emitted_ns[index].load(Ordering::Relaxed);
        self.latencies_ns
            .lock()
            .unwrap()
            .push(now.saturating_sub(sent));
        let n = self.received.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.target.load(Ordering::Acquire) {
            self.done.notify_waiters();
        }
    }

    fn arrived_limited(&self) {
        let now = self.origin.elapsed().as_nanos() as u64;
        self.limited_ns.lock().unwrap().push(now);
    }

    /// Deliveries to the limited subscription after `from_ns`, and the most
    /// that arrived within any one second.
    fn limited_since(&self, from_ns: u64) -> (usize, usize) {
        let mut at: Vec<u64> = self.limited_ns.lock().unwrap().clone();
        at.retain(|&t| t >= from_ns);
        at.sort_unstable();
        let mut busiest = 0;
        let mut start = 0;
        for end in 0..at.len() {
            while at[end] - at[start] >= 1_000_000_000 {
                start += 1;
            }
            busiest = busiest.max(end - start + 1);
        }
        (at.len(), busiest)
    }

    fn reset(&self, target: usize) {
        self.latencies_ns.lock().unwrap().clear();
        self.received.store(0, Ordering::Release);
        self.target.store(target, Ordering::Release);
    }

    async fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.done.notified();
            if self.received.load(Ordering::Acquire) >= self.target.load(Ordering::Acquire) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), notified).await;
        }
    }

    fn percentiles(&self) -> (f64, f64) {
        let mut l = self.latencies_ns.lock().unwrap().clone();
        l.sort_unstable();
        let at = |p: f64| {
            if l.is_empty() {
                return f64::NAN;
            }
            l[((l.len() as f64 * p) as usize).min(l.len() - 1)] as f64 / 1e6
        };
        (at(0.50), at(0.99))
    }
}

async fn start_sink(sink: Arc<Sink>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let sink = sink.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let sink = sink.clone();
                    async move {
                        let index = req
                            .headers()
                            .get("webhook-id")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.strip_prefix("bench-"))
                            .and_then(|v| v.parse::<usize>().ok());
                        let limited = req.uri().path() == "/limited";
                        let _ = req.into_body().collect().await;
                        if limited {
                            sink.arrived_limited();
                        } else if let Some(i) = index {
                            sink.arrived(i);
                        }
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn lifecycle(index: usize) -> LifecycleEvent {
    let ts = event::timestamp(chrono::Utc::now());
    LifecycleEvent {
        // Zero-padded, so ids sort by time like the UUIDv7 ids of real
        // events: the store's indexes grow at their ends, as in production.
        id: format!("bench-{index:09}"),
        kind: EventType::MessageReceived,
        // Ephemeral sessions, as hooks without a sessionKey get: FIFO
        // groups do not serialize them.
        session: format!("hook:{index:09}"),
        message: Message {
            from: "+15551234567".into(),
            text: "Hello".into(),
            timestamp: ts.clone(),
        },
        timestamp: ts,
        event_id: None,
        hook_id: Some("bench".into()),
        handler_id: None,
        error: None,
        folded_event_ids: Vec::new(),
    }
}

async fn emit(backend: &Backend, sink: &Sink, index: usize) {
    sink.emitted_ns[index].store(sink.origin.elapsed().as_nanos() as u64, Ordering::Relaxed);
    event::emit(backend.events_queue.as_ref(), &lifecycle(index))
        .await
        .expect("emit");
}

#[tokio::main]
async fn main() {
    clawhooks::outbound::http::install_crypto_provider();
    let events: usize = env("EVENTS", 20_000);
    let subs: usize = env("SUBS", 1);
    let concurrency: usize = env("CONCURRENCY", 64);
    let paced_secs: u64 = env("PACED_SECS", 5);
    let sign = env("SIGN", 0) == 1;
    let memory = env("MEMORY", 0) == 1;
    let emitter_count: usize = env("EMITTERS", 32).max(1);
    let limited: u32 = env("LIMITED", 0);
    let warmup = 1000;
    // Enough indexes for warm-up, burst and the paced run (bounded below).
    let capacity = warmup + events + 200_000;

    let sink = Arc::new(Sink {
        origin: Instant::now(),
        emitted_ns: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        latencies_ns: Mutex::new(Vec::with_capacity(capacity)),
        received: AtomicUsize::new(0),
        target: AtomicUsize::new(usize::MAX),
        done: Notify::new(),
        limited_ns: Mutex::new(Vec::new()),
    });
    let addr = start_sink(sink.clone()).await;

    let outgoing: Vec<_> = (0..subs)
        .map(|i| {
            let mut s = serde_json::json!({ "id": format!("sink-{i}"), "url": format!("http://{addr}/hook/{i}") });
            if sign {
                s["secret"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into();
            }
            s
        })
        .collect::<Vec<_>>();
    let mut outgoing = outgoing;
    if limited > 0 {
        outgoing.push(
            serde_json::json!({"id": "limited", "url": format!("http://{addr}/limited"),
            "rateLimit": {"perSecond": limited}}),
        );
    }
    let config = Arc::new(
        load_str(
            &serde_json::json!({ "webhooks": { "outgoing": outgoing } }).to_string(),
            &|_| None,
        )
        .expect("bench config"),
    );

    let dir = std::env::temp_dir().join(format!("clawhooks-bench-egress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let embedded = if memory {
        Embedded::memory().unwrap()
    } else {
        Embedded::open(&dir.join("bench.db")).unwrap()
    };
    let backend = embedded.backend(BackendOptions::default());
    let http = Arc::new(clawhooks_e2e::loopback_http());
    let stage: Arc<dyn clawhooks::worker::Stage> =
        Arc::new(EgressStage::new(config, backend.clone(), http, Arc::new(SystemClock)).unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poll = PollSettings {
        concurrency,
        ..Default::default()
    };
    let mut consumers = Vec::new();
    for q in [backend.events_queue.clone(), backend.delivery_queue.clone()] {
        consumers.push(tokio::spawn(worker::run(
            q,
            stage.clone(),
            poll.clone(),
            stopped.clone(),
        )));
    }

    // Warm-up: connections, caches, the database file.
    sink.reset(warmup * subs);
    for i in 0..warmup {
        emit(&backend, &sink, i).await;
    }
    assert!(
        sink.wait(Duration::from_secs(60)).await,
        "warm-up did not finish"
    );

    // Burst: every event at once; deliveries per second until the last arrives.
    let base = warmup;
    sink.reset(events * subs);
    let t0 = Instant::now();
    let burst_from_ns = sink.origin.elapsed().as_nanos() as u64;
    // Several emitters, as a handler stage processing many hooks at once
    // emits: one sequential emitter would measure the emit path, not egress.
    let mut emitters = Vec::new();
    for e in 0..emitter_count {
        let (backend, sink) = (backend.clone(), sink.clone());
        emitters.push(tokio::spawn(async move {
            let mut i = base + e;
            while i < base + events {
                emit(&backend, &sink, i).await;
                i += emitter_count;
            }
        }));
    }
    for e in emitters {
        e.await.unwrap();
    }
    let emitted_in = t0.elapsed();
    let finished = sink.wait(Duration::from_secs(600)).await;
    let took = t0.elapsed();
    let rate = sink.received.load(Ordering::Acquire) as f64 / took.as_secs_f64();
    let (p50, p99) = sink.percentiles();
    println!(
        "RESULT run=burst deliveries={} subs={subs} emitters={emitter_count} concurrency={concurrency} seconds={:.2} deliveries_per_s={rate:.0} p50_ms={p50:.2} p99_ms={p99:.2} emit_s={:.2} complete={finished} backend={}",
        sink.received.load(Ordering::Acquire),
        took.as_secs_f64(),
        emitted_in.as_secs_f64(),
        if memory { "sqlite-memory" } else { "sqlite-file" },
    );

    if limited > 0 {
        let (got, busiest) = sink.limited_since(burst_from_ns);
        println!(
            "RESULT run=limited per_second={limited} delivered_during_burst={got} seconds={:.2} busiest_second={busiest}",
            took.as_secs_f64()
        );
    }

    // Paced: half the burst rate, for latency without a backlog.
    if paced_secs > 0 && rate.is_finite() && rate > 0.0 {
        let per_s = (rate / 2.0 / subs as f64).max(1.0);
        let total = ((per_s * paced_secs as f64) as usize).min(capacity - base - events);
        let base = base + events;
        sink.reset(total * subs);
        let t0 = Instant::now();
        let tick = Duration::from_millis(5);
        let mut sent = 0usize;
        let mut ticker = tokio::time::interval(tick);
        while sent < total {
            ticker.tick().await;
            let due = ((t0.elapsed().as_secs_f64() * per_s) as usize).min(total);
            while sent < due {
                emit(&backend, &sink, base + sent).await;
                sent += 1;
            }
        }
        let finished = sink.wait(Duration::from_secs(120)).await;
        let took = t0.elapsed();
        let (p50, p99) = sink.percentiles();
        println!(
            "RESULT run=paced deliveries={} subs={subs} offered_per_s={:.0} seconds={:.2} p50_ms={p50:.2} p99_ms={p99:.2} complete={finished}",
            sink.received.load(Ordering::Acquire),
            per_s * subs as f64,
            took.as_secs_f64(),
        );
    }

    let _ = stop.send(true);
    for c in consumers {
        let _ = c.await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
