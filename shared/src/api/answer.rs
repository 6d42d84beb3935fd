//! The one place a [`Refusal`] becomes an HTTP answer, and the shape of
//! every successful admin answer (`{"ok": true, …}`).

use crate::refusal::Refusal;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        for (name, value) in self.headers() {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// `200 {"ok": true, …fields}`: `fields` is a JSON object.
pub fn ok(mut fields: Value) -> Json<Value> {
    if let Some(map) = fields.as_object_mut() {
        map.insert("ok".into(), Value::Bool(true));
    }
    Json(fields)
}
