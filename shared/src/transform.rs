//! The JavaScript engine behind transforms: a script that defines
//! `function transform(input)`, run by QuickJS with a wall-clock interrupt
//! and a heap limit, in a fresh runtime per call, so no call sees what an
//! earlier one left behind and the same input always gives the same output.
//!
//! The sandbox has the language and its data types (objects, arrays,
//! strings, `JSON`, `RegExp`, `Map`/`Set`, typed arrays) and nothing that
//! reaches out or varies: no I/O, no timers, no promises, no `require` or
//! modules, no `Date` and no `Math.random`. Values go in and come out as
//! JSON.
//!
//! Only the local binary links this module (feature `transforms`): the
//! engine would put the handler and egress Lambda zips over their limit.
//! A build without it keeps a transform's text and limits in its config
//! but never compiles one.

use rquickjs::context::intrinsic;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Function, Runtime, Value};
use std::time::{Duration, Instant};

/// The name a script's errors carry before its line (`transform.js:3`).
const FILE: &str = "eval_script";

/// What one run may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for one call, the script's top level included.
    pub timeout: Duration,
    /// Bytes the engine's heap may hold, the engine's own included.
    pub memory_bytes: usize,
}

/// Why a script was refused or a call failed. The same script fails the
/// same way on the same input, so none of these is worth another try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// A syntax error, a throw, or a value that is not JSON.
    #[error("{message}{}", at_line(*line))]
    Script { message: String, line: Option<u32> },
    #[error("stopped after its timeout of {0:?}")]
    Timeout(Duration),
    #[error("stopped at its memory limit of {0} bytes")]
    Memory(usize),
    #[error("the script does not define `function transform(input)`")]
    NoFunction,
}

