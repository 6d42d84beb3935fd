//! Fault injection: every named fail point of the accept path and of each
//! stage (see `clawhooks::faults`) is armed in the real `clawhooks serve`,
//! once to abort the process and once to make its step fail, on the
//! embedded backend and on SQS + DynamoDB in the emulator. Senders retry
//! each hook with its idempotency key until they get a 2xx, as Standard
//! Webhooks senders do; a process that died is started again on the same
//! state, without the fault. Then:
//! - every hook that got a 2xx reaches the outgoing sink (lost: 0);
//! - the copies a receiver sees carry one `webhook-id` per event, so it can
//!   deduplicate them;
//! - no hook waited a visibility timeout unless a fault touched it.
//!
//! The binary must be built with `--features clawhooks-local/failpoints`
//! (scripts/test.sh does). Each run prints a row: fail point, mode,
//! backend, accepted, delivered, lost, duplicated, late.

use clawhooks::faults;
use clawhooks_e2e::emulator::{self, workspace_binary};
use clawhooks_e2e::process::try_spawn_announced;
use clawhooks_e2e::Recorder;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Hooks per run (`FAULT_HOOKS` raises it for a longer look).
fn hooks() -> usize {
    std::env::var("FAULT_HOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}
/// `serve --visibility-timeout`: a message a fault left in flight shows
/// again after this long; a hook later than this waited one out.
const VISIBILITY: Duration = Duration::from_secs(12);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// The process aborts at the point, once.
    Abort,
    /// The step fails at the point, three times.
    Error,
}

impl Mode {
    fn actions(self) -> &'static str {
        match self {
            Mode::Abort => "1*return(abort)",
            Mode::Error => "3*return",
        }
    }
}

/// One `clawhooks serve`, its address, and where its log goes.
struct Server {
    child: Child,
    base: String,
}

#[derive(Clone)]
struct Setup {
    config: PathBuf,
    backend: Vec<String>,
    env: Vec<(&'static str, String)>,
    log: PathBuf,
}

impl Setup {
    fn start(&self, failpoints: Option<&str>) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(workspace_binary("clawhooks").unwrap());
        cmd.args(["serve", "--port", "0", "--visibility-timeout"])
            .arg(VISIBILITY.as_secs().to_string())
            .arg("--config")
            .arg(&self.config)
            .args(&self.backend)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "warn")
            .env_remove("FAILPOINTS")
            .stderr(log);
        if let Some(f) = failpoints {
            cmd.env("FAILPOINTS", f);
        }
        let (child, base) = try_spawn_announced(cmd).unwrap_or_else(|| {
            panic!(
                "clawhooks serve did not start (built without --features clawhooks-local/failpoints?):\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )
        });
        Server { child, base }
    }
}

struct Report {
    accepted: usize,
    delivered: usize,
    lost: usize,
    duplicated: usize,
    /// Hooks that reached the sink a visibility timeout or more after their 2xx.
    late: usize,
    /// From a hook's 2xx to the sink: the median, the 99th percentile and
    /// the longest.
    p50: Duration,
    p99: Duration,
    slowest: Duration,
    restarts: usize,
    /// Hooks the handler took more than once (its status record counts
    /// the attempts): a retry, which without a fault is our own race.
    handled_again: usize,
}

/// The operators' secret of the supervised server (admin routes).
const ADMIN_SECRET: &str = "faults-admin-secret-0f3e";

fn write_config(dir: &Path, outgoing: serde_json::Value) -> PathBuf {
    let config = dir.join("config.json");
    let doc = serde_json::json!({"webhooks": {
        "incoming": {"secret": "s"},
        "admin": {"secret": ADMIN_SECRET},
        "network": {"allowPrivate": true},
        "handlers": [{"id": "orders"}],
        "outgoing": outgoing
    }});
    std::fs::write(&config, doc.to_string()).unwrap();
    config
}

