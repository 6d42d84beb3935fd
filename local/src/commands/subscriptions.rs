//! `clawhooks subscriptions list|pause ID|resume ID|enable ID`: the operator state of
//! outgoing subscriptions, on the database file (a running server holds or
//! releases the deliveries within a few seconds).

use super::{open, table, BackendArgs};
use anyhow::Result;
use clawhooks::egress::breaker;
use clawhooks::egress::control::{self, RunState};
use clawhooks::ports::{Clock, SystemClock};

#[derive(clap::Subcommand, Debug)]
pub enum SubscriptionsCommand {
    /// Subscriptions an operator paused or resumed, with their state (any
    /// other configured subscription is active).
    List {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Hold a subscription's deliveries (no attempt used, nothing dead-lettered).
    Pause {
        /// The webhooks.outgoing subscription id.
        id: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Release a paused subscription's held deliveries.
    Resume {
        /// The webhooks.outgoing subscription id.
        id: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Enable a subscription disabled for failing `disableAfter` without a
    /// success: its held deliveries go, its breaker starts closed.
    Enable {
        /// The webhooks.outgoing subscription id.
        id: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

pub async fn run(cmd: SubscriptionsCommand) -> Result<()> {
    let now = SystemClock.now();
    let (id, state, backend) = match cmd {
        SubscriptionsCommand::List { backend } => return list(&backend).await,
        SubscriptionsCommand::Pause { id, backend } => (id, RunState::Paused, backend),
        SubscriptionsCommand::Resume { id, backend } => (id, RunState::Active, backend),
        SubscriptionsCommand::Enable { id, backend } => return enable(&id, &backend).await,
    };
    let store = open(&backend.db)?.store;
    let stored = control::set(store.as_ref(), &id, state, now).await?;
    if backend.json {
        println!("{}", serde_json::to_string_pretty(&stored)?);
    } else {
        println!("subscription {id}: {}", state.as_str());
    }
    Ok(())
}

async fn enable(id: &str, backend: &BackendArgs) -> Result<()> {
    let store = open(&backend.db)?.store;
    let record = breaker::enable(store.as_ref(), id, SystemClock.now()).await?;
    if backend.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        println!("subscription {id}: enabled");
    }
    Ok(())
}

async fn list(backend: &BackendArgs) -> Result<()> {
    let store = open(&backend.db)?.store;
    let all = control::load_all(store.as_ref(), SystemClock.now()).await?;
    if backend.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    let mut rows: Vec<Vec<String>> = all
        .into_iter()
        .map(|(id, c)| {
            vec![
                id,
                c.state.as_str().into(),
                c.changed_at.unwrap_or_default(),
            ]
        })
        .collect();
    rows.sort();
    if rows.is_empty() {
        println!("no subscription was paused or resumed; all are active");
    } else {
        println!("{}", table(&["SUBSCRIPTION", "STATE", "CHANGED"], &rows));
    }
    Ok(())
}
