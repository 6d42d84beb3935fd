//! Presets: a handler's `"preset": "<name>"` fills every key the handler
//! leaves out with the preset's, so connecting Slack, GitHub or an
//! alerting system takes a secret and an agent, not a page of templates.
//! Each preset is JSON data (a handler without its `id`): its signature
//! scheme (which brings the provider's handshake, its idempotency key and,
//! for Slack and Discord, the bot guard), a filter for the provider's
//! noise, a session key per conversation, a template that reads well to a
//! model and, for chat sources, a reply target in the same thread.
//!
//! Expansion is a merge of JSON before the typed parse ([`expand`], called
//! by `config::load`): the user's keys win, objects merge key by key (a
//! `verify` with only a `secret` keeps the preset's `scheme`), a key the
//! user sets to `null` stays unset, and the unknown-key checks run on the
//! result as on any handler. Secrets are never in a preset.
//!
//! # Adding a preset
//!
//! 1. Write `presets/<name>.rs`: a `pub const PRESET: Preset` with the
//!    preset's `name`, a one-line `about` (what `clawhooks presets` prints)
//!    and its `handler` JSON. Read the provider's documented payloads: the
//!    templates name fields every delivery the filter lets through has
//!    (session keys are strict: a missing field refuses the hook).
//! 2. Add its module to the [`registry!`] call below.
//! 3. Put the provider's documented example payload under
//!    `tests/fixtures/<name>/` and a test in `tests/tests/presets.rs` that
//!    signs it as the provider does, posts it and checks the session key,
//!    the idempotency key and the rendered template; list it in
//!    [`FIXTURES`] (a unit test fails until you do).
//! 4. Add its section to `docs/presets.md`: what to paste into the
//!    provider, which secret to set.

use crate::config::error::ConfigError;
use serde_json::{Map, Value};

/// One preset: JSON data, parsed when a handler names it.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// What `"preset"` names.
    pub name: &'static str,
    /// One line for `clawhooks presets`.
    pub about: &'static str,
    /// The handler keys it fills, as a JSON object.
    pub handler: &'static str,
}

impl Preset {
    /// The keys this preset fills.
    pub fn keys(&self) -> Map<String, Value> {
        match serde_json::from_str(self.handler) {
            Ok(Value::Object(m)) => m,
            _ => panic!("preset {:?} is not a JSON object", self.name),
        }
    }
}

/// The presets: one module per preset, one line each.
macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every preset, in registry order.
        pub const PRESETS: &[Preset] = &[$($module::PRESET),*];
    };
}

registry! {
    slack,
    discord,
    telegram,
    github,
    stripe,
    alertmanager,
    grafana,
    linear,
    sentry,
}

/// Each preset's fixture test, as `(preset, file, test)`.
pub const FIXTURES: &[(&str, &str, &str)] = &[
    ("slack", PRESET_TESTS, "slack_preset"),
    ("discord", PRESET_TESTS, "discord_preset"),
    ("telegram", PRESET_TESTS, "telegram_preset"),
    ("github", PRESET_TESTS, "github_preset"),
    ("stripe", PRESET_TESTS, "stripe_preset"),
    ("alertmanager", PRESET_TESTS, "alertmanager_preset"),
    ("grafana", PRESET_TESTS, "grafana_preset"),
    ("linear", PRESET_TESTS, "linear_preset"),
    ("sentry", PRESET_TESTS, "sentry_preset"),
];

const PRESET_TESTS: &str = "tests/tests/presets.rs";

/// The preset called `name`.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Fills `handler` (one element of `webhooks.handlers`, at JSON path `at`)
/// from the preset it names, if any; an unknown name is an error at
/// `<at>.preset`, and the handler is left as written.
pub fn expand(handler: &mut Value, at: &str) -> Result<(), ConfigError> {
    let Value::Object(h) = handler else {
        return Ok(());
    };
    let name = match h.get("preset") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(name)) => name.clone(),
        Some(_) => {
            return Err(ConfigError::new(
                format!("{at}.preset"),
                "expected a preset name",
            ))
        }
    };
    let preset = find(&name).ok_or_else(|| {
        let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        ConfigError::new(
            format!("{at}.preset"),
            format!("unknown preset {name:?}; known: {}", names.join(", ")),
        )
    })?;
    fill(h, preset.keys());
    Ok(())
}

/// Adds to `mine` each key of `preset` it lacks, merging objects present
/// in both; what `mine` has (`null` included) stays.
pub fn fill(mine: &mut Map<String, Value>, preset: Map<String, Value>) {
    for (key, theirs) in preset {
        match (mine.get_mut(&key), theirs) {
            (None, theirs) => {
                mine.insert(key, theirs);
            }
            (Some(Value::Object(m)), Value::Object(t)) => fill(m, t),
            (Some(_), _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_preset_has_its_fixture_test() {
        let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        crate::channels::assert_fixture_tests("preset", &names, FIXTURES);
    }

    #[test]
    fn each_preset_is_a_handler_without_id_or_secret_named_as_its_module() {
        for p in PRESETS {
            let keys = p.keys();
            assert!(
                !keys.contains_key("id") && !keys.contains_key("secret"),
                "{}",
                p.name
            );
            let text = p.handler.to_lowercase();
            assert!(
                !text.contains("\"secret\""),
                "{}: no secret in a preset",
                p.name
            );
            let mut h = json!({"id": "x", "preset": p.name, "agentId": "a"});
            expand(&mut h, "h").unwrap();
            let parsed: Result<crate::config::Handler, _> = serde_json::from_value(h);
            assert!(parsed.is_ok(), "{}: {parsed:?}", p.name);
        }
    }

    #[test]
    fn the_users_keys_win_and_objects_merge() {
        let mut h = json!({"id": "s", "preset": "slack", "verify": {"secret": "s3"},
                           "template": "mine", "target": null});
        expand(&mut h, "webhooks.handlers[0]").unwrap();
        assert_eq!(h["verify"], json!({"scheme": "slack", "secret": "s3"}));
        assert_eq!(h["template"], "mine");
        assert_eq!(h["target"], Value::Null, "null: left unset");
        assert_eq!(h["sessionMode"], "persistent");
        let mut bad = json!({"id": "s", "preset": "slak"});
        assert_eq!(
            expand(&mut bad, "webhooks.handlers[0]").unwrap_err().to_string(),
            "webhooks.handlers[0].preset: unknown preset \"slak\"; known: slack, discord, telegram, github, stripe, alertmanager, grafana, linear, sentry"
        );
    }
}
