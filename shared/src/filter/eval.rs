//! Matching a compiled [`Rule`] against a hook's values, element-wise on
//! arrays as the module doc says.

use super::{Ordering, Rule, Scalar};
use serde_json::Value;

/// Whether `rule` holds for `input`, `None` when the field is absent.
pub(super) fn holds(rule: &Rule, input: Option<&Value>) -> bool {
    match rule {
        Rule::All(rules) => rules.iter().all(|r| holds(r, input)),
        Rule::Any(rules) => rules.iter().any(|r| holds(r, input)),
        Rule::Not(r) => !holds(r, input),
        Rule::Exist(wanted) => input.is_some() == *wanted,
        Rule::Object(r) => match input {
            Some(Value::Array(items)) => items.iter().any(|item| holds(r, Some(item))),
            _ => holds(r, input),
        },
        Rule::Field(name, r) => match input {
            Some(Value::Object(map)) => holds(r, map.get(name)),
            _ => holds(r, None),
        },
        Rule::Equals(Value::Array(wanted)) => match input {
            Some(Value::Array(items)) => wanted
                .iter()
                .all(|w| items.iter().any(|item| equal(w, item))),
            _ => false,
        },
        Rule::Equals(wanted) => some(input, |v| equal(wanted, v)),
        Rule::In(allowed) => some(input, |v| allowed.iter().any(|a| equal(a, v))),
        Rule::InText(whole) => some(input, |v| v.as_str().is_some_and(|s| whole.contains(s))),
        Rule::Compare(op, bound) => some(input, |v| compare(*op, bound, v)),
        Rule::StartsWith(p) => some(input, |v| v.as_str().is_some_and(|s| s.starts_with(p))),
        Rule::EndsWith(p) => some(input, |v| v.as_str().is_some_and(|s| s.ends_with(p))),
        Rule::Contains(Value::String(part)) => match input {
            Some(Value::String(s)) => s.contains(part.as_str()),
            _ => some(input, |v| v.as_str() == Some(part)),
        },
        Rule::Contains(wanted) => some(input, |v| equal(wanted, v)),
    }
}

/// `test` on a present value, or on some element when it is an array.
fn some(input: Option<&Value>, test: impl Fn(&Value) -> bool) -> bool {
    match input {
        None => false,
        Some(Value::Array(items)) => items.iter().any(&test),
        Some(v) => test(v),
    }
}

/// JSON equality where `1` and `1.0` are the same number.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// Like with like: numbers with numbers, strings with strings (ISO dates
/// compare in order); anything else does not compare.
fn compare(op: Ordering, bound: &Scalar, v: &Value) -> bool {
    let order = match (bound, v) {
        (Scalar::Number(b), Value::Number(n)) => n.as_f64().and_then(|n| n.partial_cmp(b)),
        (Scalar::Text(b), Value::String(s)) => Some(s.as_str().cmp(b.as_str())),
        _ => None,
    };
    let Some(order) = order else { return false };
    match op {
        Ordering::Gt => order.is_gt(),
        Ordering::Gte => order.is_ge(),
        Ordering::Lt => order.is_lt(),
        Ordering::Lte => order.is_le(),
    }
}
