//! `github_summary`: one readable line for a GitHub webhook delivery,
//! chosen by the `X-GitHub-Event` header (falling back to the payload's
//! shape). Options: `includeUrl` (default true).

use super::{at_path, s, CustomError, Input, Output};
use serde_json::{json, Value};

/// One line per hook: `[owner/repo] <who did what> <url>`.
pub fn summarize(input: &Input<'_>) -> Result<Output, CustomError> {
    let b = input.body;
    if !b.is_object() {
        return Err(CustomError(
            "github_summary needs a JSON GitHub webhook payload".into(),
        ));
    }
    let kind = event_kind(input);
    let repo = s(b, "repository.full_name");
    let actor = s(b, "sender.login");
    let action = s(b, "action");
    let (line, url) = describe(&kind, b, actor, action);
    let include_url = input
        .options
        .get("includeUrl")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Ok(Output {
        text: Some(decorate(line, repo, include_url.then_some(url))),
        data: json!({ "event": kind, "action": action, "repository": repo, "sender": actor }),
    })
}

/// The `X-GitHub-Event` header, else a guess from the payload's keys.
fn event_kind(input: &Input<'_>) -> String {
    input
        .event
        .headers
        .get("x-github-event")
        .cloned()
        .unwrap_or_else(|| guess_kind(input.body).to_string())
}

/// What happened, in words, and the page it happened on (may be empty).
fn describe<'a>(kind: &str, b: &'a Value, actor: &str, action: &str) -> (String, &'a str) {
    match kind {
        "pull_request" => pull_request(b, actor, action),
        "issues" => (
            format!(
                "{actor} {action} issue #{}: {}",
                num(b, "issue.number"),
                s(b, "issue.title")
            ),
            s(b, "issue.html_url"),
        ),
        "issue_comment" => (
            format!(
                "{actor} commented on #{}: {}",
                num(b, "issue.number"),
                first_line(s(b, "comment.body"))
            ),
            s(b, "comment.html_url"),
        ),
        "push" => push(b, actor),
        "release" => (
            format!(
                "{actor} {action} release {}",
                non_empty(s(b, "release.name"), s(b, "release.tag_name"))
            ),
            s(b, "release.html_url"),
        ),
        "workflow_run" => (
            format!(
                "workflow {} {action}: {}",
                s(b, "workflow_run.name"),
                non_empty(s(b, "workflow_run.conclusion"), s(b, "workflow_run.status"))
            ),
            s(b, "workflow_run.html_url"),
        ),
        "ping" => (format!("ping: {}", s(b, "zen")), ""),
        "star" | "watch" => (format!("{actor} starred the repository ({action})"), ""),
        other => (
            format!("{other} {action}").trim().to_string(),
            s(b, "repository.html_url"),
        ),
    }
}

/// A closed pull request that was merged says "merged".
fn pull_request<'a>(b: &'a Value, actor: &str, action: &str) -> (String, &'a str) {
    let merged = at_path(b, "pull_request.merged") == Some(&Value::Bool(true));
    let verb = if action == "closed" && merged {
        "merged"
    } else {
        action
    };
    (
        format!(
            "{actor} {verb} pull request #{}: {}",
            num(b, "pull_request.number"),
            s(b, "pull_request.title")
        ),
        s(b, "pull_request.html_url"),
    )
}

/// How many commits went to which branch, and the head commit's title.
fn push<'a>(b: &'a Value, actor: &str) -> (String, &'a str) {
    let branch = s(b, "ref").trim_start_matches("refs/heads/");
    let n = at_path(b, "commits")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let head = first_line(s(b, "head_commit.message"));
    let commits = if n == 1 { "commit" } else { "commits" };
    (
        format!("{actor} pushed {n} {commits} to {branch}: {head}"),
        s(b, "compare"),
    )
}

/// `[repo] line url`, each part only when there is one (`url`: `None`
/// when the handler's `includeUrl` is false).
fn decorate(line: String, repo: &str, url: Option<&str>) -> String {
    let with_repo = if repo.is_empty() {
        line
    } else {
        format!("[{repo}] {line}")
    };
    match url {
        Some(url) if !url.is_empty() => format!("{with_repo} {url}"),
        _ => with_repo,
    }
}

