//! From JSON text to a [`CompiledConfig`]: parse, merge several files,
//! substitute `${ENV}`, deserialize section by section (so one bad handler
//! does not hide the errors of the next), then validate.
//!
//! Every error carries the JSON path of what it is about, in the spelling of
//! the file: `webhooks.incoming.allowedIPs[1]: invalid CIDR "10.0.0.300"`.

use super::error::{ConfigError, ConfigErrors};
use super::validate::{self, CompiledConfig, Withheld};
use super::{
    Admin, Agent, Channel, Concurrency, Config, Handler, Incoming, Network, Outgoing, Retention,
    SessionDefaults, Webhooks,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::path::Path;

/// A config that loaded, with what it was loaded from.
pub type LoadedConfig = CompiledConfig;

/// What a `${VAR}` that nothing defines does to the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// It is an error naming the variable and the path (one process runs
    /// everything, so every secret must be there).
    Error,
    /// It becomes a withheld secret: a fresh random value nobody knows,
    /// listed in [`CompiledConfig::withheld`]. A Lambda function is given
    /// only its own secrets; the others' stay unset in it, and its init
    /// checks that none it uses is among them (`config::scope`).
    Withhold,
}

/// Loads one config document from text. `env` looks up `${VAR}` values.
pub fn load_str(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CompiledConfig, ConfigErrors> {
    load_str_with(text, env, Unset::Error)
}

/// [`load_str`], choosing what an unset `${VAR}` does.
pub fn load_str_with(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    unset: Unset,
) -> Result<CompiledConfig, ConfigErrors> {
    let value = parse_json(text, "")?;
    load_value(value, env, unset)
}

/// Loads and merges several files, later ones overriding earlier ones
/// (handlers and outgoing subscriptions merge by `id`).
pub fn load_files<P: AsRef<Path>>(
    paths: &[P],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CompiledConfig, ConfigErrors> {
    load_files_with(paths, env, Unset::Error)
}

/// [`load_files`], choosing what an unset `${VAR}` does.
pub fn load_files_with<P: AsRef<Path>>(
    paths: &[P],
    env: &dyn Fn(&str) -> Option<String>,
    unset: Unset,
) -> Result<CompiledConfig, ConfigErrors> {
    let mut merged = Value::Object(Map::new());
    let mut errors = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let name = p.display().to_string();
        match std::fs::read_to_string(p) {
            Ok(text) => match parse_json(&text, &name) {
                Ok(mut v) => {
                    let dir = p.parent().unwrap_or(Path::new("."));
                    errors.extend(super::transform::inline_files(&mut v, dir));
                    merge(&mut merged, v)
                }
                Err(ConfigErrors(mut es)) => errors.append(&mut es),
            },
            Err(e) => errors.push(ConfigError::new(name, format!("cannot read: {e}"))),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    load_value(merged, env, unset)
}

/// The standard environment lookup.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn parse_json(text: &str, origin: &str) -> Result<Value, ConfigErrors> {
    serde_json::from_str(text).map_err(|e| {
        let at = format!("line {} column {}", e.line(), e.column());
        let path = if origin.is_empty() {
            at
        } else {
            format!("{origin}: {at}")
        };
        ConfigErrors(vec![ConfigError::new(path, format!("not valid JSON: {e}"))])
    })
}

/// Merges `next` into `base`: objects key by key, the `handlers` and
/// `outgoing` arrays element by element on `id`, anything else replaced.
pub fn merge(base: &mut Value, next: Value) {
    merge_at(base, next, "")
}

fn merge_at(base: &mut Value, next: Value, key: &str) {
    match (base, next) {
        (Value::Object(b), Value::Object(n)) => {
            for (k, v) in n {
                match b.get_mut(&k) {
                    Some(existing) => merge_at(existing, v, &k),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(n)) if key == "handlers" || key == "outgoing" => {
            for item in n {
                let id = item.get("id").cloned();
                match id.and_then(|id| b.iter_mut().find(|e| e.get("id") == Some(&id))) {
                    Some(existing) => merge_at(existing, item, ""),
                    None => b.push(item),
                }
            }
        }
        (b, n) => *b = n,
    }
}

fn load_value(
    mut value: Value,
    env: &dyn Fn(&str) -> Option<String>,
    unset: Unset,
) -> Result<CompiledConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let mut vars = Variables {
        env,
        unset,
        withheld: Vec::new(),
        substituted: Vec::new(),
    };
    substitute_env(&mut value, String::new(), &mut vars, &mut errors);
    let mut origins = Origins::default();
    let config = deserialize_sections(value, &mut errors, &mut origins);
    match validate::compile(config) {
        Ok(mut compiled) if errors.is_empty() => {
            compiled.withheld = vars.withheld;
            compiled.substituted = vars.substituted;
            Ok(compiled)
        }
        Ok(_) => Err(ConfigErrors(errors)),
        // Semantic errors of the parts that did parse are reported too, at
        // their places in the file (elements that failed to parse were left out).
        Err(ConfigErrors(more)) => {
            errors.extend(more.into_iter().map(|e| origins.remap(e)));
            Err(ConfigErrors(errors))
        }
    }
}

/// For each list, the position in the file of each element that parsed.
#[derive(Default)]
struct Origins {
    handlers: Vec<usize>,
    outgoing: Vec<usize>,
}

impl Origins {
    fn remap(&self, mut e: ConfigError) -> ConfigError {
        for (list, origins) in [
            ("webhooks.handlers", &self.handlers),
            ("webhooks.outgoing", &self.outgoing),
        ] {
            let prefix = format!("{list}[");
            if let Some(rest) = e.path.strip_prefix(&prefix) {
                if let Some((idx, tail)) = rest.split_once(']') {
                    if let Some(orig) = idx.parse::<usize>().ok().and_then(|i| origins.get(i)) {
                        e.path = format!("{prefix}{orig}]{tail}");
                    }
                }
            }
        }
        e
    }
}

/// Where `${VAR}` values come from, and what became of those that did not.
struct Variables<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    unset: Unset,
    withheld: Vec<Withheld>,
    /// The values variables took (not their fallbacks, which the file shows).
    substituted: Vec<crate::secret::Secret>,
}

impl Variables<'_> {
    fn value(&mut self, name: &str, fallback: Option<&str>, path: &str) -> Option<String> {
        if let Some(v) = (self.env)(name) {
            self.substituted.push(crate::secret::Secret::new(v.clone()));
            return Some(v);
        }
        if let Some(v) = fallback {
            return Some(v.to_string());
        }
        if self.unset == Unset::Error {
            return None;
        }
        self.withheld.push(Withheld {
            path: path.to_string(),
            variable: name.to_string(),
        });
        Some(unknowable_secret())
    }
}

/// A value that stands in for a withheld secret: random, so whatever uses
/// it by mistake fails closed (no sender's secret matches it, no receiver
/// verifies its signatures), and shaped as a Standard Webhooks key so the
/// load's format checks pass for secrets this process never uses.
fn unknowable_secret() -> String {
    use base64::Engine as _;
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!(
        "{}{}",
        crate::protocol::standard_webhooks::SECRET_PREFIX,
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// Replaces `${VAR}` (and `${VAR:-fallback}`) in every string value.
/// `$${` stands for a literal `${`.
fn substitute_env(
    v: &mut Value,
    path: String,
    vars: &mut Variables<'_>,
    errors: &mut Vec<ConfigError>,
) {
    match v {
        Value::String(s) if s.contains("${") => {
            match expand(s, &mut |name, fallback| vars.value(name, fallback, &path)) {
                Ok(out) => *s = out,
                Err(msg) => errors.push(ConfigError::new(path, msg)),
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_env(item, format!("{path}[{i}]"), vars, errors);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                substitute_env(item, p, vars, errors);
            }
        }
        _ => {}
    }
}

/// `env(name, fallback)` gives a variable's value, or `None` for unset.
fn expand(
    s: &str,
    env: &mut dyn FnMut(&str, Option<&str>) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unclosed \"${\" in value".to_string())?;
        let inner = &after[..end];
        let (name, fallback) = match inner.split_once(":-") {
            Some((n, f)) => (n, Some(f)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid environment variable name {name:?}"));
        }
        match env(name, fallback) {
            Some(val) => out.push_str(&val),
            None => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

const WEBHOOKS_KEYS: &[&str] = &[
    "incoming",
    "admin",
    "handlers",
    "outgoing",
    "channels",
    "agents",
    "network",
    "sessions",
    "concurrency",
    "retention",
];

fn deserialize_sections(
    value: Value,
    errors: &mut Vec<ConfigError>,
    origins: &mut Origins,
) -> Config {
    let mut root = match value {
        Value::Object(m) => m,
        other => {
            errors.push(ConfigError::new(
                "",
                format!("the config must be a JSON object, found {}", kind(&other)),
            ));
            return Config::default();
        }
    };
    for k in root.keys() {
        if k != "webhooks" {
            errors.push(unknown_key(k.to_string(), k, &["webhooks"]));
        }
    }
    let mut hooks = match root.remove("webhooks") {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            errors.push(ConfigError::new(
                "webhooks",
                format!("expected an object, found {}", kind(&other)),
            ));
            return Config::default();
        }
    };
    for k in hooks.keys() {
        if !WEBHOOKS_KEYS.contains(&k.as_str()) {
            errors.push(unknown_key(format!("webhooks.{k}"), k, WEBHOOKS_KEYS));
        }
    }
    let mut w = Webhooks::default();
    if let Some(v) = hooks.remove("incoming") {
        w.incoming = section::<Incoming>(v, "webhooks.incoming", errors).unwrap_or_default();
    }
    if let Some(v) = hooks.remove("admin") {
        w.admin = section::<Admin>(v, "webhooks.admin", errors).unwrap_or_default();
    }
    if let Some(v) = hooks.remove("network") {
        w.network = section::<Network>(v, "webhooks.network", errors).unwrap_or_default();
    }
    if let Some(v) = hooks.remove("sessions") {
        w.sessions = section::<SessionDefaults>(v, "webhooks.sessions", errors).unwrap_or_default();
    }
    if let Some(v) = hooks.remove("concurrency") {
        w.concurrency =
            section::<Concurrency>(v, "webhooks.concurrency", errors).unwrap_or_default();
    }
    if let Some(v) = hooks.remove("retention") {
        w.retention = section::<Retention>(v, "webhooks.retention", errors).unwrap_or_default();
    }
    if let Some(mut v) = hooks.remove("handlers") {
        expand_presets(&mut v, errors);
        (w.handlers, origins.handlers) = list::<Handler>(v, "webhooks.handlers", errors)
            .into_iter()
            .unzip();
    }
    if let Some(v) = hooks.remove("outgoing") {
        (origins.outgoing, w.outgoing) = list::<Outgoing>(v, "webhooks.outgoing", errors)
            .into_iter()
            .map(|(t, i)| (i, t))
            .unzip();
    }
    if let Some(v) = hooks.remove("channels") {
        w.channels = named::<Channel>(v, "webhooks.channels", errors);
    }
    if let Some(v) = hooks.remove("agents") {
        w.agents = named::<Agent>(v, "webhooks.agents", errors);
    }
    Config { webhooks: w }
}

/// Fills each handler that names a `preset` from it, before the typed
/// parse checks the result ([`crate::presets`]).
fn expand_presets(handlers: &mut Value, errors: &mut Vec<ConfigError>) {
    if let Value::Array(items) = handlers {
        for (i, h) in items.iter_mut().enumerate() {
            if let Err(e) = crate::presets::expand(h, &format!("webhooks.handlers[{i}]")) {
                errors.push(e);
            }
        }
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The elements that parsed, each with its position in the file.
fn list<T: DeserializeOwned>(
    v: Value,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<(T, usize)> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| section(item, &format!("{path}[{i}]"), errors).map(|t| (t, i)))
            .collect(),
        other => {
            errors.push(ConfigError::new(
                path,
                format!("expected an array, found {}", kind(&other)),
            ));
            Vec::new()
        }
    }
}

fn named<T: DeserializeOwned>(
    v: Value,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> std::collections::BTreeMap<String, T> {
    match v {
        Value::Object(m) => m
            .into_iter()
            .filter_map(|(k, item)| section(item, &format!("{path}.{k}"), errors).map(|t| (k, t)))
            .collect(),
        other => {
            errors.push(ConfigError::new(
                path,
                format!("expected an object, found {}", kind(&other)),
            ));
            Default::default()
        }
    }
}

fn section<T: DeserializeOwned>(v: Value, path: &str, errors: &mut Vec<ConfigError>) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) => Some(t),
        Err(e) => {
            let inner = e.path().to_string();
            let at = if inner == "." || inner.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{inner}")
            };
            errors.push(describe(at, &e.into_inner().to_string()));
            None
        }
    }
}

/// Turns serde's wording into ours, adding a did-you-mean to unknown keys.
fn describe(path: String, msg: &str) -> ConfigError {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        // serde_path_to_error's path already names the unknown key.
        let parent = path.strip_suffix(&format!(".{name}")).unwrap_or(&path);
        return unknown_key(format!("{parent}.{name}"), name, &expected);
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        let mut m = format!(
            "unknown value {name:?}; expected one of {}",
            quoted(&expected)
        );
        if let Some(best) = closest(name, &expected) {
            m = format!(
                "unknown value {name:?} (did you mean {best:?}?); expected one of {}",
                quoted(&expected)
            );
        }
        return ConfigError::new(path, m);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return ConfigError::new(path, format!("missing required key {name:?}"));
    }
    ConfigError::new(path, msg.to_string())
}

