//! Classifying a posted body: JSON is checked to parse (and refused with
//! the parser's words if it does not), forms become objects, other text is
//! kept as text.

use crate::event::Body;
use base64::Engine;
use serde_json::Value;

pub fn classify(content_type: Option<&str>, bytes: &[u8]) -> Result<(Body, Value), String> {
    if bytes.is_empty() {
        return Ok((Body::Empty, Value::Null));
    }
    let mime = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let is_json = mime == "application/json" || mime.ends_with("+json") || mime == "text/json";
    // Senders that omit Content-Type (curl -d without -H) usually post JSON.
    let looks_json = mime.is_empty() && matches!(first_non_space(bytes), Some(b'{') | Some(b'['));
    if is_json || looks_json {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| "malformed JSON body: not valid UTF-8".to_string())?;
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("malformed JSON body: {e}"))?;
        return Ok((Body::Json(text.to_string()), value));
    }
    if mime == "application/x-www-form-urlencoded" {
        let map: std::collections::BTreeMap<String, String> =
            form_urlencoded::parse(bytes).into_owned().collect();
        let value = serde_json::to_value(&map).unwrap_or_default();
        return Ok((Body::Form(map), value));
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok((Body::Text(t.to_string()), Value::String(t.to_string()))),
        Err(_) => {
            let b = base64::engine::general_purpose::STANDARD.encode(bytes);
            Ok((Body::Binary(b.clone()), Value::String(b)))
        }
    }
}

fn first_non_space(b: &[u8]) -> Option<u8> {
    b.iter().copied().find(|c| !c.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_text() {
        let (b, v) = classify(Some("application/json; charset=utf-8"), br#"{"a":1}"#).unwrap();
        assert_eq!(b, Body::Json(r#"{"a":1}"#.into()));
        assert_eq!(v["a"], 1);
        let err = classify(Some("application/json"), b"{\"a\":").unwrap_err();
        assert!(
            err.starts_with("malformed JSON body: EOF while parsing"),
            "{err}"
        );
        let (_, v) = classify(Some("application/x-www-form-urlencoded"), b"a=1&b=x+y").unwrap();
        assert_eq!(v, serde_json::json!({"a":"1","b":"x y"}));
        let (b, _) = classify(Some("text/plain"), b"hello").unwrap();
        assert_eq!(b, Body::Text("hello".into()));
        let (b, _) = classify(None, b" {\"x\":true}").unwrap();
        assert!(matches!(b, Body::Json(_)));
    }
}
