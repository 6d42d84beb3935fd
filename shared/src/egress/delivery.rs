//! One attempt of one (event, subscription), and what follows it.
//!
//! Each pair lives on its own: a failed attempt puts the pair's job back
//! on the delivery queue with its backoff, so other subscriptions of the
//! same event are neither held up nor called again. A pair whose state is
//! `delivered` is never attempted again (duplicate jobs from a redelivered
//! event or a replay end there), and an attempt is made once: its log
//! entry, keyed by the pair and the attempt's `seq`, is written before
//! anything follows it, so a job that comes back after its attempt (a
//! crash before its delete, a store error after its log entry) finishes
//! what followed ([`resume`]) without calling the receiver, queueing a
//! second retry or making a second dead letter.
//!
//! [`judge`] decides from the answer alone; [`deliver`] does the I/O.

use super::breaker;
use super::control::{self, Gate, Pace};
use super::job::DeliveryJob;
use super::log::{self, Attempt, DisabledMarker, Outcome};
use super::rate;
use super::schedule::{self, Next};
use super::signing;
use super::transform::{Parts, Shaped};
use super::{EgressStage, Subscription};
use crate::config::EventType;
use crate::event::{self, ErrorInfo, LifecycleEvent, Message};
use crate::handler::lifecycle::stable_id;
use crate::ports::{HttpRequest, HttpResponse, SendError};
use crate::worker::StageError;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// What an answer means for the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx.
    Delivered,
    /// 410: the receiver retired this endpoint.
    Gone,
    Failed {
        error: String,
        /// `Retry-After` of a 429 or 503.
        retry_after: Option<Duration>,
        /// Not worth another attempt ([`SendError::is_permanent`]).
        permanent: bool,
    },
}

impl Verdict {
    /// The `outcome` label of `clawhooks_deliveries_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Gone => "gone",
            Verdict::Failed { .. } => "failed",
        }
    }
}

/// Only 2xx counts; redirects are not followed, so a 3xx fails like a 5xx.
pub fn judge(result: &Result<HttpResponse, SendError>, now: DateTime<Utc>) -> Verdict {
    match result {
        Ok(r) if (200..300).contains(&r.status) => Verdict::Delivered,
        Ok(r) if r.status == 410 => Verdict::Gone,
        Ok(r) => Verdict::Failed {
            error: format!("HTTP {}", r.status),
            retry_after: if r.status == 429 || r.status == 503 {
                r.headers
                    .get("retry-after")
                    .and_then(|v| schedule::parse_retry_after(v, now))
            } else {
                None
            },
            permanent: false,
        },
        Err(e) => Verdict::Failed {
            error: e.to_string(),
            retry_after: None,
            permanent: e.is_permanent(),
        },
    }
}

fn retry_later(e: impl std::fmt::Display) -> StageError {
    StageError::retry(e.to_string())
}

