//! Agent providers for `run_agent`, configured under `webhooks.agents`:
//! each provider is one file holding its config (the keys it takes, with
//! the ones it needs not optional), the request it sends for one run and
//! how it reads the answer. [`Agent`], the config of any provider, is
//! generated from the one [`registry!`] line per provider below, so the
//! JSON Schema (`clawhooks schema`), the `type` names and the dispatch
//! cannot drift apart.
//!
//! Nothing here does I/O: `handler::agents::run` sends what
//! [`Provider::request`] builds (and handles errors, `Retry-After` and
//! timeouts). A config a provider cannot run is refused while loading, at
//! the agent's JSON path, so no run ever fails for a missing key.
//!
//! # Adding an agent provider
//!
//! 1. Write `agents/<provider>.rs` (copy `openclaw.rs`): a `Config` struct
//!    with `#[serde(rename_all = "camelCase", deny_unknown_fields)]` whose
//!    doc comments say what each key means (they become the schema; keep
//!    `url`, `apiKey` and `timeoutMs` as the others spell them), and
//!    `impl Provider for Config`: `endpoint` (the shared keys), `request` (the
//!    [`HttpRequest`] for one [`Call`]; use [`json_post`]) and `reply`
//!    (the [`Reply`] read from a 2xx answer, or [`Unreadable`]).
//!    Secrets are [`crate::secret::Secret`], URLs that may carry a token
//!    [`crate::secret::TokenUrl`], so nothing prints them.
//! 2. Add one line to the [`registry!`] call below: `Variant => module`.
//!    The module's name is the `type` users write.
//! 3. Add the provider's fixture test in `tests/tests/handler_seed.rs` or
//!    `handler_actions.rs` (a recording server checks the request and the
//!    answer read) and its name to [`FIXTURES`]; a unit test fails until
//!    you do.
//! 4. Document the keys in `docs/configuration.md` (`local/tests/docs.rs`
//!    fails on a schema key it does not name) and the request in
//!    `docs/handlers.md`.

pub mod openai;
pub mod openclaw;

use crate::ports::{HttpRequest, HttpResponse};
use crate::secret::Secret;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Who spoke one earlier message of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One earlier message of the session.
#[derive(Debug, Clone, Copy)]
pub struct Turn<'a> {
    pub role: Role,
    pub text: &'a str,
}

/// One run of an agent.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub agent_id: &'a str,
    pub prompt: &'a str,
    /// Earlier messages of the session, oldest first, without this one.
    pub history: &'a [Turn<'a>],
    pub session_key: &'a str,
    /// A name for the run (the handler id), shown by gateways in summaries.
    pub name: &'a str,
}

/// What an agent gave back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The answer, when the provider answers synchronously (chat
    /// completions always do; an OpenClaw gateway usually only accepts the
    /// run and delivers the answer itself).
    pub answer: Option<String>,
    /// Provider details worth keeping in the event record (model, usage,
    /// run id).
    pub detail: Value,
}

/// A 2xx answer that cannot be read: asking again cannot help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub message: String,
    /// Whether the message should quote (an excerpt of) the body.
    pub quote_body: bool,
}

/// The keys every provider reads the same way.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// `url`, which load checks is an `http` or `https` URL.
    pub url: &'a str,
    /// `apiKey`, sent as a bearer token.
    pub api_key: Option<&'a Secret>,
    /// `timeoutMs`: the longest one request may take.
    pub timeout_ms: u64,
}

/// What every agent provider does with one run.
pub trait Provider: Send + Sync {
    /// The keys every provider shares.
    fn endpoint(&self) -> Endpoint<'_>;
    /// The request that starts one run.
    fn request(&self, call: &Call<'_>) -> HttpRequest;
    /// The run's answer from a 2xx response.
    fn reply(&self, resp: &HttpResponse) -> Result<Reply, Unreadable>;

    /// The longest one request may take.
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.endpoint().timeout_ms)
    }
}

/// The agent providers: `Variant => module`, the module's name being the
/// `type` in the config. One line per provider.
macro_rules! registry {
    ($($variant:ident => $module:ident),* $(,)?) => {
        /// An agent that `run_agent` targets by `agentId`. `type` picks the
        /// provider; the other keys are that provider's.
        #[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Agent {
            $($variant($module::Config),)*
        }

        /// Which provider an agent is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum AgentKind {
            $($variant,)*
        }

        /// Every provider's `type`, in registry order.
        pub const KINDS: &[&str] = &[$(stringify!($module)),*];

        impl Agent {
            /// What this agent's provider does.
            pub fn provider(&self) -> &dyn Provider {
                match self {
                    $(Self::$variant(c) => c,)*
                }
            }

            pub fn kind(&self) -> AgentKind {
                match self {
                    $(Self::$variant(_) => AgentKind::$variant,)*
                }
            }
        }

        impl AgentKind {
            /// The `type` the config names it by.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($module),)*
                }
            }
        }
    };
}

registry! {
    Openai => openai,
    Openclaw => openclaw,
}

/// Each provider's fixture test: a test against a real HTTP server standing
/// in for the provider, as `(kind, file, test)`. A provider in [`KINDS`]
/// missing here fails `every_provider_has_its_fixture_test`.
pub const FIXTURES: &[(&str, &str, &str)] = &[
    (
        "openai",
        "tests/tests/handler_seed.rs",
        "github_events_runs_the_devops_agent_with_the_rendered_prompt",
    ),
    (
        "openclaw",
        "tests/tests/handler_seed.rs",
        "alert_forwarding_runs_the_oncall_agent_on_an_openclaw_gateway",
    ),
];

/// A JSON POST to `{url}{path}` with the agent's key as a bearer token.
pub fn json_post(to: Endpoint<'_>, path: &str, body: &Value) -> HttpRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(key) = to.api_key {
        headers.push(("authorization".into(), format!("Bearer {}", key.expose())));
    }
    HttpRequest {
        method: "POST".into(),
        url: format!("{}{path}", to.url.trim_end_matches('/')),
        headers,
        body: serde_json::to_vec(body).expect("json serializes"),
        timeout: Duration::from_millis(to.timeout_ms),
    }
}

pub(crate) fn default_timeout_ms() -> u64 {
    120_000
}

pub(crate) fn default_history() -> usize {
    20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_its_fixture_test() {
        crate::channels::assert_fixture_tests("agent provider", KINDS, FIXTURES);
    }

    #[test]
    fn each_type_name_is_the_module_name() {
        crate::channels::assert_type_names(&schemars::schema_for!(Agent), KINDS);
    }

    fn load_error(agent: &str) -> String {
        let doc = format!(r#"{{"webhooks":{{"agents":{{"bot":{agent}}}}}}}"#);
        crate::config::load_str(&doc, &|_| None)
            .expect_err("the agent cannot run")
            .to_string()
    }

    #[test]
    fn an_agent_its_provider_cannot_run_fails_at_load_naming_the_key() {
        let err = load_error(r#"{"type":"openai","url":"http://127.0.0.1:1/v1"}"#);
        assert!(
            err.contains("webhooks.agents.bot") && err.contains("model"),
            "{err}"
        );
        // A key of the other provider would be ignored: refused instead.
        let err =
            load_error(r#"{"type":"openclaw","url":"http://127.0.0.1:1","systemPrompt":"x"}"#);
        assert!(err.contains("webhooks.agents.bot.systemPrompt"), "{err}");
        let err = load_error(r#"{"type":"openai","model":"m","url":"ftp://x"}"#);
        assert!(err.contains("webhooks.agents.bot.url"), "{err}");
    }
}
