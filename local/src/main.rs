//! The `clawhooks` command: serve the whole gateway in one process, check a
//! config, print its schema.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use clawhooks::config::{self, CompiledConfig};
use clawhooks::embedded::{BackendOptions, Embedded, Reaping};
use clawhooks::ingress::Ingress;
use clawhooks::ports::{Backend, Clock, SystemClock};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[cfg(feature = "aws")]
mod aws_backend;
mod commands;
mod reload;

/// Every hook allocates a few dozen small buffers on the tokio workers and
/// frees them on others; glibc's allocator spent about a fifth of the
/// workers' time on that under load, mimalloc a fraction of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "clawhooks",
    version,
    about = "A webhook gateway for the Clawdbot AI assistant"
)]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "CLAWHOOKS_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run ingress, the handler and egress in one process.
    Serve(ServeArgs),
    /// Check config files (merged in order); print OK or every error.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the config file.
    Schema,
    /// Show which handler takes a hook and what it would do; sends nothing.
    Try(commands::try_hook::TryArgs),
    /// List the handler presets, or print the keys one fills.
    Presets(commands::presets::PresetsArgs),
    /// The outgoing-webhook delivery log.
    #[command(subcommand)]
    Deliveries(commands::deliveries::DeliveriesCommand),
    /// Dead-lettered deliveries: list them, replay them.
    #[command(subcommand)]
    Dlq(commands::dlq::DlqCommand),
    /// Outgoing subscriptions: list, pause and resume their deliveries.
    #[command(subcommand)]
    Subscriptions(commands::subscriptions::SubscriptionsCommand),
    /// Write a consistent copy of the database, safe while `serve` runs.
    Backup {
        /// The SQLite file `clawhooks serve` uses.
        #[arg(long, env = "CLAWHOOKS_DB", default_value = "clawhooks.db")]
        db: PathBuf,
        /// Where the copy goes (replaced whole once the copy is complete).
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Config file; repeat to merge several (later ones win).
    #[arg(
        long,
        short,
        required = true,
        env = "CLAWHOOKS_CONFIG",
        value_delimiter = ','
    )]
    config: Vec<PathBuf>,
    /// The SQLite file holding queues and state.
    #[arg(long, env = "CLAWHOOKS_DB", default_value = "clawhooks.db")]
    db: PathBuf,
    /// Keep queues and state in memory only (lost on exit).
    #[arg(long, conflicts_with = "db")]
    memory: bool,
    /// Listen on this port instead of webhooks.incoming.port (0: any free port).
    #[arg(long)]
    port: Option<u16>,
    /// Listen on this address instead of webhooks.incoming.host.
    #[arg(long)]
    host: Option<String>,
    /// Receives before a message goes to its dead-letter queue.
    #[arg(long, default_value_t = 5)]
    max_receive_count: u32,
    /// Seconds a received message stays hidden: a crash, or a failed attempt
    /// that names no Retry-After, shows it again after this long.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=43200))]
    visibility_timeout: u64,
    /// Accept and queue hooks only; run no consumers (to inspect the queues).
    #[arg(long)]
    no_workers: bool,
    /// Where queues and state live: `embedded` (the SQLite file) or `aws`
    /// (SQS and DynamoDB at AWS_ENDPOINT_URL, named by CLAWHOOKS_* variables).
    #[arg(long, value_enum, default_value_t = BackendKind::Embedded)]
    backend: BackendKind,
    /// With --backend aws: create the queues and tables first, named <aws-prefix>-…
    #[arg(long)]
    bootstrap: bool,
    /// Name prefix of the queues and tables --bootstrap creates.
    #[arg(long, default_value = "clawhooks")]
    aws_prefix: String,
    #[command(flatten)]
    listener: ListenerArgs,
}

/// How long a client may take and how many may connect at once.
#[derive(clap::Args)]
struct ListenerArgs {
    /// Seconds a client has to send a request's headers (from connecting,
    /// or from the end of its previous request); then it is disconnected.
    #[arg(long, env = "CLAWHOOKS_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a connection may pass with no byte sent either way before it
    /// is closed. Must be longer than `incoming.acceptTimeout`.
    #[arg(long, env = "CLAWHOOKS_IDLE_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    idle_timeout: u64,
    /// Client connections open at once, at most; more wait to be accepted
    /// while the open ones keep being answered.
    #[arg(long, env = "CLAWHOOKS_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
}

