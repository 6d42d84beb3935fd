//! What travels on the delivery queue: one (event, subscription) pair and
//! where it is in its retry schedule.
//!
//! The egress stage reads both the events queue (bodies are
//! [`LifecycleEvent`]s) and the delivery queue (bodies are [`DeliveryJob`]s);
//! a job is told apart by its `"kind": "delivery"` tag, so it works whatever
//! attributes a transport keeps (SQS triggers pass bodies intact, not always
//! attributes).

use crate::event::LifecycleEvent;
use crate::ports::queue::MAX_DELAY;
use crate::ports::{NewMessage, Received};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The body tag of a delivery job.
pub const JOB_KIND: &str = "delivery";

/// One delivery of one event to one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryJob {
    /// Always [`JOB_KIND`].
    pub kind: String,
    pub subscription: String,
    /// 1-based attempt within this round (`maxAttempts` counts these; a
    /// replay starts a new round).
    pub attempt: u32,
    /// Attempts made for this pair over all rounds, this one included: the
    /// delivery log's sort key, so replays never overwrite earlier entries.
    pub seq: u32,
    /// How many times this pair was replayed from the dead-letter queue.
    #[serde(default)]
    pub replays: u32,
    /// Not to be attempted before this time. Waits past the queue's
    /// 15-minute delay limit are chained: a job received early is put back
    /// with the rest of its wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// Set when the job was moved to the dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered_at: Option<DateTime<Utc>>,
    /// The slot (unix µs) this attempt took in its subscription's rate
    /// schedule (`rateLimit`), once taken: a job put back to wait for it
    /// keeps it rather than taking another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_slot: Option<i64>,
    /// The last attempt's failure, for `dlq list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The event as fanned out; its JSON is the payload of every attempt.
    pub event: LifecycleEvent,
}

impl DeliveryJob {
    pub fn first(event: LifecycleEvent, subscription: impl Into<String>) -> Self {
        DeliveryJob {
            kind: JOB_KIND.into(),
            subscription: subscription.into(),
            attempt: 1,
            seq: 1,
            replays: 0,
            due_at: None,
            dead_lettered_at: None,
            rate_slot: None,
            last_error: None,
            event,
        }
    }

    /// The next attempt of this round, due at `due_at`.
    pub fn retry(&self, due_at: DateTime<Utc>) -> Self {
        DeliveryJob {
            attempt: self.attempt + 1,
            seq: self.seq + 1,
            due_at: Some(due_at),
            rate_slot: None,
            last_error: None,
            ..self.clone()
        }
    }

    /// A fresh round for a dead letter put back by replay.
    pub fn replayed(&self) -> Self {
        DeliveryJob {
            attempt: 1,
            seq: self.seq + 1,
            replays: self.replays + 1,
            due_at: None,
            dead_lettered_at: None,
            rate_slot: None,
            last_error: None,
            ..self.clone()
        }
    }

    /// The queue message, delayed until `due_at` or by at most the queue's
    /// limit, whichever is sooner.
    pub fn message(&self, now: DateTime<Utc>) -> NewMessage {
        let wait = self
            .due_at
            .map(|due| (due - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::ZERO);
        NewMessage::new(serde_json::to_string(self).expect("job serializes"))
            .delay(wait.min(MAX_DELAY))
            .attribute("kind", JOB_KIND)
            .attribute(SUBSCRIPTION_ATTRIBUTE, self.subscription.clone())
    }

    /// Still waiting at `now`?
    pub fn early(&self, now: DateTime<Utc>) -> bool {
        self.due_at.is_some_and(|due| due > now)
    }
}

/// A message of the egress stage.
#[derive(Debug, Clone, PartialEq)]
pub enum EgressMessage {
    Event(Box<LifecycleEvent>),
    Delivery(Box<DeliveryJob>),
}

#[derive(Debug, thiserror::Error)]
#[error("not a lifecycle event nor a delivery job: {0}")]
pub struct ParseError(String);

/// Just the tag of a body, to tell jobs from events before parsing either.
#[derive(Deserialize)]
struct Probe {
    kind: Option<String>,
}

/// The attribute of a job's message that names its subscription, by
/// which the embedded queue counts a subscription's backlog.
pub const SUBSCRIPTION_ATTRIBUTE: &str = "subscription";

/// Whether a message says it is a delivery job (its `kind` attribute or
/// body tag), even if it does not parse as one.
pub fn claims_to_be_a_job(msg: &Received) -> bool {
    msg.attributes.get("kind").map(String::as_str) == Some(JOB_KIND)
        || serde_json::from_str::<Probe>(&msg.body)
            .is_ok_and(|p| p.kind.as_deref() == Some(JOB_KIND))
}

impl EgressMessage {
    pub fn parse(body: &str) -> Result<Self, ParseError> {
        let probe: Probe = serde_json::from_str(body).map_err(|e| ParseError(e.to_string()))?;
        if probe.kind.as_deref() == Some(JOB_KIND) {
            serde_json::from_str(body)
                .map(|j| EgressMessage::Delivery(Box::new(j)))
                .map_err(|e| ParseError(e.to_string()))
        } else {
            serde_json::from_str(body)
                .map(|e| EgressMessage::Event(Box::new(e)))
                .map_err(|e| ParseError(e.to_string()))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::EventType;
    use crate::event::Message;

    pub(crate) fn event() -> LifecycleEvent {
        LifecycleEvent {
            id: "ev-1".into(),
            kind: EventType::MessageReceived,
            session: "hook:1".into(),
            message: Message {
                from: "+1555".into(),
                text: "Hello".into(),
                timestamp: "2024-01-15T10:30:00.000Z".into(),
            },
            timestamp: "2024-01-15T10:30:00.000Z".into(),
            event_id: None,
            hook_id: Some("my-hook".into()),
            handler_id: None,
            error: None,
            folded_event_ids: Vec::new(),
        }
    }

    #[test]
    fn events_and_jobs_are_told_apart_by_body() {
        let ev = event();
        let as_event = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            EgressMessage::parse(&as_event).unwrap(),
            EgressMessage::Event(Box::new(ev.clone()))
        );
        let job = DeliveryJob::first(ev, "notify");
        let as_job = serde_json::to_string(&job).unwrap();
        assert_eq!(
            EgressMessage::parse(&as_job).unwrap(),
            EgressMessage::Delivery(Box::new(job))
        );
        assert!(EgressMessage::parse("{\"kind\":\"delivery\"}").is_err());
        assert!(EgressMessage::parse("not json").is_err());
    }

    #[test]
    fn long_waits_are_chained_under_the_queue_limit() {
        let now = Utc::now();
        let job = DeliveryJob::first(event(), "s").retry(now + chrono::Duration::hours(1));
        assert_eq!(job.message(now).delay, MAX_DELAY);
        assert!(job.early(now + chrono::Duration::minutes(15)));
        let later = now + chrono::Duration::minutes(50);
        assert_eq!(job.message(later).delay, Duration::from_secs(600));
        assert!(!job.early(now + chrono::Duration::hours(1)));
    }

    #[test]
    fn replay_starts_a_round_but_keeps_counting_log_entries() {
        let job = DeliveryJob::first(event(), "s")
            .retry(Utc::now())
            .retry(Utc::now());
        assert_eq!((job.attempt, job.seq), (3, 3));
        let r = job.replayed();
        assert_eq!((r.attempt, r.seq, r.replays, r.due_at), (1, 4, 1, None));
        assert_eq!(r.event, job.event);
    }
}
