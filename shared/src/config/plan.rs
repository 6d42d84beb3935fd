//! What each handler does, as load checked it: the one place the action
//! keys of the wire [`Handler`] (`action`, `target`, `agentId`, `forward`,
//! `custom`) become an [`ActionPlan`] whose required parts are there by
//! type. The handler's actions take the plan, so none checks an `Option`
//! load already checked.

use super::error::ConfigError;
use super::{Action, Custom, Forward, Handler, Target};
use crate::secret::Redacted;
use serde_json::Value;
use std::time::Duration;

/// A handler's action with everything it needs; `action: "none"` has none.
#[derive(Debug, Clone)]
pub enum ActionPlan {
    /// The rendered text to `target`.
    SendMessage { target: Target },
    /// The rendered text as a prompt to the agent `agent_id`; its answer to
    /// `target`, if any.
    RunAgent {
        agent_id: String,
        target: Option<Target>,
    },
    /// The hook to another endpoint.
    Forward(Forward),
    /// A built-in function or a Lambda function.
    Custom(CustomPlan),
}

/// `custom`, as load checked it.
#[derive(Debug, Clone)]
pub struct CustomPlan {
    pub call: CustomCall,
    /// `custom.options`, passed to the function.
    pub options: Redacted<Value>,
    /// Where the function's `text` goes, if anywhere.
    pub target: Option<Target>,
}

/// Which function a `custom` handler calls: exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomCall {
    /// A function of the library's registry (`custom.function`), one of
    /// [`super::CUSTOM_FUNCTIONS`].
    Function(String),
    /// An AWS Lambda function (`custom.lambda`) and how long it may take.
    Lambda { function: String, timeout: Duration },
}

impl ActionPlan {
    /// The handler's plan, or the error naming the key it lacks (`at` is
    /// the handler's JSON path). `None` for `action: "none"`.
    pub fn of(h: &Handler, at: &str) -> Result<Option<ActionPlan>, ConfigError> {
        let missing = |key: &str, what: &str| ConfigError::new(format!("{at}.{key}"), what);
        Ok(Some(match h.action {
            Action::SendMessage => ActionPlan::SendMessage {
                target: h.target.clone().ok_or_else(|| {
                    missing(
                        "target",
                        "send_message needs a target {\"channel\", \"peer\"}",
                    )
                })?,
            },
            Action::RunAgent => ActionPlan::RunAgent {
                agent_id: h
                    .agent_id
                    .clone()
                    .ok_or_else(|| missing("agentId", "run_agent needs an agentId"))?,
                target: h.target.clone(),
            },
            Action::Forward => ActionPlan::Forward(
                h.forward
                    .clone()
                    .ok_or_else(|| missing("forward", "forward needs forward {\"url\"}"))?,
            ),
            Action::Custom => ActionPlan::Custom(custom_plan(h, at)?),
            Action::None => return Ok(None),
        }))
    }

    /// The `action` this plan was written as.
    pub fn action(&self) -> Action {
        match self {
            ActionPlan::SendMessage { .. } => Action::SendMessage,
            ActionPlan::RunAgent { .. } => Action::RunAgent,
            ActionPlan::Forward(_) => Action::Forward,
            ActionPlan::Custom(_) => Action::Custom,
        }
    }
}

fn custom_plan(h: &Handler, at: &str) -> Result<CustomPlan, ConfigError> {
    let exactly_one = || {
        ConfigError::new(
            format!("{at}.custom"),
            "custom needs exactly one of custom.function or custom.lambda",
        )
    };
    let c: &Custom = h.custom.as_ref().ok_or_else(exactly_one)?;
    let call = match (&c.function, &c.lambda) {
        (Some(f), None) if super::CUSTOM_FUNCTIONS.contains(&f.as_str()) => {
            CustomCall::Function(f.clone())
        }
        (Some(f), None) => {
            return Err(ConfigError::new(
                format!("{at}.custom.function"),
                format!(
                    "unknown custom function {f:?}; known: {}",
                    super::CUSTOM_FUNCTIONS.join(", ")
                ),
            ))
        }
        (None, Some(l)) => CustomCall::Lambda {
            function: l.clone(),
            timeout: Duration::from_millis(c.timeout_ms),
        },
        _ => return Err(exactly_one()),
    };
    Ok(CustomPlan {
        call,
        options: c.options.clone(),
        target: h.target.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_all_lists_every_action_by_its_config_name() {
        let schema = serde_json::to_value(schemars::schema_for!(Action)).unwrap();
        let mut in_schema = Vec::new();
        collect_names(&schema, &mut in_schema);
        in_schema.sort();
        let mut all: Vec<String> = Action::ALL.iter().map(|a| a.as_str().to_string()).collect();
        all.sort();
        assert_eq!(
            in_schema, all,
            "Action::ALL and the config's action names differ"
        );
        for a in Action::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
    }

    /// The string values an enum's schema allows (`enum` or `const`).
    fn collect_names(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("const", serde_json::Value::String(s)) => out.push(s.clone()),
                        ("enum", serde_json::Value::Array(items)) => {
                            out.extend(items.iter().filter_map(|i| i.as_str().map(str::to_string)))
                        }
                        _ => collect_names(x, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| collect_names(i, out)),
            _ => {}
        }
    }

    fn plan(handler: serde_json::Value) -> Result<Option<ActionPlan>, String> {
        let h: Handler = serde_json::from_value(handler).unwrap();
        ActionPlan::of(&h, "webhooks.handlers[0]").map_err(|e| e.to_string())
    }

    #[test]
    fn each_action_lacking_what_it_needs_names_the_key() {
        use serde_json::json;
        for (handler, error) in [
            (
                json!({"id": "a", "action": "send_message"}),
                "webhooks.handlers[0].target: send_message needs",
            ),
            (
                json!({"id": "a", "action": "run_agent"}),
                "webhooks.handlers[0].agentId: run_agent needs",
            ),
            (
                json!({"id": "a", "action": "forward"}),
                "webhooks.handlers[0].forward: forward needs",
            ),
            (
                json!({"id": "a", "action": "custom"}),
                "webhooks.handlers[0].custom: custom needs exactly one",
            ),
            (
                json!({"id": "a", "action": "custom", "custom": {"function": "github_summary", "lambda": "f"}}),
                "webhooks.handlers[0].custom: custom needs exactly one",
            ),
            (
                json!({"id": "a", "action": "custom", "custom": {"function": "nope"}}),
                "webhooks.handlers[0].custom.function: unknown custom function \"nope\"",
            ),
        ] {
            let err = plan(handler).expect_err(error);
            assert!(err.starts_with(error), "{err}");
        }
        assert!(plan(json!({"id": "a"})).unwrap().is_none());
        let lambda = plan(
            json!({"id": "a", "action": "custom", "target": {"channel": "c"},
                                 "custom": {"lambda": "f", "timeoutMs": 5}}),
        )
        .unwrap();
        let Some(ActionPlan::Custom(c)) = lambda else {
            panic!("{lambda:?}")
        };
        assert_eq!(
            c.call,
            CustomCall::Lambda {
                function: "f".into(),
                timeout: Duration::from_millis(5)
            }
        );
        assert_eq!(c.target.unwrap().channel, "c");
    }
}
