//! Which request headers reach the stored event, and with it templates,
//! `forward.passHeaders` and the status pages: all of them except those
//! carrying credentials. A stored event outlives the request by days (in
//! the queues, the dead-letter queues, the status records), so a caller's
//! API key must not ride along.

use crate::config::Incoming;
use http::HeaderMap;
use std::collections::BTreeMap;

/// The headers an event keeps: names lower-cased, repeated headers joined
/// with `, `, credentials dropped.
pub fn kept(headers: &HeaderMap, incoming: &Incoming) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if incoming.strips(n) {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(n.to_string())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn incoming(doc: serde_json::Value) -> Incoming {
        serde_json::from_value(doc).unwrap()
    }

    fn request_headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn credentials_go_and_signatures_stay() {
        let inc = incoming(serde_json::json!({
            "secretHeader": "X-Hook-Key", "stripHeaders": ["X-Tenant-Token"]
        }));
        let h = request_headers(&[
            ("x-api-key", "k"),
            ("x-gitlab-token", "g"),
            ("authorization", "Bearer b"),
            ("x-hook-key", "s"),
            ("x-tenant-token", "t"),
            ("x-webhook-secret", "w"),
            ("x-hub-signature-256", "sha256=abc"),
            ("stripe-signature", "t=1,v1=abc"),
            ("x-github-event", "push"),
            ("accept", "a"),
            ("accept", "b"),
        ]);
        assert_eq!(
            kept(&h, &inc).into_iter().collect::<Vec<_>>(),
            [
                ("accept", "a, b"),
                ("stripe-signature", "t=1,v1=abc"),
                ("x-github-event", "push"),
                ("x-hub-signature-256", "sha256=abc"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }
}
