//! An OpenClaw / Clawdbot gateway: `POST {url}/hooks/agent` with the hook
//! token as a bearer, `message`, `name`, and the gateway `sessionKey` (ours,
//! passed through, so successive hooks of a persistent session continue one
//! conversation there too).
//!
//! The gateway usually accepts the run (`{"ok": true, "runId": …}`) and
//! delivers the answer through its own channels; when it does answer in
//! the response (`reply`, `response`, `answer`, `text` or `output`), that
//! answer becomes our `agent_response`.

use super::{base, Call, Reply};
use crate::config::Agent;
use crate::ports::{HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::time::Duration;

pub fn request(cfg: &Agent, call: &Call<'_>) -> HttpRequest {
    let mut body = json!({
        "message": call.prompt,
        "name": call.name,
        "sessionKey": call.session_key,
        "wakeMode": "now",
    });
    if let Some(agent) = &cfg.remote_agent_id {
        body["agentId"] = json!(agent);
    }
    if let Some(deliver) = cfg.deliver {
        body["deliver"] = json!(deliver);
    }
    if let Some(model) = &cfg.model {
        body["model"] = json!(model);
    }
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(token) = &cfg.api_key {
        headers.push(("authorization".into(), format!("Bearer {}", token.expose())));
    }
    HttpRequest {
        method: "POST".into(),
        url: format!("{}/hooks/agent", base(cfg)),
        headers,
        body: serde_json::to_vec(&body).expect("json serializes"),
        timeout: Duration::from_millis(cfg.timeout_ms),
    }
}

pub fn reply(resp: &HttpResponse) -> Reply {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let answer = ["reply", "response", "answer", "text", "output"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .map(str::to_string);
    let detail = match body {
        Value::Object(_) => body,
        _ => json!({ "status": resp.status }),
    };
    Reply { answer, detail }
}
