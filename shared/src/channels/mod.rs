//! Channel kinds for `send_message`, configured under `webhooks.channels`:
//! each kind is one file holding its config (the keys it takes, with the
//! ones it needs not optional), the request it sends for one message and
//! how it reads the answer. [`Channel`], the config of any kind, is
//! generated from the one [`registry!`] line per kind below, so the JSON
//! Schema (`clawhooks schema`), the `type` names and the dispatch cannot
//! drift apart.
//!
//! Nothing here does I/O: `handler::channels::post` sends what
//! [`Kind::send`] builds (and handles errors, `Retry-After` and timeouts).
//! A config a kind cannot run is refused while loading (its `TryFrom`), at
//! the channel's JSON path, so no message ever fails for a missing key.
//!
//! # Adding a channel kind
//!
//! 1. Write `channels/<kind>.rs` (copy `telegram.rs`, the smallest HTTP
//!    kind): a `Config` struct with
//!    `#[serde(rename_all = "camelCase", deny_unknown_fields)]` whose doc
//!    comments say what each key means (they become the schema), and
//!    `impl Kind for Config`: `limit` (the service's longest message),
//!    `timeout`, `destination`, `send` (the [`HttpRequest`] for one
//!    [`Post`]; use [`json_post`]) and `message_id` (the id in a 2xx
//!    answer, or a [`Refusal`] when the service says 200 but failed).
//!    Keys that depend on each other (one of two required) go through
//!    `#[serde(try_from = "Keys")]`, as in `chat.rs`.
//! 2. Add one line to the [`registry!`] call below: `Variant => module`.
//!    The module's name is the `type` users write.
//! 3. Add the kind's fixture test in `tests/tests/handler_channels.rs` (a
//!    recording server checks the request and the answer read) and its
//!    name to [`FIXTURES`]; a unit test fails until you do.
//! 4. Document the keys in `docs/configuration.md` (`local/tests/docs.rs`
//!    fails on a schema key it does not name) and the request in
//!    `docs/handlers.md`.

pub mod chat;
pub mod discord;
pub mod discord_followup;
pub mod github;
pub mod log;
pub mod slack;
pub mod telegram;
pub mod webhook;

use crate::event::InboundEvent;
use crate::ports::{HttpRequest, HttpResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One message for one channel.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    /// The channel's name under `webhooks.channels`.
    pub channel: &'a str,
    pub text: &'a str,
    /// The handler's `target.peer`, before alias resolution.
    pub peer: Option<&'a str>,
    /// The thread or message to answer (`target.thread`, rendered); `None`:
    /// a message of its own.
    pub thread: Option<&'a str>,
    /// Which part of a split message this is (0: the first).
    pub part: usize,
    pub ev: &'a InboundEvent,
}

/// Why a message was not posted; the handler turns it into a permanent or
/// a retried failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Trying again cannot help (a bad token, no destination).
    Permanent(String),
    /// The service asks to be tried later (Slack's `ratelimited`).
    Transient(String),
}

/// What sending one message takes.
#[derive(Debug)]
pub enum Dispatch {
    /// This request, whose 2xx answer [`Kind::message_id`] reads.
    Request(HttpRequest),
    /// Nothing more: the kind wrote the message itself (the `log` kind),
    /// with this id if it has one.
    Done(Option<String>),
}

/// The keys every kind reads the same way.
#[derive(Debug, Clone, Copy)]
pub struct Reach<'a> {
    /// `peers`: friendly peer names to the service's ids.
    pub peers: &'a BTreeMap<String, String>,
    /// `channelId`: the destination when the handler names no peer.
    pub channel_id: Option<&'a str>,
    /// `maxLength`: the channel's own split limit.
    pub max_length: Option<usize>,
    /// `timeoutMs`; `None` for a kind that sends no request.
    pub timeout_ms: Option<u64>,
}

/// What every channel kind does with one message.
pub trait Kind: Send + Sync {
    /// The longest message the service takes (characters); `None`: no limit.
    fn service_limit(&self) -> Option<usize>;
    /// The keys every kind shares.
    fn reach(&self) -> Reach<'_>;
    /// The request that posts one message (already short enough).
    fn send(&self, post: &Post<'_>) -> Result<Dispatch, Refusal>;
    /// The posted message's id from a 2xx answer.
    fn message_id(&self, resp: &HttpResponse) -> Result<Option<String>, Refusal>;
    /// The URLs given in the config, with their keys, which load checks
    /// are `http` or `https` URLs.
    fn urls(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }

    /// A destination as the event's result records it: itself, unless it
    /// holds a credential (a Discord interaction's token).
    fn shown(&self, destination: &str) -> String {
        destination.to_string()
    }

    /// The split limit: the channel's `maxLength`, else the service's.
    fn limit(&self) -> Option<usize> {
        self.reach().max_length.or(self.service_limit())
    }
    /// The longest one request may take; `None`: the kind sends none.
    fn timeout(&self) -> Option<Duration> {
        self.reach().timeout_ms.map(Duration::from_millis)
    }
    /// Where a message goes: the peer (through the channel's `peers`
    /// aliases), else the channel's `channelId`.
    fn destination(&self, peer: Option<&str>) -> Option<String> {
        let reach = self.reach();
        peer.map(|p| reach.peers.get(p).cloned().unwrap_or_else(|| p.to_string()))
            .or_else(|| reach.channel_id.map(str::to_string))
    }
}

/// The channel kinds: `Variant => module`, the module's name being the
/// `type` in the config. One line per kind.
macro_rules! registry {
    ($($variant:ident => $module:ident),* $(,)?) => {
        /// A channel adapter. `type` picks the service; the other keys are
        /// that service's.
        #[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Channel {
            $($variant($module::Config),)*
        }

        /// Every kind's `type`, in registry order.
        pub const KINDS: &[&str] = &[$(stringify!($module)),*];

        impl Channel {
            /// What this channel's kind does.
            pub fn kind(&self) -> &dyn Kind {
                match self {
                    $(Self::$variant(c) => c,)*
                }
            }

            /// The `type` this channel was configured with.
            pub fn kind_name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => stringify!($module),)*
                }
            }
        }
    };
}