/// Handles one delivery job. `Err` only for backend failures (the queue
/// shows the job again); every delivery outcome ends in `Ok`.
pub async fn deliver(stage: &EgressStage, job: DeliveryJob) -> Result<(), StageError> {
    let now = stage.clock.now();
    if job.early(now) {
        // A wait longer than the queue's delay limit: put it back for the rest.
        return stage
            .backend
            .delivery_queue
            .send(job.message(now))
            .await
            .map(|_| ())
            .map_err(retry_later);
    }
    let ev = &job.event;
    let attempt = new_attempt(&job, now);
    let sub = match usable(stage, &job.subscription) {
        Ok(sub) => sub,
        Err(why) => {
            tracing::warn!(event_id = %ev.id, subscription = %job.subscription, "delivery dropped: {why}");
            return skip(stage, attempt, why, now).await;
        }
    };
    if let Some((wait, why)) = holding(stage, &job, sub, now).await? {
        tracing::debug!(event_id = %ev.id, subscription = %job.subscription, "delivery held: {why}");
        // A slot taken before the hold is given up: on release the held
        // jobs take new ones, so they drain at the limit, not at once.
        let job = DeliveryJob {
            rate_slot: None,
            ..job
        };
        return put_back(stage, &job, wait, now).await;
    }
    let (job, now) = match sub.config.rate_limit {
        Some(limit) => match paced(stage, job, limit, now).await? {
            Some(ready) => ready,
            None => return Ok(()),
        },
        None => (job, now),
    };
    let ev = &job.event;
    let attempt = new_attempt(&job, now);
    match logged(stage, &job, now).await? {
        Logged::Delivered => {
            tracing::debug!(event_id = %ev.id, subscription = %job.subscription, "already delivered; duplicate job dropped");
            return Ok(());
        }
        Logged::Made(earlier) => return resume(stage, &job, sub, earlier, now).await,
        Logged::Fresh => {}
    }
    let markers = stage
        .gone
        .get(stage.backend.store.as_ref(), now)
        .await
        .map_err(retry_later)?;
    let marker = markers.get(&job.subscription);
    if marker.is_some_and(|m| m.applies_to(&sub.config)) {
        tracing::info!(event_id = %ev.id, subscription = %job.subscription, "delivery dropped: the receiver answered 410 Gone earlier");
        return skip(
            stage,
            attempt,
            "the subscription was disabled by 410 Gone",
            now,
        )
        .await;
    }
    let parts = match super::transform::shape(&sub.config, ev) {
        Shaped::Send(parts) => parts,
        Shaped::Cancel => return skip_as(stage, attempt, Outcome::Cancelled, None, now).await,
        Shaped::Failed(e) => return skip_as(stage, attempt, Outcome::Failed, Some(e), now).await,
    };
    let url = sub.config.url.as_ref().expect("checked by usable").as_str();
    let mut attempt = attempt;
    let verdict = send(stage, &job, sub, url, parts, &mut attempt, now).await;
    let answer = match &verdict {
        Verdict::Delivered => breaker::Answer::Delivered,
        Verdict::Gone => breaker::Answer::Gone,
        Verdict::Failed { error, .. } => breaker::Answer::Failed(error),
    };
    breaker::report(stage, &job.subscription, &sub.config, answer, now).await;
    settle(stage, &job, sub, url, attempt, verdict, now).await
}

/// Puts `job` back on the delivery queue as it is, due after `wait`: no
/// attempt used, nothing logged.
async fn put_back(
    stage: &EgressStage,
    job: &DeliveryJob,
    wait: Duration,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let back = job.message(now).delay(wait);
    let queue = stage.backend.delivery_queue.as_ref();
    queue.send(back).await.map(|_| ()).map_err(retry_later)
}

/// A rate-limited job in its slot ([`control::pace`]): `Some` (with the time
/// now) once its slot has come, waiting it out in place when it is near;
/// `None` when it was put back to wait on the queue.
async fn paced(
    stage: &EgressStage,
    mut job: DeliveryJob,
    limit: crate::config::delivery_control::RateLimit,
    now: DateTime<Utc>,
) -> Result<Option<(DeliveryJob, DateTime<Utc>)>, StageError> {
    let slot = match job.rate_slot {
        Some(slot) => slot,
        None => {
            let store = stage.backend.store.as_ref();
            let block = stage.subscriptions.get(&job.subscription);
            let block = block.map(|s| s.slots.clone()).unwrap_or_default();
            let slot = rate::take_slot(&block, store, &job.subscription, limit, now)
                .await
                .map_err(retry_later)?;
            job.rate_slot = Some(slot);
            slot
        }
    };
    match control::pace(slot, now.timestamp_micros()) {
        Pace::Go => Ok(Some((job, now))),
        Pace::Wait(wait) => {
            tokio::time::sleep(wait).await;
            Ok(Some((job, stage.clock.now())))
        }
        Pace::Later(wait) => {
            tracing::debug!(event_id = %job.event.id, subscription = %job.subscription, wait_ms = wait.as_millis() as u64, "rate limit: delivery waits for its slot");
            put_back(stage, &job, wait, now).await.map(|()| None)
        }
    }
}

/// Why this job must wait, and how long, if it must: its subscription is
/// paused by an operator, or its circuit breaker is open.
async fn holding(
    stage: &EgressStage,
    job: &DeliveryJob,
    sub: &Subscription,
    now: DateTime<Utc>,
) -> Result<Option<(Duration, &'static str)>, StageError> {
    if let Gate::Hold(wait) = held(stage, job, now).await? {
        return Ok(Some((wait, "subscription paused")));
    }
    let store = stage.backend.store.as_ref();
    let records = stage.gone.breakers(store, now).await.map_err(retry_later)?;
    if records
        .get(&job.subscription)
        .is_some_and(|r| r.disabled_at.is_some())
    {
        return Ok(Some((
            control::HOLD,
            "subscription disabled for failing too long",
        )));
    }
    if !sub.config.breaker.enabled {
        return Ok(None);
    }
    let wait = breaker::admit(stage, &job.subscription, now)
        .await
        .map_err(retry_later)?;
    Ok(wait.map(|w| (w, "circuit breaker open")))
}

