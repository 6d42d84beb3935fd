//! Driving the egress stage by hand over an embedded backend: the tests of
//! the `deliveries`, `dlq` and `subscriptions` commands queue lifecycle
//! events, run the stage a pass at a time, and read the database.

use clawhooks::config::EventType;
use clawhooks::egress::EgressStage;
use clawhooks::event::{self, LifecycleEvent, Message};
use clawhooks::ports::Backend;
use clawhooks::worker::process_one;
use std::time::Duration;

/// A `message_received` of `text` in `session`, from hook `my-hook`.
pub fn message_received(session: &str, text: &str) -> LifecycleEvent {
    let ts = event::timestamp(chrono::Utc::now());
    LifecycleEvent {
        id: event::new_id(),
        kind: EventType::MessageReceived,
        session: session.into(),
        message: Message {
            from: "+1555".into(),
            text: text.into(),
            timestamp: ts.clone(),
        },
        timestamp: ts,
        event_id: None,
        hook_id: Some("my-hook".into()),
        handler_id: None,
        error: None,
        folded_event_ids: Vec::new(),
    }
}

/// Processes what is visible on both egress queues now; returns how many.
pub async fn pass(backend: &Backend, stage: &EgressStage) -> usize {
    let mut got = 0;
    for q in [&backend.events_queue, &backend.delivery_queue] {
        let msgs = q
            .receive(10, Duration::from_secs(60), Duration::ZERO)
            .await
            .unwrap();
        got += msgs.len();
        for m in msgs {
            process_one(q.as_ref(), stage, &m).await;
        }
    }
    got
}

/// Runs the egress stage over both queues until they are empty.
pub async fn drain(backend: &Backend, stage: &EgressStage) {
    while pass(backend, stage).await > 0 {}
}
