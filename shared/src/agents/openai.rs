//! Any OpenAI-compatible `POST {url}/chat/completions` (OpenAI, vLLM,
//! Ollama, llama.cpp, LiteLLM…): the system prompt, the session's last
//! `history` messages, then the hook's text as the user's turn.

use super::{
    default_history, default_timeout_ms, json_post, Call, Endpoint, Provider, Reply, Role,
    Unreadable,
};
use crate::ports::{HttpRequest, HttpResponse};
use crate::secret::{Secret, TokenUrl};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// An OpenAI-compatible chat-completions endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The chat-completions base URL (`…/v1`).
    pub url: TokenUrl,
    /// The model to ask.
    pub model: String,
    /// The API key, sent as a bearer token.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The system message.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// How many earlier messages of the session are sent along.
    #[serde(default = "default_history")]
    pub history: usize,
    /// How long one request may take.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl Provider for Config {
    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            url: self.url.as_str(),
            api_key: self.api_key.as_ref(),
            timeout_ms: self.timeout_ms,
        }
    }

    fn request(&self, call: &Call<'_>) -> HttpRequest {
        let mut messages = Vec::new();
        if let Some(system) = &self.system_prompt {
            messages.push(json!({ "role": "system", "content": system }));
        }
        let skip = call.history.len().saturating_sub(self.history);
        for h in &call.history[skip..] {
            let role = match h.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            messages.push(json!({ "role": role, "content": h.text }));
        }
        messages.push(json!({ "role": "user", "content": call.prompt }));
        let body = json!({ "model": self.model, "messages": messages });
        json_post(self.endpoint(), "/chat/completions", &body)
    }

    fn reply(&self, resp: &HttpResponse) -> Result<Reply, Unreadable> {
        let body: Value = serde_json::from_slice(&resp.body).map_err(|_| Unreadable {
            message: "chat completion is not JSON".into(),
            quote_body: true,
        })?;
        let answer = body
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| Unreadable {
                message: "chat completion has no choices[0].message.content".into(),
                quote_body: false,
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
}
