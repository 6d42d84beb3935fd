//! `custom`: a function of the library's registry
//! ([`crate::handler::custom`]) or an AWS Lambda function. Its `text`, if
//! any, is posted to the handler's `target`.

use super::{send_message, Run};
use crate::config::{CustomCall, CustomPlan};
use crate::handler::custom::{self, Input, Output};
use crate::handler::failure::ActionError;
use crate::handler::status::Status;
use serde_json::{json, Value};
use std::time::Duration;

pub async fn run(
    run: &Run<'_>,
    status: &mut Status,
    plan: &CustomPlan,
) -> Result<Value, ActionError> {
    let output = match &status.progress.action_result {
        Some(saved) => Output {
            text: saved
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_string),
            data: saved.get("data").cloned().unwrap_or(Value::Null),
        },
        None => {
            let output = call(run, plan).await?;
            status.progress.action_result =
                Some(json!({ "text": output.text, "data": output.data }));
            run.save(status).await?;
            output
        }
    };
    let mut result = json!({ "text": output.text, "data": output.data });
    if let (Some(target), Some(text)) = (&plan.target, &output.text) {
        result["delivery"] = send_message::deliver(run, status, target, text).await?;
    }
    Ok(result)
}

async fn call(run: &Run<'_>, plan: &CustomPlan) -> Result<Output, ActionError> {
    let input = Input {
        event: run.ev,
        body: &run.prepared.body,
        context: &run.prepared.context,
        options: plan.options.expose(),
    };
    match &plan.call {
        CustomCall::Function(name) => {
            // Load checked the name against the registry's.
            let f = custom::lookup(name).ok_or_else(|| {
                ActionError::permanent(
                    "custom",
                    format!(
                        "unknown custom function {name:?}; known: {}",
                        custom::names().join(", ")
                    ),
                )
            })?;
            f(&input).map_err(|e| ActionError::permanent("custom", format!("{name}: {e}")))
        }
        CustomCall::Lambda { function, timeout } => {
            invoke_lambda(run, function, *timeout, &input).await
        }
    }
}

#[cfg(feature = "lambda-invoke")]
async fn invoke_lambda(
    run: &Run<'_>,
    function: &str,
    timeout: Duration,
    input: &Input<'_>,
) -> Result<Output, ActionError> {
    match &run.stage.lambda {
        Some(l) => l.invoke(function, &run.handler.id, input, timeout).await,
        None => Err(ActionError::permanent(
            "custom",
            "custom.lambda is set but this deployment has no Lambda client (HandlerStage::with_lambda)",
        )),
    }
}

#[cfg(not(feature = "lambda-invoke"))]
async fn invoke_lambda(
    _: &Run<'_>,
    _: &str,
    _: Duration,
    _: &Input<'_>,
) -> Result<Output, ActionError> {
    Err(ActionError::permanent(
        "custom",
        "custom.lambda needs clawhooks built with the `aws` feature",
    ))
}
