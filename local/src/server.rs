//! The HTTP listener and the consumer loops, started and stopped together.

use clawhooks::ingress::Ingress;
use clawhooks::worker::{self, PollSettings};
use std::net::SocketAddr;
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
}

/// A started server. Dropping it does not stop it: call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops accepting, lets in-flight requests and messages finish, returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Runs until SIGTERM or Ctrl-C, then shuts down gracefully.
    /// Runs until SIGTERM or Ctrl-C (as caught by `signals`, installed
    /// before the server announced itself), then shuts down gracefully.
    pub async fn until_signal(self, signals: Signals) {
        signals.wait().await;
        tracing::info!("shutting down: finishing in-flight work");
        self.shutdown().await;
        tracing::info!("stopped");
    }
}

/// SIGTERM and Ctrl-C listeners. Installed before the address is printed,
/// so a supervisor that signals as soon as it reads the address is heard
/// (a signal before installation would kill the process outright).
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
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
    let mut stop = rx.clone();
    tasks.spawn(async move {
        let server = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "listener failed");
        }
    });
    for c in opts.consumers {
        tracing::info!(
            stage = c.stage.name(),
            queue = c.queue.name(),
            concurrency = c.concurrency,
            "consumer started"
        );
        let poll = PollSettings {
            concurrency: c.concurrency,
            ..opts.poll.clone()
        };
        tasks.spawn(worker::run(c.queue, c.stage, poll, rx.clone()));
    }
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
    })
}
