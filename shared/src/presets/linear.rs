//! Linear webhooks: `Linear-Signature` (hex HMAC-SHA256 of the body), one
//! session per issue (a comment joins its issue's).

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "linear",
    about: "Linear webhooks: Linear-Signature, a session per issue (comments join it)",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "hmac", "header": "linear-signature",
             "algorithm": "sha256", "encoding": "hex"},
  "filter": {"body": {"type": {"$in": ["Issue", "Comment"]}}},
  "sessionMode": "persistent",
  "sessionKey": "linear:{{default event.data.issueId event.data.id}}",
  "template": "Linear {{type}} {{action}}{{#if actor.name}} by {{actor.name}}{{/if}}{{#if data.title}}: {{data.identifier}} \"{{data.title}}\"{{/if}}{{#if data.issue.title}} on {{data.issue.identifier}} \"{{data.issue.title}}\"{{/if}}{{#if data.body}}\n\n{{data.body}}{{else}}{{#if data.description}}\n\n{{data.description}}{{/if}}{{/if}}\n{{url}}"
}"#,
};
