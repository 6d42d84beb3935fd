//! Template rendering with hostile payloads: a template (as a config author
//! writes it) and a payload (as anyone on the internet sends it), rendered
//! through the same registry, helpers and context the handler stage uses.
#![no_main]
use clawhooks::event::InboundEvent;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

/// Templates from the seed document and the helpers' edge cases, used
/// when the input does not bring its own.
const TEMPLATES: &[&str] = &[
    "{{event}}: {{data.message}}",
    "New {{event}} on {{repository.full_name}} by {{sender.login}}",
    "{{#each data.items}}{{@index}}={{this}} {{/each}}",
    "{{json event pretty=true}}",
    "{{truncate data.text 10}} {{upper data.name}} {{lower data.name}}",
    "{{default data.missing \"none\"}} {{#if (eq data.level \"critical\")}}!{{/if}}",
    "{{headers.user-agent}} {{query.x}} {{hook.id}} {{now}}",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // Input: [selector][template \0]payload. Selector < 0x80 picks a fixed template.
    let (template, payload) = if selector < 0x80 {
        (TEMPLATES[selector as usize % TEMPLATES.len()].to_string(), rest)
    } else {
        match rest.iter().position(|&b| b == 0) {
            Some(i) => (String::from_utf8_lossy(&rest[..i]).into_owned(), &rest[i + 1..]),
            None => return,
        }
    };
    let body: serde_json::Value = serde_json::from_slice(payload)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(payload).into()));
    let ev = InboundEvent {
        event_id: "evt".into(),
        hook_id: "fuzz".into(),
        handler_id: Some("fuzz".into()),
        session_key: "hook:fuzz".into(),
        persistent: false,
        received_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        source_ip: "203.0.113.1".into(),
        headers: BTreeMap::from([("user-agent".into(), "fuzz".into())]),
        query: BTreeMap::new(),
        content_type: Some("application/json".into()),
        body: clawhooks::event::Body::Empty,
    };
    let ctx = clawhooks::template::context(&ev, &body, "2023-11-14T22:13:20Z");
    // The config loader refuses partials (a self-calling inline partial
    // overflows the stack); render only what a config could hold.
    if clawhooks::template::uses_partials(&template) {
        return;
    }
    let mut reg = clawhooks::template::registry();
    if reg.register_template_string("t", &template).is_ok() {
        let _ = reg.render("t", &ctx);
    }
});