impl ListenerArgs {
    fn limits(&self) -> clawhooks_local::ConnectionLimits {
        clawhooks_local::ConnectionLimits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout),
            max_connections: self.max_connections as usize,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendKind {
    Embedded,
    Aws,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logs(cli.log_json);
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            let schema = schemars::schema_for!(clawhooks::config::Config);
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(())
        }
        Command::Serve(args) => runtime()?.block_on(serve(args)),
        Command::Deliveries(cmd) => runtime()?.block_on(commands::deliveries::run(cmd)),
        Command::Dlq(cmd) => runtime()?.block_on(commands::dlq::run(cmd)),
        Command::Subscriptions(cmd) => runtime()?.block_on(commands::subscriptions::run(cmd)),
        Command::Backup { db, file } => backup(&db, &file),
        Command::Try(args) => commands::try_hook::run(args),
        Command::Presets(args) => commands::presets::run(args),
    }
}

fn backup(db: &std::path::Path, file: &std::path::Path) -> Result<()> {
    if !db.exists() {
        bail!(
            "{} does not exist; pass --db (or CLAWHOOKS_DB) with the file `clawhooks serve` uses",
            db.display()
        );
    }
    let bytes = clawhooks::embedded::backup(db, file)
        .with_context(|| format!("backing up {} to {}", db.display(), file.display()))?;
    println!(
        "backed up {} to {} ({bytes} bytes)",
        db.display(),
        file.display()
    );
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn init_logs(json: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Colours only for a person at a terminal: a log file or a journal
    // gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load(files: &[PathBuf]) -> Result<CompiledConfig> {
    config::load_files(files, &config::load::process_env)
        .map_err(|e| anyhow::anyhow!("config is invalid:\n{e}"))
}

/// What one config builds over a backend: the ingress the listener routes
/// to and the queue consumers. A reload builds a new one beside the old.
async fn stack(
    args: &ServeArgs,
    cfg: Arc<CompiledConfig>,
    backend: &Backend,
    clock: Arc<dyn Clock>,
) -> Result<(Ingress, Vec<clawhooks_local::stages::Consumer>)> {
    let backend = clawhooks::egress::wanted_events::only_wanted(
        backend.clone(),
        &cfg.config.webhooks.outgoing,
    );
    let http: Arc<dyn clawhooks::ports::HttpSender> = Arc::new(
        clawhooks::outbound::http::ReqwestSender::new(&cfg.config.webhooks.network)?,
    );
    let consumers = if args.no_workers {
        Vec::new()
    } else {
        clawhooks_local::stages::consumers(
            cfg.clone(),
            &backend,
            http,
            clock.clone(),
            args.max_receive_count,
        )
        .await
    };
    let ingress = Ingress {
        config: cfg,
        backend,
        clock,
    };
    Ok((ingress, consumers))
}

fn validate(files: &[PathBuf]) -> Result<()> {
    match config::load_files(files, &config::load::process_env) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                println!("warning: {}", cfg.scrubbed(&w.to_string()));
            }
            println!("OK");
            Ok(())
        }
        Err(errors) => {
            for e in &errors.0 {
                println!("error: {e}");
            }
            bail!("{} error(s)", errors.0.len())
        }
    }
}

/// Opens the SQLite file and logs the durability in force, as SQLite reports it.
fn open_db(path: &std::path::Path, durability: config::Durability) -> Result<Embedded> {
    let embedded = Embedded::open_with(path, durability)
        .with_context(|| format!("opening {}", path.display()))?;
    let synchronous = embedded.synchronous()?;
    tracing::info!(db = %path.display(), ?durability, %synchronous, "database open");
    Ok(embedded)
}

#[cfg(feature = "aws")]
async fn aws(args: &ServeArgs, cfg: &CompiledConfig) -> Result<Backend> {
    let prefix = args.bootstrap.then_some(args.aws_prefix.as_str());
    let dead_letters = cfg.config.webhooks.retention.dead_letters.as_duration();
    aws_backend::connect(prefix, args.max_receive_count, dead_letters).await
}

#[cfg(not(feature = "aws"))]
async fn aws(_: &ServeArgs, _: &CompiledConfig) -> Result<Backend> {
    bail!("this clawhooks was built without AWS support; build it with `--features aws` (cargo build --release -p clawhooks-local --features aws) to use --backend aws")
}

