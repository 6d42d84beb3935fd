//! `clawhooks presets`: the presets a handler may name, one line each, or
//! the handler keys one fills (`clawhooks presets <name>`), as JSON.

use anyhow::{bail, Result};
use clawhooks::presets::{find, PRESETS};
use serde_json::Value;

#[derive(clap::Args, Debug)]
pub struct PresetsArgs {
    /// A preset to print the keys of, as JSON.
    pub name: Option<String>,
}

pub fn run(args: PresetsArgs) -> Result<()> {
    println!("{}", render(args.name.as_deref())?);
    Ok(())
}

/// The list of presets, or the JSON one expands to.
pub fn render(name: Option<&str>) -> Result<String> {
    let Some(name) = name else {
        let width = PRESETS.iter().map(|p| p.name.len()).max().unwrap_or(0);
        let lines: Vec<String> = PRESETS
            .iter()
            .map(|p| format!("{:<width$}  {}", p.name, p.about))
            .collect();
        return Ok(lines.join("\n"));
    };
    let Some(preset) = find(name) else {
        let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        bail!("unknown preset {name:?}; known: {}", names.join(", "));
    };
    Ok(serde_json::to_string_pretty(&Value::Object(preset.keys()))?)
}
