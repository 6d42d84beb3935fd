//! Why a request is refused: one variant per row of the status tables in
//! docs/http-api.md and docs/security.md, so every route says *what* went wrong and the HTTP layer
//! decides how that looks on the wire: status and `Retry-After` / `Allow`
//! here, the `{"ok": false, "error": …}` body in `api::answer`.

use http::StatusCode;

/// Seconds a sender is asked to wait after a 503: long enough for a
/// backend hiccup to pass, short enough for senders that honour it.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: malformed JSON, a secret in the query string, a template that
    /// cannot render, a bad query parameter.
    #[error("{0}")]
    BadRequest(String),
    /// 401: one message for every cause (no secret, a wrong one, a
    /// signature that does not check out), naming the header to use, so a
    /// prober learns nothing of which hooks exist. The log names the cause.
    #[error("authentication failed: send the secret in the {header} header (or as Authorization: Bearer <secret>), or the provider's signature")]
    Unauthenticated { header: String },
    /// 401 on an admin route or the console: no admin secret, or a wrong
    /// one. Hook secrets never count here.
    #[error("admin authentication failed: send webhooks.admin.secret as Authorization: Bearer <secret> (hook secrets do not open admin routes)")]
    AdminUnauthenticated,
    /// 403: the source address is not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such hook, route, event or session.
    #[error("{0}")]
    NotFound(String),
    /// 405, with `Allow`.
    #[error("use {allow}")]
    MethodNotAllowed { allow: &'static str },
    /// 408: the body took too long to arrive.
    #[error("the body took too long to arrive")]
    BodyTimeout,
    /// 413: the body is over `incoming.maxBodyBytes` (or a queue's limit).
    #[error("{0}")]
    TooLarge(String),
    /// 429, with `Retry-After`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 503, with `Retry-After: 5`: the queue or store failed or was too
    /// slow. For a hook, it may still be handled.
    #[error("{0}")]
    Unavailable(String),
    /// 501: this backend cannot do what was asked; the message says what
    /// to do instead.
    #[error("{0}")]
    NotImplemented(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Unauthenticated { .. } | Refusal::AdminUnauthenticated => {
                StatusCode::UNAUTHORIZED
            }
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// The headers that go with the status: `Retry-After` on 429 and 503,
    /// `Allow` on 405.
    pub fn headers(&self) -> Vec<(http::HeaderName, String)> {
        match self {
            Refusal::TooManyRequests {
                retry_after_secs, ..
            } => vec![(http::header::RETRY_AFTER, retry_after_secs.to_string())],
            Refusal::Unavailable(_) => vec![(
                http::header::RETRY_AFTER,
                UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
            )],
            Refusal::AdminUnauthenticated => vec![(
                http::header::WWW_AUTHENTICATE,
                "Bearer realm=\"clawhooks admin\"".to_string(),
            )],
            Refusal::MethodNotAllowed { allow } => {
                vec![(http::header::ALLOW, (*allow).to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// The backend failed on an admin route: the cause goes to the log
    /// (it may name queues and tables), the caller gets a 503.
    pub fn backend(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what} failed");
        Refusal::Unavailable(format!(
            "{what}: the backend is temporarily unavailable; retry"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_status_and_headers() {
        let r = Refusal::TooManyRequests {
            message: "slow down".into(),
            retry_after_secs: 12,
        };
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers(), vec![(http::header::RETRY_AFTER, "12".into())]);
        assert_eq!(r.to_string(), "slow down");
        let r = Refusal::Unavailable("queue down".into());
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[0].1, "5");
        let r = Refusal::MethodNotAllowed { allow: "GET" };
        assert_eq!(r.headers(), vec![(http::header::ALLOW, "GET".into())]);
        assert_eq!(r.to_string(), "use GET");
        let r = Refusal::Unauthenticated {
            header: "X-Webhook-Secret".into(),
        };
        assert!(r.to_string().contains("X-Webhook-Secret header"));
    }
}