registry! {
    Discord => discord,
    DiscordFollowup => discord_followup,
    Slack => slack,
    Telegram => telegram,
    Github => github,
    Webhook => webhook,
    Log => log,
}

/// Each kind's fixture test: a test against a real HTTP server standing in
/// for the service (or, for `log`, the server log), as `(kind, file, test)`.
/// A kind in [`KINDS`] missing here fails `every_kind_has_its_fixture_test`.
pub const FIXTURES: &[(&str, &str, &str)] = &[
    (
        "discord",
        CHANNEL_TESTS,
        "discord_webhook_url_waits_for_the_message",
    ),
    (
        "discord_followup",
        "tests/tests/presets.rs",
        "discord_preset",
    ),
    ("slack", CHANNEL_TESTS, "slack_incoming_webhook"),
    (
        "slack",
        CHANNEL_TESTS,
        "slack_bot_token_uses_chat_post_message",
    ),
    ("telegram", CHANNEL_TESTS, "telegram_send_message"),
    (
        "github",
        CHANNEL_TESTS,
        "github_comments_on_the_issue_the_event_names",
    ),
    (
        "webhook",
        CHANNEL_TESTS,
        "generic_webhook_gets_text_and_ids_with_its_headers",
    ),
    (
        "log",
        "local/tests/quick_start.rs",
        "the_example_configs_first_hook_is_visible_in_the_server_log",
    ),
];

const CHANNEL_TESTS: &str = "tests/tests/handler_channels.rs";

/// No destination for a kind that needs one: the handler gave no
/// `target.peer` and the channel has no `channelId`.
pub(crate) fn no_destination(post: &Post<'_>) -> Refusal {
    Refusal::Permanent(format!(
        "channel {:?} has no destination: give it a channelId or the handler a target.peer",
        post.channel
    ))
}

/// A JSON POST with the channel's timeout.
pub fn json_post(
    url: String,
    headers: Vec<(String, String)>,
    body: &serde_json::Value,
    timeout_ms: u64,
) -> HttpRequest {
    let mut all = vec![("content-type".to_string(), "application/json".to_string())];
    all.extend(headers);
    HttpRequest {
        method: "POST".into(),
        url,
        headers: all,
        body: serde_json::to_vec(body).expect("json serializes"),
        timeout: Duration::from_millis(timeout_ms),
    }
}

pub(crate) fn json_body(resp: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null)
}

/// An id that may be a JSON string or number.
pub(crate) fn id_string(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn default_timeout_ms() -> u64 {
    15_000
}

/// Fails unless every registered kind has a fixture test in `fixtures`
/// and every fixture names a registered kind and a test that exists:
/// each registry's own test calls it (`what` names the registry).
#[cfg(test)]
pub(crate) fn assert_fixture_tests(what: &str, kinds: &[&str], fixtures: &[(&str, &str, &str)]) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for kind in kinds {
        assert!(
            fixtures.iter().any(|(k, _, _)| k == kind),
            "{what} {kind:?} has no fixture test in its registry's FIXTURES"
        );
    }
    for (kind, file, test) in fixtures {
        assert!(
            kinds.contains(kind),
            "FIXTURES names {kind:?}, which is not a registered {what}"
        );
        let text = std::fs::read_to_string(repo.join(file)).expect(file);
        assert!(
            text.contains(&format!("fn {test}(")),
            "the fixture test {test} of {what} {kind:?} is not in {file}"
        );
    }
}

/// Fails unless the schema of a registry's enum names each kind as a `type`.
#[cfg(test)]
pub(crate) fn assert_type_names(schema: &schemars::Schema, kinds: &[&str]) {
    let schema = serde_json::to_string(schema).unwrap();
    for kind in kinds {
        assert!(
            schema.contains(&format!("\"const\":\"{kind}\"")),
            "{kind}: {schema}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_fixture_test() {
        assert_fixture_tests("channel kind", KINDS, FIXTURES);
    }

    #[test]
    fn each_type_name_is_the_module_name() {
        assert_type_names(&schemars::schema_for!(Channel), KINDS);
    }
}
