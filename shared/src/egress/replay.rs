//! Dead letters: list them, and put them back for delivery.
//!
//! A listing only reads ([`Queue::peek`]): it hides nothing and changes
//! nothing, so `GET /dlq` is safe to call at any time, also while a replay
//! runs.
//!
//! A replay reads the queue the way SQS consoles do: messages are received
//! (which hides them from other readers), looked at, and either taken
//! (replayed, then deleted) or released at the end of the pass (visibility
//! back to zero). Hiding them for the whole pass is what makes one pass see
//! each message once, and a replay send each dead letter back exactly once
//! even when two replays run at the same time: a message hidden by one is
//! invisible to the other.

use super::job::DeliveryJob;
use crate::ports::{Backend, Queue, QueueError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a pass hides the messages it has seen.
pub const HOLD: Duration = Duration::from_secs(300);
/// Upper bound on messages one pass looks at.
pub const MAX_SCAN: usize = 100_000;
/// Receive wait after an empty receive while the queue says messages
/// remain (SQS short polls may miss messages on a few servers).
const RECHECK_WAIT: Duration = Duration::from_secs(1);
const RECHECKS: usize = 3;

/// Which dead letters a replay takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayFilter {
    #[serde(default)]
    pub subscription: Option<String>,
    /// Only those dead-lettered at or after this time.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Only this event's dead letters (the console's "replay this one").
    #[serde(default)]
    pub event: Option<String>,
    /// Only those dead-lettered before this time.
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// Only dead letters of this event type.
    #[serde(default)]
    pub event_type: Option<crate::config::EventType>,
}

impl ReplayFilter {
    /// From the words of the CLI and the admin API (`--since 2h`, RFC 3339 times).
    pub fn parse(
        subscription: Option<&str>,
        since: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, ReplayError> {
        Ok(ReplayFilter {
            subscription: subscription.filter(|s| !s.is_empty()).map(str::to_string),
            since: since.map(|t| parse_since(t, now)).transpose()?,
            event: None,
            to: None,
            event_type: None,
        })
    }

    /// Narrowed by the bulk replay's words: `to` (a time or an age, as
    /// `since`), `status` and `eventType`. Every dead letter's status is
    /// `dead_lettered`; `failed` deliveries given up without a dead letter
    /// (`deadLetter: false`) keep no payload to replay, so it is refused.
    pub fn narrowed(
        self,
        to: Option<&str>,
        status: Option<&str>,
        event_type: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, ReplayError> {
        match status.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("dead_lettered") | Some("dead-lettered") => {}
            Some(other) => return Err(ReplayError::Status(other.chars().take(40).collect())),
        }
        let event_type = event_type
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                crate::config::EventType::ALL
                    .into_iter()
                    .find(|k| k.as_str() == t)
                    .ok_or_else(|| ReplayError::EventType(t.chars().take(40).collect()))
            })
            .transpose()?;
        Ok(ReplayFilter {
            to: to.map(|t| parse_since(t, now)).transpose()?,
            event_type,
            ..self
        })
    }

    pub fn matches(&self, job: &DeliveryJob) -> bool {
        self.subscription
            .as_ref()
            .is_none_or(|s| *s == job.subscription)
            && self
                .since
                .is_none_or(|t| job.dead_lettered_at.is_some_and(|d| d >= t))
            && self.event.as_ref().is_none_or(|e| *e == job.event.id)
            && self
                .to
                .is_none_or(|t| job.dead_lettered_at.is_some_and(|d| d < t))
            && self.event_type.is_none_or(|k| k == job.event.kind)
    }
}

/// A dead letter as listings show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub event_id: String,
    pub event_type: crate::config::EventType,
    pub subscription: String,
    pub session: String,
    /// Attempts made over all rounds.
    pub attempts: u32,
    pub replays: u32,
    pub dead_lettered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The hook the event stems from (`GET /events/<id>`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_event_id: Option<String>,
}

impl From<&DeliveryJob> for DeadLetter {
    fn from(j: &DeliveryJob) -> Self {
        DeadLetter {
            event_id: j.event.id.clone(),
            event_type: j.event.kind,
            subscription: j.subscription.clone(),
            session: j.event.session.clone(),
            attempts: j.seq,
            replays: j.replays,
            dead_lettered_at: j.dead_lettered_at,
            last_error: j.last_error.clone(),
            inbound_event_id: j.event.event_id.clone(),
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    /// Dead letters put back on the delivery queue.
    pub replayed: usize,
    /// Dead letters left where they were (not matching the filter).
    pub kept: usize,
    /// Messages that are not delivery jobs, left as they were.
    pub unreadable: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("--since {0:?}: use an RFC 3339 time (2024-01-15T10:30:00Z) or an age (2h, 30m, 7d)")]
    Since(String),
    #[error("status {0:?}: only dead_lettered deliveries can be replayed (a delivery given up without a dead letter, deadLetter: false, keeps no payload)")]
    Status(String),
    #[error("eventType {0:?}: one of message_received, agent_response, session_started, session_ended, error, endpoint_disabled")]
    EventType(String),
}

/// `--since`: an RFC 3339 time, or an age such as `2h` counted back from `now`.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ReplayError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let age =
        humantime::parse_duration(text.trim()).map_err(|_| ReplayError::Since(text.into()))?;
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|a| now.checked_sub_signed(a))
        .ok_or_else(|| ReplayError::Since(text.into()))
}

