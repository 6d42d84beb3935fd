//! What ingress writes for an accepted hook, decided without I/O: the
//! idempotency claim, the `queued` status record and the handler-queue
//! message (see [`crate::ports::intake`] for how a backend writes them).

use crate::event::{self, EventRecord, InboundEvent};
use crate::ports::{Acceptance, Item, NewMessage};
use crate::refusal::Refusal;
use serde_json::json;

/// The writes for `ev`; `claim` is the idempotency key and when it expires;
/// the status record is kept `kept_secs` (see `Webhooks::status_kept_secs`).
pub fn acceptance(ev: &InboundEvent, claim: Option<(String, i64)>, kept_secs: i64) -> Acceptance {
    let now = ev.received_at.timestamp();
    let claim = claim.map(|(key, until)| {
        let value = json!({ "eventId": ev.event_id, "sessionKey": ev.session_key });
        Item::new(key, "", value).expires_at(until)
    });
    // The event id is the message's deduplication id, so a claimed event
    // sent again within SQS's window is dropped by the FIFO queue.
    let mut message = NewMessage::new(serde_json::to_string(ev).expect("event serializes"))
        .group(ev.session_key.clone())
        .attribute("hookId", ev.hook_id.clone());
    message.dedup_id = Some(ev.event_id.clone());
    Acceptance {
        claim,
        status: status_item(ev).expires_at(now + kept_secs),
        message,
    }
}

fn status_item(ev: &InboundEvent) -> Item {
    let record = EventRecord::queued(ev, ev.received_at);
    let value = serde_json::to_value(&record).expect("record serializes");
    Item::new(ev.event_id.clone(), event::STATUS_SORT_KEY, value)
        .index_key(event::status_index_key(&ev.event_id, ev.received_at))
}

/// `ev` as the earlier request whose claim this is kept it: the same hook
/// under that request's event id and session.
pub fn claimed_event(ev: &InboundEvent, claim: &Item) -> Option<InboundEvent> {
    let field = |name: &str| claim.value[name].as_str().map(str::to_string);
    let mut earlier = ev.clone();
    earlier.event_id = field("eventId")?;
    earlier.session_key = field("sessionKey")?;
    Some(earlier)
}

/// 503 with `Retry-After`: the hook may or may not be kept, and a retry is
/// safe (with an idempotency key, it is never handled twice).
pub fn refusal(what: &str) -> Refusal {
    Refusal::Unavailable(format!(
        "{what}; retry (with the same idempotency key, a retry is never handled twice)"
    ))
}
