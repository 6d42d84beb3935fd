//! Named fail points for fault-injection tests: the places between two
//! writes where a crash or an error could lose or delay an accepted hook.
//!
//! They are compiled in only with the `failpoints` feature (the `fail`
//! crate's macro expands to nothing otherwise) and armed by the `FAILPOINTS`
//! environment variable of the process, in the `fail` crate's syntax:
//!
//! ```text
//! FAILPOINTS='intake.after_claim=1*return(abort)'   # crash there, once
//! FAILPOINTS='handler.after_action=3*return'        # fail there, three times
//! ```
//!
//! `return(abort)` aborts the process (as a crash or a Lambda timeout
//! would); a bare `return` makes the step fail with [`Injected`], as a
//! backend error would.

/// Every fail point, for `clawhooks serve`'s start-up check and the tests.
pub const POINTS: &[&str] = &[
    INTAKE_AFTER_CLAIM,
    INTAKE_AFTER_ENQUEUE,
    INTAKE_AFTER_STATUS,
    INGRESS_BEFORE_ANSWER,
    HANDLER_AFTER_BEGIN,
    HANDLER_AFTER_ACTION,
    WORKER_BEFORE_DELETE,
    EGRESS_AFTER_DELIVERY,
    EGRESS_BEFORE_DEAD_LETTER,
];

/// Ingress: the idempotency claim is written, the message not yet.
pub const INTAKE_AFTER_CLAIM: &str = "intake.after_claim";
/// Ingress: the message is queued, the status record not yet.
pub const INTAKE_AFTER_ENQUEUE: &str = "intake.after_enqueue";
/// Ingress: everything is written (before the commit, on the embedded backend).
pub const INTAKE_AFTER_STATUS: &str = "intake.after_status";
/// Ingress: the hook is kept; the answer has not left.
pub const INGRESS_BEFORE_ANSWER: &str = "ingress.before_answer";
/// Handler: the event is marked `processing`; nothing else done.
pub const HANDLER_AFTER_BEGIN: &str = "handler.after_begin";
/// Handler: the action ran; the event is not yet marked `done`.
pub const HANDLER_AFTER_ACTION: &str = "handler.after_action";
/// Any stage: the message is handled; its delete has not been sent.
pub const WORKER_BEFORE_DELETE: &str = "worker.before_delete";
/// Egress: the receiver answered 2xx; nothing recorded yet.
pub const EGRESS_AFTER_DELIVERY: &str = "egress.after_delivery";
/// Egress: a delivery ran out of attempts and is logged `failed`; it is not
/// dead-lettered yet.
pub const EGRESS_BEFORE_DEAD_LETTER: &str = "egress.before_dead_letter";

/// The error an armed fail point makes its step return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("injected fault at {0}")]
pub struct Injected(pub &'static str);

/// `Err` when `name` is armed with `return`; aborts the process when armed
/// with `return(abort)`; `Ok` otherwise, and always without the feature.
#[cfg_attr(not(feature = "failpoints"), allow(unused_variables))]
pub fn check(name: &'static str) -> Result<(), Injected> {
    fail::fail_point!(name, |arg: Option<String>| {
        if arg.as_deref() == Some("abort") {
            eprintln!("fail point {name}: aborting the process");
            std::process::abort();
        }
        Err(Injected(name))
    });
    Ok(())
}

/// Whether this build has fail points at all.
pub const ENABLED: bool = cfg!(feature = "failpoints");

/// Arms the fail points named in `FAILPOINTS`, for the life of the process.
/// Refuses a `FAILPOINTS` that names an unknown point, or any `FAILPOINTS`
/// in a build without them, so a fault test cannot pass by arming nothing.
pub fn arm_from_env() -> Result<Vec<String>, String> {
    let Ok(spec) = std::env::var("FAILPOINTS") else {
        return Ok(Vec::new());
    };
    if spec.trim().is_empty() {
        return Ok(Vec::new());
    }
    if !ENABLED {
        return Err("FAILPOINTS is set, but this build has no fail points (build with --features failpoints)".into());
    }
    let mut armed = Vec::new();
    for entry in spec.split(';').filter(|e| !e.trim().is_empty()) {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| format!("FAILPOINTS entry {entry:?} is not name=actions"))?;
        let name = name.trim();
        if !POINTS.contains(&name) {
            return Err(format!(
                "FAILPOINTS names {name:?}, which is no fail point (known: {})",
                POINTS.join(", ")
            ));
        }
        fail::cfg(name, actions.trim())?;
        armed.push(format!("{name}={}", actions.trim()));
    }
    Ok(armed)
}
