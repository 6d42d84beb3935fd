//! Content routing: several handlers may name the same `path`, and the
//! first in config order whose `filter` passes takes the hook. Decided
//! here, without I/O, for ingress and `clawhooks try` alike.
//!
//! Handlers on one path authenticate as its first handler (ingress checks
//! the secret or signature before any filter reads the hook), so a later
//! one may not bring a `secret` or `verify` of its own.

use super::error::ConfigError;
use super::{Handler, Webhooks};
use crate::filter::{self, Filter};
use serde_json::Value;
use std::collections::HashMap;

/// The handlers' compiled filters and the paths several handlers share.
#[derive(Debug, Default)]
pub(crate) struct Routing {
    /// By handler index; `None` takes every hook.
    filters: Vec<Option<Filter>>,
    /// A shared path's route → its handlers in config order.
    shared: HashMap<String, Vec<usize>>,
}

/// Which handler on a route takes a hook, and why each one before it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// The index in `webhooks.handlers` of the handler that takes the hook;
    /// `None` when every filter on the route refused it.
    pub taken_by: Option<usize>,
    /// The handlers whose filter refused the hook, in the order tried.
    pub refused_by: Vec<usize>,
}

impl Routing {
    /// Compiles every `filter` (an error names its JSON path) and gathers
    /// the paths whose earlier handlers all filter; `route_paths` warns
    /// about the rest.
    pub(crate) fn build(w: &Webhooks, errors: &mut Vec<ConfigError>) -> Self {
        let filters = w
            .handlers
            .iter()
            .enumerate()
            .map(|(i, h)| compile_filter(h, &format!("webhooks.handlers[{i}].filter"), errors))
            .collect::<Vec<_>>();
        let mut shared: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, h) in w.handlers.iter().enumerate() {
            if let Some(route) = h.path.as_deref().map(route_of) {
                shared.entry(route).or_default().push(i);
            }
        }
        shared.retain(|_, on| on.len() > 1);
        for on in shared.values_mut() {
            let open = on.iter().position(|&i| filters[i].is_none());
            on.truncate(open.map_or(on.len(), |p| p + 1));
            for &i in &on[1..] {
                check_joiner(&w.handlers[i], i, &w.handlers[on[0]], errors);
            }
        }
        shared.retain(|_, on| on.len() > 1);
        Self { filters, shared }
    }

    /// Whether handler `i` takes hooks on `route` after `owner`, the
    /// handler the route reaches first (not one whose id is the route).
    pub(crate) fn joins(&self, route: &str, i: usize, owner: usize) -> bool {
        self.shared
            .get(route)
            .is_some_and(|on| on[0] == owner && on.contains(&i))
    }

    /// The handler without a filter that ends a shared path's chain.
    pub(crate) fn catch_all(&self, route: &str) -> Option<usize> {
        self.shared.get(route)?.last().copied()
    }

    pub(crate) fn filter(&self, i: usize) -> Option<&Filter> {
        self.filters.get(i)?.as_ref()
    }

    /// The handlers `hook_id` reaches, in the order their filters are tried:
    /// a shared path's handlers, or the one handler its id or path names.
    pub(crate) fn candidates(&self, hook_id: &str, first: Option<usize>) -> Vec<usize> {
        match self.shared.get(hook_id) {
            Some(on) if first == Some(on[0]) => on.clone(),
            _ => first.into_iter().collect(),
        }
    }

    /// The first of `candidates` whose filter passes `input`
    /// (`{"body", "headers", "query"}`, from [`filter::input`]).
    pub(crate) fn pick(&self, candidates: &[usize], input: &Value) -> Pick {
        let mut refused_by = Vec::new();
        for &i in candidates {
            match self.filter(i) {
                Some(f) if !f.matches(input) => refused_by.push(i),
                _ => {
                    return Pick {
                        taken_by: Some(i),
                        refused_by,
                    }
                }
            }
        }
        Pick {
            taken_by: None,
            refused_by,
        }
    }
}

fn compile_filter(h: &Handler, at: &str, errors: &mut Vec<ConfigError>) -> Option<Filter> {
    match filter::compile(h.filter.as_ref()?) {
        Ok(f) => Some(f),
        Err(e) if e.path.is_empty() => {
            errors.push(ConfigError::new(at, e.message));
            None
        }
        Err(e) => {
            errors.push(ConfigError::new(format!("{at}.{}", e.path), e.message));
            None
        }
    }
}

/// A later handler on a shared path is authenticated as the first one.
fn check_joiner(h: &Handler, i: usize, first: &Handler, errors: &mut Vec<ConfigError>) {
    for (key, own) in [
        ("secret", h.secret.is_some()),
        ("verify", h.verify.is_some()),
    ] {
        if own {
            errors.push(ConfigError::new(
                format!("webhooks.handlers[{i}].{key}"),
                format!(
                    "handler {:?} shares its path with {:?}, which authenticates every hook on it; move {key} to {:?}",
                    h.id, first.id, first.id
                ),
            ));
        }
    }
}

/// `"/github"` → `"github"`: the part after `/webhook/` that reaches the handler.
pub fn route_of(path: &str) -> String {
    let p = path.trim_matches('/');
    p.strip_prefix("webhook/").unwrap_or(p).to_string()
}

