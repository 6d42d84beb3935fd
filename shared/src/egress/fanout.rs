//! One lifecycle event in, one delivery job per subscription that wants it
//! out. Deciding who wants it is pure ([`wants`], [`plan`]); the shell
//! writes the jobs.

use super::job::DeliveryJob;
use super::log::DisabledMarker;
use crate::config::{EventType, Outgoing};
use crate::event::LifecycleEvent;
use crate::ports::{Backend, QueueError, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Why a subscription does not get an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    NoUrl,
    Disabled,
    /// Disabled after the receiver answered 410 Gone.
    Gone,
    EventType(EventType),
    HookId,
    HandlerId,
    SessionPrefix,
    /// An `endpoint_disabled` event goes to the other subscriptions only.
    Itself,
}

/// Whether `sub` gets `ev`. `gone` holds the subscriptions a receiver
/// retired with 410 (see [`DisabledMarker::applies_to`]).
pub fn wants(sub: &Outgoing, ev: &LifecycleEvent, gone: bool) -> Result<(), Skip> {
    if !sub.enabled {
        return Err(Skip::Disabled);
    }
    if sub.url.is_none() {
        return Err(Skip::NoUrl);
    }
    if gone {
        return Err(Skip::Gone);
    }
    if !sub.events.is_empty() && !sub.events.contains(&ev.kind) {
        return Err(Skip::EventType(ev.kind));
    }
    let about = ev.error.as_ref().and_then(|e| e.subscription_id.as_ref());
    if ev.kind == EventType::EndpointDisabled && about == Some(&sub.id) {
        return Err(Skip::Itself);
    }
    if let Some(f) = &sub.filter {
        let listed = |list: &[String], value: Option<&String>| {
            list.is_empty() || value.is_some_and(|v| list.contains(v))
        };
        if !listed(&f.hook_ids, ev.hook_id.as_ref()) {
            return Err(Skip::HookId);
        }
        if !listed(&f.handler_ids, ev.handler_id.as_ref()) {
            return Err(Skip::HandlerId);
        }
        if let Some(prefix) = &f.session_prefix {
            if !ev.session.starts_with(prefix.as_str()) {
                return Err(Skip::SessionPrefix);
            }
        }
    }
    Ok(())
}

