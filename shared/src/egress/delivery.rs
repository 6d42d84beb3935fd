//! One attempt of one (event, subscription), and what follows it.
//!
//! Each pair lives on its own: a failed attempt puts the pair's job back
//! on the delivery queue with its backoff, so other subscriptions of the
//! same event are neither held up nor called again. A pair whose state is
//! `delivered` is never attempted again (duplicate jobs from a redelivered
//! event or a replay end there), and an attempt logged `failed` is never
//! made again: a job redelivered after its give-up finishes the give-up
//! ([`finish_giving_up`]) without calling the receiver.
//!
//! [`judge`] decides from the answer alone; [`deliver`] does the I/O.

use super::job::DeliveryJob;
use super::log::{self, Attempt, DisabledMarker, Outcome};
use super::schedule::{self, Next};
use super::signing;
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
        /// Not worth another attempt (refused destination, invalid request).
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
            permanent: matches!(e, SendError::Refused(_) | SendError::Invalid(_)),
        },
    }
}

fn retry_later(e: impl std::fmt::Display) -> StageError {
    StageError::retry(e.to_string())
}

/// Handles one delivery job. `Err` only for backend failures (the queue
/// shows the job again); every delivery outcome ends in `Ok`.
pub async fn deliver(stage: &EgressStage, job: DeliveryJob) -> Result<(), StageError> {
    let backend = &stage.backend;
    let store = backend.store.as_ref();
    let now = stage.clock.now();

    if job.early(now) {
        // A wait longer than the queue's delay limit: put it back for the rest.
        backend
            .delivery_queue
            .send(job.message(now))
            .await
            .map_err(retry_later)?;
        return Ok(());
    }

    let ev = &job.event;
    let mut attempt = Attempt {
        event_id: ev.id.clone(),
        event_type: ev.kind,
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
    };

    let sub = match stage.subscriptions.get(&job.subscription) {
        Some(s) if s.config.enabled && s.config.url.is_some() => s,
        found => {
            let why = if found.is_some() {
                "the subscription is disabled or has no url"
            } else {
                "the subscription is no longer configured"
            };
            tracing::warn!(event_id = %ev.id, subscription = %job.subscription, "delivery dropped: {why}");
            attempt.error = Some(why.into());
            log::record_attempt(store, &attempt, now, stage.log_kept())
                .await
                .map_err(retry_later)?;
            return Ok(());
        }
    };
    let url = sub.config.url.as_ref().expect("checked above").as_str();

    let logged = log::attempts_of(store, &ev.id, &job.subscription, now)
        .await
        .map_err(retry_later)?;
    if logged.iter().any(|a| a.outcome == Outcome::Delivered) {
        tracing::debug!(event_id = %ev.id, subscription = %job.subscription, "already delivered; duplicate job dropped");
        return Ok(());
    }
    if let Some(given_up) = logged
        .into_iter()
        .find(|a| a.seq == job.seq && a.outcome == Outcome::Failed)
    {
        // This very attempt was made and given up on, and the job came
        // back (a crash before its delete): finish giving up, never call
        // the receiver again for it.
        tracing::info!(event_id = %ev.id, subscription = %job.subscription, seq = job.seq, "resuming a give-up after a redelivery");
        return finish_giving_up(stage, &job, sub, given_up, now).await;
    }
    let markers = stage.gone.get(store, now).await.map_err(retry_later)?;
    let marker = markers.get(&job.subscription);
    if marker.is_some_and(|m| m.applies_to(&sub.config)) {
        tracing::info!(event_id = %ev.id, subscription = %job.subscription, "delivery dropped: the receiver answered 410 Gone earlier");
        attempt.error = Some("the subscription was disabled by 410 Gone".into());
        log::record_attempt(store, &attempt, now, stage.log_kept())
            .await
            .map_err(retry_later)?;
        return Ok(());
    }

    let verdict = send(stage, &job, sub, url, &mut attempt, now).await;
    settle(stage, &job, sub, url, attempt, verdict, now).await
}

