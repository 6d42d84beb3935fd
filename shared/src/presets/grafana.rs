//! Grafana Alerting's webhook contact point: its HMAC signature
//! (`X-Grafana-Alerting-Signature`, hex SHA-256 of the body), one session
//! per alert group (`groupKey`), and the title and message Grafana
//! already wrote for people.

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "grafana",
    about: "Grafana Alerting webhook: HMAC signature, a session per alert group (groupKey)",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "hmac", "header": "x-grafana-alerting-signature",
             "algorithm": "sha256", "encoding": "hex"},
  "filter": {"body": {"groupKey": {"$exist": true}}},
  "sessionMode": "persistent",
  "sessionKey": "grafana:{{event.groupKey}}",
  "template": "Grafana alert: {{title}}\n\n{{message}}{{#if externalURL}}\n{{externalURL}}{{/if}}"
}"#,
};
