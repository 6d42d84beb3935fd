//! What a config reload changed, for the log: handlers, subscriptions,
//! channels and agents added, removed or changed, and the settings a
//! running server cannot take over (they need a restart).

use clawhooks::config::Config;
use serde::Serialize;
use std::collections::BTreeMap;

/// What changed between two sets of named items.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl Changes {
    /// Items compare by their serialized form: the form the config
    /// prints, secrets redacted (a changed secret alone is not listed).
    pub fn between<T: Serialize>(old: &BTreeMap<String, T>, new: &BTreeMap<String, T>) -> Self {
        let mut out = Changes::default();
        for (name, item) in new {
            match old.get(name) {
                None => out.added.push(name.clone()),
                Some(was) if json(was) != json(item) => out.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        out.removed = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect();
        out
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

fn by_id<T: Clone>(items: &[T], id: impl Fn(&T) -> &str) -> BTreeMap<String, T> {
    items
        .iter()
        .map(|t| (id(t).to_string(), t.clone()))
        .collect()
}

/// Logs what changed from `old` to `new`, one line per kind of item.
pub fn log_changes(old: &Config, new: &Config) {
    let (o, n) = (&old.webhooks, &new.webhooks);
    let kinds = [
        (
            "handlers",
            Changes::between(
                &by_id(&o.handlers, |h| &h.id),
                &by_id(&n.handlers, |h| &h.id),
            ),
        ),
        (
            "outgoing",
            Changes::between(
                &by_id(&o.outgoing, |s| &s.id),
                &by_id(&n.outgoing, |s| &s.id),
            ),
        ),
        ("channels", Changes::between(&o.channels, &n.channels)),
        ("agents", Changes::between(&o.agents, &n.agents)),
    ];
    for (kind, c) in kinds.iter().filter(|(_, c)| !c.is_empty()) {
        tracing::info!(
            kind,
            added = ?c.added,
            removed = ?c.removed,
            changed = ?c.changed,
            "config reload: {kind} changed"
        );
    }
    for setting in needs_restart(old, new) {
        tracing::warn!(
            setting,
            "config reload: {setting} changed, which takes effect at the next restart"
        );
    }
}

/// Settings read once at start: the listen address, the database's
/// durability and the reaper's retention.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let (o, n) = (&old.webhooks, &new.webhooks);
    let mut out = Vec::new();
    if o.incoming.host != n.incoming.host || o.incoming.port != n.incoming.port {
        out.push("webhooks.incoming.host/port");
    }
    if json(&o.incoming.durability) != json(&n.incoming.durability) {
        out.push("webhooks.incoming.durability");
    }
    if json(&o.retention) != json(&n.retention) {
        out.push("webhooks.retention");
    }
    out
}

fn json<T: Serialize>(t: &T) -> Option<serde_json::Value> {
    serde_json::to_value(t).ok()
}
