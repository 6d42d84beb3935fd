//! The end-to-end benchmark's load generator and stand-ins (run through
//! `bench/e2e/run.sh`). It starts a recording HTTP server on 127.0.0.1 that
//! plays both the chat channel (a `webhook` channel: `/channel`) and the
//! outgoing subscription's receiver (`/outgoing`), then, for each step, a
//! fresh `clawhooks serve` on its own SQLite file, and posts hooks to it
//! open-loop at a fixed rate.
//!
//! Every hook carries a sequence number `n`; the handler's template renders
//! it into the channel message, and the `message_received` event carries
//! that text to the outgoing webhook, so each arrival is matched to its
//! POST. A hook is complete when both have arrived.
//!
//! A rate is sustained when every POST got its 202 and none started more
//! than 250 ms late (a lane waits for its last 202; a free post for one of
//! `IN_FLIGHT` connections), the hooks not yet complete when posting stops
//! are less than half a second of the rate (a backlog that grows by 10 %
//! of the rate reaches that in 5 s), and all of them complete within 3 s
//! after. Prints `RESULT` lines.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

/// `serve --visibility-timeout`: a hook later than this waited one out.
const VISIBILITY: Duration = Duration::from_secs(10);
const SECRET: &str = "bench-secret";
/// Hooks numbered in one run, at most (over every step).
const MAX_HOOKS: usize = 4_000_000;

/// When each numbered hook was posted, and when each of its two arrivals
/// came, in microseconds since the run began (0: not yet).
struct Times {
    start: Instant,
    slots: Vec<AtomicU64>,
}

impl Times {
    fn new(start: Instant) -> Self {
        Times {
            start,
            slots: (0..MAX_HOOKS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records now for `n`; `false` when `n` was already recorded (a copy).
    fn mark(&self, n: usize) -> bool {
        let now = self.start.elapsed().as_micros() as u64 + 1;
        self.slots.get(n).is_some_and(|s| {
            s.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        })
    }

    fn get(&self, n: usize) -> Option<u64> {
        match self.slots[n].load(Ordering::Relaxed) {
            0 => None,
            t => Some(t - 1),
        }
    }
}

/// What the stand-ins saw.
struct Recorder {
    posted: Times,
    channel: Times,
    outgoing: Times,
    /// Arrivals of a number already seen: a hook handled or delivered twice.
    copies: AtomicU64,
    /// The channel's order check: the last number of each lane, and how
    /// often a lane's number came after a larger one of the same lane.
    order: Mutex<Order>,
}

#[derive(Default)]
struct Order {
    lanes: u64,
    last: HashMap<u64, u64>,
    out_of_order: u64,
}

impl Recorder {
    fn complete_at(&self, n: usize) -> Option<u64> {
        Some(self.channel.get(n)?.max(self.outgoing.get(n)?))
    }

    fn arrived(&self, path: &str, body: &[u8]) -> bool {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return false;
        };
        let text = match path {
            "/channel" => v["text"].as_str(),
            "/outgoing" => v["message"]["text"].as_str(),
            _ => None,
        };
        let Some(n) = text.and_then(|t| t.trim().parse::<usize>().ok()) else {
            return false;
        };
        let times = if path == "/channel" {
            self.check_order(n as u64);
            &self.channel
        } else {
            &self.outgoing
        };
        if !times.mark(n) {
            self.copies.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    fn check_order(&self, n: u64) {
        let mut o = self.order.lock().expect("order lock");
        if o.lanes == 0 {
            return;
        }
        let lane = n % o.lanes;
        let last = o.last.insert(lane, n);
        if last.is_some_and(|l| l >= n) {
            o.out_of_order += 1;
        }
    }
}

/// The recording server: answers 200 to both stand-ins, after recording.
async fn start_sinks(rec: Arc<Recorder>) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let rec = rec.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let rec = rec.clone();
                    async move { Ok::<_, std::convert::Infallible>(sink(&rec, req).await) }
                });
                // A connection the gateway closes ends here; nothing to record.
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await
                    .ok();
            });
        }
    });
    Ok(addr)
}

