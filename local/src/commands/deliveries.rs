//! `clawhooks deliveries list [--event ID]`: the delivery log.

use super::{open, table, BackendArgs};
use anyhow::Result;
use clawhooks::egress::log::{self, Attempt};
use clawhooks::ports::{Clock, SystemClock};

#[derive(clap::Subcommand, Debug)]
pub enum DeliveriesCommand {
    /// Attempts of one event, or the latest attempts of all events.
    List {
        /// Only this event's attempts (the `id` of the delivered payload).
        #[arg(long)]
        event: Option<String>,
        /// How many of the latest attempts, without --event.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

pub async fn run(cmd: DeliveriesCommand) -> Result<()> {
    let DeliveriesCommand::List {
        event,
        limit,
        backend,
    } = cmd;
    let store = open(&backend.db)?.store;
    let now = SystemClock.now();
    let attempts = match &event {
        Some(id) => log::for_event(store.as_ref(), id, now).await?.attempts,
        // No config here: the default retention bounds the read.
        None => log::recent(store.as_ref(), limit, now, log::RETENTION).await?,
    };
    if backend.json {
        println!("{}", serde_json::to_string_pretty(&attempts)?);
    } else if attempts.is_empty() {
        println!(
            "no deliveries logged{}",
            event.map(|e| format!(" for event {e}")).unwrap_or_default()
        );
    } else {
        println!("{}", render(&attempts));
    }
    Ok(())
}

fn render(attempts: &[Attempt]) -> String {
    let rows: Vec<Vec<String>> = attempts
        .iter()
        .map(|a| {
            vec![
                a.time.clone(),
                a.event_id.clone(),
                a.event_type.as_str().to_string(),
                a.subscription.clone(),
                a.attempt.to_string(),
                format!("{:?}", a.outcome).to_lowercase(),
                a.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                a.latency_ms
                    .map(|l| format!("{l}ms"))
                    .unwrap_or_else(|| "-".into()),
                a.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "TIME",
            "EVENT",
            "TYPE",
            "SUBSCRIPTION",
            "ATTEMPT",
            "OUTCOME",
            "STATUS",
            "LATENCY",
            "ERROR",
        ],
        &rows,
    )
}
