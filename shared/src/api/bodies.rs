//! The JSON types of the routes' answers and request bodies.
//!
//! The handlers build them and the OpenAPI document ([`super::openapi`])
//! generates its schemas from them, so the contract cannot drift from what
//! is served.

use crate::egress::log::{Attempt, Summary};
use crate::egress::replay::DeadLetter;
use crate::event::EventRecord;
use crate::handler::session::{Ended, SessionRecord};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A kept hook (202, or 200 with `incoming.successStatus: 200`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookAccepted {
    pub ok: bool,
    pub event_id: String,
    pub session_key: String,
    /// Present (true) when an idempotency key repeated an earlier hook,
    /// whose event id this is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// A delivery acknowledged and not kept (a bot's message on a Slack or
/// Discord handler without `allowBots`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct HookIgnored {
    pub ok: bool,
    /// Why nothing was kept.
    pub ignored: &'static str,
}

/// A hook no handler on its route took by its filter: 200, nothing kept.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HookFiltered {
    pub ok: bool,
    pub filtered: bool,
}

/// A hook whose caller waited (`Prefer: wait=N`) and whose event settled
/// in time: 200, with what the handler made of it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookAnswered {
    pub ok: bool,
    pub event_id: String,
    pub session_key: String,
    /// `done`, `failed`, or `skipped` (the handler's `budget` was spent).
    pub status: crate::event::EventStatus,
    /// The agent's answer, a custom function's text, or the text sent.
    pub reply: Option<String>,
    /// The action's result, as `GET /events/<id>` shows it.
    pub result: Option<serde_json::Value>,
    /// Why the event failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// Every refusal: `{"ok": false, "error": "…"}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RefusalBody {
    pub ok: bool,
    pub error: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    pub ok: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EventAnswer {
    pub ok: bool,
    pub event: EventRecord,
    /// What a caller that waited (`Prefer: wait`, a handler's `respond`)
    /// got as `reply`: the agent's answer (a coalesced turn's), a custom
    /// function's text, or the text sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionAnswer {
    pub ok: bool,
    pub session: SessionRecord,
}

/// `DELETE /sessions/<key>`: the session is ended (now, or before).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnded {
    pub ok: bool,
    pub session: String,
    pub ended: Option<Ended>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already_ended: bool,
}

/// `GET /deliveries`: one event's log, or the latest attempts.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DeliveriesAnswer {
    Event {
        ok: bool,
        event: String,
        subscriptions: Vec<Summary>,
        attempts: Vec<Attempt>,
    },
    Recent {
        ok: bool,
        attempts: Vec<Attempt>,
    },
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetters {
    pub ok: bool,
    pub count: usize,
    /// In the order they were dead-lettered (on SQS: by message id).
    pub dead_letters: Vec<DeadLetter>,
    /// Pass as `cursor` for the next page; `null` after the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Replayed {
    pub ok: bool,
    pub replayed: usize,
    pub kept: usize,
    pub unreadable: usize,
    /// Dead letters the filter matched (a dry run: replayed none of them).
    pub matched: usize,
    #[serde(rename = "dryRun")]
    pub dry_run: bool,
}

impl From<crate::egress::replay::ReplayReport> for Replayed {
    /// A replay that ran: what it matched, it replayed.
    fn from(r: crate::egress::replay::ReplayReport) -> Self {
        Replayed {
            ok: true,
            replayed: r.replayed,
            kept: r.kept,
            unreadable: r.unreadable,
            matched: r.replayed,
            dry_run: false,
        }
    }
}

/// Which dead letters `POST /dlq/replay` takes (the body overrides the
/// query string).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Only this subscription's dead letters.
    #[serde(default)]
    pub subscription: Option<String>,
    /// Only those dead-lettered since: an RFC 3339 time, or an age such as `2h`.
    #[serde(default)]
    pub since: Option<String>,
    /// Only this (lifecycle) event's dead letters: replay one.
    #[serde(default)]
    pub event: Option<String>,
    /// `since` by another name: the window's start.
    #[serde(default)]
    pub from: Option<String>,
    /// Only those dead-lettered before: an RFC 3339 time, or an age.
    #[serde(default)]
    pub to: Option<String>,
    /// `dead_lettered` (every dead letter; the only status a replay takes).
    #[serde(default)]
    pub status: Option<String>,
    /// Only dead letters of this event type.
    #[serde(default, rename = "eventType")]
    pub event_type: Option<String>,
    /// Count what matches, replay nothing.
    #[serde(default, rename = "dryRun")]
    pub dry_run: Option<bool>,
}

/// One outgoing subscription as `GET /subscriptions` shows it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionState {
    pub id: String,
    /// `enabled` in the config.
    pub enabled: bool,
    /// `active`, or `paused` by an operator (deliveries held).
    pub state: crate::egress::control::RunState,
    /// When an operator last paused or resumed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// The circuit breaker: `closed`, `open` (no request until the
    /// cool-down ends), `half_open` (one probe may go) or `off`.
    pub breaker: String,
    /// Failed attempts in a row.
    pub consecutive_failures: u32,
    /// Delivery jobs waiting on the delivery queue (held, or due for a
    /// retry); absent where the queue cannot count them (SQS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<usize>,
    /// When an attempt last delivered (to the minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<String>,
    /// The last failed attempt's error, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
    /// The first failed attempt since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    /// When it was disabled for failing `disableAfter` without a success
    /// (deliveries held until `POST /subscriptions/<id>/enable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
}

/// A unix-ms time as RFC 3339.
fn at_ms(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(crate::event::timestamp)
}

impl SubscriptionState {
    pub fn of(sub: &crate::config::Outgoing, control: crate::egress::control::Control) -> Self {
        SubscriptionState {
            id: sub.id.clone(),
            enabled: sub.enabled,
            state: control.state,
            changed_at: control.changed_at,
            breaker: if sub.breaker.enabled { "closed" } else { "off" }.into(),
            consecutive_failures: 0,
            backlog: None,
            last_success_at: None,
            last_error: None,
            last_error_at: None,
            failing_since: None,
            disabled_at: None,
        }
    }

    /// With the subscription's stored circuit breaker, as of `now` (unix ms).
    pub fn with_breaker(self, b: &crate::egress::control::BreakerState, now: i64) -> Self {
        SubscriptionState {
            breaker: if self.breaker == "off" {
                self.breaker
            } else {
                b.label(now).into()
            },
            consecutive_failures: b.failures,
            last_success_at: at_ms(b.last_success_at),
            last_error: b.last_error.clone(),
            last_error_at: at_ms(b.last_error_at),
            failing_since: at_ms(b.failing_since),
            disabled_at: at_ms(b.disabled_at),
            ..self
        }
    }
}

/// `GET /subscriptions`: every configured subscription, in config order.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Subscriptions {
    pub ok: bool,
    pub subscriptions: Vec<SubscriptionState>,
}

/// `POST /subscriptions/<id>/pause` and `/resume`: the state now.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SubscriptionAnswer {
    pub ok: bool,
    pub subscription: SubscriptionState,
}