/// A `clawhooks serve` with `failpoints` armed, and a supervisor that
/// starts it again, without the fault, whenever it dies.
struct Supervised {
    setup: Setup,
    dir: PathBuf,
    base: Arc<Mutex<String>>,
    server: Arc<Mutex<Server>>,
    restarts: Arc<Mutex<usize>>,
    done: Arc<std::sync::atomic::AtomicBool>,
    supervisor: Option<std::thread::JoinHandle<()>>,
}

impl Supervised {
    fn start(backend_name: &str, outgoing: serde_json::Value, failpoints: Option<&str>) -> Self {
        let dir = std::env::temp_dir().join(format!("clawhooks-fault-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (backend, env) = if backend_name == "aws" {
            let emu = emulator::shared();
            let backend = ["--backend", "aws", "--bootstrap", "--aws-prefix"]
                .into_iter()
                .map(String::from)
                .chain([emulator::unique("fault")])
                .collect();
            (backend, emu.env())
        } else {
            let db = dir.join("state.db").display().to_string();
            (vec!["--db".into(), db], Vec::new())
        };
        let setup = Setup {
            config: write_config(&dir, outgoing),
            backend,
            env,
            log: dir.join("serve.log"),
        };
        let server = setup.start(failpoints);
        let base = Arc::new(Mutex::new(server.base.clone()));
        let server = Arc::new(Mutex::new(server));
        let restarts = Arc::new(Mutex::new(0usize));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let supervisor = {
            let (server, base, restarts, done) =
                (server.clone(), base.clone(), restarts.clone(), done.clone());
            let setup = setup.clone();
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let exited = server.lock().unwrap().child.try_wait().unwrap().is_some();
                    if exited {
                        let fresh = setup.start(None);
                        *base.lock().unwrap() = fresh.base.clone();
                        *server.lock().unwrap() = fresh;
                        *restarts.lock().unwrap() += 1;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Supervised {
            setup,
            dir,
            base,
            server,
            restarts,
            done,
            supervisor: Some(supervisor),
        }
    }

    /// Posts hooks `0..n` from four senders, each retried with its key until
    /// a 2xx: event id -> when its 2xx came.
    async fn send_hooks(&self, n: usize) -> BTreeMap<String, Instant> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let accepted: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
        let mut senders = Vec::new();
        for worker in 0..4 {
            let (client, base, accepted) = (client.clone(), self.base.clone(), accepted.clone());
            senders.push(tokio::spawn(async move {
                for k in (worker..n).step_by(4) {
                    let (id, at) = send_until_accepted(&client, &base, k).await;
                    accepted.lock().unwrap().entry(id).or_insert(at);
                }
            }));
        }
        for s in senders {
            s.await.unwrap();
        }
        let accepted = accepted.lock().unwrap().clone();
        accepted
    }

    /// How many of `events` the handler attempted more than once, from
    /// `GET /events/<id>`.
    async fn handled_again(&self, events: impl Iterator<Item = &String>) -> usize {
        let client = reqwest::Client::new();
        let base = self.base.lock().unwrap().clone();
        let mut again = 0;
        for id in events {
            let record: serde_json::Value = client
                .get(format!("{base}/events/{id}"))
                .bearer_auth(ADMIN_SECRET)
                .send()
                .await
                .expect("GET /events")
                .json()
                .await
                .expect("an event record");
            let attempts = record["event"]["attempts"].as_u64();
            if attempts.expect("the record counts attempts") > 1 {
                again += 1;
            }
        }
        again
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.setup.log).unwrap_or_default()
    }

    /// Stops the supervisor and the server; how many restarts there were.
    fn stop(&mut self) -> usize {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.supervisor.take() {
            t.join().unwrap();
        }
        let mut s = self.server.lock().unwrap();
        s.child.kill().ok();
        s.child.wait().ok();
        let restarts = *self.restarts.lock().unwrap();
        restarts
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// Posts hook `n` with its own idempotency key until a 2xx; the event id
/// and when the 2xx came.
async fn send_until_accepted(
    client: &reqwest::Client,
    base: &Mutex<String>,
    n: usize,
) -> (String, Instant) {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "hook {n} never got a 2xx"
        );
        let url = format!("{}/webhook/orders", base.lock().unwrap());
        let sent = client
            .post(url)
            .header("X-Webhook-Secret", "s")
            .header("Idempotency-Key", format!("hook-{n}"))
            .json(&serde_json::json!({ "n": n }))
            .send()
            .await;
        if let Ok(r) = sent {
            if r.status().is_success() {
                let body: serde_json::Value = r.json().await.unwrap();
                return (
                    body["eventId"].as_str().unwrap().to_string(),
                    Instant::now(),
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run(point: &'static str, mode: Mode, backend_name: &str) -> Report {
    clawhooks::outbound::http::install_crypto_provider();
    let sink = Recorder::start().await;
    let outgoing = serde_json::json!([{"id": "sink", "url": sink.url("/in"), "events": ["message_received"],
        "retry": {"maxAttempts": 20, "initialDelayMs": 100, "maxDelayMs": 1000}}]);
    let armed = (!point.is_empty()).then(|| format!("{point}={}", mode.actions()));
    let mut deployment = Supervised::start(backend_name, outgoing, armed.as_deref());
    let accepted = deployment.send_hooks(hooks()).await;

    // Wait for every accepted hook at the sink, noting when each first came.
    let deadline = Instant::now() + VISIBILITY * 4 + Duration::from_secs(30);
    let mut first_seen: BTreeMap<String, Instant> = BTreeMap::new();
    let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let copies = loop {
        let reqs = sink.requests();
        for r in &reqs {
            let hook = r.json()["eventId"].as_str().unwrap_or_default().to_string();
            first_seen.entry(hook.clone()).or_insert(r.at);
            ids.entry(hook)
                .or_default()
                .insert(r.header("webhook-id").unwrap_or_default().to_string());
        }
        let all = accepted.keys().all(|id| first_seen.contains_key(id));
        if all || Instant::now() > deadline {
            break reqs.len();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let handled_again = deployment.handled_again(accepted.keys()).await;
    let restarts = deployment.stop();
    let unique_ids = ids.values().filter(|set| set.len() == 1).count();
    assert_eq!(
        unique_ids,
        ids.len(),
        "{point}: each event reaches the receiver under one webhook-id: {ids:?}"
    );
    let delivered = accepted
        .keys()
        .filter(|id| first_seen.contains_key(*id))
        .count();
    let mut latencies: Vec<Duration> = accepted
        .iter()
        .filter_map(|(id, at)| first_seen.get(id).map(|seen| seen.duration_since(*at)))
        .collect();
    latencies.sort();
    let report = Report {
        accepted: accepted.len(),
        delivered,
        lost: accepted.len() - delivered,
        duplicated: copies - ids.len(),
        late: accepted
            .iter()
            .filter(|(id, at)| {
                first_seen
                    .get(*id)
                    .is_some_and(|seen| seen.duration_since(**at) >= VISIBILITY)
            })
            .count(),
        restarts,
        handled_again,
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
        slowest: latencies.last().copied().unwrap_or_default(),
    };
    let point = if point.is_empty() { "(none)" } else { point };
    println!(
        "fault {point:<26} {:<6} {backend_name:<8} accepted {:>3}  delivered {:>3}  lost {}  duplicated {:>2}  late {}  handled again {}  restarts {}  p50 {:?} p99 {:?} max {:?}",
        format!("{mode:?}"),
        report.accepted, report.delivered, report.lost, report.duplicated, report.late, report.handled_again, report.restarts, report.p50, report.p99, report.slowest
    );
    if report.lost > 0 {
        panic!(
            "{point} ({mode:?}, {backend_name}): {} accepted hooks never arrived; log:\n{}",
            report.lost,
            deployment.log()
        );
    }
    report
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) * p) / 100]
}

/// The checks every run must pass; `max_late` is how many hooks the fault
/// itself may hold back a visibility timeout.
async fn check(point: &'static str, mode: Mode, backend: &str, max_late: usize) {
    let r = run(point, mode, backend).await;
    assert_eq!(
        r.accepted,
        hooks(),
        "{point}: every hook got a 2xx in the end"
    );
    assert_eq!(r.lost, 0);
    assert_eq!(r.delivered, r.accepted);
    assert!(
        r.late <= max_late,
        "{point} ({mode:?}, {backend}): {} hooks waited a visibility timeout, at most {max_late} may",
        r.late
    );
    if mode == Mode::Abort {
        assert!(r.restarts >= 1, "{point}: the armed abort never fired");
    }
}

/// The baseline: no fault at all. No hook may wait a visibility timeout
/// (before, a handler that read an event before ingress wrote its status
/// record conflicted and waited one out) and none is delivered twice.
mod no_fault {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded() {
        let r = run("", Mode::Error, "embedded").await;
        assert_eq!((r.lost, r.late, r.duplicated, r.restarts), (0, 0, 0, 0));
        assert_eq!(
            r.handled_again, 0,
            "no hook is handled twice without a fault"
        );
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws() {
        let r = run("", Mode::Error, "aws").await;
        assert_eq!(
            r.handled_again, 0,
            "no hook is handled twice without a fault"
        );
        assert_eq!((r.lost, r.duplicated, r.restarts), (0, 0, 0));
        // The emulator drains slower than senders post, so with many hooks
        // a backlog (not a visibility timeout) can hold some back: the
        // lateness check holds for the default run.
        if hooks() <= 40 {
            assert_eq!(r.late, 0);
        }
    }
}

/// How many hooks an abort may hold back: on the embedded backend none
/// (a restart shows what was in flight at once); on SQS, what was in
/// flight when the process died waits out its visibility timeout.
fn late_after_abort(backend: &str) -> usize {
    if backend == "aws" {
        hooks()
    } else {
        0
    }
}

macro_rules! fault_tests {
    ($($name:ident => $point:expr),* $(,)?) => {
        $(mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn abort_embedded() {
                check($point, Mode::Abort, "embedded", late_after_abort("embedded")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn error_embedded() {
                check($point, Mode::Error, "embedded", 3).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn abort_aws() {
                check($point, Mode::Abort, "aws", late_after_abort("aws")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn error_aws() {
                check($point, Mode::Error, "aws", 3).await;
            }
        })*
    };
}

fault_tests!(
    intake_after_claim => faults::INTAKE_AFTER_CLAIM,
    intake_after_enqueue => faults::INTAKE_AFTER_ENQUEUE,
    intake_after_status => faults::INTAKE_AFTER_STATUS,
    ingress_before_answer => faults::INGRESS_BEFORE_ANSWER,
    handler_after_begin => faults::HANDLER_AFTER_BEGIN,
    handler_after_action => faults::HANDLER_AFTER_ACTION,
    worker_before_delete => faults::WORKER_BEFORE_DELETE,
    egress_after_delivery => faults::EGRESS_AFTER_DELIVERY,
);

/// Hooks whose deliveries are all refused (500), so egress gives each up
/// after two attempts and dead-letters it, with `egress.before_dead_letter`
/// armed. Each event ends with exactly one dead letter, and the receiver
/// saw its two attempts (a third only where a crash cut an attempt short):
/// a give-up that a crash or an error interrupted resumes without calling
/// the receiver again or dead-lettering twice.
async fn give_up_once(mode: Mode, backend_name: &str) {
    const GIVE_UPS: usize = 6;
    clawhooks::outbound::http::install_crypto_provider();
    let sink = Recorder::start_with(clawhooks_e2e::Reply::status(500)).await;
    // Every event is to give up at its own pace: no breaker holding the
    // later ones after the first failures.
    let outgoing = serde_json::json!([{"id": "doomed", "url": sink.url("/in"), "events": ["message_received"],
        "retry": {"maxAttempts": 2, "initialDelayMs": 100, "maxDelayMs": 200},
        "breaker": {"enabled": false}}]);
    let armed = format!("{}={}", faults::EGRESS_BEFORE_DEAD_LETTER, mode.actions());
    let mut deployment = Supervised::start(backend_name, outgoing, Some(&armed));
    let accepted = deployment.send_hooks(GIVE_UPS).await;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + VISIBILITY * 3 + Duration::from_secs(30);
    let letters = loop {
        let base = deployment.base.lock().unwrap().clone();
        let listed: Option<serde_json::Value> = match client
            .get(format!("{base}/dlq"))
            .bearer_auth(ADMIN_SECRET)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        let letters: Vec<String> = listed
            .map(|l| {
                l["deadLetters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d["eventId"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if letters.len() >= GIVE_UPS || Instant::now() > deadline {
            // A second copy would follow the first within moments: look again.
            tokio::time::sleep(Duration::from_secs(2)).await;
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let restarts = deployment.stop();
    // By the lifecycle event's id, which dead letters carry as `eventId`;
    // the payload's `eventId` names the hook it stems from.
    let mut attempts: BTreeMap<String, usize> = BTreeMap::new();
    let mut hooks_seen = BTreeSet::new();
    for r in sink.requests() {
        let body = r.json();
        *attempts
            .entry(body["id"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
        hooks_seen.insert(body["eventId"].as_str().unwrap_or_default().to_string());
    }
    println!(
        "fault {:<26} {:<6} {backend_name:<8} accepted {:>3}  dead letters {}  attempts per event {:?}  restarts {restarts}",
        faults::EGRESS_BEFORE_DEAD_LETTER,
        format!("{mode:?}"),
        accepted.len(),
        letters.len(),
        attempts.values().collect::<BTreeSet<_>>()
    );
    let mut unique = letters.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        letters.len(),
        "one dead letter per event: {letters:?}"
    );
    let hooks: BTreeSet<String> = accepted.keys().cloned().collect();
    assert_eq!(hooks_seen, hooks, "every hook's event was attempted");
    let attempted: BTreeSet<&String> = attempts.keys().collect();
    assert_eq!(
        unique.iter().collect::<BTreeSet<_>>(),
        attempted,
        "every attempted event is dead-lettered\n{}",
        deployment.log()
    );
    // An error at the point leaves every attempt made once. An abort also
    // kills the attempts in flight elsewhere, after the receiver answered
    // and before the answer was logged; those are made again after the
    // restart (at least once, as any crash between sending and recording).
    let most = if mode == Mode::Abort { 3 } else { 2 };
    assert!(
        attempts.values().all(|n| (2..=most).contains(n)),
        "two attempts per event, a third only for one in flight at a crash: {attempts:?}"
    );
    if mode == Mode::Abort {
        assert!(restarts >= 1, "the armed abort never fired");
    }
}

mod egress_before_dead_letter {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn abort_embedded() {
        give_up_once(Mode::Abort, "embedded").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn error_embedded() {
        give_up_once(Mode::Error, "embedded").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn abort_aws() {
        give_up_once(Mode::Abort, "aws").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn error_aws() {
        give_up_once(Mode::Error, "aws").await;
    }
}

#[test]
fn every_fail_point_has_a_run() {
    // The points the runs above cover; a new point must be added to one.
    let mut covered = [
        faults::INTAKE_AFTER_CLAIM,
        faults::INTAKE_AFTER_ENQUEUE,
        faults::INTAKE_AFTER_STATUS,
        faults::INGRESS_BEFORE_ANSWER,
        faults::HANDLER_AFTER_BEGIN,
        faults::HANDLER_AFTER_ACTION,
        faults::WORKER_BEFORE_DELETE,
        faults::EGRESS_AFTER_DELIVERY,
        faults::EGRESS_BEFORE_DEAD_LETTER,
    ];
    covered.sort();
    let mut all = faults::POINTS.to_vec();
    all.sort();
    assert_eq!(all, covered);
}
