//! A handler's `filter`: JSON rules on `{"body", "headers", "query"}`,
//! compiled once at load into a [`Filter`] that matches without allocating
//! a parse on every hook.
//!
//! The syntax is the one Hookdeck and Convoy users already write
//! (<https://hookdeck.com/docs/filters>, <https://getconvoy.io/docs/product-manual/filters>):
//!
//! - a plain value matches an equal value (`1` equals `1.0`); an object
//!   matches field by field, every field must hold, and fields it does not
//!   name are free;
//! - arrays match element-wise: a scalar or object rule against an array
//!   holds when some element matches it ("array contains"); an array rule
//!   against an array holds when every element of the rule is found in the
//!   input, in any order;
//! - operators, at any depth, beside fields or alone: `$eq $neq $in $nin
//!   $gt $gte $lt $lte $exist $startsWith $endsWith $contains $or $and
//!   $not`. `$in`/`$nin` take a list of allowed values (or a string the
//!   input must be a substring of); the comparisons take a number or a
//!   string and compare like with like; `$exist: false` holds for a field
//!   that is absent; a negation (`$neq`, `$nin`, `$not`) holds where its
//!   positive does not, a missing field included.
//!
//! Header names are matched case-insensitively (the filter's keys under
//! `headers` are folded to lower case, as the hook's header names are).

mod compile;
mod eval;
#[cfg(test)]
mod tests;

use serde_json::Value;
use std::fmt;

pub use compile::compile;

/// A compiled filter: what [`Filter::matches`] checks a hook against.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Rule);

impl Filter {
    /// Whether `input` (`{"body", "headers", "query"}`) passes the filter.
    pub fn matches(&self, input: &Value) -> bool {
        eval::holds(&self.0, Some(input))
    }
}

/// One compiled rule, applied to the value at its place in the input.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// Every rule holds.
    All(Vec<Rule>),
    /// Some rule holds.
    Any(Vec<Rule>),
    Not(Box<Rule>),
    /// A rule with fields: against an array, some one element holds it all.
    Object(Box<Rule>),
    /// The named field of an object holds.
    Field(String, Box<Rule>),
    /// Equal to a value, element-wise on arrays.
    Equals(Value),
    /// One of these values (or, for a string, a substring of it).
    In(Vec<Value>),
    InText(String),
    Compare(Ordering, Scalar),
    Exist(bool),
    StartsWith(String),
    EndsWith(String),
    /// A string that contains it, or an array with an element equal to it.
    Contains(Value),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ordering {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// What `$gt`, `$gte`, `$lt` and `$lte` compare with.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Number(f64),
    Text(String),
}

/// A filter load refuses, with the place in it that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FilterError {
    /// Path inside the filter, dot-separated (`body.action`, `$or[1].body`);
    /// empty for the filter itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// What a filter sees of a hook: `{"body", "headers", "query"}`, header
/// names in lower case (a repeated header keeps its first value).
pub fn input<'a>(
    body: Value,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    query: &std::collections::BTreeMap<String, String>,
) -> Value {
    let mut names = serde_json::Map::new();
    for (name, value) in headers {
        names
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Value::String(value.to_string()));
    }
    serde_json::json!({ "body": body, "headers": names, "query": query })
}