/// The subscriptions that get `ev`, in config order.
pub fn plan<'a>(
    subs: &'a [Outgoing],
    ev: &LifecycleEvent,
    markers: &HashMap<String, DisabledMarker>,
) -> Vec<&'a Outgoing> {
    subs.iter()
        .filter(|s| {
            let gone = markers.get(&s.id).is_some_and(|m| m.applies_to(s));
            wants(s, ev, gone).is_ok()
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Enqueues one job per subscription in `targets` (see [`plan`]); returns how many.
///
/// A redelivered event fans out again; the duplicate jobs are harmless
/// because a delivery already made is never made twice (see `delivery`).
pub async fn fan_out(
    backend: &Backend,
    targets: &[&Outgoing],
    ev: &LifecycleEvent,
    now: DateTime<Utc>,
) -> Result<usize, FanoutError> {
    let jobs: Vec<_> = targets
        .iter()
        .map(|s| DeliveryJob::first(ev.clone(), s.id.clone()).message(now))
        .collect();
    // SQS takes at most ten messages per batch.
    for chunk in jobs.chunks(10) {
        backend.delivery_queue.send_batch(chunk.to_vec()).await?;
    }
    tracing::debug!(event_id = %ev.id, event_type = ev.kind.as_str(), deliveries = targets.len(), "fanned out");
    Ok(targets.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Filter;
    use crate::event::Message;

    fn sub(json: &str) -> Outgoing {
        serde_json::from_str(json).unwrap()
    }

    fn ev(kind: EventType) -> LifecycleEvent {
        LifecycleEvent {
            id: "e".into(),
            kind,
            session: "hook:abc".into(),
            message: Message {
                from: "f".into(),
                text: "t".into(),
                timestamp: "x".into(),
            },
            timestamp: "x".into(),
            event_id: None,
            hook_id: Some("github".into()),
            handler_id: Some("gh-handler".into()),
            error: None,
            folded_event_ids: Vec::new(),
        }
    }

    #[test]
    fn the_seed_subscription_gets_only_its_events() {
        let s = sub(
            r#"{"id":"slack-notify","url":"https://hooks.slack.com/services/xxx",
            "events":["message_received","agent_response"],"method":"POST"}"#,
        );
        assert_eq!(wants(&s, &ev(EventType::MessageReceived), false), Ok(()));
        assert_eq!(wants(&s, &ev(EventType::AgentResponse), false), Ok(()));
        assert_eq!(
            wants(&s, &ev(EventType::SessionStarted), false),
            Err(Skip::EventType(EventType::SessionStarted))
        );
    }

    #[test]
    fn no_events_listed_means_all_of_them() {
        let s = sub(r#"{"id":"all","url":"http://x"}"#);
        for k in EventType::ALL {
            assert_eq!(wants(&s, &ev(k), false), Ok(()));
        }
    }

    #[test]
    fn the_seed_retry_example_without_url_is_inert() {
        let s = sub(r#"{"id":"notify","retry":{"maxAttempts":3,"backoff":"exponential"}}"#);
        assert_eq!(
            wants(&s, &ev(EventType::MessageReceived), false),
            Err(Skip::NoUrl)
        );
    }

    #[test]
    fn disabled_and_gone_subscriptions_get_nothing() {
        let off = sub(r#"{"id":"a","url":"http://x","enabled":false}"#);
        assert_eq!(
            wants(&off, &ev(EventType::Error), false),
            Err(Skip::Disabled)
        );
        let on = sub(r#"{"id":"a","url":"http://x"}"#);
        assert_eq!(wants(&on, &ev(EventType::Error), true), Err(Skip::Gone));
    }

    #[test]
    fn filters_must_all_hold() {
        let mut s = sub(r#"{"id":"a","url":"http://x"}"#);
        let e = ev(EventType::MessageReceived);
        let cases = [
            (
                Filter {
                    hook_ids: vec!["github".into()],
                    ..Default::default()
                },
                Ok(()),
            ),
            (
                Filter {
                    hook_ids: vec!["other".into()],
                    ..Default::default()
                },
                Err(Skip::HookId),
            ),
            (
                Filter {
                    handler_ids: vec!["gh-handler".into()],
                    ..Default::default()
                },
                Ok(()),
            ),
            (
                Filter {
                    handler_ids: vec!["x".into()],
                    ..Default::default()
                },
                Err(Skip::HandlerId),
            ),
            (
                Filter {
                    session_prefix: Some("hook:".into()),
                    ..Default::default()
                },
                Ok(()),
            ),
            (
                Filter {
                    session_prefix: Some("agent:".into()),
                    ..Default::default()
                },
                Err(Skip::SessionPrefix),
            ),
            (
                Filter {
                    hook_ids: vec!["github".into()],
                    session_prefix: Some("agent:".into()),
                    ..Default::default()
                },
                Err(Skip::SessionPrefix),
            ),
        ];
        for (f, want) in cases {
            s.filter = Some(f.clone());
            assert_eq!(wants(&s, &e, false), want, "{f:?}");
        }
        // An event without a handler never matches a handler filter.
        s.filter = Some(Filter {
            handler_ids: vec!["gh-handler".into()],
            ..Default::default()
        });
        let mut no_handler = e.clone();
        no_handler.handler_id = None;
        assert_eq!(wants(&s, &no_handler, false), Err(Skip::HandlerId));
    }

    #[test]
    fn a_gone_marker_stops_only_the_url_it_was_given_for() {
        let subs = vec![
            sub(r#"{"id":"a","url":"http://a"}"#),
            sub(r#"{"id":"b","url":"http://b-new"}"#),
            sub(r#"{"id":"c","url":"http://c"}"#),
        ];
        let markers = HashMap::from([
            (
                "a".to_string(),
                DisabledMarker::gone("a", "http://a", Utc::now()),
            ),
            (
                "b".to_string(),
                DisabledMarker::gone("b", "http://b-old", Utc::now()),
            ),
        ]);
        let ids: Vec<_> = plan(&subs, &ev(EventType::Error), &markers)
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, ["b", "c"]);
    }
}
