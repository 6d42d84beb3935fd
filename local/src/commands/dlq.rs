//! `clawhooks dlq list` and `clawhooks dlq replay [--subscription ID] [--since TIME]`.

use super::{open, table, BackendArgs};
use anyhow::Result;
use clawhooks::api::dlq::PageAsk;
use clawhooks::egress::replay::{self, DeadLetter, ReplayFilter};
use clawhooks::egress::DeliveryJob;
use clawhooks::ports::{Clock, SystemClock};

#[derive(clap::Subcommand, Debug)]
pub enum DlqCommand {
    /// Deliveries that ran out of attempts (read only: listing hides,
    /// counts and consumes nothing).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Dead letters shown at most; when more follow, a line on stderr
        /// says which --cursor shows them.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
        limit: u64,
        /// Where the page starts: the cursor an earlier listing named.
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Put dead letters back for delivery, each exactly once, as a fresh
    /// round of attempts with the same event id and payload.
    Replay {
        #[command(flatten)]
        filter: FilterArgs,
        /// Count the dead letters that match; replay none.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct FilterArgs {
    /// Only this subscription's dead letters.
    #[arg(long)]
    subscription: Option<String>,
    /// Only those dead-lettered since this RFC 3339 time or this long ago (2h, 30m, 7d).
    #[arg(long, alias = "from")]
    since: Option<String>,
    /// Only those dead-lettered before this time or this long ago.
    #[arg(long)]
    to: Option<String>,
    /// `dead_lettered` (every dead letter).
    #[arg(long)]
    status: Option<String>,
    /// Only dead letters of this event type (message_received, error, …).
    #[arg(long)]
    event_type: Option<String>,
}

impl FilterArgs {
    fn filter(&self, now: chrono::DateTime<chrono::Utc>) -> Result<ReplayFilter> {
        let f = ReplayFilter::parse(self.subscription.as_deref(), self.since.as_deref(), now)?;
        Ok(f.narrowed(
            self.to.as_deref(),
            self.status.as_deref(),
            self.event_type.as_deref(),
            now,
        )?)
    }
}

pub async fn run(cmd: DlqCommand) -> Result<()> {
    let now = SystemClock.now();
    match cmd {
        DlqCommand::List {
            filter,
            limit,
            cursor,
            backend,
        } => {
            let f = filter.filter(now)?;
            let dlq = open(&backend.db)?.delivery_dlq;
            let ask = PageAsk {
                limit: limit as usize,
                cursor,
            };
            let (letters, next) = ask
                .collect(dlq.as_ref(), |m| {
                    let job = serde_json::from_str::<DeliveryJob>(&m.body).ok()?;
                    f.matches(&job).then(|| DeadLetter::from(&job))
                })
                .await?;
            if backend.json {
                println!("{}", serde_json::to_string_pretty(&letters)?);
            } else if letters.is_empty() {
                println!("no dead letters");
            } else {
                println!("{}", render(&letters));
            }
            if let Some(next) = next {
                eprintln!("more dead letters follow: list them with --cursor {next}");
            }
        }
        DlqCommand::Replay {
            filter,
            dry_run,
            backend,
        } => {
            let f = filter.filter(now)?;
            let b = open(&backend.db)?;
            let matched = replay::list(b.delivery_dlq.as_ref(), &f).await?.len();
            if dry_run {
                println!("{matched} dead letter(s) match; none replayed (--dry-run)");
                return Ok(());
            }
            eprintln!("{matched} dead letter(s) match; replaying");
            let report = replay::replay(&b, &f, now).await?;
            if backend.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "replayed {} dead letter(s); {} left in the queue{}",
                    report.replayed,
                    report.kept,
                    if report.unreadable > 0 {
                        format!(" ({} unreadable)", report.unreadable)
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    Ok(())
}

fn render(letters: &[DeadLetter]) -> String {
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|l| {
            vec![
                l.dead_lettered_at
                    .map(clawhooks::event::timestamp)
                    .unwrap_or_else(|| "-".into()),
                l.event_id.clone(),
                l.event_type.as_str().to_string(),
                l.subscription.clone(),
                l.attempts.to_string(),
                l.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "DEAD-LETTERED",
            "EVENT",
            "TYPE",
            "SUBSCRIPTION",
            "ATTEMPTS",
            "LAST ERROR",
        ],
        &rows,
    )
}
