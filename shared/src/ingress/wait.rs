//! The answer back to the caller: a hook sent with `Prefer: wait=N`
//! (RFC 7240) or `?wait=N` is answered once its event settles (`done` or
//! `failed`), with the agent's answer or the text sent, if that happens
//! within `min(N, incoming.maxWait)` of its arrival; otherwise it gets the
//! usual 202 and finds the outcome at `/events/<id>`.
//!
//! Waiting costs the handler nothing: in one process (embedded backend) the
//! handler stage wakes the waiter ([`crate::settled`]) and the record is
//! read once when woken and once at the deadline; on Lambda the handler is
//! another process, so the status record is read with backoff.

use super::Ingress;
use crate::config::validate::{RenderError, TemplateField};
use crate::config::{CompiledConfig, Handler, Seconds};
use crate::event::{EventRecord, EventStatus};
use crate::settled::Settled;
use http::HeaderMap;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// The first pause between reads of the status record on Lambda; it
/// doubles up to [`POLL_CAP`].
pub const POLL_START: Duration = Duration::from_millis(50);
pub const POLL_CAP: Duration = Duration::from_millis(800);

/// The seconds a caller asks to wait: the `wait` preference of `Prefer`
/// (any of its values, any case, quoted or not), else `?wait=N`. A value
/// that is not a number is ignored, as RFC 7240 asks of a preference not
/// understood.
pub fn requested(headers: &HeaderMap, query: Option<&str>) -> Option<u64> {
    let from_header = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(wait_preference);
    from_header.or_else(|| {
        form_urlencoded::parse(query?.as_bytes())
            .find(|(k, _)| k == "wait")
            .and_then(|(_, v)| v.trim().parse().ok())
    })
}

/// `wait=10` (with parameters after `;` ignored) as 10.
fn wait_preference(preference: &str) -> Option<u64> {
    let token = preference.split(';').next()?;
    let (name, value) = token.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("wait") {
        return None;
    }
    value.trim().trim_matches('"').parse().ok()
}

/// The wait granted: what was asked, at most `maxWait`.
pub fn granted(asked: u64, max_wait: Seconds) -> Duration {
    Duration::from_secs(asked.min(max_wait.0))
}

/// The wait for a hook to `handler`: what the caller asked
/// ([`requested`]), else the handler's `respond` (its `timeout`, or
/// `maxWait`), capped by `maxWait`; `None` when neither asks for one.
pub fn wanted(
    asked: Option<u64>,
    handler: Option<&Handler>,
    max_wait: Seconds,
) -> Option<Duration> {
    let by_route = || {
        let respond = handler?.respond.as_ref().filter(|r| r.waits())?;
        Some(respond.timeout.unwrap_or(max_wait).0)
    };
    asked
        .or_else(by_route)
        .map(|asked| granted(asked, max_wait))
}

/// The body of a settled hook's 200 from its handler's `respond.template`
/// over `reply`, `result` and `event` (the hook's body as templates see
/// it), escaped for markup under an XML or HTML content type; `None`
/// without a template.
pub fn shaped(
    config: &CompiledConfig,
    handler: &Handler,
    record: &EventRecord,
    event: Value,
) -> Option<Result<(String, String), RenderError>> {
    let respond = handler.respond.as_ref()?;
    if !config.has_template(&handler.id, TemplateField::Respond) {
        return None;
    }
    let mut data = serde_json::json!({
        "reply": reply(record),
        "result": record.result,
        "event": event,
        "eventId": record.event_id,
        "status": record.status,
    });
    if respond.is_markup() {
        escape_markup(&mut data);
    }
    let body = config.render(&handler.id, TemplateField::Respond, &data);
    Some(body.map(|b| (respond.content_type().to_string(), b)))
}

fn escape_markup(value: &mut Value) {
    match value {
        Value::String(s) => *s = handlebars::html_escape(s),
        Value::Array(items) => items.iter_mut().for_each(escape_markup),
        Value::Object(map) => map.values_mut().for_each(escape_markup),
        _ => {}
    }
}

/// What went back to the caller as its reply: the agent's answer, a custom
/// function's text, or for `send_message` the text sent.
pub fn reply(record: &EventRecord) -> Option<String> {
    let result = record.result.as_ref();
    let field = |k: &str| result.and_then(|r| r.get(k)).and_then(Value::as_str);
    if let Some(text) = field("answer").or_else(|| field("text")) {
        return Some(text.to_string());
    }
    let sent = result.is_some_and(|r| r.get("messageIds").is_some());
    sent.then(|| record.rendered.clone()).flatten()
}

fn settled(record: &EventRecord) -> bool {
    matches!(
        record.status,
        EventStatus::Done | EventStatus::Failed | EventStatus::Skipped
    )
}

