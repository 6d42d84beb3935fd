//! `github_summary`: one readable line for a GitHub webhook delivery,
//! chosen by the `X-GitHub-Event` header (falling back to the payload's
//! shape). Options: `includeUrl` (default true).

use super::{at_path, s, CustomError, Input, Output};
use serde_json::{json, Value};

pub fn summarize(input: &Input<'_>) -> Result<Output, CustomError> {
    let b = input.body;
    if !b.is_object() {
        return Err(CustomError(
            "github_summary needs a JSON GitHub webhook payload".into(),
        ));
    }
    let kind = input
        .event
        .headers
        .get("x-github-event")
        .cloned()
        .unwrap_or_else(|| guess_kind(b).to_string());
    let repo = s(b, "repository.full_name");
    let actor = s(b, "sender.login");
    let action = s(b, "action");
    let (line, url) = match kind.as_str() {
        "pull_request" => {
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
        "push" => {
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
    };
    let with_repo = if repo.is_empty() {
        line
    } else {
        format!("[{repo}] {line}")
    };
    let include_url = input
        .options
        .get("includeUrl")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let text = if include_url && !url.is_empty() {
        format!("{with_repo} {url}")
    } else {
        with_repo
    };
    Ok(Output {
        text: Some(text),
        data: json!({ "event": kind, "action": action, "repository": repo, "sender": actor }),
    })
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