/// Whether an operator holds this job's subscription ([`control::gate`]),
/// as of at most a few seconds ago ([`super::gone_cache::REFRESH`]).
async fn held(
    stage: &EgressStage,
    job: &DeliveryJob,
    now: DateTime<Utc>,
) -> Result<Gate, StageError> {
    let store = stage.backend.store.as_ref();
    let all = stage.gone.controls(store, now).await.map_err(retry_later)?;
    let state = all.get(&job.subscription).cloned().unwrap_or_default();
    Ok(control::gate(&state))
}

/// The log entry of this job's attempt, not yet made.
fn new_attempt(job: &DeliveryJob, now: DateTime<Utc>) -> Attempt {
    Attempt {
        event_id: job.event.id.clone(),
        event_type: job.event.kind,
        subscription: job.subscription.clone(),
        attempt: job.attempt,
        seq: job.seq,
        time: event::timestamp(now),
        outcome: Outcome::Skipped,
        status: None,
        latency_ms: None,
        error: None,
        response: None,
        next_attempt_at: None,
        dead_lettered: false,
    }
}

/// The subscription a job names, if it is enabled and has a url.
fn usable<'a>(stage: &'a EgressStage, id: &str) -> Result<&'a Subscription, &'static str> {
    match stage.subscriptions.get(id) {
        Some(s) if s.config.enabled && s.config.url.is_some() => Ok(s),
        Some(_) => Err("the subscription is disabled or has no url"),
        None => Err("the subscription is no longer configured"),
    }
}

/// Logs `attempt`; a store error leaves the job for another try.
async fn record(
    stage: &EgressStage,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let store = stage.backend.store.as_ref();
    log::record_attempt(store, attempt, now, stage.log_kept())
        .await
        .map_err(retry_later)
}

/// Logs an attempt not made, and why.
async fn skip(
    stage: &EgressStage,
    mut attempt: Attempt,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    attempt.error = Some(why.into());
    record(stage, &attempt, now).await
}

/// Logs an attempt its transform ended before any request: cancelled, or
/// failed for good (the same script fails the same way again).
async fn skip_as(
    stage: &EgressStage,
    mut attempt: Attempt,
    outcome: Outcome,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    tracing::info!(event_id = %attempt.event_id, subscription = %attempt.subscription, ?outcome, error = error.as_deref(), "delivery ended by its transform");
    attempt.outcome = outcome;
    attempt.error = error;
    record(stage, &attempt, now).await
}

/// What the delivery log already says of a job's pair.
enum Logged {
    /// Nothing that stops an attempt.
    Fresh,
    /// The pair was delivered: a duplicate job ends here.
    Delivered,
    /// This very attempt (its `seq`) was made and logged `retrying` or
    /// `failed`: the job came back after it.
    Made(Attempt),
}

async fn logged(
    stage: &EgressStage,
    job: &DeliveryJob,
    now: DateTime<Utc>,
) -> Result<Logged, StageError> {
    let store = stage.backend.store.as_ref();
    let logged = log::attempts_of(store, &job.event.id, &job.subscription, now)
        .await
        .map_err(retry_later)?;
    if logged.iter().any(|a| a.outcome == Outcome::Delivered) {
        return Ok(Logged::Delivered);
    }
    let made = logged
        .into_iter()
        .find(|a| a.seq == job.seq && matches!(a.outcome, Outcome::Retrying | Outcome::Failed));
    Ok(made.map_or(Logged::Fresh, Logged::Made))
}

/// Finishes what follows an attempt already made and logged, for a job
/// that came back after it: queue its retry or finish its give-up, each
/// only if the log does not say it is done. The receiver is not called
/// again for it.
async fn resume(
    stage: &EgressStage,
    job: &DeliveryJob,
    sub: &Subscription,
    earlier: Attempt,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    tracing::info!(event_id = %job.event.id, subscription = %job.subscription, seq = job.seq, outcome = ?earlier.outcome, "resuming an attempt already made after a redelivery");
    if earlier.outcome == Outcome::Failed {
        return finish_giving_up(stage, job, sub, earlier, now).await;
    }
    if earlier.next_attempt_at.is_some() {
        // Its retry is queued already.
        return Ok(());
    }
    let wait = match schedule::next(&sub.config.retry, job.attempt, None, stage.random.as_ref()) {
        Next::RetryIn(wait) => wait,
        Next::GiveUp => Duration::ZERO,
    };
    queue_retry(stage, job, earlier, wait, now).await
}