fn unknown_key(path: String, name: &str, expected: &[&str]) -> ConfigError {
    let hint = match closest(name, expected) {
        Some(best) => format!(" (did you mean {best:?}?)"),
        None => format!("; known keys: {}", quoted(expected)),
    };
    ConfigError::new(path, format!("unknown key {name:?}{hint}"))
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn errors(text: &str) -> Vec<String> {
        match load_str(text, &no_env) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn malformed_whsec_secrets_fail_to_load_for_forward_and_outgoing_alike() {
        let e = errors(
            r#"{"webhooks":{"handlers":[{"id":"a"},{"id":"b"},
                {"id":"relay","action":"forward","forward":{"url":"https://relay.example","secret":"whsec_not*base64!"}}],
              "outgoing":[{"id":"o","url":"https://out.example","secret":"whsec_not*base64!"}]}}"#,
        );
        assert_eq!(
            e,
            [
                "webhooks.handlers[2].forward.secret: a whsec_ secret must be base64 after the prefix",
                "webhooks.outgoing[0].secret: a whsec_ secret must be base64 after the prefix",
            ]
        );
        let empty = r#"{"webhooks":{"handlers":[{"id":"relay","action":"forward","forward":{"url":"https://relay.example","secret":""}}]}}"#;
        assert_eq!(
            errors(empty),
            ["webhooks.handlers[0].forward.secret: the secret is empty"]
        );
    }

    #[test]
    fn strip_headers_are_checked_and_passing_a_stripped_header_warns() {
        assert_eq!(
            errors(r#"{"webhooks":{"incoming":{"stripHeaders":["X-Ok","bad header"]}}}"#),
            [r#"webhooks.incoming.stripHeaders[1]: "bad header" is not a valid header name"#]
        );
        assert_eq!(
            errors(r#"{"webhooks":{"incoming":{"stripHeader":["X-Ok"]}}}"#),
            [
                r#"webhooks.incoming.stripHeader: unknown key "stripHeader" (did you mean "stripHeaders"?)"#
            ]
        );
        let cfg = load_str(
            r#"{"webhooks":{"incoming":{"stripHeaders":["X-Tenant-Token"]},"handlers":[{"id":"relay","action":"forward",
                "forward":{"url":"https://relay.example","passHeaders":["X-GitHub-Event","X-Api-Key","x-tenant-token"]}}]}}"#,
            &no_env,
        )
        .unwrap();
        let paths: Vec<&str> = cfg.warnings.iter().map(|w| w.path.as_str()).collect();
        assert!(
            paths.contains(&"webhooks.handlers[0].forward.passHeaders[1]"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"webhooks.handlers[0].forward.passHeaders[2]"),
            "{paths:?}"
        );
        assert!(
            !paths.contains(&"webhooks.handlers[0].forward.passHeaders[0]"),
            "{paths:?}"
        );
    }

    #[test]
    fn bad_cidr_names_its_path() {
        let e = errors(r#"{"webhooks":{"incoming":{"allowedIPs":["10.0.0.1","10.0.0.300"]}}}"#);
        assert_eq!(
            e,
            vec![r#"webhooks.incoming.allowedIPs[1]: invalid CIDR "10.0.0.300""#]
        );
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        let e = errors(r#"{"webhooks":{"incoming":{"secretHeadr":"X"},"handlerz":[]}}"#);
        assert!(
            e.contains(
                &r#"webhooks.handlerz: unknown key "handlerz" (did you mean "handlers"?)"#
                    .to_string()
            ),
            "{e:?}"
        );
        assert!(
            e.contains(&r#"webhooks.incoming.secretHeadr: unknown key "secretHeadr" (did you mean "secretHeader"?)"#.to_string()),
            "{e:?}"
        );
    }

    #[test]
    fn every_bad_handler_is_reported() {
        let e = errors(
            r#"{"webhooks":{"handlers":[{"id":"a","action":"sen_message"},{"id":"b","sessionMode":"forever"}]}}"#,
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("webhooks.handlers[0].action: unknown value \"sen_message\" (did you mean \"send_message\"?)"), "{e:?}");
        assert!(
            e[1].starts_with("webhooks.handlers[1].sessionMode: unknown value \"forever\""),
            "{e:?}"
        );
    }

    #[test]
    fn concurrency_has_defaults_and_bounds_named_by_path() {
        let c = load_str("{}", &|_| None)
            .unwrap()
            .config
            .webhooks
            .concurrency;
        assert_eq!((c.handler, c.egress), (128, 64));
        let e = errors(r#"{"webhooks":{"concurrency":{"handler":0,"egress":5000}}}"#);
        assert_eq!(
            e,
            [
                "webhooks.concurrency.handler: must be between 1 and 4096, not 0",
                "webhooks.concurrency.egress: must be between 1 and 4096, not 5000"
            ],
        );
        let e = errors(r#"{"webhooks":{"concurrency":{"handler":"lots"}}}"#);
        assert!(e[0].starts_with("webhooks.concurrency.handler: "), "{e:?}");
    }

    #[test]
    fn retention_has_defaults_and_bounds_named_by_path() {
        let w = load_str(
            r#"{"webhooks":{"incoming":{"dedupWindow":"30d"}}}"#,
            &|_| None,
        )
        .unwrap()
        .config
        .webhooks;
        let r = &w.retention;
        let day = 24 * 3600;
        assert_eq!(
            (r.events.0, r.deliveries.0, r.dead_letters.0),
            (7 * day, 30 * day, 14 * day)
        );
        assert_eq!(
            w.status_kept_secs(),
            30 * day as i64,
            "an event is kept as long as a repeat of its key is recognised"
        );
        let e = errors(r#"{"webhooks":{"retention":{"events":0,"deadLetters":"15d"}}}"#);
        assert_eq!(
            e,
            [
                "webhooks.retention.events: must be at least 1s",
                "webhooks.retention.deadLetters: must be at most 14d (1209600s, the longest SQS keeps a message), not 1296000s"
            ],
        );
        let e = errors(r#"{"webhooks":{"retention":{"event":"1d"}}}"#);
        assert!(
            e[0].starts_with("webhooks.retention.event: unknown key"),
            "{e:?}"
        );
    }

    #[test]
    fn env_substitution() {
        let env = |k: &str| (k == "HOOK_SECRET").then(|| "s3cret".to_string());
        let c = load_str(
            r#"{"webhooks":{"incoming":{"secret":"${HOOK_SECRET}"}}}"#,
            &env,
        )
        .unwrap();
        assert_eq!(
            c.config.webhooks.incoming.secret.as_ref().unwrap().expose(),
            "s3cret"
        );
        let e = load_str(
            r#"{"webhooks":{"incoming":{"secret":"${MISSING_ONE}"}}}"#,
            &env,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "webhooks.incoming.secret: environment variable MISSING_ONE is not set"
        );
        let c = load_str(
            r#"{"webhooks":{"incoming":{"secret":"${MISSING_ONE:-dflt}$${LITERAL}"}}}"#,
            &env,
        )
        .unwrap();
        assert_eq!(
            c.config.webhooks.incoming.secret.as_ref().unwrap().expose(),
            "dflt${LITERAL}"
        );
    }

    #[test]
    fn merge_joins_handlers_by_id() {
        let mut a = serde_json::json!({"webhooks":{"handlers":[{"id":"alerts","sessionMode":"persistent"}],"incoming":{"port":1}}});
        merge(
            &mut a,
            serde_json::json!({"webhooks":{"handlers":[{"id":"alerts","path":"/alerts"},{"id":"gh"}],"incoming":{"secret":"x"}}}),
        );
        assert_eq!(
            a,
            serde_json::json!({"webhooks":{"handlers":[{"id":"alerts","sessionMode":"persistent","path":"/alerts"},{"id":"gh"}],"incoming":{"port":1,"secret":"x"}}})
        );
    }

    #[test]
    fn a_channel_missing_what_its_kind_needs_fails_to_load() {
        let chans = r##"{"webhooks":{"channels":{
            "d":{"type":"discord","channelId":"1"},
            "s":{"type":"slack"},
            "t":{"type":"telegram","channelId":"42"},
            "w":{"type":"webhook"},
            "l":{"type":"log","botToken":"x"},
            "ok":{"type":"log","peers":{"ops":"#ops"},"maxLength":100}}}}"##;
        assert_eq!(
            errors(chans),
            [
                "webhooks.channels.d: a discord channel needs webhookUrl or botToken",
                "webhooks.channels.l.botToken: unknown key \"botToken\"; known keys: \"channelId\", \"peers\", \"maxLength\"",
                "webhooks.channels.s: a slack channel needs webhookUrl or botToken",
                "webhooks.channels.t: missing required key \"botToken\"",
                "webhooks.channels.w: a webhook channel needs url",
            ]
        );
    }
}
