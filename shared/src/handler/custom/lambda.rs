//! `custom.lambda`: an AWS Lambda function (name, ARN or alias ARN)
//! invoked synchronously with the event as payload:
//! `{"event": <InboundEvent>, "body": <parsed body>, "handlerId", "options"}`.
//!
//! The function's JSON answer is the result; a string `text` in it is
//! posted to the handler's `target` channel like a registry function's.
//! Throttling and service errors are transient; a function error (the
//! function threw) or a missing function is permanent.

use super::{Input, Output};
use crate::handler::failure::ActionError;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use serde_json::{json, Value};

/// Invokes Lambda functions; built by the shells from their AWS config.
#[derive(Clone, Debug)]
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
}

/// Error codes of Invoke worth another try.
const TRANSIENT_CODES: &[&str] = &[
    "TooManyRequestsException",
    "ServiceException",
    "EC2ThrottledException",
    "ResourceNotReadyException",
    "ResourceConflictException",
    "SnapStartNotReadyException",
    "ThrottlingException",
];

impl LambdaInvoker {
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        LambdaInvoker { client }
    }

    /// From aws-config's chain (environment, profiles, `AWS_ENDPOINT_URL`…),
    /// over the build's one TLS stack (rustls + ring): `serve --backend
    /// aws`. The handler function builds its client from its `AwsClients`.
    #[cfg(feature = "aws-profiles")]
    pub async fn from_env() -> Self {
        crate::outbound::http::install_crypto_provider();
        let conf = crate::aws::clients::sdk_config().await;
        Self::new(aws_sdk_lambda::Client::new(&conf))
    }

    /// The SDK client, for setup beside invocation (tests create functions with it).
    pub fn client(&self) -> &aws_sdk_lambda::Client {
        &self.client
    }

    /// Invokes `function`; past `timeout` (`custom.timeoutMs`) the call is
    /// given up as a transient failure, so the hook is tried again.
    pub async fn invoke(
        &self,
        function: &str,
        handler_id: &str,
        input: &Input<'_>,
        timeout: std::time::Duration,
    ) -> Result<Output, ActionError> {
        let payload = json!({
            "event": input.event,
            "body": input.body,
            "handlerId": handler_id,
            "options": input.options,
        });
        let out = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(
                serde_json::to_vec(&payload).expect("json serializes"),
            ))
            .send();
        let out = tokio::time::timeout(timeout, out)
            .await
            .map_err(|_| {
                ActionError::transient(
                    "custom",
                    format!(
                        "lambda {function}: no answer within custom.timeoutMs ({} ms)",
                        timeout.as_millis()
                    ),
                )
            })?
            .map_err(|e| {
                let code = e.code().map(str::to_string);
                let message = match (&code, e.message()) {
                    (Some(c), Some(m)) => format!("lambda {function}: {c}: {m}"),
                    (Some(c), None) => format!("lambda {function}: {c}"),
                    _ => format!("lambda {function}: request failed"),
                };
                match code.as_deref() {
                    Some(c) if !TRANSIENT_CODES.contains(&c) => {
                        ActionError::permanent("custom", message)
                    }
                    _ => ActionError::transient("custom", message),
                }
            })?;
        let body: Value = out
            .payload()
            .and_then(|b| serde_json::from_slice(b.as_ref()).ok())
            .unwrap_or(Value::Null);
        if let Some(kind) = out.function_error() {
            let msg = body
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("(no message)");
            return Err(ActionError::permanent(
                "custom",
                format!("lambda {function} failed ({kind}): {msg}"),
            ));
        }
        Ok(Output {
            text: body.get("text").and_then(Value::as_str).map(str::to_string),
            data: body,
        })
    }
}
