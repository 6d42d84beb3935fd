//! The one place a [`Refusal`] becomes an HTTP answer.

use super::bodies::RefusalBody;
use crate::refusal::Refusal;
use axum::response::{IntoResponse, Response};
use axum::Json;

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = RefusalBody {
            ok: false,
            error: self.to_string(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        for (name, value) in self.headers() {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}
