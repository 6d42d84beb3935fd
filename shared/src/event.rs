//! What travels on the queues.
//!
//! [`InboundEvent`] is what ingress accepted, on its way to the handler stage.
//! [`LifecycleEvent`] is what the handler stage emits, in the seed's outgoing
//! payload shape, on its way to egress.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kinds of [`LifecycleEvent`], which subscriptions (`events` in the
/// config) choose from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    MessageReceived,
    AgentResponse,
    SessionStarted,
    SessionEnded,
    Error,
    /// A subscription was disabled after failing for its `disableAfter`.
    EndpointDisabled,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::MessageReceived,
        EventType::AgentResponse,
        EventType::SessionStarted,
        EventType::SessionEnded,
        EventType::Error,
        EventType::EndpointDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageReceived => "message_received",
            EventType::AgentResponse => "agent_response",
            EventType::SessionStarted => "session_started",
            EventType::SessionEnded => "session_ended",
            EventType::Error => "error",
            EventType::EndpointDisabled => "endpoint_disabled",
        }
    }
}

/// A hook that ingress accepted. The body is kept as received (not
/// re-serialized) so `forward` can pass it on byte for byte; the handler
/// parses it again, which is cheap next to the action it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundEvent {
    pub event_id: String,
    /// The id in `/webhook/<hook-id>`.
    pub hook_id: String,
    /// The handler the hook reached, if any.
    pub handler_id: Option<String>,
    pub session_key: String,
    /// Whether the session key is shared by successive hooks.
    pub persistent: bool,
    pub received_at: DateTime<Utc>,
    pub source_ip: String,
    /// Request headers, lower-cased, without the ones that carry secrets.
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    pub content_type: Option<String>,
    pub body: Body,
}

/// The posted body, as ingress classified it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Body {
    /// JSON text, already checked to parse.
    Json(String),
    /// `application/x-www-form-urlencoded`, decoded to an object.
    Form(BTreeMap<String, String>),
    /// Anything else that is UTF-8.
    Text(String),
    /// Bytes that are not UTF-8, base64-encoded.
    Binary(String),
    Empty,
}

impl InboundEvent {
    /// The hook in the persistent session `key` (a transform's
    /// `sessionKey`).
    pub fn in_session(&self, key: &str) -> Self {
        InboundEvent {
            session_key: key.to_string(),
            persistent: true,
            ..self.clone()
        }
    }
}

impl Body {
    /// The body as a JSON value for templates: objects for JSON and forms,
    /// a string for text.
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Body::Json(t) => serde_json::from_str(t).unwrap_or(serde_json::Value::Null),
            Body::Form(m) => serde_json::to_value(m).unwrap_or_default(),
            Body::Text(t) | Body::Binary(t) => serde_json::Value::String(t.clone()),
            Body::Empty => serde_json::Value::Null,
        }
    }
}

/// The seed's outgoing payload, plus ids that let a receiver correlate and
/// deduplicate. The same `id` is sent on every delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub session: String,
    pub message: Message,
    pub timestamp: String,
    /// The inbound event this one stems from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_id: Option<String>,
    /// Present on `error` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// On the `agent_response` of a coalesced turn: every inbound event the
    /// turn answered, in arrival order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folded_event_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub from: String,
    pub text: String,
    pub timestamp: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    /// Where it failed: `handler`, `channel`, `agent`, `forward`, `custom`, `delivery`.
    pub stage: String,
    pub message: String,
    /// Whether the queue will try again.
    pub retrying: bool,
    /// For delivery failures: the subscription and the event type that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_event_type: Option<EventType>,
}

/// RFC 3339 with millisecond precision and a `Z`, as the seed writes times.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Where an event's status record stands in table `events`'s index
/// ([`crate::ports::Store::query_index`]), so listings read the newest
/// first in O(page): the received unix millisecond times 1000, plus a
/// tiebreak from the event id so hooks received in the same millisecond
/// get distinct keys and a page boundary never splits them.
pub fn status_index_key(event_id: &str, received_at: DateTime<Utc>) -> i64 {
    let tiebreak = event_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 1000;
    received_at.timestamp_millis() * 1000 + i64::from(tiebreak)
}

/// A fresh event id: a UUIDv7, so ids sort by creation time and every
/// table keyed by them (dedup, delivery log, event records) grows at its
/// end instead of rewriting pages all over the B-tree.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Where an accepted hook is in its life, for `GET /events/<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Queued,
    Processing,
    Done,
    Failed,
    /// Kept but not acted on: the handler's `budget` was spent (the reason
    /// in `error`), or its transform answered `skip: true`.
    Skipped,
}

/// How long `GET /events/<id>` can find an event: a week.
pub const EVENT_RECORD_TTL_SECS: i64 = 7 * 24 * 3600;

/// The sort key of an event's status record in table `events`.
pub const STATUS_SORT_KEY: &str = "status";

/// The status record of an accepted hook (table `events`, sort key `status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub event_id: String,
    pub status: EventStatus,
    pub hook_id: String,
    #[serde(default)]
    pub handler_id: Option<String>,
    pub session_key: String,
    pub received_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub attempts: u32,
    /// What the action produced: the agent's answer, the channel's message id…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was received, for the console's event page: headers already
    /// without credentials, and the body cut to [`REQUEST_BODY_KEPT`] so the
    /// record stays far below DynamoDB's item limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ReceivedRequest>,
    /// The text the handler's template rendered (what the channel or the
    /// agent got), cut to [`RENDERED_KEPT`] bytes; written with the first
    /// progress the handler saves, so it costs no store operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<String>,
}

