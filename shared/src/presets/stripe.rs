//! Stripe events: the `stripe` scheme checks `Stripe-Signature` and knows
//! a retried event by its `id`; one session per customer (or per object
//! when there is none).

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "stripe",
    about: "Stripe events: Stripe-Signature, idempotent by event id, a session per customer",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "stripe"},
  "sessionMode": "persistent",
  "sessionKey": "stripe:{{default event.data.object.customer event.data.object.id}}",
  "template": "Stripe event {{type}} ({{id}}{{#if livemode}}, live{{else}}, test mode{{/if}}): {{data.object.object}} {{data.object.id}}{{#if data.object.customer}} of customer {{data.object.customer}}{{/if}}{{#if data.object.amount}}, amount {{data.object.amount}} {{upper data.object.currency}} (in the currency's smallest unit){{/if}}{{#if data.object.status}}, status {{data.object.status}}{{/if}}"
}"#,
};