async fn sink(rec: &Recorder, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let status = match body {
        Ok(b) if rec.arrived(&path, &b) => 200,
        _ => 400,
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(br#"{"id":"1"}"#)))
        .expect("a valid response")
}

/// The gateway's config: one ephemeral and one persistent handler posting
/// `n` to the channel stand-in, and one subscription to `message_received`.
fn config(sinks: std::net::SocketAddr) -> serde_json::Value {
    let base = format!("http://{sinks}");
    serde_json::json!({"webhooks": {
        "incoming": {"secret": SECRET},
        "network": {"allowPrivate": true},
        "handlers": [
            {"id": "eph", "action": "send_message", "template": "{{n}}",
             "target": {"channel": "sink", "peer": "bench"}},
            {"id": "pers", "action": "send_message", "template": "{{n}}",
             "target": {"channel": "sink", "peer": "bench"},
             "sessionMode": "persistent", "sessionKey": "bench"}
        ],
        "channels": {"sink": {"type": "webhook", "url": format!("{base}/channel")}},
        "outgoing": [{"id": "sink", "url": format!("{base}/outgoing"),
            "events": ["message_received"],
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]
    }})
}

/// A `clawhooks serve` on a fresh SQLite file; killed when dropped.
struct Server {
    child: tokio::process::Child,
    url: String,
}

impl Server {
    async fn start(bin: &Path, dir: &Path, name: &str) -> anyhow::Result<Server> {
        let db = dir.join(format!("{name}.db"));
        let mut child = tokio::process::Command::new(bin)
            .args(["serve", "--port", "0", "--visibility-timeout"])
            .arg(VISIBILITY.as_secs().to_string())
            .arg("--config")
            .arg(dir.join("config.json"))
            .arg("--db")
            .arg(&db)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(at) = line.find("http://") {
                    return Ok(line[at..].trim().to_string());
                }
            }
            anyhow::bail!("clawhooks serve exited before it listened")
        })
        .await??;
        Ok(Server { child, url })
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// How a step posts: each hook on its own (`Free`), or `Lanes(k)`: hook `n`
/// on lane `n % k`, each lane posting its next hook only after the last
/// one's 202, so a lane's order is the order the gateway accepted them in.
#[derive(Clone, Copy)]
enum Posting {
    Free { in_flight: usize },
    Lanes(usize),
}

struct Load {
    client: reqwest::Client,
    rec: Arc<Recorder>,
    errors: AtomicU64,
    /// The most a POST started after its scheduled time (µs).
    lag_us: AtomicU64,
}

impl Load {
    async fn post(&self, url: &str, n: usize) {
        let r = self
            .client
            .post(url)
            .header("x-webhook-secret", SECRET)
            .header("content-type", "application/json")
            .body(format!("{{\"n\":{n}}}"));
        self.rec.posted.mark(n);
        match r.send().await {
            Ok(resp) if resp.status() == 202 => {}
            _ => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// What one step measured.
struct Step {
    rate: u64,
    posted: usize,
    errors: u64,
    post_secs: f64,
    lag_ms: f64,
    /// Hooks not complete when posting stopped.
    backlog: usize,
    /// Of those, how many had no channel message, and no outgoing webhook:
    /// which stage was behind.
    behind: (usize, usize),
    /// From the last POST until every hook was complete (None: not within the wait).
    drain_secs: Option<f64>,
    first: usize,
}

impl Step {
    fn sustained(&self) -> bool {
        self.errors == 0
            && self.lag_ms < 250.0
            && (self.backlog as f64) <= self.rate as f64 * 0.5
            && self.drain_secs.is_some_and(|d| d <= 3.0)
    }

    fn range(&self) -> std::ops::Range<usize> {
        self.first..self.first + self.posted
    }
}

struct Bench {
    bin: PathBuf,
    dir: PathBuf,
    rec: Arc<Recorder>,
    next: usize,
    step_secs: f64,
    /// How long to wait for stragglers after posting stops.
    wait: Duration,
}

impl Bench {
    /// Posts to `hook` at `rate` for `secs` on a fresh server and waits
    /// for the hooks to complete.
    async fn step(
        &mut self,
        hook: &str,
        rate: u64,
        secs: f64,
        posting: Posting,
    ) -> anyhow::Result<Step> {
        let server = Server::start(
            &self.bin,
            &self.dir,
            &format!("{hook}-{rate}-{}", self.next),
        )
        .await?;
        let url = format!("{}/webhook/{hook}", server.url);
        let total = (rate as f64 * secs).round() as usize;
        let first = self.next;
        anyhow::ensure!(first + total <= MAX_HOOKS, "too many hooks in one run");
        self.next += total;
        if let Posting::Lanes(k) = posting {
            let mut o = self.rec.order.lock().expect("order lock");
            o.lanes = k as u64;
            o.last.clear();
        }
        let load = Arc::new(Load {
            client: reqwest::Client::builder().build()?,
            rec: self.rec.clone(),
            errors: AtomicU64::new(0),
            lag_us: AtomicU64::new(0),
        });
        let started = Instant::now();
        drive(&load, &url, first, total, rate, started, posting).await;
        let post_secs = started.elapsed().as_secs_f64();
        let posted_end = self.rec.posted.start.elapsed().as_micros() as u64;
        let range = first..first + total;
        let backlog = range
            .clone()
            .filter(|&n| self.rec.complete_at(n).is_none())
            .count();
        let missing = |t: &Times| range.clone().filter(|&n| t.get(n).is_none()).count();
        let behind = (missing(&self.rec.channel), missing(&self.rec.outgoing));
        // A backlog past half a second of the rate already fails the step;
        // DRAIN_ALWAYS=1 waits anyway, to time how long it takes to clear.
        let drain_secs = if (backlog as f64) <= rate as f64 * 0.5 || env_or("DRAIN_ALWAYS", 0) == 1
        {
            self.drain(range, posted_end).await
        } else {
            None
        };
        server.stop().await?;
        if let Posting::Lanes(_) = posting {
            self.rec.order.lock().expect("order lock").lanes = 0;
        }
        Ok(Step {
            rate,
            posted: total,
            errors: load.errors.load(Ordering::Relaxed),
            post_secs,
            lag_ms: load.lag_us.load(Ordering::Relaxed) as f64 / 1000.0,
            backlog,
            behind,
            drain_secs,
            first,
        })
    }

    /// Waits until every hook of `range` is complete; the seconds from the
    /// end of posting until the last one was, or None after `self.wait`.
    async fn drain(&self, range: std::ops::Range<usize>, posted_end: u64) -> Option<f64> {
        let deadline = Instant::now() + self.wait;
        loop {
            let last = range
                .clone()
                .map(|n| self.rec.complete_at(n))
                .try_fold(0, |m, t| t.map(|t| t.max(m)));
            if let Some(last) = last {
                return Some(last.saturating_sub(posted_end) as f64 / 1e6);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The highest sustained rate: doubling from `start` until a step
    /// fails, then halving the gap `refine` times.
    async fn search(
        &mut self,
        hook: &str,
        start: u64,
        posting: Posting,
        refine: u32,
    ) -> anyhow::Result<u64> {
        let (mut pass, mut fail) = (0u64, None);
        let mut rate = start;
        while fail.is_none() && rate <= 64_000 {
            if self.try_rate(hook, rate, posting).await? {
                pass = rate;
                rate *= 2;
            } else {
                fail = Some(rate);
            }
        }
        let Some(mut fail) = fail else {
            return Ok(pass);
        };
        for _ in 0..refine {
            let mid = (pass + fail) / 2 / 50 * 50;
            if mid <= pass || mid >= fail {
                break;
            }
            if self.try_rate(hook, mid, posting).await? {
                pass = mid;
            } else {
                fail = mid;
            }
        }
        Ok(pass)
    }

    async fn try_rate(&mut self, hook: &str, rate: u64, posting: Posting) -> anyhow::Result<bool> {
        let s = self.step(hook, rate, self.step_secs, posting).await?;
        let ok = s.sustained();
        let drain = match s.drain_secs {
            Some(d) => format!("{d:.2}s"),
            None if s.backlog as f64 > s.rate as f64 * 0.5 => "not_waited".to_string(),
            None => format!("not_within_{}s", self.wait.as_secs()),
        };
        println!(
            "step hook={hook} offered={}/s posted={} in {:.2}s errors={} post_lag_max_ms={:.1} backlog_at_stop={} (no_channel_message={} no_outgoing_webhook={}) all_complete_after={} sustained={ok}",
            s.rate, s.posted, s.post_secs, s.errors, s.lag_ms, s.backlog, s.behind.0, s.behind.1, drain
        );
        Ok(ok)
    }
}

/// Posts hooks `first..first + total` at `rate`, each at its scheduled
/// time (open loop: a slow answer does not slow the schedule).
async fn drive(
    load: &Arc<Load>,
    url: &str,
    first: usize,
    total: usize,
    rate: u64,
    started: Instant,
    posting: Posting,
) {
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = tokio::task::JoinSet::new();
    let mut lanes = Vec::new();
    let (in_flight, k) = match posting {
        Posting::Free { in_flight } => (in_flight, 0),
        Posting::Lanes(k) => (0, k),
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(in_flight));
    for _ in 0..k {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
        let (load, url) = (load.clone(), url.to_string());
        tasks.spawn(async move {
            while let Some((n, due)) = rx.recv().await {
                note_lag(&load, due);
                load.post(&url, n).await;
            }
        });
        lanes.push(tx);
    }
    let mut sent = 0;
    while sent < total {
        let due_now = ((started.elapsed().as_secs_f64() * rate as f64) as usize + 1).min(total);
        for i in sent..due_now {
            let n = first + i;
            let due = started + interval * i as u32;
            if k > 0 {
                // A lane's receiver lives until its sender is dropped.
                lanes[i % k].send((n, due)).expect("lane running");
            } else {
                let (load, url, permits) = (load.clone(), url.to_string(), permits.clone());
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await.expect("open semaphore");
                    note_lag(&load, due);
                    load.post(&url, n).await;
                });
            }
        }
        sent = due_now;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(lanes);
    while tasks.join_next().await.is_some() {}
}

fn note_lag(load: &Load, due: Instant) {
    let lag = Instant::now().saturating_duration_since(due).as_micros() as u64;
    load.lag_us.fetch_max(lag, Ordering::Relaxed);
}

/// Percentiles of `values` (µs), as "p50 p99 max" in ms.
fn spread(mut values: Vec<u64>) -> String {
    if values.is_empty() {
        return "p50_ms=- p99_ms=- max_ms=-".into();
    }
    values.sort_unstable();
    let at = |p: usize| values[(values.len() * p / 100).min(values.len() - 1)] as f64 / 1000.0;
    format!(
        "p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        at(50),
        at(99),
        *values.last().expect("not empty") as f64 / 1000.0
    )
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| anyhow::anyhow!("a crypto provider was already installed"))?;
    let bin = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: e2e_load PATH/TO/clawhooks"))?,
    );
    let start = Instant::now();
    let rec = Arc::new(Recorder {
        posted: Times::new(start),
        channel: Times::new(start),
        outgoing: Times::new(start),
        copies: AtomicU64::new(0),
        order: Mutex::new(Order::default()),
    });
    let sinks = start_sinks(rec.clone()).await?;
    let dir = std::env::temp_dir().join(format!("clawhooks-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("config.json"), config(sinks).to_string())?;
    let mut bench = Bench {
        bin,
        dir: dir.clone(),
        rec: rec.clone(),
        next: 0,
        step_secs: env_or("STEP_SECS", 5.0),
        wait: Duration::from_secs(env_or("WAIT_SECS", 5)),
    };
    let free = Posting::Free {
        in_flight: env_or("IN_FLIGHT", 256),
    };
    let result = run(&mut bench, free).await;
    std::fs::remove_dir_all(&dir)?;
    result
}

/// Both parts, or the one `ONLY` names (`own`, `persistent`).
async fn run(bench: &mut Bench, free: Posting) -> anyhow::Result<()> {
    let only = std::env::var("ONLY").unwrap_or_default();
    if only != "persistent" {
        own_sessions(bench, free).await?;
    }
    if only != "own" {
        one_session(bench).await?;
    }
    Ok(())
}

/// Hooks on their own `hook:<uuid>` sessions: the sustained rate, then
/// latencies at half of it.
async fn own_sessions(bench: &mut Bench, free: Posting) -> anyhow::Result<()> {
    let rec = bench.rec.clone();
    // 1. The highest rate at which every hook is handled and delivered.
    let best = bench
        .search("eph", env_or("START_RATE", 250), free, 3)
        .await?;
    println!("RESULT e2e sustained_hooks_per_s={best} (own hook:<uuid> sessions; goal >= 5000)");

    // 2. Half that rate, longer: latency from POST to each arrival.
    let half = (best / 2).max(50);
    bench.wait = VISIBILITY + Duration::from_secs(3);
    let copies_before = rec.copies.load(Ordering::Relaxed);
    let s = bench
        .step("eph", half, env_or("HALF_SECS", 10.0), free)
        .await?;
    let lat = |t: &Times| -> Vec<u64> {
        s.range()
            .filter_map(|n| Some(t.get(n)?.saturating_sub(rec.posted.get(n)?)))
            .collect()
    };
    let (channel, outgoing) = (lat(&rec.channel), lat(&rec.outgoing));
    let late = s
        .range()
        .filter(|&n| match (rec.complete_at(n), rec.posted.get(n)) {
            (Some(done), Some(at)) => done - at >= VISIBILITY.as_micros() as u64,
            _ => true, // never arrived within the visibility timeout and the wait after it
        })
        .count();
    println!(
        "RESULT e2e at_half rate={half}/s hooks={} errors={} channel: {} outgoing: {} (goal p99 <= 25 ms, max <= 250 ms) late_or_missing={late} copies={}",
        s.posted,
        s.errors,
        spread(channel),
        spread(outgoing),
        rec.copies.load(Ordering::Relaxed) - copies_before
    );

    Ok(())
}

/// One persistent session: strictly one hook at a time, in order.
async fn one_session(bench: &mut Bench) -> anyhow::Result<()> {
    let rec = bench.rec.clone();
    bench.wait = Duration::from_secs(env_or("WAIT_SECS", 5));
    let lanes = env_or("LANES", 8);
    let pers = bench
        .search(
            "pers",
            env_or("START_RATE_PERSISTENT", 250),
            Posting::Lanes(lanes),
            3,
        )
        .await?;
    let out_of_order = rec.order.lock().expect("order lock").out_of_order;
    println!(
        "RESULT e2e persistent_session sustained_hooks_per_s={pers} (goal >= 1000) in_order={} (each of {lanes} senders' hooks reached the channel in the order they were accepted)",
        out_of_order == 0
    );
    Ok(())
}