/// Bytes of a rendered template a status record keeps.
pub const RENDERED_KEPT: usize = 4 * 1024;

/// `text` cut to at most `max` bytes, on a character boundary.
///
/// ```
/// assert_eq!(clawhooks::event::cut("héllo", 2), "h");
/// assert_eq!(clawhooks::event::cut("héllo", 3), "hé");
/// assert_eq!(clawhooks::event::cut("hi", 10), "hi");
/// ```
pub fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Bytes of a hook's body its status record keeps.
pub const REQUEST_BODY_KEPT: usize = 16 * 1024;

/// The request a hook came in, as its status record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedRequest {
    pub source_ip: String,
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The body as text (JSON as sent, forms re-encoded as JSON, binary as
    /// base64), cut at [`REQUEST_BODY_KEPT`] bytes.
    pub body: String,
    pub body_truncated: bool,
}

/// A body's top-level field that is a credential, shown redacted in the
/// record: a Discord interaction's token (it can post as the app for 15
/// minutes), Slack's verification token. The queued event keeps it.
const TOKEN: &str = "token";

/// The body as text for the record, its [`TOKEN`] redacted.
fn recorded_body(body: &Body) -> String {
    match body {
        Body::Json(t) => without_token_json(t),
        Body::Text(t) | Body::Binary(t) => t.clone(),
        Body::Form(m) => {
            let mut m = m.clone();
            if let Some(t) = m.get_mut(TOKEN) {
                *t = crate::secret::REDACTED.to_string();
            }
            serde_json::to_string(&m).unwrap_or_default()
        }
        Body::Empty => String::new(),
    }
}

/// JSON text as sent, unless its top level has a [`TOKEN`]: then re-encoded
/// with it redacted.
fn without_token_json(text: &str) -> String {
    if !text.contains("\"token\"") {
        return text.to_string();
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut m)) if m.contains_key(TOKEN) => {
            m.insert(TOKEN.into(), crate::secret::REDACTED.into());
            serde_json::Value::Object(m).to_string()
        }
        _ => text.to_string(),
    }
}

impl ReceivedRequest {
    pub fn of(ev: &InboundEvent) -> Self {
        let mut body = recorded_body(&ev.body);
        let body_truncated = body.len() > REQUEST_BODY_KEPT;
        if body_truncated {
            body.truncate(cut(&body, REQUEST_BODY_KEPT).len());
        }
        ReceivedRequest {
            source_ip: ev.source_ip.clone(),
            headers: ev.headers.clone(),
            query: ev.query.clone(),
            content_type: ev.content_type.clone(),
            body,
            body_truncated,
        }
    }
}

impl EventRecord {
    /// The record of `ev` before the handler has touched it, last changed
    /// at `updated_at` (ingress writes it; the handler makes it when
    /// ingress could not).
    pub fn queued(ev: &InboundEvent, updated_at: DateTime<Utc>) -> Self {
        EventRecord {
            event_id: ev.event_id.clone(),
            status: EventStatus::Queued,
            hook_id: ev.hook_id.clone(),
            handler_id: ev.handler_id.clone(),
            session_key: ev.session_key.clone(),
            received_at: timestamp(ev.received_at),
            updated_at: timestamp(updated_at),
            attempts: 0,
            result: None,
            error: None,
            request: Some(ReceivedRequest::of(ev)),
            rendered: None,
        }
    }
}

/// The message attribute that names a queued lifecycle event's type.
pub const TYPE_ATTRIBUTE: &str = "type";

/// Puts a lifecycle event on the events queue, grouped by session so one
/// session's events reach egress in the order they happened.
pub async fn emit(
    queue: &dyn crate::ports::Queue,
    ev: &LifecycleEvent,
) -> Result<(), crate::ports::QueueError> {
    let msg = crate::ports::NewMessage::new(serde_json::to_string(ev).expect("event serializes"))
        .group(ev.session.clone())
        .attribute(TYPE_ATTRIBUTE, ev.kind.as_str());
    let msg = crate::ports::NewMessage {
        dedup_id: Some(ev.id.clone()),
        ..msg
    };
    queue.send(msg).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_level_token_is_recorded_redacted_and_nothing_else_changes() {
        let interaction = Body::Json(r#"{"type":2,"token":"aW50ZX","data":{"token":"x"}}"#.into());
        let shown = recorded_body(&interaction);
        assert!(
            !shown.contains("aW50ZX") && shown.contains("[redacted]"),
            "{shown}"
        );
        assert!(
            shown.contains(r#""data":{"token":"x"}"#),
            "only the top level: {shown}"
        );
        let slash = Body::Form([("token".to_string(), "gIkuvaNz".to_string())].into());
        assert_eq!(recorded_body(&slash), r#"{"token":"[redacted]"}"#);
        let plain = r#"{ "text": "token" }"#;
        assert_eq!(recorded_body(&Body::Json(plain.into())), plain, "as sent");
    }
}
