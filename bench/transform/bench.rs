//! `bench/transform`: what a 10-line transform adds to the handler's work
//! on one hook, and whether memory stays flat over many transformed hooks.
//!
//! Times `handler::context::prepare` (the transform, the template context,
//! the rendered text: everything the handler computes before its action)
//! for the same hook on two handlers alike but for the transform, and reads
//! the process's RSS while it transforms HOOKS hooks (default 100000).
//! CPU time, not wall time: `getrusage` of this one-threaded process.
//!
//!   bench/transform/run.sh                # a release build
//!   HOOKS=20000 bench/transform/run.sh

use clawhooks::config::load_str;
use clawhooks::event::{Body, InboundEvent};
use clawhooks::handler::context::prepare;
use std::collections::BTreeMap;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TEN_LINES: &str = r#"function transform(input) {
  const alerts = input.body.alerts || [];
  const firing = alerts.filter((a) => a.status === "firing");
  const names = firing.map((a) => a.labels.alertname);
  if (names.length === 0) return { skip: true };
  return {
    body: { title: names.join(", "), firing: firing.length, cluster: firing[0].labels.cluster },
    vars: { severity: input.headers["x-severity"] || "unknown" },
  };
}"#;

fn cpu_micros() -> u64 {
    let mut usage = std::mem::MaybeUninit::<Rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    unsafe { getrusage(0, usage.as_mut_ptr()) };
    let u = unsafe { usage.assume_init() };
    (u.utime_s * 1_000_000 + u.utime_us + u.stime_s * 1_000_000 + u.stime_us) as u64
}

#[repr(C)]
struct Rusage {
    utime_s: i64,
    utime_us: i64,
    stime_s: i64,
    stime_us: i64,
    rest: [i64; 14],
}

extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let hooks: usize = std::env::var("HOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let template = "{{event.title}} x{{event.firing}}";
    let cfg = serde_json::json!({"webhooks": {"handlers": [
        {"id": "plain", "template": template},
        // A second, not 50 ms: on a shared machine a call can be preempted
        // past 50 ms, and the bench measures CPU, not the limit.
        {"id": "shaped", "template": template, "transform": {"code": TEN_LINES, "timeoutMs": 1000}}
    ]}});
    let cfg = load_str(&cfg.to_string(), &|_| None).expect("bench config loads");
    let body = serde_json::json!({"alerts": [
        {"status": "firing", "labels": {"alertname": "DiskFull", "cluster": "eu-1"}},
        {"status": "resolved", "labels": {"alertname": "CPU", "cluster": "eu-1"}},
        {"status": "firing", "labels": {"alertname": "OOM", "cluster": "eu-1"}}
    ]});
    let ev = InboundEvent {
        event_id: "e".into(),
        hook_id: "alerts".into(),
        handler_id: None,
        session_key: "hook:e".into(),
        persistent: false,
        received_at: chrono::Utc::now(),
        source_ip: "127.0.0.1".into(),
        headers: BTreeMap::from([("x-severity".to_string(), "high".to_string())]),
        query: BTreeMap::new(),
        content_type: Some("application/json".into()),
        body: Body::Json(body.to_string()),
    };
    let now = chrono::Utc::now();
    let per_hook = |id: &str, n: usize| {
        let h = cfg.handler_by_id(id).unwrap();
        let start = cpu_micros();
        for _ in 0..n {
            let p = prepare(&cfg, Some(h), &ev, now);
            assert!(p.render_error.is_none(), "{:?}", p.render_error);
        }
        (cpu_micros() - start) as f64 / n as f64
    };
    let sample = 5000.min(hooks);
    per_hook("shaped", 500); // warm up
    let plain = per_hook("plain", sample);
    let shaped = per_hook("shaped", sample);
    println!("RESULT prepare without transform: {plain:.1} us CPU per hook ({sample} hooks)");
    println!("RESULT prepare with a 10-line transform: {shaped:.1} us CPU per hook; the transform adds {:.1} us", shaped - plain);

    let h = cfg.handler_by_id("shaped").unwrap();
    let start_rss = rss_kib();
    let mut marks = Vec::new();
    for i in 1..=hooks {
        let p = prepare(&cfg, Some(h), &ev, now);
        assert_eq!(p.text, "DiskFull, OOM x2");
        if i % (hooks / 10).max(1) == 0 {
            marks.push(format!("{}k:{}MiB", i / 1000, rss_kib() / 1024));
        }
    }
    println!(
        "RESULT RSS over {hooks} transformed hooks: {} MiB at start, then {}",
        start_rss / 1024,
        marks.join(" ")
    );
}
