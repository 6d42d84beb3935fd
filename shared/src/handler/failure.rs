//! How a step of the handler failed, and whether trying again can help.
//!
//! The split decides everything downstream: a transient failure leaves the
//! message to the queue (redelivered, dead-lettered after
//! `maxReceiveCount`); a permanent one is recorded, announced with an
//! `error` event, and the message is deleted so it never loops.

use crate::ports::{Clock, HttpRequest, HttpResponse, HttpSender, SendError, StoreError};
use crate::protocol::retry_after;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// Timeouts, connection failures, 5xx, 429, store hiccups.
    #[error("{stage}: {message}")]
    Transient {
        stage: &'static str,
        message: String,
        /// What the service asked for (429 `Retry-After`).
        retry_after: Option<Duration>,
    },
    /// 4xx, unknown agent or channel, templates that do not render.
    #[error("{stage}: {message}")]
    Permanent {
        stage: &'static str,
        message: String,
    },
}

impl ActionError {
    pub fn permanent(stage: &'static str, message: impl Into<String>) -> Self {
        ActionError::Permanent {
            stage,
            message: message.into(),
        }
    }

    pub fn transient(stage: &'static str, message: impl Into<String>) -> Self {
        ActionError::Transient {
            stage,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn stage(&self) -> &'static str {
        match self {
            ActionError::Transient { stage, .. } | ActionError::Permanent { stage, .. } => stage,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ActionError::Transient { message, .. } | ActionError::Permanent { message, .. } => {
                message
            }
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, ActionError::Transient { .. })
    }

    /// A failed send, permanent or not as [`SendError::is_permanent`] says.
    pub fn from_send(stage: &'static str, e: SendError) -> Self {
        if e.is_permanent() {
            Self::permanent(stage, e.to_string())
        } else {
            Self::transient(stage, e.to_string())
        }
    }

    pub fn from_store(e: StoreError) -> Self {
        Self::transient("handler", e.to_string())
    }

    /// A response that is not a success: 408, 425, 429 and 5xx are worth
    /// another try, any other status is the service saying no.
    pub fn from_status(
        stage: &'static str,
        what: &str,
        resp: &HttpResponse,
        now: DateTime<Utc>,
    ) -> Self {
        let excerpt = body_excerpt(&resp.body);
        let message = if excerpt.is_empty() {
            format!("{what} answered {}", resp.status)
        } else {
            format!("{what} answered {}: {excerpt}", resp.status)
        };
        match resp.status {
            408 | 425 | 429 | 500..=599 => ActionError::Transient {
                stage,
                message,
                retry_after: retry_after(resp, now),
            },
            _ => ActionError::Permanent { stage, message },
        }
    }
}

/// Sends a request and turns anything but a 2xx into an [`ActionError`]
/// (`what` names the service in the message, never its URL: URLs carry
/// tokens).
pub async fn send_checked(
    http: &dyn HttpSender,
    clock: &dyn Clock,
    stage: &'static str,
    what: &str,
    req: HttpRequest,
) -> Result<HttpResponse, ActionError> {
    let resp = http
        .send(req)
        .await
        .map_err(|e| ActionError::from_send(stage, e))?;
    if (200..300).contains(&resp.status) {
        Ok(resp)
    } else {
        Err(ActionError::from_status(stage, what, &resp, clock.now()))
    }
}

/// The first 200 characters of a response body, on one line: enough to
/// tell `channel_not_found` from `invalid_auth` in a status record.
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The wait a rate-limited service asks for: the `Retry-After` header,
/// else the JSON body's (see [`crate::protocol::retry_after`]).
pub fn retry_after(resp: &HttpResponse, now: DateTime<Utc>) -> Option<Duration> {
    let header = resp.headers.get("retry-after");
    header
        .and_then(|v| retry_after::from_header(v, now))
        .or_else(|| retry_after::from_body(&resp.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            body: body.as_bytes().to_vec(),
            latency: Duration::ZERO,
        }
    }

    #[test]
    fn statuses_split_into_transient_and_permanent() {
        let now = Utc::now();
        for s in [408, 429, 500, 502, 503] {
            assert!(
                ActionError::from_status("channel", "x", &resp(s, &[], ""), now).is_transient(),
                "{s}"
            );
        }
        for s in [301, 400, 401, 403, 404, 422] {
            assert!(
                !ActionError::from_status("channel", "x", &resp(s, &[], ""), now).is_transient(),
                "{s}"
            );
        }
    }

    #[test]
    fn retry_after_from_header_date_and_bodies() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            retry_after(&resp(429, &[("retry-after", "7")], ""), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                &resp(429, &[("retry-after", "Thu, 01 Jan 2026 00:00:30 GMT")], ""),
                now
            ),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&resp(429, &[], r#"{"retry_after": 1.5}"#), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(
                &resp(429, &[], r#"{"ok":false,"parameters":{"retry_after":12}}"#),
                now
            ),
            Some(Duration::from_secs(12))
        );
        assert_eq!(retry_after(&resp(429, &[], "slow down"), now), None);
    }

    #[test]
    fn failed_sends_split_as_the_send_error_says() {
        let timeout = ActionError::from_send("agent", SendError::Timeout(Duration::from_secs(1)));
        let connect = ActionError::from_send("agent", SendError::Connect("reset".into()));
        let refused = ActionError::from_send("agent", SendError::Refused("10.0.0.1".into()));
        let invalid = ActionError::from_send("agent", SendError::Invalid("no host".into()));
        assert!(timeout.is_transient() && connect.is_transient());
        assert!(!refused.is_transient() && !invalid.is_transient());
    }
}
