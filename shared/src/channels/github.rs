//! GitHub: a comment on an issue or a pull request,
//! `POST {apiUrl}/repos/{owner}/{repo}/issues/{number}/comments` with
//! `Authorization: Bearer <token>` and `{"body"}`. The peer is
//! `owner/repo#number`, usually rendered from the event
//! (`{{event.repository.full_name}}#{{event.issue.number}}`), so it is
//! checked before it becomes part of a URL: a name GitHub would not give a
//! repository, or a number that is not one, is refused.

use super::{
    default_timeout_ms, id_string, json_body, json_post, no_destination, Dispatch, Kind, Post,
    Reach, Refusal,
};
use crate::ports::HttpResponse;
use crate::secret::{Secret, TokenUrl};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

pub const API_URL: &str = "https://api.github.com";

/// GitHub's longest comment (characters).
pub const LIMIT: usize = 65_536;

/// A GitHub token commenting on issues and pull requests.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// A token allowed to write issues or pull requests of the repository
    /// (a fine-grained token, or a GitHub App installation token).
    pub token: Secret,
    /// Default `owner/repo#number` when the handler's `target.peer` does not name one.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The REST API base (GitHub Enterprise Server, tests).
    #[serde(default)]
    pub api_url: Option<TokenUrl>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Friendly peer names to `owner/repo#number`; a peer not listed is itself one.
    #[serde(default)]
    pub peers: BTreeMap<String, String>,
    /// Longest comment; longer text is split into several comments.
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl Kind for Config {
    fn service_limit(&self) -> Option<usize> {
        Some(LIMIT)
    }

    fn reach(&self) -> Reach<'_> {
        Reach {
            peers: &self.peers,
            channel_id: self.channel_id.as_deref(),
            max_length: self.max_length,
            timeout_ms: Some(self.timeout_ms),
        }
    }

    fn send(&self, post: &Post<'_>) -> Result<Dispatch, Refusal> {
        let dest = self
            .destination(post.peer)
            .ok_or_else(|| no_destination(post))?;
        let (repo, number) = issue(&dest).ok_or_else(|| {
            Refusal::Permanent(format!(
                "channel {:?}: the peer {:?} is not owner/repo#number",
                post.channel,
                dest.chars().take(120).collect::<String>()
            ))
        })?;
        let base = self.api_url.as_ref().map_or(API_URL, TokenUrl::as_str);
        Ok(Dispatch::Request(json_post(
            format!(
                "{}/repos/{repo}/issues/{number}/comments",
                base.trim_end_matches('/')
            ),
            vec![
                (
                    "authorization".into(),
                    format!("Bearer {}", self.token.expose()),
                ),
                ("accept".into(), "application/vnd.github+json".into()),
                ("x-github-api-version".into(), "2022-11-28".into()),
                ("user-agent".into(), "clawhooks".into()),
            ],
            &json!({ "body": post.text }),
            self.timeout_ms,
        )))
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
}

/// `owner/repo#number` as `("owner/repo", number)`, or `None` when it is
/// not one: names of letters, digits, `-`, `_` and `.` (not `.` or `..`).
pub fn issue(peer: &str) -> Option<(&str, u64)> {
    let (repo, number) = peer.trim().split_once('#')?;
    let (owner, name) = repo.split_once('/')?;
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    (part_ok(owner) && part_ok(name)).then_some((repo, number))
}

#[cfg(test)]
mod tests {
    use super::issue;

    #[test]
    fn a_peer_is_owner_repo_and_number_and_nothing_else() {
        assert_eq!(
            issue("octo-org/hello.rs#42"),
            Some(("octo-org/hello.rs", 42))
        );
        for bad in [
            "octo/hello",
            "octo#1",
            "octo/hello#x",
            "octo/hello#0",
            "octo/../x#1",
            "../hello#1",
            "octo/hello/issues#1",
            "octo/hel lo#1",
            "octo/hello#1?x=1",
            "#1",
        ] {
            assert_eq!(issue(bad), None, "{bad}");
        }
    }
}
