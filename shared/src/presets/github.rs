//! GitHub: issues, pull requests and their comments and reviews, one
//! session per issue or pull request, answered as a comment on it. `ping`
//! and other events without an issue or pull request are filtered out, and
//! so is what a bot (the assistant's own GitHub App) did, so an answer
//! does not come back as a question.

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "github",
    about: "GitHub issues and pull requests: a session per issue/PR, answered as a comment",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "github"},
  "filter": {"headers": {"x-github-event": {"$in": ["issues", "issue_comment", "pull_request",
                                                    "pull_request_review", "pull_request_review_comment"]}},
             "body": {"sender": {"type": {"$neq": "Bot"}}}},
  "sessionMode": "persistent",
  "sessionKey": "github:{{event.repository.full_name}}#{{default event.issue.number event.pull_request.number}}",
  "template": "GitHub {{repository.full_name}}{{#if issue}} issue #{{issue.number}} \"{{issue.title}}\"{{/if}}{{#if pull_request}} pull request #{{pull_request.number}} \"{{pull_request.title}}\"{{/if}}: {{action}} by {{sender.login}}{{#if comment}}\n\n{{comment.body}}{{else}}{{#if review}}\n\n{{review.body}}{{else}}{{#if pull_request.body}}\n\n{{pull_request.body}}{{/if}}{{#if issue.body}}\n\n{{issue.body}}{{/if}}{{/if}}{{/if}}\n{{default comment.html_url (default pull_request.html_url issue.html_url)}}",
  "target": {"channel": "github",
             "peer": "{{repository.full_name}}#{{default issue.number pull_request.number}}"}
}"#,
};
