//! `GET /console/stream`: server-sent events for the events page. Every
//! [`POLL`] the handler reads the newest [`WINDOW`] event records from
//! the store's index and sends those that are new or changed since the
//! last look (`event: events`, data: a JSON array of records), so it
//! works the same on every backend and needs no notification channel.
//! It opens with `event: ready`; behind API Gateway, which buffers
//! responses, the page never sees it and polls `GET /events` instead.
//!
//! Each open stream polls the store and holds a connection, so at most
//! [`MAX_STREAMS`] are open per backend (past that: 503, and the page
//! polls), and one lives at most [`LIFETIME`]. A request that came through
//! API Gateway (its transport set the [`Peer`]) is answered 204 at once: a
//! buffered stream would hold a Lambda invocation for its whole lifetime
//! and show the page nothing; on 204 the browser stops and the page polls.

use super::super::listing::{events_page, EventFilter};
use super::super::{AppState, Peer};
use crate::ports::Store;
use crate::refusal::Refusal;
use axum::extract::State;
use axum::http::{request::Parts, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the stream looks for changes.
pub const POLL: Duration = Duration::from_millis(500);
/// How many of the newest events it watches.
pub const WINDOW: usize = 50;
/// A stream ends after this long and the browser reconnects (`retry`):
/// behind a buffering proxy no invocation runs longer, and no stream
/// outlives a deploy by much.
pub const LIFETIME: Duration = Duration::from_secs(30);
/// How soon the browser reconnects after a stream ends.
const RETRY: Duration = Duration::from_secs(1);
/// Streams open at once per backend, at most: each polls the store every
/// [`POLL`] and holds a connection.
pub const MAX_STREAMS: usize = 32;

/// Open streams per backend (its store's address).
static OPEN: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

/// One open stream, counted in [`OPEN`] until dropped (the stream ends or
/// the browser goes away).
struct Slot(usize);

impl Slot {
    fn take(store: &Arc<dyn Store>) -> Option<Slot> {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key(store)).or_insert(0);
        if *n >= MAX_STREAMS {
            return None;
        }
        *n += 1;
        Some(Slot(key(store)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.0) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.0);
            }
        }
    }
}

/// Per backend (its store's address), bumped by [`close_all`]: streams
/// over that backend that started under an earlier value end. Keyed so
/// that one server stopping leaves another's streams in the same process
/// (tests run many) alone.
static GENERATIONS: Mutex<BTreeMap<usize, u64>> = Mutex::new(BTreeMap::new());

fn key(store: &Arc<dyn Store>) -> usize {
    Arc::as_ptr(store).cast::<()>() as usize
}

fn generation(store: &Arc<dyn Store>) -> u64 {
    let map = GENERATIONS.lock().unwrap_or_else(|e| e.into_inner());
    map.get(&key(store)).copied().unwrap_or(0)
}

/// Ends every open stream over `store` within one [`POLL`]: a server
/// shutting down gracefully waits for open requests, and a stream does not
/// end by itself before [`LIFETIME`].
pub fn close_all(store: &Arc<dyn Store>) {
    let mut map = GENERATIONS.lock().unwrap_or_else(|e| e.into_inner());
    *map.entry(key(store)).or_insert(0) += 1;
}

struct Watch {
    state: AppState,
    /// Event id to what was last sent about it (status, update time).
    sent: HashMap<String, (crate::event::EventStatus, String)>,
    first: bool,
    generation: u64,
    until: tokio::time::Instant,
    _slot: Slot,
}

pub async fn events(State(state): State<AppState>, parts: Parts) -> Response {
    if parts.extensions.get::<Peer>().is_some() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let Some(slot) = Slot::take(&state.backend.store) else {
        return Refusal::Unavailable(format!(
            "{MAX_STREAMS} console streams are open; this page polls instead"
        ))
        .into_response();
    };
    stream(state, slot).into_response()
}

fn stream(state: AppState, slot: Slot) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let watch = Watch {
        generation: generation(&state.backend.store),
        state,
        sent: HashMap::new(),
        first: true,
        until: tokio::time::Instant::now() + LIFETIME,
        _slot: slot,
    };
    let changes = stream::unfold(watch, |mut w| async move {
        loop {
            if !w.first {
                tokio::time::sleep(POLL).await;
            }
            w.first = false;
            if generation(&w.state.backend.store) != w.generation
                || tokio::time::Instant::now() >= w.until
            {
                return None;
            }
            if let Some(event) = w.look().await {
                return Some((Ok(event), w));
            }
        }
    });
    // `ready` at once: a page that does not see it soon is behind a proxy
    // that buffers (API Gateway) and polls instead.
    let ready = stream::once(async { Ok(Event::default().event("ready").retry(RETRY).data("{}")) });
    Sse::new(ready.chain(changes)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

impl Watch {
    /// The records new or changed since the last look, as one SSE event;
    /// `None` when nothing changed (or the store failed: the next look
    /// tries again).
    async fn look(&mut self) -> Option<Event> {
        let now = self.state.clock.now().timestamp();
        let store = self.state.backend.store.as_ref();
        let kept = self.state.config.config.webhooks.status_kept_secs();
        let all = EventFilter::default();
        let page = match events_page(store, &all, None, WINDOW, now, kept).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "console stream: could not read events");
                return None;
            }
        };
        let mut sent = HashMap::with_capacity(page.events.len());
        let mut changed = Vec::new();
        for r in page.events {
            let now_seen = (r.status, r.updated_at.clone());
            if self.sent.get(&r.event_id) != Some(&now_seen) {
                changed.push(r.clone());
            }
            sent.insert(r.event_id, now_seen);
        }
        self.sent = sent;
        if changed.is_empty() {
            return None;
        }
        Event::default().event("events").json_data(&changed).ok()
    }
}
