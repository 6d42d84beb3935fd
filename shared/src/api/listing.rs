//! The paged lists of events and sessions (`GET /events`, `GET /sessions`).
//!
//! The newest records come first, read from the store's index
//! (`Store::query_index`) so a page costs about its own size however many
//! records the table holds.
//!
//! Filters are applied while walking the index backwards; a page stops
//! after [`READ_BOUND`] records read, so a filter that matches nothing in
//! 100,000 events still answers at once. The answer then says
//! `boundHit: true` and carries a cursor to go on from where it stopped.

use super::extract::Query;
use super::AppState;
use crate::event::{EventRecord, EventStatus};
use crate::handler::session::SessionRecord;
use crate::ports::{IndexOrder, Store, StoreError, Table};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
/// Most index entries one filtered page reads before it answers.
pub const READ_BOUND: usize = 5_000;

/// What an events page keeps: every field given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    pub hook: Option<String>,
    pub handler: Option<String>,
    pub status: Option<EventStatus>,
    pub session: Option<String>,
}

impl EventFilter {
    fn is_empty(&self) -> bool {
        *self == EventFilter::default()
    }

    pub fn matches(&self, r: &EventRecord) -> bool {
        self.hook.as_ref().is_none_or(|h| *h == r.hook_id)
            && self
                .handler
                .as_ref()
                .is_none_or(|h| Some(h) == r.handler_id.as_ref())
            && self.status.is_none_or(|s| s == r.status)
            && self.session.as_ref().is_none_or(|s| *s == r.session_key)
    }
}

/// One page of events, newest first (`GET /events`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub ok: bool,
    /// Status records without the received request (see `GET /events/<id>`).
    pub events: Vec<EventRecord>,
    /// Pass as `cursor` for the next (older) page; absent at the end.
    pub next_cursor: Option<String>,
    /// Index entries read for this page.
    pub scanned: usize,
    /// The page stopped at [`READ_BOUND`] entries read before it was full.
    pub bound_hit: bool,
}

/// Reads up to `limit` events matching `filter` with index keys below
/// `before` (a cursor), newest first. Only events of the last `kept_secs`
/// (`Webhooks::status_kept_secs`) can be live, so the read stops there.
pub async fn events_page(
    store: &dyn Store,
    filter: &EventFilter,
    before: Option<i64>,
    limit: usize,
    now: i64,
    kept_secs: i64,
) -> Result<EventPage, StoreError> {
    let lowest = (now - kept_secs) * 1_000_000;
    let mut upper = before.map_or(i64::MAX, |c| c - 1);
    let chunk = if filter.is_empty() {
        limit + 1
    } else {
        (limit * 4).clamp(100, 1000)
    };
    let (mut found, mut scanned, mut bound_hit) = (Vec::new(), 0, false);
    while found.len() <= limit && upper >= lowest {
        let items = store
            .query_index(
                Table::Events,
                lowest..=upper,
                IndexOrder::Descending,
                chunk,
                now,
            )
            .await?;
        let exhausted = items.len() < chunk;
        for item in items {
            let Some(key) = item.index_key else { continue };
            scanned += 1;
            upper = key - 1;
            if let Ok(mut record) = serde_json::from_value::<EventRecord>(item.value) {
                if filter.matches(&record) {
                    record.request = None;
                    found.push((key, record));
                }
            }
            if found.len() > limit || scanned >= READ_BOUND {
                break;
            }
        }
        if scanned >= READ_BOUND && found.len() <= limit {
            bound_hit = true;
            break;
        }
        if exhausted {
            break;
        }
    }
    let next_cursor = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|(k, _)| k.to_string())
    } else if bound_hit {
        Some((upper + 1).to_string())
    } else {
        None
    };
    Ok(EventPage {
        ok: true,
        events: found.into_iter().map(|(_, r)| r).collect(),
        next_cursor,
        scanned,
        bound_hit,
    })
}

/// `GET /events?hook=&handler=&status=&session=&cursor=&limit=`.
pub async fn events(
    State(ingress): State<AppState>,
    Query(query): Query,
) -> Result<Json<EventPage>, Refusal> {
    let filter = event_filter(&query)?;
    let before = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            Refusal::BadRequest("query parameter `cursor` is not one this route gave".into())
        })?),
    };
    let limit = limit(&query)?;
    let now = ingress.clock.now().timestamp();
    let kept = ingress.config.config.webhooks.status_kept_secs();
    let store = ingress.backend.store.as_ref();
    let page = events_page(store, &filter, before, limit, now, kept)
        .await
        .map_err(|e| Refusal::backend("event listing", e))?;
    Ok(Json(page))
}

fn event_filter(query: &BTreeMap<String, String>) -> Result<EventFilter, Refusal> {
    let word = |name: &str| query.get(name).filter(|v| !v.is_empty()).cloned();
    let status = match word("status") {
        None => None,
        Some(s) => Some(
            serde_json::from_value::<EventStatus>(Value::String(s)).map_err(|_| {
                Refusal::BadRequest(
                    "query parameter `status` must be queued, processing, done, failed or skipped"
                        .into(),
                )
            })?,
        ),
    };
    Ok(EventFilter {
        hook: word("hook"),
        handler: word("handler"),
        status,
        session: word("session"),
    })
}

fn limit(query: &BTreeMap<String, String>) -> Result<usize, Refusal> {
    match query.get("limit").map(|l| l.parse::<usize>()) {
        None => Ok(DEFAULT_LIMIT),
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(Refusal::BadRequest(format!(
            "query parameter `limit` must be a number from 1 to {MAX_LIMIT}"
        ))),
    }
}

/// A live session in a listing: its record without the history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    pub key: String,
    pub persistent: bool,
    pub hook_id: String,
    pub handler_id: Option<String>,
    pub created_at: String,
    pub last_activity: String,
    pub message_count: u64,
    /// Unix seconds at which the session goes idle and is ended.
    pub idle_at: i64,
}

/// `GET /sessions`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Sessions {
    pub ok: bool,
    pub sessions: Vec<SessionSummary>,
}

/// `GET /sessions?limit=`: live sessions, the latest to go idle first
/// (which is the most recently active, for sessions of one timeout).
pub async fn sessions(
    State(ingress): State<AppState>,
    Query(query): Query,
) -> Result<Json<Sessions>, Refusal> {
    let limit = limit(&query)?;
    let now = ingress.clock.now().timestamp();
    let items = ingress
        .backend
        .store
        .query_index(
            Table::Sessions,
            now..=i64::MAX,
            IndexOrder::Descending,
            limit,
            now,
        )
        .await
        .map_err(|e| Refusal::backend("sessions", e))?;
    let sessions: Vec<SessionSummary> = items
        .into_iter()
        .filter_map(|i| serde_json::from_value::<SessionRecord>(i.value).ok())
        .filter(SessionRecord::is_live)
        .map(|s| SessionSummary {
            key: s.key,
            persistent: s.persistent,
            hook_id: s.hook_id,
            handler_id: s.handler_id,
            created_at: s.created_at,
            last_activity: s.last_activity,
            message_count: s.message_count,
            idle_at: s.idle_at,
        })
        .collect();
    Ok(Json(Sessions { ok: true, sessions }))
}
