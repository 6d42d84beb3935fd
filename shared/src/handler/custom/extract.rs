//! `extract_fields`: picks fields of the body by dotted path, so a
//! receiver (or a chat) gets the three fields it cares about instead of a
//! 20 kB payload.
//!
//! Options: `fields` (required), `{"name": "path.in.body", …}`; `format`
//! (optional), a line where `{name}` stands for a field. Without `format`
//! the text is one `name: value` line per field.

use super::{at_path, CustomError, Input, Output};
use crate::template::display;
use serde_json::{Map, Value};

pub fn extract(input: &Input<'_>) -> Result<Output, CustomError> {
    let fields = input
        .options
        .get("fields")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            CustomError("extract_fields needs options.fields: {\"name\": \"dotted.path\"}".into())
        })?;
    let mut data = Map::new();
    for (name, path) in fields {
        let path = path.as_str().ok_or_else(|| {
            CustomError(format!(
                "options.fields.{name} must be a dotted path string"
            ))
        })?;
        data.insert(
            name.clone(),
            at_path(input.body, path).cloned().unwrap_or(Value::Null),
        );
    }
    let text = match input.options.get("format").and_then(Value::as_str) {
        Some(format) => data.iter().fold(format.to_string(), |acc, (k, v)| {
            acc.replace(&format!("{{{k}}}"), &display(v))
        }),
        None => data
            .iter()
            .map(|(k, v)| format!("{k}: {}", display(v)))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    Ok(Output {
        text: Some(text),
        data: Value::Object(data),
    })
}
