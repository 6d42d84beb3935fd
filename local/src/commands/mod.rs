//! Subcommands that read or change a deployment's state directly, on the
//! same SQLite file `clawhooks serve` uses (safe while it runs: SQLite
//! serializes the writers, and the server picks up what is queued here
//! within a poll).

pub mod deliveries;
pub mod dlq;
pub mod presets;
pub mod subscriptions;
pub mod try_hook;

use anyhow::{Context, Result};
use clawhooks::embedded::{BackendOptions, Embedded};
use clawhooks::ports::Backend;
use std::path::{Path, PathBuf};

/// Where the state lives.
#[derive(clap::Args, Debug, Clone)]
pub struct BackendArgs {
    /// The SQLite file `clawhooks serve` uses.
    #[arg(long, env = "CLAWHOOKS_DB", default_value = "clawhooks.db")]
    pub db: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Opens an existing database; a missing file is an error, not a new empty state.
pub fn open(db: &Path) -> Result<Backend> {
    if !db.exists() {
        anyhow::bail!(
            "{} does not exist; pass --db (or CLAWHOOKS_DB) with the file `clawhooks serve` uses",
            db.display()
        );
    }
    let embedded = Embedded::open(db).with_context(|| format!("opening {}", db.display()))?;
    Ok(embedded.backend(BackendOptions::default()))
}

/// Pads columns to the widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}