fn at_line(line: Option<u32>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// Checks at load that `source` parses and defines `transform`: a syntax
/// error names its line.
pub fn check(source: &str, limits: Limits) -> Result<(), TransformError> {
    // A loaded machine at start-up must not fail a script that parses: a
    // second for its top level, which still stops one that never ends.
    let limits = Limits {
        timeout: limits.timeout.max(Duration::from_secs(1)),
        ..limits
    };
    with_script(source, limits, |_, _| Ok(()))
}

/// Runs `transform(input)` and answers what it returned, as JSON
/// (`undefined` reads as `null`).
pub fn run(
    source: &str,
    input: &serde_json::Value,
    limits: Limits,
) -> Result<serde_json::Value, TransformError> {
    with_script(source, limits, |ctx, transform| {
        let arg = ctx.json_parse(input.to_string())?;
        let out: Value = transform.call((arg,))?;
        let text = ctx.json_stringify(out)?;
        let text = match text {
            Some(t) => t.to_string()?,
            None => return Ok(serde_json::Value::Null),
        };
        // QuickJS wrote it: it is JSON.
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    })
}

/// Evaluates `source` in a fresh runtime within `limits`, then hands its
/// `transform` function to `f`.
fn with_script<T>(
    source: &str,
    limits: Limits,
    f: impl for<'js> FnOnce(&Ctx<'js>, Function<'js>) -> rquickjs::Result<T>,
) -> Result<T, TransformError> {
    let runtime = Runtime::new().map_err(|e| engine_error(&e))?;
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(256 * 1024);
    let context = Context::custom::<Intrinsics>(&runtime).map_err(|e| engine_error(&e))?;
    // The script's time, from here: not the engine's start-up.
    let deadline = Instant::now() + limits.timeout;
    runtime.set_interrupt_handler(Some(Box::new(move || Instant::now() >= deadline)));
    let outcome = context.with(|ctx| {
        ctx.eval::<(), _>(SANDBOX)
            .catch(&ctx)
            .map_err(|e| caught(e, limits))?;
        ctx.eval::<(), _>(source)
            .catch(&ctx)
            .map_err(|e| caught(e, limits))?;
        let transform: Function = ctx
            .globals()
            .get("transform")
            .map_err(|_| TransformError::NoFunction)?;
        f(&ctx, transform)
            .catch(&ctx)
            .map_err(|e| caught(e, limits))
    });
    if Instant::now() >= deadline && outcome.is_err() {
        return Err(TransformError::Timeout(limits.timeout));
    }
    outcome
}

/// The engine's parts a transform gets: no `Date` (it varies), no
/// `Promise` (nothing runs a job queue), no `eval` of other source beyond
/// the script's own.
type Intrinsics = (
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::BigInt,
);

/// Run before the script: what the intrinsics above still vary by.
const SANDBOX: &str = r#"
Math.random = function random() { throw new Error("Math.random is not available in a transform: the same input must give the same output"); };
delete globalThis.eval;
"#;

/// The error a failed evaluation or call reads as.
fn caught(error: CaughtError<'_>, limits: Limits) -> TransformError {
    match error {
        CaughtError::Exception(e) => {
            let message = e.message().unwrap_or_default();
            if message == "out of memory" {
                return TransformError::Memory(limits.memory_bytes);
            }
            if message == "interrupted" {
                return TransformError::Timeout(limits.timeout);
            }
            TransformError::Script {
                line: e.stack().as_deref().and_then(line_in_stack),
                message: bounded(&message),
            }
        }
        // QuickJS throws null when it cannot even allocate its "out of
        // memory" error: the heap limit, as far as a script can tell (an
        // explicit `throw null` reads the same).
        CaughtError::Value(v) if v.is_null() => TransformError::Memory(limits.memory_bytes),
        CaughtError::Value(v) => TransformError::Script {
            message: bounded(&format!("threw a value that is not an Error: {v:?}")),
            line: None,
        },
        CaughtError::Error(rquickjs::Error::Allocation) => {
            TransformError::Memory(limits.memory_bytes)
        }
        CaughtError::Error(e) => engine_error(&e),
    }
}

fn engine_error(e: &rquickjs::Error) -> TransformError {
    if matches!(e, rquickjs::Error::Allocation) {
        return TransformError::Memory(0);
    }
    TransformError::Script {
        message: bounded(&e.to_string()),
        line: None,
    }
}

/// The first line of the script's own the stack names (`eval_script:3:9`).
fn line_in_stack(stack: &str) -> Option<u32> {
    let at = stack.find(FILE)? + FILE.len();
    let rest = stack[at..].strip_prefix(':')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Script-controlled text, bounded before it is logged or stored.
fn bounded(text: &str) -> String {
    const MAX: usize = 500;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Room for a busy test machine; the runaway tests set their own.
    const LIMITS: Limits = Limits {
        timeout: Duration::from_secs(2),
        memory_bytes: 8 * 1024 * 1024,
    };
    const FIFTY_MS: Limits = Limits {
        timeout: Duration::from_millis(50),
        ..LIMITS
    };

    #[test]
    fn a_transform_reshapes_its_input() {
        let out = run(
            "function transform(input) {\n  return { body: { title: input.body.alert.name.toUpperCase() } };\n}",
            &json!({"body": {"alert": {"name": "disk"}}}),
            LIMITS,
        )
        .unwrap();
        assert_eq!(out, json!({"body": {"title": "DISK"}}));
    }

    #[test]
    fn a_throw_names_its_message_and_line() {
        let err = run(
            "function transform(input) {\n  const x = 1;\n  throw new Error('no alert in ' + input.hook);\n}",
            &json!({"hook": "grafana"}),
            LIMITS,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "no alert in grafana (line 3)");
    }

    #[test]
    fn a_syntax_error_is_refused_with_its_line() {
        let err = check(
            "function transform(input) {\n  return {\n    body: ,\n  };\n}",
            LIMITS,
        )
        .unwrap_err();
        let TransformError::Script { line, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*line, Some(3), "{err}");
        assert_eq!(
            check("const x = 1;", LIMITS).unwrap_err(),
            TransformError::NoFunction
        );
    }

    #[test]
    fn an_endless_loop_stops_at_its_timeout() {
        let started = Instant::now();
        let err = run(
            "function transform(i) { while (true) {} }",
            &json!({}),
            FIFTY_MS,
        )
        .unwrap_err();
        assert_eq!(err, TransformError::Timeout(FIFTY_MS.timeout));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // At the top level too, where load checks the script (given a
        // second there, for a machine busy starting up).
        let err = check("while (true) {}\nfunction transform(i) {}", FIFTY_MS).unwrap_err();
        assert_eq!(err, TransformError::Timeout(Duration::from_secs(1)));
    }

    #[test]
    fn allocating_without_end_stops_at_the_heap_limit() {
        let err = run(
            "function transform(i) { const a = []; while (true) { a.push('x'.repeat(1000) + a.length); } }",
            &json!({}),
            Limits {
                timeout: Duration::from_secs(20),
                ..LIMITS
            },
        )
        .unwrap_err();
        assert_eq!(err, TransformError::Memory(LIMITS.memory_bytes));
    }

    #[test]
    fn nothing_varies_or_reaches_out() {
        for (expr, want) in [
            ("typeof Date", json!("undefined")),
            ("typeof Promise", json!("undefined")),
            ("typeof require", json!("undefined")),
            ("typeof setTimeout", json!("undefined")),
            ("typeof fetch", json!("undefined")),
            ("typeof eval", json!("undefined")),
        ] {
            let src = format!("function transform(i) {{ return {expr}; }}");
            assert_eq!(run(&src, &json!({}), LIMITS).unwrap(), want, "{expr}");
        }
        let err = run(
            "function transform(i) { return Math.random(); }",
            &json!({}),
            LIMITS,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("Math.random is not available"),
            "{err}"
        );
    }
}