/// The warning (path, message) for a handler an earlier catch-all on its
/// path shadows.
pub(crate) fn shadowed(i: usize, h: &Handler, by: &Handler, route: &str) -> (String, String) {
    (
        format!("webhooks.handlers[{i}].path"),
        format!(
            "POST /webhook/{route} reaches handler {:?} first and it has no filter, so it takes every hook there; handler {:?} stays reachable at /webhook/{}",
            by.id, h.id, h.id
        ),
    )
}

impl super::CompiledConfig {
    /// Which handler takes a hook posted to `/webhook/<hook_id>` whose
    /// parts are `input` ([`filter::input`]); an unknown hook id is a pick
    /// of nothing refused by nothing.
    pub fn pick(&self, hook_id: &str, input: &Value) -> Pick {
        let first = self.routes.get(hook_id).copied();
        self.routing
            .pick(&self.routing.candidates(hook_id, first), input)
    }

    /// Whether a hook posted to `hook_id` must be read by a filter before
    /// it is kept.
    pub fn filters(&self, hook_id: &str) -> bool {
        let first = self.routes.get(hook_id).copied();
        self.routing
            .candidates(hook_id, first)
            .iter()
            .any(|&i| self.routing.filter(i).is_some())
    }

    /// The handlers a hook posted to `hook_id` may reach, in the order
    /// their filters are tried.
    pub fn candidates(&self, hook_id: &str) -> Vec<usize> {
        let first = self.routes.get(hook_id).copied();
        self.routing.candidates(hook_id, first)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{load_str, CompiledConfig};
    use serde_json::{json, Value};

    fn load(handlers: Value) -> Result<CompiledConfig, String> {
        let cfg = json!({"webhooks": {"incoming": {"secret": "s"}, "handlers": handlers}});
        load_str(&cfg.to_string(), &|_| None).map_err(|e| e.to_string())
    }

    fn hook(action: &str) -> Value {
        crate::filter::input(json!({ "action": action }), [], &Default::default())
    }

    fn taken(cfg: &CompiledConfig, hook_id: &str, action: &str) -> Option<String> {
        let pick = cfg.pick(hook_id, &hook(action));
        pick.taken_by
            .map(|i| cfg.config.webhooks.handlers[i].id.clone())
    }

    #[test]
    fn a_bad_filter_is_a_load_error_naming_its_json_path() {
        let err = load(json!([
            {"id": "a"},
            {"id": "b", "filter": {"body": {"action": {"$foo": 1}}}}
        ]))
        .unwrap_err();
        assert_eq!(
            err,
            "webhooks.handlers[1].filter.body.action: unknown operator $foo"
        );
        let err = load(json!([{"id": "a", "filter": "yes"}])).unwrap_err();
        assert_eq!(
            err,
            "webhooks.handlers[0].filter: must be an object naming body, headers or query"
        );
    }

    #[test]
    fn the_first_handler_whose_filter_passes_takes_the_hook() {
        let cfg = load(json!([
            {"id": "opened", "path": "/gh", "filter": {"body": {"action": "opened"}}},
            {"id": "closed", "path": "/gh", "filter": {"body": {"action": {"$in": ["closed", "opened"]}}}},
            {"id": "rest", "path": "/gh"}
        ]))
        .unwrap();
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        assert_eq!(taken(&cfg, "gh", "opened").as_deref(), Some("opened"));
        assert_eq!(taken(&cfg, "gh", "closed").as_deref(), Some("closed"));
        assert_eq!(taken(&cfg, "gh", "labeled").as_deref(), Some("rest"));
        assert_eq!(cfg.pick("gh", &hook("labeled")).refused_by, vec![0, 1]);
        // A handler's own id reaches it alone, through its own filter.
        assert_eq!(taken(&cfg, "closed", "opened").as_deref(), Some("closed"));
        assert_eq!(taken(&cfg, "closed", "labeled"), None);
        assert!(!cfg.filters("rest"));
        assert!(cfg.filters("gh"));
    }

    #[test]
    fn a_hook_no_filter_passes_is_taken_by_nobody() {
        let cfg = load(json!([
            {"id": "a", "path": "/gh", "filter": {"body": {"action": "opened"}}},
            {"id": "b", "path": "/gh", "filter": {"body": {"action": "closed"}}}
        ]))
        .unwrap();
        let pick = cfg.pick("gh", &hook("labeled"));
        assert_eq!((pick.taken_by, pick.refused_by), (None, vec![0, 1]));
    }

    #[test]
    fn validate_warns_about_a_handler_an_earlier_catch_all_shadows() {
        let cfg = load(json!([
            {"id": "a", "path": "/gh", "filter": {"body": {"action": "opened"}}},
            {"id": "all", "path": "/gh"},
            {"id": "never", "path": "/gh", "filter": {"body": {"action": "closed"}}}
        ]))
        .unwrap();
        let shown: Vec<String> = cfg.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(shown, vec![
            "webhooks.handlers[2].path: POST /webhook/gh reaches handler \"all\" first and it has no filter, so it takes every hook there; handler \"never\" stays reachable at /webhook/never".to_string()
        ]);
        assert_eq!(taken(&cfg, "gh", "closed").as_deref(), Some("all"));
    }

    #[test]
    fn a_later_handler_on_a_shared_path_cannot_bring_its_own_secret() {
        let err = load(json!([
            {"id": "a", "path": "/gh", "filter": {"body": {"action": "opened"}}},
            {"id": "b", "path": "/gh", "secret": "other"}
        ]))
        .unwrap_err();
        assert_eq!(err, "webhooks.handlers[1].secret: handler \"b\" shares its path with \"a\", which authenticates every hook on it; move secret to \"a\"");
    }
}