/// Makes the attempt: the signed request, its answer and timing noted on
/// `attempt`, and the subscription's fast-path record updated.
async fn send(
    stage: &EgressStage,
    job: &DeliveryJob,
    sub: &Subscription,
    url: &str,
    attempt: &mut Attempt,
    now: DateTime<Utc>,
) -> Verdict {
    let ev = &job.event;
    let body = serde_json::to_vec(ev).expect("event serializes");
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(
        sub.config
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_string())),
    );
    headers.extend(signing::identity(&ev.id, now.timestamp()));
    if let Some(signer) = &sub.signer {
        headers.push(signer.header(&ev.id, now.timestamp(), &body));
    }
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
    let store = stage.backend.store.as_ref();
    let fields = (
        job.event.id.as_str(),
        job.subscription.as_str(),
        job.attempt,
    );
    match verdict {
        Verdict::Delivered => {
            crate::faults::check(crate::faults::EGRESS_AFTER_DELIVERY).map_err(retry_later)?;
            attempt.outcome = Outcome::Delivered;
            tracing::info!(
                event_id = fields.0,
                subscription = fields.1,
                attempt = fields.2,
                status = attempt.status,
                latency_ms = attempt.latency_ms,
                "delivered"
            );
            log::record_attempt(store, &attempt, now, stage.log_kept())
                .await
                .map_err(retry_later)
        }
        Verdict::Gone => {
            attempt.outcome = Outcome::Gone;
            attempt.error = Some("410 Gone: subscription disabled".into());
            tracing::warn!(
                event_id = fields.0,
                subscription = fields.1,
                attempt = fields.2,
                "the receiver answered 410 Gone; subscription disabled until its url changes"
            );
            stage
                .gone
                .add(store, DisabledMarker::gone(&job.subscription, url, now))
                .await
                .map_err(retry_later)?;
            log::record_attempt(store, &attempt, now, stage.log_kept())
                .await
                .map_err(retry_later)
        }
        Verdict::Failed {
            error,
            retry_after,
            permanent,
        } => {
            attempt.error = Some(error.clone());
            let next = if permanent {
                Next::GiveUp
            } else {
                schedule::next(
                    &sub.config.retry,
                    job.attempt,
                    retry_after,
                    stage.random.as_ref(),
                )
            };
            match next {
                Next::RetryIn(wait) => {
                    let due = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    attempt.outcome = Outcome::Retrying;
                    attempt.next_attempt_at = Some(event::timestamp(due));
                    tracing::warn!(event_id = fields.0, subscription = fields.1, attempt = fields.2, status = attempt.status, %error, retry_in_ms = wait.as_millis() as u64, "delivery failed; will retry");
                    log::record_attempt(store, &attempt, now, stage.log_kept())
                        .await
                        .map_err(retry_later)?;
                    stage
                        .backend
                        .delivery_queue
                        .send(job.retry(due).message(now))
                        .await
                        .map_err(retry_later)?;
                    Ok(())
                }
                Next::GiveUp => {
                    attempt.outcome = Outcome::Failed;
                    attempt.dead_lettered = false;
                    tracing::error!(event_id = fields.0, subscription = fields.1, attempt = fields.2, status = attempt.status, %error, dead_letter = sub.config.dead_letter, "delivery failed for good");
                    // Logged before anything else: from here on a
                    // redelivered job resumes the give-up instead of
                    // calling the receiver again.
                    log::record_attempt(store, &attempt, now, stage.log_kept())
                        .await
                        .map_err(retry_later)?;
                    finish_giving_up(stage, job, sub, attempt, now).await
                }
            }
        }
    }
}

/// The rest of giving up, after the attempt is logged `failed`, each step
/// recorded before the next so a redelivered job repeats none that is
/// done: the job goes to the dead-letter queue and the log then says
/// `deadLettered` (a second copy is made only by a crash between these
/// two), then the `error` event goes out with an id derived from the pair
/// and the attempt, so emitting it again emits the same event.
async fn finish_giving_up(
    stage: &EgressStage,
    job: &DeliveryJob,
    sub: &Subscription,
    mut attempt: Attempt,
    now: DateTime<Utc>,
) -> Result<(), StageError> {
    let backend = &stage.backend;
    let error = attempt.error.clone().unwrap_or_default();
    if sub.config.dead_letter && !attempt.dead_lettered {
        crate::faults::check(crate::faults::EGRESS_BEFORE_DEAD_LETTER).map_err(retry_later)?;
        let mut dead = job.clone();
        dead.dead_lettered_at = Some(now);
        dead.last_error = Some(error.clone());
        dead.due_at = None;
        backend
            .delivery_dlq
            .send(dead.message(now))
            .await
            .map_err(retry_later)?;
        attempt.dead_lettered = true;
        log::record_attempt(backend.store.as_ref(), &attempt, now, stage.log_kept())
            .await
            .map_err(retry_later)?;
    }
    if job.event.kind != EventType::Error {
        let at = DateTime::parse_from_rfc3339(&attempt.time)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let report = failure_event(&job.event, job, &error, at);
        event::emit(backend.events_queue.as_ref(), &report)
            .await
            .map_err(retry_later)?;
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