/// Makes the attempt: the signed request, its answer and timing noted on
/// `attempt`, and the subscription's fast-path record updated.
async fn send(
    stage: &EgressStage,
    job: &DeliveryJob,
    sub: &Subscription,
    url: &str,
    parts: Parts,
    attempt: &mut Attempt,
    now: DateTime<Utc>,
) -> Verdict {
    let ev = &job.event;
    let Parts { body, mut headers } = parts;
    // The subscription's own headers, its identity and its signature win
    // over any of the same name a transform set.
    let mut fixed: Vec<(String, String)> = sub
        .config
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_string()))
        .collect();
    fixed.extend(signing::identity(&ev.id, now.timestamp()));
    if let Some(signer) = &sub.signer {
        fixed.push(signer.header(&ev.id, now.timestamp(), &body));
    }
    headers.retain(|(k, _)| !fixed.iter().any(|(f, _)| f.eq_ignore_ascii_case(k)));
    headers.extend(fixed);
    let request = HttpRequest {
        method: sub.config.method.clone(),
        url: url.to_string(),
        headers,
        body,
        timeout: Duration::from_millis(sub.config.timeout_ms),
    };
    let started = std::time::Instant::now();
    let result = stage.http.send(request).await;
    let verdict = judge(&result, now);
    let took = match &result {
        Ok(r) => {
            attempt.status = Some(r.status);
            attempt.response = Some(log::excerpt(&r.body)).filter(|s| !s.is_empty());
            r.latency
        }
        Err(_) => started.elapsed(),
    };
    attempt.latency_ms = Some(took.as_millis() as u64);
    crate::telemetry::delivery_attempted(&job.subscription, verdict.outcome(), took);
    stage
        .fast
        .record(&job.subscription, verdict == Verdict::Delivered, took);
    verdict
}

/// Logs the attempt and does what its verdict calls for.
async fn settle(
    stage: &EgressStage,
    job: &DeliveryJob,
    sub: &Subscription,
    url: &str,
    mut attempt: Attempt,
    verdict: Verdict,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let (event_id, subscription, n) = (
        job.event.id.as_str(),
        job.subscription.as_str(),
        job.attempt,
    );
    match verdict {
        Verdict::Delivered => {
            crate::faults::check(crate::faults::EGRESS_AFTER_DELIVERY).map_err(retry_later)?;
            attempt.outcome = Outcome::Delivered;
            tracing::info!(
                event_id,
                subscription,
                attempt = n,
                status = attempt.status,
                latency_ms = attempt.latency_ms,
                "delivered"
            );
            record(stage, &attempt, now).await
        }
        Verdict::Gone => {
            attempt.outcome = Outcome::Gone;
            attempt.error = Some("410 Gone: subscription disabled".into());
            tracing::warn!(
                event_id,
                subscription,
                attempt = n,
                "the receiver answered 410 Gone; subscription disabled until its url changes"
            );
            let marker = DisabledMarker::gone(&job.subscription, url, now);
            let store = stage.backend.store.as_ref();
            stage.gone.add(store, marker).await.map_err(retry_later)?;
            record(stage, &attempt, now).await
        }
        Verdict::Failed {
            error,
            retry_after,
            permanent,
        } => {
            attempt.error = Some(error);
            let next = if permanent {
                Next::GiveUp
            } else {
                let random = stage.random.as_ref();
                schedule::next(&sub.config.retry, job.attempt, retry_after, random)
            };
            failed(stage, job, sub, attempt, next, now).await
        }
    }
}

