//! `POST /playground`: a handler's filter, transform and template, as
//! configured and as edited, run side by side on the last hooks it
//! received. It only computes: nothing is kept, queued or sent.
//!
//! The payloads are the requests the events' status records keep (the
//! body cut at [`crate::event::REQUEST_BODY_KEPT`]; such a body is run as
//! kept and marked `truncated`). The edited handler is compiled with the
//! whole config by the checks load runs, so what the playground accepts
//! loads from the file too, and a bad filter, transform or template is a
//! 400 naming its key. `clawhooks serve` only: the Lambda functions carry
//! no script engine.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::time::Duration;

// The Lambda ingress serves the API too; it runs no transforms, and the
// playground's code stays out of its 4 MB zip.
#[cfg(feature = "transforms")]
mod compute;
#[cfg(feature = "transforms")]
pub use compute::run;

/// Where transforms do not run (the Lambda functions), neither does the
/// playground.
#[cfg(not(feature = "transforms"))]
pub async fn run() -> crate::refusal::Refusal {
    crate::refusal::Refusal::NotImplemented(
        "the playground runs in `clawhooks serve` (this build runs no transforms)".into(),
    )
}

/// The most past hooks one call runs on.
pub const PAYLOADS: usize = 20;

/// Time after which a call runs no further payload (scripts stop at their
/// own `timeoutMs`, up to 5 s each).
pub const BUDGET: Duration = Duration::from_secs(5);

/// `POST /playground`'s body: a handler, and the keys that replace its own
/// (`null` removes one).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundRequest {
    /// The handler's id.
    pub handler: String,
    #[serde(default, deserialize_with = "given")]
    pub filter: Option<Value>,
    /// `{"code": "…"}` with its limits (a `file` is read only at load).
    #[serde(default, deserialize_with = "given")]
    pub transform: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    pub template: Option<Value>,
}

/// A key that is present, `null` included (which removes it).
fn given<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// What one handler makes of one hook.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Whether the handler's filter takes the hook (true without one); the
    /// rest is what the handler would make of it if it did.
    pub matched: bool,
    /// What the transform answered (`body`, `vars`, `sessionKey`, `skip`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transform: Option<Value>,
    /// The transform's or the template's failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rendered: String,
    pub session_key: String,
}

/// One past hook, run by the configured and by the edited handler.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tried {
    pub event_id: String,
    pub received_at: String,
    /// The kept body was cut, so it is run cut.
    pub truncated: bool,
    pub current: Outcome,
    pub edited: Outcome,
}

/// `POST /playground`'s answer, newest hook first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaygroundAnswer {
    pub ok: bool,
    pub handler: String,
    pub payloads: Vec<Tried>,
    /// The call spent its [`BUDGET`]; older payloads were not run.
    pub cut_short: bool,
}
