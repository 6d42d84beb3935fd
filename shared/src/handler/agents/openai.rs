//! Any OpenAI-compatible `POST {url}/chat/completions` (OpenAI, vLLM,
//! Ollama, llama.cpp, LiteLLM…): the system prompt, the session's last
//! `history` messages, then the hook's text as the user's turn.

use super::{base, Call, Reply};
use crate::config::Agent;
use crate::handler::failure::{body_excerpt, ActionError};
use crate::handler::session::Role;
use crate::ports::{HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::time::Duration;

pub fn request(cfg: &Agent, call: &Call<'_>) -> Result<HttpRequest, ActionError> {
    let model = cfg.model.as_deref().ok_or_else(|| {
        ActionError::permanent(
            "agent",
            format!(
                "agent {:?} has no model (webhooks.agents.{}.model)",
                call.agent_id, call.agent_id
            ),
        )
    })?;
    let mut messages = Vec::new();
    if let Some(system) = &cfg.system_prompt {
        messages.push(json!({ "role": "system", "content": system }));
    }
    let skip = call.history.len().saturating_sub(cfg.history);
    for h in &call.history[skip..] {
        let role = match h.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        messages.push(json!({ "role": role, "content": h.text }));
    }
    messages.push(json!({ "role": "user", "content": call.prompt }));
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(key) = &cfg.api_key {
        headers.push(("authorization".into(), format!("Bearer {}", key.expose())));
    }
    Ok(HttpRequest {
        method: "POST".into(),
        url: format!("{}/chat/completions", base(cfg)),
        headers,
        body: serde_json::to_vec(&json!({ "model": model, "messages": messages }))
            .expect("json serializes"),
        timeout: Duration::from_millis(cfg.timeout_ms),
    })
}

pub fn reply(resp: &HttpResponse) -> Result<Reply, ActionError> {
    let body: Value = serde_json::from_slice(&resp.body).map_err(|_| {
        ActionError::permanent(
            "agent",
            format!("chat completion is not JSON: {}", body_excerpt(&resp.body)),
        )
    })?;
    let answer = body
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ActionError::permanent("agent", "chat completion has no choices[0].message.content")
        })?;
    let mut detail = json!({});
    for key in ["id", "model", "usage"] {
        if let Some(v) = body.get(key) {
            detail[key] = v.clone();
        }
    }
    Ok(Reply {
        // An empty answer is no answer: nothing to announce or post.
        answer: Some(answer.to_string()).filter(|a| !a.trim().is_empty()),
        detail,
    })
}
