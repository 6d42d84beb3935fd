//! `forward`: the hook to another endpoint: `forward.url` with
//! `forward.method`, the chosen incoming headers passed through
//! (`passHeaders`) and others set (`headers`), the body as received or
//! `bodyTemplate` rendered, and optionally signed (Standard Webhooks) with
//! `forward.secret`.

use super::Run;
use crate::config::validate::TemplateField;
use crate::config::Forward;
use crate::event::{Body, InboundEvent};
use crate::handler::failure::{body_excerpt, send_checked, ActionError};
use crate::handler::status::Status;
use crate::ports::HttpRequest;
use crate::protocol::standard_webhooks;
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;

pub async fn run(run: &Run<'_>, status: &mut Status, f: &Forward) -> Result<Value, ActionError> {
    if let Some(done) = &status.progress.action_result {
        return Ok(done.clone());
    }
    let stage = run.stage;
    let rendered = if stage
        .config
        .has_template(&run.handler.id, TemplateField::ForwardBody)
    {
        Some(
            stage
                .config
                .render(
                    &run.handler.id,
                    TemplateField::ForwardBody,
                    &run.prepared.context,
                )
                .map_err(|e| ActionError::permanent("template", e.to_string()))?,
        )
    } else {
        None
    };
    let req = request(f, run.ev, rendered, stage.clock.now().timestamp())?;
    let resp = send_checked(
        stage.http.as_ref(),
        stage.clock.as_ref(),
        "forward",
        "the forward target",
        req,
    )
    .await?;
    let result = json!({ "status": resp.status, "response": body_excerpt(&resp.body) });
    status.progress.action_result = Some(result.clone());
    Ok(result)
}

/// The forwarded request (pure): `rendered` is the body template's output.
pub fn request(
    f: &Forward,
    ev: &InboundEvent,
    rendered: Option<String>,
    now_unix: i64,
) -> Result<HttpRequest, ActionError> {
    let (body, content_type) = match rendered {
        Some(text) => {
            let ct = if serde_json::from_str::<Value>(&text).is_ok() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            (text.into_bytes(), Some(ct.to_string()))
        }
        None => (raw_body(&ev.body)?, ev.content_type.clone()),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for name in &f.pass_headers {
        let lower = name.to_ascii_lowercase();
        if let Some(v) = ev.headers.get(&lower) {
            headers.push((lower, v.clone()));
        }
    }
    if let Some(ct) = content_type {
        set(&mut headers, "content-type", ct);
    }
    for (k, v) in &f.headers {
        set(
            &mut headers,
            &k.to_ascii_lowercase(),
            v.expose().to_string(),
        );
    }
    if let Some(secret) = &f.secret {
        // Checked at load; a config built in code that skipped it still
        // never signs with a key the receiver does not expect.
        let key = standard_webhooks::key(secret.expose())
            .map_err(|e| ActionError::permanent("forward", format!("forward.secret: {e}")))?;
        let signature = standard_webhooks::sign(&key, &ev.event_id, now_unix, &body);
        let signed = standard_webhooks::identity(&ev.event_id, now_unix)
            .into_iter()
            .chain([(standard_webhooks::SIGNATURE, signature)]);
        for (k, v) in signed {
            set(&mut headers, k, v);
        }
    }
    Ok(HttpRequest {
        method: f.method.clone(),
        url: f.url.as_str().to_string(),
        headers,
        body,
        timeout: Duration::from_millis(f.timeout_ms),
    })
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.retain(|(k, _)| k != name);
    headers.push((name.to_string(), value));
}

/// The body as it was posted.
fn raw_body(body: &Body) -> Result<Vec<u8>, ActionError> {
    Ok(match body {
        Body::Json(t) | Body::Text(t) => t.clone().into_bytes(),
        Body::Form(m) => form_urlencoded::Serializer::new(String::new())
            .extend_pairs(m.iter())
            .finish()
            .into_bytes(),
        Body::Binary(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| {
                ActionError::permanent("forward", format!("stored body is not base64: {e}"))
            })?,
        Body::Empty => Vec::new(),
    })
}
