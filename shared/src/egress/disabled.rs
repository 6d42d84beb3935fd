//! A subscription disabled for failing `disableAfter` without a success:
//! its deliveries are held (never dead-lettered because of it) until an
//! operator enables it again, and an `endpoint_disabled` event tells every
//! other subscription that takes it. The flag is the `disabledAt` of the
//! subscription's record ([`super::control::BreakerState`]).

use super::control::BreakerState;
use super::EgressStage;
use crate::config::EventType;
use crate::event::{self, ErrorInfo, LifecycleEvent, Message};
use crate::handler::lifecycle::stable_id;
use chrono::{DateTime, Utc};

/// The `endpoint_disabled` event of `id`'s disabling.
pub fn event(id: &str, record: &BreakerState, now: DateTime<Utc>) -> LifecycleEvent {
    let ts = event::timestamp(now);
    let since = record
        .failing_since
        .and_then(DateTime::from_timestamp_millis)
        .map(event::timestamp)
        .unwrap_or_default();
    let text = format!(
        "subscription {id:?} disabled: failing since {since} without a success (last error: {}); its deliveries are held until it is enabled again",
        record.last_error.as_deref().unwrap_or("none")
    );
    let at = record.disabled_at.unwrap_or_default().to_string();
    LifecycleEvent {
        id: stable_id(now, &[id, &at, "endpoint_disabled"]),
        kind: EventType::EndpointDisabled,
        session: format!("clawhooks:subscription:{id}"),
        message: Message {
            from: "clawhooks".into(),
            text: text.clone(),
            timestamp: ts.clone(),
        },
        timestamp: ts,
        event_id: None,
        hook_id: None,
        handler_id: None,
        error: Some(ErrorInfo {
            stage: "delivery".into(),
            message: text,
            retrying: false,
            subscription_id: Some(id.to_string()),
            failed_event_type: None,
        }),
        folded_event_ids: Vec::new(),
    }
}

/// Emits the event; failing to is logged (the subscription is disabled
/// either way, and `GET /subscriptions` shows it).
pub async fn announce(stage: &EgressStage, id: &str, record: &BreakerState, now: DateTime<Utc>) {
    tracing::warn!(subscription = %id, "subscription disabled after failing for its disableAfter without a success; its deliveries are held until it is enabled");
    let ev = event(id, record, now);
    if let Err(e) = event::emit(stage.backend.events_queue.as_ref(), &ev).await {
        tracing::error!(subscription = %id, error = %e, "the endpoint_disabled event could not be queued");
    }
}
