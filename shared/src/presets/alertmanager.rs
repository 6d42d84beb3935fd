//! Prometheus Alertmanager's webhook receiver: one session per alert group
//! (`groupKey`), so an incident's firing and resolved notifications are
//! one conversation. Alertmanager signs nothing: it sends the handler's
//! `secret` as `Authorization: Bearer` (`http_config.authorization`).

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "alertmanager",
    about: "Prometheus Alertmanager: Bearer secret, a session per alert group (groupKey)",
    handler: r#"{
  "action": "run_agent",
  "filter": {"body": {"groupKey": {"$exist": true}}},
  "sessionMode": "persistent",
  "sessionKey": "alertmanager:{{event.groupKey}}",
  "template": "Alertmanager: {{upper status}} {{commonLabels.alertname}} ({{len alerts}} alerts, receiver {{receiver}}){{#each alerts}}\n- [{{status}}] {{labels.alertname}}{{#if labels.severity}} ({{labels.severity}}){{/if}}{{#if labels.instance}} on {{labels.instance}}{{/if}}: {{default annotations.summary annotations.description}} (since {{startsAt}}){{/each}}{{#if externalURL}}\n{{externalURL}}{{/if}}"
}"#,
};