async fn serve(args: ServeArgs) -> Result<()> {
    let armed = clawhooks::faults::arm_from_env().map_err(anyhow::Error::msg)?;
    if !armed.is_empty() {
        tracing::warn!(
            ?armed,
            "fail points armed (FAILPOINTS): this process will fail on purpose"
        );
    }
    let cfg = Arc::new(load(&args.config)?);
    for w in &cfg.warnings {
        tracing::warn!("config: {}", cfg.scrubbed(&w.to_string()));
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let backend: Backend = if args.backend == BackendKind::Aws {
        aws(&args, &cfg).await?
    } else {
        if args.bootstrap {
            bail!("--bootstrap creates AWS resources: use it with --backend aws");
        }
        let embedded = if args.memory {
            Embedded::memory()?
        } else {
            open_db(&args.db, cfg.config.webhooks.incoming.durability)?
        };
        let reaping = Arc::new(Reaping::new(&cfg.config.webhooks.retention));
        tokio::spawn(embedded.clone().reap_forever(reaping));
        let recovered = embedded.recover_in_flight()?;
        if recovered > 0 {
            tracing::info!(
                recovered,
                "messages left in flight by an earlier run are queued again"
            );
        }
        embedded.backend(BackendOptions {
            max_receive_count: args.max_receive_count,
        })
    };
    let inc = &cfg.config.webhooks.incoming;
    let host = args.host.clone().unwrap_or_else(|| inc.host.clone());
    let addr: SocketAddr = format!("{}:{}", host, args.port.unwrap_or(inc.port))
        .parse()
        .or_else(|_| format!("[{}]:{}", host, args.port.unwrap_or(inc.port)).parse())
        .with_context(|| format!("invalid listen address {host:?}"))?;
    let limits = args.listener.limits();
    if limits.idle_timeout <= inc.accept_timeout.as_duration() {
        bail!(
            "--idle-timeout ({} s) must be longer than webhooks.incoming.acceptTimeout ({} s): a hook's answer would be cut off",
            limits.idle_timeout.as_secs(),
            inc.accept_timeout.as_duration().as_secs()
        );
    }
    let (ingress, consumers) = stack(&args, cfg.clone(), &backend, clock.clone()).await?;
    let signals = clawhooks_local::server::Signals::install()?;
    let running = clawhooks_local::start(clawhooks_local::ServerOptions {
        ingress,
        addr,
        consumers,
        poll: clawhooks::worker::PollSettings {
            visibility: std::time::Duration::from_secs(args.visibility_timeout),
            ..Default::default()
        },
        sweep_every: Some(std::time::Duration::from_secs(60)),
        limits,
    })
    .await
    .with_context(|| format!("listening on {addr}"))?;
    // Tests and scripts read the bound address from this line.
    println!("clawhooks listening on http://{}", running.addr);
    let serving = Serving {
        args: &args,
        backend,
        clock,
        config: cfg,
    };
    serving.until_stopped(running, signals).await;
    Ok(())
}

/// A running `serve`: what a SIGHUP needs to build the next config's stack.
struct Serving<'a> {
    args: &'a ServeArgs,
    /// The backend before any config's wrappers.
    backend: Backend,
    clock: Arc<dyn Clock>,
    /// The config in force.
    config: Arc<CompiledConfig>,
}

impl Serving<'_> {
    /// Serves until SIGTERM or Ctrl-C, reloading the config on each SIGHUP.
    async fn until_stopped(
        mut self,
        mut running: clawhooks_local::Running,
        mut signals: clawhooks_local::Signals,
    ) {
        while signals.next().await == clawhooks_local::Signal::Reload {
            self.reload(&mut running).await;
        }
        running.stop_gracefully().await;
    }

    /// Loads the same `--config` files again and puts them in force; a
    /// config that does not load is refused and the one in force keeps serving.
    async fn reload(&mut self, running: &mut clawhooks_local::Running) {
        let files = self.files();
        tracing::info!(files = %files, "SIGHUP: reloading the config");
        let cfg = match load(&self.args.config) {
            Ok(cfg) => Arc::new(cfg),
            Err(e) => {
                tracing::error!(files = %files, error = %e, "reload refused: {files} does not load; the config in force keeps serving");
                return;
            }
        };
        for w in &cfg.warnings {
            tracing::warn!("config: {}", cfg.scrubbed(&w.to_string()));
        }
        match stack(self.args, cfg.clone(), &self.backend, self.clock.clone()).await {
            Ok((ingress, consumers)) => running.reload(ingress, consumers),
            Err(e) => {
                tracing::error!(files = %files, error = %e, "reload refused: the config in force keeps serving");
                return;
            }
        }
        reload::log_changes(&self.config.config, &cfg.config);
        self.config = cfg;
        tracing::info!(files = %files, "config reloaded");
    }

    fn files(&self) -> String {
        let names: Vec<String> = self
            .args
            .config
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        names.join(", ")
    }
}