/// Walks the queue once, hiding every message it receives; `take` decides
/// per readable message (a `T`: a delivery job, or for the handler's
/// dead-letter queue a hook) whether to consume it (the message is then
/// deleted). Everything not taken is made visible again before returning,
/// also on error.
pub(crate) async fn pass<T, F, Fut>(
    dlq: &dyn Queue,
    mut take: F,
) -> Result<ReplayReport, ReplayError>
where
    T: serde::de::DeserializeOwned,
    F: FnMut(T) -> Fut,
    Fut: std::future::Future<Output = Result<bool, ReplayError>>,
{
    let mut report = ReplayReport::default();
    let mut held = Vec::new();
    let result = async {
        let (mut seen, mut rechecks, mut wait) = (0, 0, Duration::ZERO);
        while seen < MAX_SCAN {
            let batch = dlq.receive(10, HOLD, wait).await?;
            if batch.is_empty() {
                // Done unless the queue holds more than this pass has hidden.
                if rechecks < RECHECKS && dlq.approximate_len().await? > held.len() {
                    rechecks += 1;
                    wait = RECHECK_WAIT;
                    continue;
                }
                break;
            }
            seen += batch.len();
            for m in batch {
                match serde_json::from_str::<T>(&m.body) {
                    Ok(job) => {
                        if take(job).await? {
                            dlq.delete(&m.receipt).await?;
                            report.replayed += 1;
                        } else {
                            report.kept += 1;
                            held.push(m.receipt);
                        }
                    }
                    Err(_) => {
                        report.unreadable += 1;
                        held.push(m.receipt);
                    }
                }
            }
        }
        Ok::<(), ReplayError>(())
    }
    .await;
    for receipt in &held {
        if let Err(e) = dlq.change_visibility(receipt, Duration::ZERO).await {
            tracing::warn!(queue = dlq.name(), error = %e, "could not release a dead letter; it shows again after its hold");
        }
    }
    result.map(|()| report)
}

/// The dead letters matching `filter`, oldest first, read without
/// receiving them (see [`Queue::peek`]; on SQS a listing shows at most what
/// its receives sample). Messages that are not delivery jobs are left out;
/// a replay counts them as `unreadable`.
pub async fn list(dlq: &dyn Queue, filter: &ReplayFilter) -> Result<Vec<DeliveryJob>, ReplayError> {
    let mut found: Vec<DeliveryJob> = dlq
        .peek(MAX_SCAN)
        .await?
        .iter()
        .filter_map(|m| serde_json::from_str::<DeliveryJob>(&m.body).ok())
        .filter(|job| filter.matches(job))
        .collect();
    found.sort_by_key(|j| j.dead_lettered_at);
    Ok(found)
}

/// Puts the matching dead letters back on the delivery queue, each once,
/// as a fresh round of attempts (same event id, same payload).
pub async fn replay(
    backend: &Backend,
    filter: &ReplayFilter,
    now: DateTime<Utc>,
) -> Result<ReplayReport, ReplayError> {
    let report = pass(backend.delivery_dlq.as_ref(), |job: DeliveryJob| async move {
        if !filter.matches(&job) {
            return Ok(false);
        }
        let again = job.replayed();
        tracing::info!(event_id = %again.event.id, subscription = %again.subscription, round = again.replays, "replaying dead letter");
        backend.delivery_queue.send(again.message(now)).await?;
        Ok(true)
    })
    .await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead(sub: &str, at: &str) -> DeliveryJob {
        let mut j = DeliveryJob::first(super::super::job::tests::event(), sub);
        j.dead_lettered_at = Some(at.parse().unwrap());
        j
    }

    #[test]
    fn filters_by_subscription_and_time() {
        let a = dead("a", "2024-01-15T10:00:00Z");
        let b = dead("b", "2024-01-15T12:00:00Z");
        let all = ReplayFilter::default();
        assert!(all.matches(&a) && all.matches(&b));
        let only_a = ReplayFilter {
            subscription: Some("a".into()),
            ..Default::default()
        };
        assert!(only_a.matches(&a) && !only_a.matches(&b));
        let since_11 = ReplayFilter {
            since: Some("2024-01-15T11:00:00Z".parse().unwrap()),
            ..Default::default()
        };
        assert!(!since_11.matches(&a) && since_11.matches(&b));
    }

    #[test]
    fn a_bulk_filter_takes_a_window_an_event_type_and_refuses_other_statuses() {
        let now: DateTime<Utc> = "2024-01-15T12:00:00Z".parse().unwrap();
        let (a, b) = (
            dead("a", "2024-01-15T10:00:00Z"),
            dead("a", "2024-01-15T11:30:00Z"),
        );
        let window = ReplayFilter::parse(Some("a"), Some("2024-01-15T09:00:00Z"), now)
            .unwrap()
            .narrowed(
                Some("1h"),
                Some("dead_lettered"),
                Some("message_received"),
                now,
            )
            .unwrap();
        assert!(
            window.matches(&a) && !window.matches(&b),
            "to is exclusive: {window:?}"
        );
        let other = ReplayFilter::default()
            .narrowed(None, None, Some("session_ended"), now)
            .unwrap();
        assert!(!other.matches(&a));
        let e = ReplayFilter::default().narrowed(None, Some("failed"), None, now);
        assert!(e.unwrap_err().to_string().contains("dead_lettered"));
        let e = ReplayFilter::default().narrowed(None, None, Some("nope"), now);
        assert!(e.unwrap_err().to_string().contains("eventType"));
    }

    #[test]
    fn since_takes_times_and_ages() {
        let now: DateTime<Utc> = "2024-01-15T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("2024-01-15T10:30:00Z", now).unwrap(),
            "2024-01-15T10:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_since("2h", now).unwrap(),
            "2024-01-15T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let e = parse_since("yesterday-ish", now).unwrap_err();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }
}
