//! The lifecycle events the handler stage emits, in the seed's outgoing
//! payload shape.
//!
//! Every id is derived from what the event is about (the inbound event, or
//! the session's key and creation time), never drawn at random: a message
//! redelivered after a crash re-emits the *same* event, which the events
//! queue (FIFO deduplication) and receivers (by `id`) recognise as a repeat.

use crate::config::EventType;
use crate::event::{self, ErrorInfo, InboundEvent, LifecycleEvent, Message};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Who speaks for the gateway itself in `message.from`.
pub const GATEWAY: &str = "clawhooks";

/// A UUIDv7 that is the same every time for the same time and parts: the
/// time (of the inbound event, or of the session's start) leads, so ids
/// sort like fresh ones and tables keyed by them grow at their end; a hash
/// of the parts fills the random bits.
pub fn stable_id(at: DateTime<Utc>, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
        .into_uuid()
        .to_string()
}

/// What a session's own events say about it, lent by its record (see
/// `session::SessionRecord::facts`): `session` writes records and emits
/// these events, so this module takes the facts and not the record.
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts<'a> {
    pub key: &'a str,
    /// RFC 3339; with the key it names this incarnation of the session.
    pub created_at: &'a str,
    pub persistent: bool,
    /// The hook and handler that opened the session.
    pub hook_id: &'a str,
    pub handler_id: Option<&'a str>,
}

/// When a session says it started (its key's ids lead with it).
fn started_at(s: SessionFacts<'_>) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s.created_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn base(
    id: String,
    kind: EventType,
    session: &str,
    from: &str,
    text: String,
    at: DateTime<Utc>,
    ev: Option<&InboundEvent>,
) -> LifecycleEvent {
    let ts = event::timestamp(at);
    LifecycleEvent {
        id,
        kind,
        session: session.to_string(),
        message: Message {
            from: from.to_string(),
            text,
            timestamp: ts.clone(),
        },
        timestamp: ts,
        event_id: ev.map(|e| e.event_id.clone()),
        hook_id: ev.map(|e| e.hook_id.clone()),
        handler_id: ev.and_then(|e| e.handler_id.clone()),
        error: None,
        folded_event_ids: Vec::new(),
    }
}

/// `message_received`: the hook's text, from the hook id, at its arrival.
pub fn message_received(ev: &InboundEvent, text: &str) -> LifecycleEvent {
    base(
        stable_id(ev.received_at, &[&ev.event_id, "message_received"]),
        EventType::MessageReceived,
        &ev.session_key,
        &ev.hook_id,
        text.to_string(),
        ev.received_at,
        Some(ev),
    )
}

/// `agent_response`: the agent's answer, from the agent.
pub fn agent_response(
    ev: &InboundEvent,
    agent_id: &str,
    answer: &str,
    at: DateTime<Utc>,
) -> LifecycleEvent {
    base(
        stable_id(ev.received_at, &[&ev.event_id, "agent_response"]),
        EventType::AgentResponse,
        &ev.session_key,
        agent_id,
        answer.to_string(),
        at,
        Some(ev),
    )
}

/// `session_started`, once per session incarnation.
pub fn session_started(ev: &InboundEvent, s: SessionFacts<'_>) -> LifecycleEvent {
    base(
        stable_id(started_at(s), &[s.key, s.created_at, "session_started"]),
        EventType::SessionStarted,
        s.key,
        GATEWAY,
        if s.persistent {
            format!("persistent session {} started", s.key)
        } else {
            format!("session {} started", s.key)
        },
        ev.received_at,
        Some(ev),
    )
}

/// `session_ended`, once per session incarnation, whoever ends it (the
/// handler, the sweeper, `DELETE /sessions/<key>`): same id from all three.
pub fn session_ended(s: SessionFacts<'_>, reason: &str, at: DateTime<Utc>) -> LifecycleEvent {
    let mut e = base(
        stable_id(started_at(s), &[s.key, s.created_at, "session_ended"]),
        EventType::SessionEnded,
        s.key,
        GATEWAY,
        format!("session {} ended: {reason}", s.key),
        at,
        None,
    );
    e.hook_id = Some(s.hook_id.to_string());
    e.handler_id = s.handler_id.map(str::to_string);
    e
}

/// `error`: what failed, where, and whether the queue tries again. While
/// retrying, each attempt's error is its own event; the final error (a
/// permanent failure, or the last attempt) has one id per inbound event,
/// so however often it is re-emitted, receivers see it once.
pub fn error(
    ev: &InboundEvent,
    stage: &str,
    message: &str,
    retrying_attempt: Option<u32>,
    at: DateTime<Utc>,
) -> LifecycleEvent {
    let which = retrying_attempt.map_or("final".to_string(), |a| a.to_string());
    let retrying = retrying_attempt.is_some();
    let mut e = base(
        stable_id(ev.received_at, &[&ev.event_id, "error", &which]),
        EventType::Error,
        &ev.session_key,
        GATEWAY,
        message.to_string(),
        at,
        Some(ev),
    );
    e.error = Some(ErrorInfo {
        stage: stage.to_string(),
        message: message.to_string(),
        retrying,
        subscription_id: None,
        failed_event_type: None,
    });
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_repeat_for_the_same_parts_only() {
        let t = Utc::now();
        let a = stable_id(t, &["e1", "message_received"]);
        assert_eq!(a, stable_id(t, &["e1", "message_received"]));
        assert_ne!(a, stable_id(t, &["e1", "agent_response"]));
        assert_ne!(stable_id(t, &["ab", "c"]), stable_id(t, &["a", "bc"]));
        // Later events sort after earlier ones.
        let later = t + chrono::Duration::milliseconds(5);
        assert!(stable_id(later, &["e0"]) > stable_id(t, &["e9"]));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