fn guess_kind(b: &Value) -> &'static str {
    for (key, kind) in [
        ("pull_request", "pull_request"),
        ("comment", "issue_comment"),
        ("issue", "issues"),
        ("release", "release"),
        ("workflow_run", "workflow_run"),
        ("commits", "push"),
        ("zen", "ping"),
    ] {
        if b.get(key).is_some() {
            return kind;
        }
    }
    "event"
}

fn num(b: &Value, path: &str) -> String {
    at_path(b, path).map(|v| v.to_string()).unwrap_or_default()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Body, InboundEvent};

    fn summary(kind: Option<&str>, body: Value) -> String {
        let mut headers = std::collections::BTreeMap::new();
        if let Some(k) = kind {
            headers.insert("x-github-event".to_string(), k.to_string());
        }
        let ev = InboundEvent {
            event_id: "e".into(),
            hook_id: "gh".into(),
            handler_id: None,
            session_key: "s".into(),
            persistent: false,
            received_at: chrono::Utc::now(),
            source_ip: "127.0.0.1".into(),
            headers,
            query: Default::default(),
            content_type: None,
            body: Body::Empty,
        };
        let input = Input {
            event: &ev,
            body: &body,
            context: &Value::Null,
            options: &json!({"includeUrl": false}),
        };
        summarize(&input).unwrap().text.unwrap()
    }

    #[test]
    fn push_issues_comments_and_merges() {
        let repo = json!({"full_name": "o/r"});
        assert_eq!(
            summary(
                Some("push"),
                json!({"ref": "refs/heads/main", "repository": repo, "sender": {"login": "ann"},
                "commits": [{}, {}], "head_commit": {"message": "Fix bug\n\nlong text"}})
            ),
            "[o/r] ann pushed 2 commits to main: Fix bug"
        );
        assert_eq!(
            summary(
                Some("issues"),
                json!({"action": "opened", "repository": repo, "sender": {"login": "bo"},
                "issue": {"number": 7, "title": "Crash"}})
            ),
            "[o/r] bo opened issue #7: Crash"
        );
        assert_eq!(
            summary(
                None,
                json!({"action": "created", "repository": repo, "sender": {"login": "cy"},
                "issue": {"number": 7}, "comment": {"body": "Same here"}})
            ),
            "[o/r] cy commented on #7: Same here"
        );
        assert_eq!(
            summary(
                Some("pull_request"),
                json!({"action": "closed", "repository": repo, "sender": {"login": "di"},
                "pull_request": {"number": 3, "title": "T", "merged": true}})
            ),
            "[o/r] di merged pull request #3: T"
        );
        assert_eq!(
            summary(Some("ping"), json!({"zen": "Keep it simple."})),
            "ping: Keep it simple."
        );
    }

    #[test]
    fn non_json_bodies_are_refused() {
        let ev_body = Value::String("x".into());
        let ev: InboundEvent = serde_json::from_value(json!({
            "eventId": "e", "hookId": "h", "handlerId": null, "sessionKey": "s", "persistent": false,
            "receivedAt": "2026-01-01T00:00:00Z", "sourceIp": "1.2.3.4", "headers": {}, "query": {},
            "contentType": null, "body": {"kind": "empty"}
        }))
        .unwrap();
        let input = Input {
            event: &ev,
            body: &ev_body,
            context: &Value::Null,
            options: &Value::Null,
        };
        assert!(summarize(&input).is_err());
    }

    #[test]
    fn the_url_follows_when_asked_and_the_repo_leads_when_known() {
        let line = || "ann pushed".to_string();
        assert_eq!(
            decorate(line(), "o/r", Some("https://github.com/o/r/compare/a...b")),
            "[o/r] ann pushed https://github.com/o/r/compare/a...b"
        );
        assert_eq!(decorate(line(), "o/r", None), "[o/r] ann pushed");
        assert_eq!(decorate(line(), "", Some("")), "ann pushed");
    }
}
