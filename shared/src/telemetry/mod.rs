//! What the gateway counts and times, named once: each stage calls one
//! function here, and whatever recorder the process installed (Prometheus
//! for `clawhooks serve`, CloudWatch embedded metrics on Lambda, none in
//! tests) gets the same names and labels.

#[cfg(feature = "lambda")]
pub mod emf;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod store_ops;

use std::time::Duration;

pub const HOOKS: &str = "clawhooks_hooks_total";
pub const HOOKS_FILTERED: &str = "clawhooks_hooks_filtered_total";
pub const ACCEPT_SECONDS: &str = "clawhooks_accept_seconds";
pub const HANDLER_RUNS: &str = "clawhooks_handler_runs_total";
pub const HANDLE_SECONDS: &str = "clawhooks_handle_seconds";
pub const DELIVERIES: &str = "clawhooks_deliveries_total";
pub const DELIVER_SECONDS: &str = "clawhooks_deliver_seconds";
pub const QUEUE_DEPTH: &str = "clawhooks_queue_depth";
pub const QUEUE_OLDEST_SECONDS: &str = "clawhooks_queue_oldest_seconds";
pub const BREAKER_STATE: &str = "clawhooks_breaker_state";

/// Bucket bounds in seconds for the latency histograms: from a fast
/// accept (about a millisecond) to an agent that thinks for a minute.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 60.0,
];

/// Registers the descriptions and units, so an exporter can show them.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HOOKS,
        "Hooks posted to /webhook, by outcome: accepted, duplicate, or the refusal's status code"
    );
    describe_counter!(
        HOOKS_FILTERED,
        "Hooks no handler on their route took by its filter (answered 200, nothing kept), by hook id"
    );
    describe_histogram!(
        ACCEPT_SECONDS,
        Unit::Seconds,
        "Time from a hook's request to its answer"
    );
    describe_counter!(
        HANDLER_RUNS,
        "Handler runs, by action and outcome: done, failed (permanently), retry"
    );
    describe_histogram!(
        HANDLE_SECONDS,
        Unit::Seconds,
        "Time the handler spent on one hook, action included"
    );
    describe_counter!(
        DELIVERIES,
        "Outgoing webhook attempts, by subscription and outcome"
    );
    describe_histogram!(
        DELIVER_SECONDS,
        Unit::Seconds,
        "Time an outgoing webhook attempt took"
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Messages waiting in a queue, visible or in flight"
    );
    describe_gauge!(
        QUEUE_OLDEST_SECONDS,
        Unit::Seconds,
        "Age of the oldest message in a queue"
    );
    describe_gauge!(
        BREAKER_STATE,
        "A subscription's circuit breaker, by subscription: 0 closed, 1 half-open (one probe may go), 2 open"
    );
}

/// A hook was answered: `outcome` is `accepted`, `duplicate` or a status code.
pub fn hook_answered(outcome: &str, took: Duration) {
    metrics::counter!(HOOKS, "outcome" => outcome.to_string()).increment(1);
    metrics::histogram!(ACCEPT_SECONDS).record(took.as_secs_f64());
}

/// A hook no handler's filter took; `hook_id` names a configured route,
/// so the label's values are bounded by the config.
pub fn hook_filtered(hook_id: &str) {
    metrics::counter!(HOOKS_FILTERED, "hook" => hook_id.to_string()).increment(1);
}

/// The handler finished an attempt at a hook.
pub fn handler_ran(action: &str, outcome: &str, took: Duration) {
    metrics::counter!(HANDLER_RUNS, "action" => action.to_string(), "outcome" => outcome.to_string())
        .increment(1);
    metrics::histogram!(HANDLE_SECONDS).record(took.as_secs_f64());
}

/// An outgoing webhook request was made: `outcome` is `delivered`,
/// `failed` (retried or given up) or `gone` (410).
pub fn delivery_attempted(subscription: &str, outcome: &str, took: Duration) {
    metrics::counter!(DELIVERIES, "subscription" => subscription.to_string(), "outcome" => outcome.to_string())
        .increment(1);
    metrics::histogram!(DELIVER_SECONDS, "subscription" => subscription.to_string())
        .record(took.as_secs_f64());
}

/// A queue's depth and its oldest message's age, as read at a scrape.
pub fn queue_observed(queue: &str, depth: usize, oldest: Option<Duration>) {
    metrics::gauge!(QUEUE_DEPTH, "queue" => queue.to_string()).set(depth as f64);
    if let Some(age) = oldest {
        metrics::gauge!(QUEUE_OLDEST_SECONDS, "queue" => queue.to_string()).set(age.as_secs_f64());
    }
}

/// A subscription's circuit breaker as read at a scrape: `closed`,
/// `half_open` or `open`.
pub fn breaker_observed(subscription: &str, label: &str) {
    let value = match label {
        "open" => 2.0,
        "half_open" => 1.0,
        _ => 0.0,
    };
    metrics::gauge!(BREAKER_STATE, "subscription" => subscription.to_string()).set(value);
}

/// Reads every queue of `backend` into the queue gauges. A queue that
/// cannot answer is logged and left at its last value.
pub async fn observe_queues(backend: &crate::ports::Backend) {
    let queues = [
        ("handler", &backend.handler_queue),
        ("handler_dlq", &backend.handler_dlq),
        ("events", &backend.events_queue),
        ("events_dlq", &backend.events_dlq),
        ("delivery", &backend.delivery_queue),
        ("delivery_dlq", &backend.delivery_dlq),
    ];
    for (name, queue) in queues {
        match (queue.approximate_len().await, queue.oldest_age().await) {
            (Ok(depth), Ok(oldest)) => queue_observed(name, depth, oldest.filter(|_| depth > 0)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(queue = name, error = %e, "could not read a queue for metrics")
            }
        }
    }
}
