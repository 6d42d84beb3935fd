//! Dead letters of the delivery queue: `GET /dlq` lists them
//! (`?subscription=&since=`, a page at a time: `limit`, `cursor`) without touching them (a read, so a replay
//! running at the same time still takes every one), `POST /dlq/replay` puts them back for
//! delivery, each exactly once (JSON body or query: `subscription`,
//! `since` as an RFC 3339 time or an age such as `2h`, `event` for one
//! event's).

use super::bodies::{DeadLetters, ReplayRequest, Replayed};
use super::extract::{Body, Query};
use super::AppState;
use crate::egress::replay::{self, DeadLetter, ReplayFilter};
use crate::egress::DeliveryJob;
use crate::ingress::Ingress;
use crate::ports::{Queue, QueueError, Received};
use crate::refusal::Refusal;
use axum::extract::State;
use axum::Json;
use std::collections::BTreeMap;

/// Dead letters a page holds unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`: a page is read and answered whole.
pub const MAX_LIMIT: usize = 1_000;
/// Messages one listing request reads at most while looking for a page of
/// matches; past it the page is short and `nextCursor` goes on from there.
const SCAN_BUDGET: usize = 10_000;

pub async fn list(
    State(ingress): State<AppState>,
    Query(query): Query,
) -> Result<Json<DeadLetters>, Refusal> {
    let filter = filter(&ingress, &query, &[])?;
    let ask = PageAsk::from_query(&query)?;
    let (letters, next_cursor) = ask
        .collect(ingress.backend.delivery_dlq.as_ref(), |m| {
            let job = serde_json::from_str::<DeliveryJob>(&m.body).ok()?;
            filter.matches(&job).then(|| DeadLetter::from(&job))
        })
        .await
        .map_err(|e| refusal("the dead-letter queue", e))?;
    Ok(Json(DeadLetters {
        ok: true,
        count: letters.len(),
        dead_letters: letters,
        next_cursor,
    }))
}

/// A listing's `limit` and `cursor` (the HTTP routes' and the CLI's).
pub struct PageAsk {
    /// 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// A page's `next`, where this one starts.
    pub cursor: Option<String>,
}

impl PageAsk {
    pub(super) fn from_query(query: &BTreeMap<String, String>) -> Result<Self, Refusal> {
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    Refusal::BadRequest(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}"
                    ))
                })?,
        };
        let cursor = query.get("cursor").filter(|c| !c.is_empty()).cloned();
        if cursor.as_ref().is_some_and(|c| c.len() > 200) {
            return Err(Refusal::BadRequest(
                "cursor must be a nextCursor a listing answered".into(),
            ));
        }
        Ok(PageAsk { limit, cursor })
    }

    /// Reads `queue` from the cursor, keeping what `keep` turns into an
    /// item, until a page of items, the end of the queue or the scan
    /// budget; returns them and where the next page starts.
    pub async fn collect<T>(
        &self,
        queue: &dyn Queue,
        mut keep: impl FnMut(&Received) -> Option<T>,
    ) -> Result<(Vec<T>, Option<String>), QueueError> {
        let (mut out, mut cursor, mut scanned) = (Vec::new(), self.cursor.clone(), 0);
        loop {
            // Never more than the page still needs: the cursor after a read
            // is then exactly where the next page starts.
            let page = queue
                .peek_page(cursor.as_deref(), self.limit - out.len())
                .await?;
            scanned += page.messages.len();
            out.extend(page.messages.iter().filter_map(&mut keep));
            cursor = page.next;
            if cursor.is_none() || out.len() >= self.limit || scanned >= SCAN_BUDGET {
                return Ok((out, cursor));
            }
        }
    }
}

/// A listing's failure as an answer: a bad cursor is the caller's, and a
/// queue that cannot be listed (SQS FIFO) says so for good, not "retry".
pub(super) fn refusal(what: &str, e: QueueError) -> Refusal {
    match e {
        QueueError::BadCursor(c) => Refusal::BadRequest(format!(
            "cursor {c:?} is not a nextCursor this listing answered"
        )),
        QueueError::Unsupported(why) => Refusal::NotImplemented(format!("{what}: {why}")),
        e => Refusal::backend(what, e),
    }
}

pub async fn replay(
    State(ingress): State<AppState>,
    Query(query): Query,
    Body(body): Body,
) -> Result<Json<Replayed>, Refusal> {
    let words = words(&query, &body)?;
    let filter = filter_of(&ingress, words.clone())?;
    let down = |e| Refusal::backend("the dead-letter queue", e);
    if words.dry_run == Some(true) {
        let dlq = ingress.backend.delivery_dlq.as_ref();
        let matched = replay::list(dlq, &filter).await.map_err(down)?.len();
        return Ok(Json(Replayed {
            ok: true,
            replayed: 0,
            kept: 0,
            unreadable: 0,
            matched,
            dry_run: true,
        }));
    }
    let report = replay::replay(&ingress.backend, &filter, ingress.clock.now())
        .await
        .map_err(down)?;
    tracing::info!(
        replayed = report.replayed,
        kept = report.kept,
        "bulk replay done"
    );
    Ok(Json(Replayed::from(report)))
}

/// The filter from the query string, overridden by a JSON body if one was sent.
fn filter(
    ingress: &Ingress,
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<ReplayFilter, Refusal> {
    filter_of(ingress, words(query, body)?)
}

/// A replay's words: the query string's, each overridden by the JSON body's.
fn words(query: &BTreeMap<String, String>, body: &[u8]) -> Result<ReplayRequest, Refusal> {
    let q = |k: &str| query.get(k).cloned();
    let words = ReplayRequest {
        subscription: q("subscription"),
        since: q("since"),
        event: q("event"),
        from: q("from"),
        to: q("to"),
        status: q("status"),
        event_type: q("eventType"),
        dry_run: q("dryRun").map(|v| v == "true" || v == "1"),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(words);
    }
    let body: ReplayRequest = serde_json::from_slice(body).map_err(|e| {
        Refusal::BadRequest(format!(
            "body must be JSON like {{\"subscription\": \"id\", \"since\": \"2h\"}}: {e}"
        ))
    })?;
    Ok(ReplayRequest {
        subscription: body.subscription.or(words.subscription),
        since: body.since.or(words.since),
        event: body.event.or(words.event),
        from: body.from.or(words.from),
        to: body.to.or(words.to),
        status: body.status.or(words.status),
        event_type: body.event_type.or(words.event_type),
        dry_run: body.dry_run.or(words.dry_run),
    })
}

fn filter_of(ingress: &Ingress, words: ReplayRequest) -> Result<ReplayFilter, Refusal> {
    let now = ingress.clock.now();
    let since = words.since.or(words.from);
    let mut filter = ReplayFilter::parse(words.subscription.as_deref(), since.as_deref(), now)
        .and_then(|f| {
            f.narrowed(
                words.to.as_deref(),
                words.status.as_deref(),
                words.event_type.as_deref(),
                now,
            )
        })
        .map_err(|e| Refusal::BadRequest(e.to_string()))?;
    filter.event = words.event.filter(|e| !e.is_empty());
    Ok(filter)
}
