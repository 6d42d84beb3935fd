//! Sentry integration webhooks: `Sentry-Hook-Signature` (hex HMAC-SHA256
//! of the body under the integration's client secret), one session per
//! Sentry issue, for issues and issue alerts.

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "sentry",
    about: "Sentry integration webhooks: Sentry-Hook-Signature, a session per Sentry issue",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "hmac", "header": "sentry-hook-signature",
             "algorithm": "sha256", "encoding": "hex"},
  "filter": {"headers": {"sentry-hook-resource": {"$in": ["issue", "event_alert"]}}},
  "sessionMode": "persistent",
  "sessionKey": "sentry:{{default event.data.issue.id event.data.event.issue_id}}",
  "template": "Sentry {{lookup headers \"sentry-hook-resource\"}} {{action}}: {{default data.issue.title data.event.title}}{{#if data.issue.culprit}} in {{data.issue.culprit}}{{/if}}{{#if data.event.culprit}} in {{data.event.culprit}}{{/if}}{{#if data.issue.level}} ({{data.issue.level}}){{/if}}\n{{default data.issue.web_url data.event.web_url}}"
}"#,
};
