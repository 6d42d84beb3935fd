//! Discord's answer to a deferred interaction (a slash command answered
//! `{"type":5}`, which shows "thinking…"): the first part edits that
//! original response, `PATCH {apiUrl}/webhooks/{application_id}/{token}/messages/@original`,
//! and any further part is a follow-up, `POST …/webhooks/{application_id}/{token}`,
//! each `{"content"}` with no bot token: the interaction's own token
//! authorizes them for 15 minutes. The edit is what Discord asks for after
//! a deferral, and an edit sent again after a lost answer changes nothing. The peer is `application_id/token`,
//! rendered from the interaction (`{{application_id}}/{{token}}`), so it is
//! checked before it becomes part of a URL. The token is a credential: it
//! is never printed, and the peer the event's result records shows it
//! redacted ([`Kind::shown`]).

use super::{default_timeout_ms, id_string, json_body, json_post, Dispatch, Kind, Post, Reach};
use super::{no_destination, Refusal};
use crate::ports::{HttpRequest, HttpResponse};
use crate::secret::{TokenUrl, REDACTED};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest interaction token taken (Discord's are a few hundred bytes).
const MAX_TOKEN: usize = 1024;

/// No aliases: every peer is an interaction's own.
static NO_PEERS: BTreeMap<String, String> = BTreeMap::new();

/// Follow-up messages to Discord interactions; nothing secret to configure.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The REST API base (tests and proxies).
    #[serde(default)]
    pub api_url: Option<TokenUrl>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Longest message; longer text is split into several follow-ups.
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl Kind for Config {
    fn service_limit(&self) -> Option<usize> {
        Some(super::discord::LIMIT)
    }

    fn reach(&self) -> Reach<'_> {
        Reach {
            peers: &NO_PEERS,
            channel_id: None,
            max_length: self.max_length,
            timeout_ms: Some(self.timeout_ms),
        }
    }

    fn send(&self, post: &Post<'_>) -> Result<Dispatch, Refusal> {
        let peer = post.peer.ok_or_else(|| no_destination(post))?;
        let (app, token) = interaction(peer).ok_or_else(|| {
            Refusal::Permanent(format!(
                "channel {:?}: the peer is not application_id/interaction_token \
                 (digits, then a token of letters, digits, '-', '_', '.', '~')",
                post.channel
            ))
        })?;
        let base = self
            .api_url
            .as_ref()
            .map_or(super::discord::API_BASE, TokenUrl::as_str);
        let webhook = format!("{}/webhooks/{app}/{token}", base.trim_end_matches('/'));
        let body = super::discord::message(post.text);
        Ok(Dispatch::Request(match post.part {
            0 => HttpRequest {
                method: "PATCH".into(),
                ..json_post(
                    format!("{webhook}/messages/@original"),
                    vec![],
                    &body,
                    self.timeout_ms,
                )
            },
            _ => json_post(webhook, vec![], &body, self.timeout_ms),
        }))
    }

    fn urls(&self) -> Vec<(&'static str, &str)> {
        self.api_url
            .iter()
            .map(|u| ("apiUrl", u.as_str()))
            .collect()
    }

    fn message_id(&self, resp: &HttpResponse) -> Result<Option<String>, Refusal> {
        Ok(id_string(json_body(resp).get("id")))
    }

    fn shown(&self, destination: &str) -> String {
        match destination.split_once('/') {
            Some((app, _)) => format!("{app}/{REDACTED}"),
            None => REDACTED.to_string(),
        }
    }
}

/// `application_id/token` as its two URL path segments: the id all
/// digits, the token of URL-unreserved characters and not `.` or `..`.
fn interaction(peer: &str) -> Option<(&str, &str)> {
    let (app, token) = peer.split_once('/')?;
    let app_ok = !app.is_empty() && app.len() <= 20 && app.bytes().all(|b| b.is_ascii_digit());
    let token_ok = !token.is_empty()
        && token.len() <= MAX_TOKEN
        && !token.contains("..")
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
    (app_ok && token_ok).then_some((app, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_id_and_a_single_path_segment_make_an_interaction() {
        assert_eq!(interaction("118/aW50Zx_-.~9"), Some(("118", "aW50Zx_-.~9")));
        for bad in [
            "118",
            "118/",
            "/tok",
            "1a/tok",
            "118/a/b",
            "118/..",
            "118/a..b",
            "118/a?b=1",
            "118/a%2Fb",
            "118/a#b",
            "118/a b",
        ] {
            assert_eq!(interaction(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_recorded_peer_hides_the_token() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.shown("118/secret-token"), format!("118/{REDACTED}"));
        assert!(!c.shown("no-slash-secret").contains("secret"));
    }
}
