//! From the filter's JSON to a [`Rule`] tree, refusing what cannot match
//! as written (an unknown operator, `$in` without a list) with its path.

use super::{Filter, FilterError, Ordering, Rule, Scalar};
use serde_json::{Map, Value};

/// The parts of a hook a filter may name at its top level.
const SCOPES: &[&str] = &["body", "headers", "query"];

/// Compiles a handler's `filter`: an object naming `body`, `headers` and
/// `query` (or combining such objects with `$or`, `$and`, `$not`).
pub fn compile(filter: &Value) -> Result<Filter, FilterError> {
    let Value::Object(map) = filter else {
        return Err(error("", "must be an object naming body, headers or query"));
    };
    top(map, "").map(Filter)
}

/// The top level: scopes and logical operators only.
fn top(map: &Map<String, Value>, at: &str) -> Result<Rule, FilterError> {
    let mut rules = Vec::new();
    for (key, value) in map {
        let here = join(at, key);
        let rule = match key.as_str() {
            "$or" | "$and" => logical(key, value, &here, &|m, at| top(m, at))?,
            "$not" => match value {
                Value::Object(m) => Rule::Not(Box::new(top(m, &here)?)),
                _ => return Err(error(&here, "$not takes an object")),
            },
            scope if SCOPES.contains(&scope) => {
                let folded = scope == "headers";
                Rule::Field(key.clone(), Box::new(rule(value, &here, folded)?))
            }
            _ => {
                return Err(error(
                    &here,
                    format!("unknown key {key:?}: a filter names body, headers or query"),
                ))
            }
        };
        rules.push(rule);
    }
    Ok(all(rules))
}

/// How one item of `$or` / `$and` compiles: at the top level (scopes) or
/// on a value (fields and operators).
type Item<'a> = &'a dyn Fn(&Map<String, Value>, &str) -> Result<Rule, FilterError>;

/// `$or` / `$and`: a non-empty list of objects, each compiled by `each`.
fn logical(op: &str, value: &Value, at: &str, each: Item) -> Result<Rule, FilterError> {
    let Value::Array(items) = value else {
        return Err(error(at, format!("{op} takes a list of filters")));
    };
    if items.is_empty() {
        return Err(error(at, format!("{op} needs at least one filter")));
    }
    let rules = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let here = format!("{at}[{i}]");
            match item {
                Value::Object(m) => each(m, &here),
                _ => Err(error(&here, format!("each item of {op} is an object"))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if op == "$or" {
        Rule::Any(rules)
    } else {
        Rule::All(rules)
    })
}

/// A rule on one value: a literal, or an object of fields and operators.
/// `folded` lowers field names (header names are case-insensitive).
fn rule(value: &Value, at: &str, folded: bool) -> Result<Rule, FilterError> {
    let Value::Object(map) = value else {
        return Ok(Rule::Equals(value.clone()));
    };
    let mut rules = Vec::new();
    let mut fields = false;
    for (key, v) in map {
        let here = join(at, key);
        fields |= !key.starts_with('$');
        rules.push(match key.strip_prefix('$') {
            Some(_) => operator(key, v, at, folded)?,
            None => {
                let name = if folded {
                    key.to_ascii_lowercase()
                } else {
                    key.clone()
                };
                Rule::Field(name, Box::new(rule(v, &here, folded)?))
            }
        });
    }
    let rule = all(rules);
    Ok(if fields {
        Rule::Object(Box::new(rule))
    } else {
        rule
    })
}

/// One `$operator` at `parent`; an unknown one is reported at `parent`,
/// the field it was meant for.
fn operator(op: &str, v: &Value, parent: &str, folded: bool) -> Result<Rule, FilterError> {
    let at = &join(parent, op);
    Ok(match op {
        "$eq" => Rule::Equals(v.clone()),
        "$neq" => Rule::Not(Box::new(Rule::Equals(v.clone()))),
        "$in" => membership(op, v, at)?,
        "$nin" => Rule::Not(Box::new(membership(op, v, at)?)),
        "$gt" => Rule::Compare(Ordering::Gt, scalar(op, v, at)?),
        "$gte" => Rule::Compare(Ordering::Gte, scalar(op, v, at)?),
        "$lt" => Rule::Compare(Ordering::Lt, scalar(op, v, at)?),
        "$lte" => Rule::Compare(Ordering::Lte, scalar(op, v, at)?),
        "$exist" => match v {
            Value::Bool(b) => Rule::Exist(*b),
            _ => return Err(error(at, "$exist takes true or false")),
        },
        "$startsWith" => Rule::StartsWith(text(op, v, at)?),
        "$endsWith" => Rule::EndsWith(text(op, v, at)?),
        "$contains" => Rule::Contains(v.clone()),
        "$or" | "$and" => logical(op, v, at, &|m, here| {
            rule(&Value::Object(m.clone()), here, folded)
        })?,
        "$not" => Rule::Not(Box::new(rule(v, at, folded)?)),
        _ => return Err(error(parent, format!("unknown operator {op}"))),
    })
}

fn membership(op: &str, v: &Value, at: &str) -> Result<Rule, FilterError> {
    match v {
        Value::Array(items) => Ok(Rule::In(items.clone())),
        Value::String(s) => Ok(Rule::InText(s.clone())),
        _ => Err(error(
            at,
            format!("{op} takes a list of values or a string"),
        )),
    }
}

fn scalar(op: &str, v: &Value, at: &str) -> Result<Scalar, FilterError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(Scalar::Number)
            .ok_or_else(|| error(at, format!("{op}: {n} is not a finite number"))),
        Value::String(s) => Ok(Scalar::Text(s.clone())),
        _ => Err(error(at, format!("{op} takes a number or a string"))),
    }
}

fn text(op: &str, v: &Value, at: &str) -> Result<String, FilterError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(error(at, format!("{op} takes a string"))),
    }
}

/// One rule for several: itself when alone, so the tree stays shallow.
fn all(mut rules: Vec<Rule>) -> Rule {
    if rules.len() == 1 {
        rules.remove(0)
    } else {
        Rule::All(rules)
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn error(at: &str, message: impl Into<String>) -> FilterError {
    FilterError {
        path: at.to_string(),
        message: message.into(),
    }
}
