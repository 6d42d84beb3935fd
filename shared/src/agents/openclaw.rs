//! An OpenClaw / Clawdbot gateway: `POST {url}/hooks/agent` with the hook
//! token as a bearer, `message`, `name`, and the gateway `sessionKey` (ours,
//! passed through, so successive hooks of a persistent session continue one
//! conversation there too).
//!
//! The gateway usually accepts the run (`{"ok": true, "runId": …}`) and
//! delivers the answer through its own channels; when it does answer in
//! the response (`reply`, `response`, `answer`, `text` or `output`), that
//! answer becomes our `agent_response`.

use super::{default_timeout_ms, json_post, Call, Endpoint, Provider, Reply, Unreadable};
use crate::ports::{HttpRequest, HttpResponse};
use crate::secret::{Secret, TokenUrl};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// An OpenClaw / Clawdbot gateway.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The gateway's URL.
    pub url: TokenUrl,
    /// The gateway's hook token, sent as a bearer token.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The gateway's agent to route the run to (`agentId` in its
    /// `/hooks/agent` body); the gateway's default agent when absent.
    #[serde(default)]
    pub remote_agent_id: Option<String>,
    /// Whether the gateway delivers the answer to its own channels
    /// (`deliver`); left to the gateway's default when absent.
    #[serde(default)]
    pub deliver: Option<bool>,
    /// The model the gateway should use; its own default when absent.
    #[serde(default)]
    pub model: Option<String>,
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
        let mut body = json!({
            "message": call.prompt,
            "name": call.name,
            "sessionKey": call.session_key,
            "wakeMode": "now",
        });
        if let Some(agent) = &self.remote_agent_id {
            body["agentId"] = json!(agent);
        }
        if let Some(deliver) = self.deliver {
            body["deliver"] = json!(deliver);
        }
        if let Some(model) = &self.model {
            body["model"] = json!(model);
        }
        json_post(self.endpoint(), "/hooks/agent", &body)
    }

    fn reply(&self, resp: &HttpResponse) -> Result<Reply, Unreadable> {
        let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        let answer = ["reply", "response", "answer", "text", "output"]
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_str))
            .map(str::to_string);
        let detail = match body {
            Value::Object(_) => body,
            _ => json!({ "status": resp.status }),
        };
        Ok(Reply { answer, detail })
    }
}