/// A failed attempt: logged before anything follows it, so a job that
/// comes back from here on resumes instead of calling the receiver again;
/// then its retry is queued, or the pair is given up on.
async fn failed(
    stage: &EgressStage,
    job: &DeliveryJob,
    sub: &Subscription,
    mut attempt: Attempt,
    next: Next,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let (event_id, subscription, n) = (
        job.event.id.as_str(),
        job.subscription.as_str(),
        job.attempt,
    );
    let error = attempt.error.clone().unwrap_or_default();
    attempt.outcome = match next {
        Next::RetryIn(_) => Outcome::Retrying,
        Next::GiveUp => Outcome::Failed,
    };
    match next {
        Next::RetryIn(wait) => {
            tracing::warn!(event_id, subscription, attempt = n, status = attempt.status, %error, retry_in_ms = wait.as_millis() as u64, "delivery failed; will retry")
        }
        Next::GiveUp => {
            tracing::error!(event_id, subscription, attempt = n, status = attempt.status, %error, dead_letter = sub.config.dead_letter, "delivery failed for good")
        }
    }
    record(stage, &attempt, now).await?;
    match next {
        Next::RetryIn(wait) => queue_retry(stage, job, attempt, wait, now).await,
        Next::GiveUp => finish_giving_up(stage, job, sub, attempt, now).await,
    }
}

/// Queues the next attempt, due `wait` from now, then notes on the
/// attempt's log entry when it is due: an entry that names its next
/// attempt has its retry queued, so a job that comes back does not queue a
/// second one (a second chain). A second copy is made only by a crash
/// between the send and the note. The note failing is logged, not retried:
/// the retry is queued, and a retry here would queue it twice.
async fn queue_retry(
    stage: &EgressStage,
    job: &DeliveryJob,
    mut attempt: Attempt,
    wait: Duration,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let due = now + chrono::Duration::from_std(wait).unwrap_or_default();
    let queue = stage.backend.delivery_queue.as_ref();
    queue
        .send(job.retry(due).message(now))
        .await
        .map_err(retry_later)?;
    attempt.next_attempt_at = Some(event::timestamp(due));
    note(stage, &attempt, now, "its retry is queued").await;
    Ok(())
}

/// Rewrites an attempt's log entry after the step it records is done.
/// Failing is logged, not retried: the step is done, and a retry would do
/// it again.
async fn note(stage: &EgressStage, attempt: &Attempt, now: DateTime<Utc>, what: &str) {
    if let Err(e) = record(stage, attempt, now).await {
        tracing::error!(event_id = %attempt.event_id, subscription = %attempt.subscription, seq = attempt.seq, error = %e, "the delivery log could not record that {what}; the delivery log does not show it");
    }
}

/// The rest of giving up, after the attempt is logged `failed`, each step
/// idempotent or recorded before the next so a job that comes back
/// repeats none that is done: the `error` event goes out first, with an id
/// derived from the pair and the attempt (emitting it again emits the same
/// event, which the events queue drops); then the job goes to the
/// dead-letter queue and the log notes `deadLettered`. A second dead
/// letter is made only by a crash between these two.
async fn finish_giving_up(
    stage: &EgressStage,
    job: &DeliveryJob,
    sub: &Subscription,
    mut attempt: Attempt,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let backend = &stage.backend;
    let error = attempt.error.clone().unwrap_or_default();
    if job.event.kind != EventType::Error {
        let at = DateTime::parse_from_rfc3339(&attempt.time)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let report = failure_event(&job.event, job, &error, at);
        event::emit(backend.events_queue.as_ref(), &report)
            .await
            .map_err(retry_later)?;
    }
    if sub.config.dead_letter && !attempt.dead_lettered {
        crate::faults::check(crate::faults::EGRESS_BEFORE_DEAD_LETTER).map_err(retry_later)?;
        let mut dead = job.clone();
        dead.dead_lettered_at = Some(now);
        dead.last_error = Some(error);
        dead.due_at = None;
        backend
            .delivery_dlq
            .send(dead.message(now))
            .await
            .map_err(retry_later)?;
        attempt.dead_lettered = true;
        note(stage, &attempt, now, "it is dead-lettered").await;
    }
    Ok(())
}

