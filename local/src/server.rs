//! The HTTP listener and the consumer loops, started and stopped together.

use crate::listener::{ConnectionLimits, CurrentApp};
use clawhooks::ingress::Ingress;
use clawhooks::worker::{self, PollSettings};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct ServerOptions {
    pub ingress: Ingress,
    pub addr: SocketAddr,
    /// Queue consumers to run beside the listener.
    pub consumers: Vec<crate::stages::Consumer>,
    /// Every consumer's polling, but for its own `concurrency`.
    pub poll: PollSettings,
    /// How often idle persistent sessions are ended (`None`: never, for tests
    /// that drive the sweeper themselves).
    pub sweep_every: Option<Duration>,
    /// Header and idle timeouts and the connection cap of the listener.
    pub limits: ConnectionLimits,
}

/// A started server. Dropping it does not stop it: call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    app: CurrentApp,
    poll: PollSettings,
    /// Stops the consumers of the config in force (not the listener).
    consumers_stop: watch::Sender<bool>,
}

impl Running {
    /// Stops accepting, lets in-flight requests and messages finish, returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = self.consumers_stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Puts a new config in force: requests routed from now on go to
    /// `ingress`'s router, and `consumers` take over the queues. Requests
    /// and messages already under way finish on the config they started
    /// with (the old consumers stop receiving and finish what they hold);
    /// whatever is still queued is left for the new consumers, so nothing
    /// accepted is lost.
    pub fn reload(&mut self, ingress: Ingress, consumers: Vec<crate::stages::Consumer>) {
        let router = clawhooks::api::router(ingress);
        *self.app.write().unwrap_or_else(|e| e.into_inner()) = router;
        let (stop, rx) = watch::channel(false);
        let old = std::mem::replace(&mut self.consumers_stop, stop);
        let _ = old.send(true);
        spawn_consumers(&mut self.tasks, consumers, &self.poll, rx);
    }

    /// [`Running::shutdown`], logged.
    pub async fn stop_gracefully(self) {
        tracing::info!("shutting down: finishing in-flight work");
        self.shutdown().await;
        tracing::info!("stopped");
    }
}

/// What a signal asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or Ctrl-C: finish in-flight work and exit.
    Stop,
    /// SIGHUP: load the config files again.
    Reload,
}

/// SIGTERM, Ctrl-C and SIGHUP listeners. Installed before the address is
/// printed, so a supervisor that signals as soon as it reads the address is
/// heard (a signal before installation would kill the process outright).
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal received.
    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => Signal::Stop,
            _ = self.int.recv() => Signal::Stop,
            _ = self.hup.recv() => Signal::Reload,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}

pub async fn start(opts: ServerOptions) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(opts.addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let (ingress_backend, ingress_clock) =
        (opts.ingress.backend.clone(), opts.ingress.clock.clone());
    // `GET /metrics` renders this process's recorder; a second server in
    // the same process (tests) shares it.
    if let Err(e) = clawhooks::telemetry::prometheus::install() {
        tracing::warn!(error = %e, "metrics are off: GET /metrics will answer 404");
    }
    let app = clawhooks::api::router(opts.ingress);
    // The console's live streams would hold the graceful shutdown open.
    let (streams, mut closing) = (ingress_backend.store.clone(), rx.clone());
    tasks.spawn(async move {
        let _ = closing.wait_for(|s| *s).await;
        clawhooks::api::console::close_streams(&streams);
    });
    let app: CurrentApp = Arc::new(RwLock::new(app));
    tasks.spawn(crate::listener::serve(
        listener,
        app.clone(),
        opts.limits,
        rx.clone(),
    ));
    let (consumers_stop, consumers_rx) = watch::channel(false);
    spawn_consumers(&mut tasks, opts.consumers, &opts.poll, consumers_rx);
    if let Some(every) = opts.sweep_every {
        let (backend, clock, mut stop) = (ingress_backend, ingress_clock, rx.clone());
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                match clawhooks::handler::sweep_sessions(&backend, clock.as_ref()).await {
                    Ok(r) if !r.ended.is_empty() || r.failed > 0 => tracing::info!(
                        ended = r.ended.len(),
                        failed = r.failed,
                        "idle sessions swept"
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "session sweep failed; retrying next time")
                    }
                }
            }
        });
    }
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        shutdown: tx,
        tasks,
        app,
        poll: opts.poll,
        consumers_stop,
    })
}

fn spawn_consumers(
    tasks: &mut JoinSet<()>,
    consumers: Vec<crate::stages::Consumer>,
    poll: &PollSettings,
    stop: watch::Receiver<bool>,
) {
    for c in consumers {
        tracing::info!(
            stage = c.stage.name(),
            queue = c.queue.name(),
            concurrency = c.concurrency,
            "consumer started"
        );
        let poll = PollSettings {
            concurrency: c.concurrency,
            ..poll.clone()
        };
        tasks.spawn(worker::run(c.queue, c.stage, poll, stop.clone()));
    }
}
