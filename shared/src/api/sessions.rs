//! `GET /sessions/<key>` shows a session record; `DELETE /sessions/<key>`
//! ends it now, emitting `session_ended` (reason `closed`). The key is the
//! rest of the path, percent-decoded (`hook:…`, `gh-repo`, or keys with `/`).

use crate::handler::session::{self, Closed, When};
use crate::ingress::{Ingress, IngressRequest, IngressResponse};
use http::{Method, StatusCode};
use serde_json::json;

pub async fn route(
    ingress: &Ingress,
    req: &IngressRequest,
    segments: &[&str],
) -> Option<IngressResponse> {
    let ["sessions", rest @ ..] = segments else {
        return None;
    };
    if rest.is_empty() {
        return None;
    }
    let Some(key) = percent_decode(&rest.join("/")) else {
        return Some(IngressResponse::error(
            StatusCode::BAD_REQUEST,
            "the session key in the path is not valid percent-encoded UTF-8",
        ));
    };
    let store = ingress.backend.store.as_ref();
    let now = ingress.clock.now();
    let unavailable = |e: session::SessionError| {
        tracing::error!(error = %e, "session route failed");
        IngressResponse::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "sessions are temporarily unavailable; retry",
        )
    };
    let not_found = || IngressResponse::error(StatusCode::NOT_FOUND, format!("no session {key:?}"));
    Some(match req.method {
        Method::GET => match session::get(store, &key, now.timestamp()).await {
            Ok(Some((s, _))) => {
                IngressResponse::json(StatusCode::OK, json!({ "ok": true, "session": s }))
            }
            Ok(None) => not_found(),
            Err(e) => unavailable(e),
        },
        Method::DELETE => {
            let events = ingress.backend.events_queue.as_ref();
            match session::close(store, events, &key, "closed", When::Always, now).await {
                Ok(Closed::Ended(s)) => IngressResponse::json(
                    StatusCode::OK,
                    json!({ "ok": true, "session": key, "ended": s.ended }),
                ),
                Ok(Closed::AlreadyEnded(s)) => IngressResponse::json(
                    StatusCode::OK,
                    json!({ "ok": true, "session": key, "ended": s.ended, "alreadyEnded": true }),
                ),
                Ok(Closed::Absent | Closed::Active) => not_found(),
                Err(e) => unavailable(e),
            }
        }
        _ => IngressResponse::error(StatusCode::METHOD_NOT_ALLOWED, "use GET or DELETE")
            .header("allow", "GET, DELETE"),
    })
}

/// `%3A` → `:`; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_escapes_and_refuses_broken_ones() {
        assert_eq!(percent_decode("hook%3Aabc").as_deref(), Some("hook:abc"));
        assert_eq!(percent_decode("gh-repo").as_deref(), Some("gh-repo"));
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