/// The `error` event that reports a delivery given up at `at` (the time of
/// the attempt that failed last). It is not emitted for a failed `error`
/// event, so failures never feed on themselves. Its id is derived from the
/// event, the subscription and the attempt's place in the pair's log
/// (`seq`, which a replay's round continues, so a later round's give-up is
/// a new event), and its times are `at`: every emission of it is the same
/// event, and receivers deduplicate by `id`.
pub fn failure_event(
    failed: &LifecycleEvent,
    job: &DeliveryJob,
    error: &str,
    at: DateTime<Utc>,
) -> LifecycleEvent {
    let ts = event::timestamp(at);
    let text = format!(
        "delivery of {} event {} to subscription {:?} failed after {} attempt(s): {error}",
        failed.kind.as_str(),
        failed.id,
        job.subscription,
        job.attempt
    );
    let seq = job.seq.to_string();
    LifecycleEvent {
        id: stable_id(
            at,
            &[&failed.id, &job.subscription, &seq, "delivery_failed"],
        ),
        kind: EventType::Error,
        session: failed.session.clone(),
        message: Message {
            from: "clawhooks".into(),
            text: text.clone(),
            timestamp: ts.clone(),
        },
        timestamp: ts,
        event_id: failed.event_id.clone(),
        hook_id: failed.hook_id.clone(),
        handler_id: failed.handler_id.clone(),
        error: Some(ErrorInfo {
            stage: "delivery".into(),
            message: text,
            retrying: false,
            subscription_id: Some(job.subscription.clone()),
            failed_event_type: Some(failed.kind),
        }),
        folded_event_ids: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Result<HttpResponse, SendError> {
        Ok(HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            body: vec![],
            latency: Duration::ZERO,
        })
    }

    fn failed(status: u16, retry_after: Option<Duration>) -> Verdict {
        Verdict::Failed {
            error: format!("HTTP {status}"),
            retry_after,
            permanent: false,
        }
    }

    #[test]
    fn only_2xx_delivers() {
        let now = Utc::now();
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(judge(&answer(s, &[]), now), Verdict::Delivered, "{s}");
        }
        for s in [100, 301, 302, 304, 400, 401, 404, 408, 500, 502] {
            assert_eq!(judge(&answer(s, &[]), now), failed(s, None), "{s}");
        }
    }

    #[test]
    fn retry_after_counts_on_429_and_503_only() {
        let now = Utc::now();
        let ra = [("retry-after", "30")];
        let secs = Some(Duration::from_secs(30));
        assert_eq!(judge(&answer(429, &ra), now), failed(429, secs));
        assert_eq!(judge(&answer(503, &ra), now), failed(503, secs));
        assert_eq!(judge(&answer(500, &ra), now), failed(500, None));
        assert_eq!(judge(&answer(429, &[]), now), failed(429, None));
    }

    #[test]
    fn gone_and_transport_failures() {
        let now = Utc::now();
        assert_eq!(judge(&answer(410, &[]), now), Verdict::Gone);
        let t = judge(&Err(SendError::Timeout(Duration::from_secs(15))), now);
        assert!(
            matches!(
                t,
                Verdict::Failed {
                    permanent: false,
                    ..
                }
            ),
            "{t:?}"
        );
        let r = judge(&Err(SendError::Refused("private address".into())), now);
        assert!(
            matches!(
                r,
                Verdict::Failed {
                    permanent: true,
                    ..
                }
            ),
            "{r:?}"
        );
    }

    #[test]
    fn the_failure_report_names_the_subscription_and_the_event() {
        let ev = super::super::job::tests::event();
        let job = DeliveryJob::first(ev.clone(), "notify");
        let report = failure_event(&ev, &job, "HTTP 500", Utc::now());
        assert_eq!(report.kind, EventType::Error);
        assert_eq!(report.session, ev.session);
        let info = report.error.unwrap();
        assert_eq!(info.stage, "delivery");
        assert_eq!(info.subscription_id.as_deref(), Some("notify"));
        assert_eq!(info.failed_event_type, Some(EventType::MessageReceived));
        assert!(!info.retrying);
    }

    #[test]
    fn the_failure_report_is_the_same_event_each_time_for_one_attempt() {
        let ev = super::super::job::tests::event();
        let at: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let job = DeliveryJob::first(ev.clone(), "notify");
        let once = failure_event(&ev, &job, "HTTP 500", at);
        assert_eq!(once, failure_event(&ev, &job, "HTTP 500", at));
        let other_sub = DeliveryJob::first(ev.clone(), "audit");
        assert_ne!(once.id, failure_event(&ev, &other_sub, "HTTP 500", at).id);
        let next_round = job.replayed();
        assert_ne!(
            once.id,
            failure_event(&ev, &next_round, "HTTP 500", at).id,
            "a replay's give-up is a new event"
        );
    }
}