impl Ingress {
    /// The event's record once it settles, or `None` at `deadline` (or if
    /// the store cannot be read: the hook is kept either way, and the
    /// caller's 202 says where to look).
    pub async fn settled(&self, event_id: &str, deadline: Instant) -> Option<EventRecord> {
        match &self.backend.settled {
            Some(settled) => self.woken(settled, event_id, deadline).await,
            None => self.polled(event_id, deadline).await,
        }
    }

    /// In one process: read, sleep until the handler says the event
    /// settled or the deadline passes, read again.
    async fn woken(
        &self,
        settled: &Settled,
        event_id: &str,
        deadline: Instant,
    ) -> Option<EventRecord> {
        let watch = settled.watch(event_id);
        let notified = watch.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(record) = self.final_record(event_id).await {
            return Some(record);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            tracing::debug!(event_id, "not settled within the wait");
        }
        self.final_record(event_id).await
    }

    /// Across processes: read with a pause doubling from [`POLL_START`]
    /// to [`POLL_CAP`], the last read at the deadline.
    async fn polled(&self, event_id: &str, deadline: Instant) -> Option<EventRecord> {
        let mut pause = POLL_START;
        loop {
            if let Some(record) = self.final_record(event_id).await {
                return Some(record);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            tokio::time::sleep_until((now + pause).min(deadline)).await;
            pause = (pause * 2).min(POLL_CAP);
        }
    }

    async fn final_record(&self, event_id: &str) -> Option<EventRecord> {
        let now = self.clock.now().timestamp();
        match crate::handler::status::load(self.backend.store.as_ref(), event_id, now).await {
            Ok(record) => record.filter(settled),
            Err(e) => {
                tracing::warn!(event_id, error = %e, "could not read the event while a caller waits");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn prefer(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("prefer", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_wait_preference_is_read_as_rfc_7240_writes_it() {
        assert_eq!(requested(&prefer(&["wait=10"]), None), Some(10));
        assert_eq!(
            requested(&prefer(&["respond-async, Wait = \"7\""]), None),
            Some(7)
        );
        assert_eq!(
            requested(&prefer(&["handling=lenient", "wait=3; x=y"]), None),
            Some(3)
        );
        assert_eq!(requested(&prefer(&["wait=soon"]), None), None);
        assert_eq!(requested(&prefer(&["return=minimal"]), None), None);
        assert_eq!(requested(&HeaderMap::new(), Some("a=1&wait=4")), Some(4));
        assert_eq!(requested(&prefer(&["wait=2"]), Some("wait=9")), Some(2));
        assert_eq!(requested(&HeaderMap::new(), Some("a=1")), None);
    }

    #[test]
    fn the_wait_is_capped_by_max_wait() {
        assert_eq!(granted(10, Seconds(25)), Duration::from_secs(10));
        assert_eq!(granted(600, Seconds(25)), Duration::from_secs(25));
    }

    #[test]
    fn a_max_wait_past_api_gateways_timeout_is_a_load_error_naming_it() {
        let err =
            crate::config::load_str(r#"{"webhooks":{"incoming":{"maxWait":"30s"}}}"#, &|_| None)
                .map(|_| ())
                .expect_err("30 s is refused")
                .to_string();
        assert!(err.contains("webhooks.incoming.maxWait"), "{err}");
        let ok =
            crate::config::load_str(r#"{"webhooks":{"incoming":{"maxWait":"10s"}}}"#, &|_| None);
        assert_eq!(
            ok.expect("10 s loads").config.webhooks.incoming.max_wait,
            Seconds(10)
        );
    }

    fn record(result: Value, rendered: Option<&str>) -> EventRecord {
        serde_json::from_value(serde_json::json!({
            "eventId": "e", "status": "done", "hookId": "h", "sessionKey": "s",
            "receivedAt": "", "updatedAt": "", "result": result, "rendered": rendered,
        }))
        .unwrap()
    }

    #[test]
    fn the_reply_is_the_answer_the_text_or_what_was_sent() {
        let agent = record(
            serde_json::json!({"agent": "a", "answer": "42"}),
            Some("q?"),
        );
        assert_eq!(reply(&agent).as_deref(), Some("42"));
        let custom = record(serde_json::json!({"text": "t", "data": null}), None);
        assert_eq!(reply(&custom).as_deref(), Some("t"));
        let sent = record(serde_json::json!({"messageIds": ["1"]}), Some("hello"));
        assert_eq!(reply(&sent).as_deref(), Some("hello"));
        let forwarded = record(serde_json::json!({"status": 200}), Some("body"));
        assert_eq!(reply(&forwarded), None);
    }
}
