//! The HTTP listener and the consumer loops, started and stopped together.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use clawhooks::ingress::{Ingress, IngressRequest, IngressResponse};
use clawhooks::worker::{self, PollSettings};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A body that trickles in slower than this is cut off (slowloris).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

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
    let app = axum::Router::new()
        .fallback(serve_ingress)
        .with_state(Arc::new(opts.ingress));
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

async fn serve_ingress(
    State(ingress): State<Arc<Ingress>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response {
    let (parts, body) = req.into_parts();
    let limit = ingress.config.config.webhooks.incoming.max_body_bytes;
    let too_large = || {
        to_response(IngressResponse::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body exceeds the limit (webhooks.incoming.maxBodyBytes) of {limit} bytes"),
        ))
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let limited = http_body_util::Limited::new(body, limit);
    let bytes: Bytes = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => {
            return to_response(IngressResponse::error(
                StatusCode::REQUEST_TIMEOUT,
                "the body took too long to arrive",
            ))
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Ok(Err(_)) => {
            return to_response(IngressResponse::error(
                StatusCode::BAD_REQUEST,
                "could not read the body",
            ))
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let request = IngressRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body: bytes,
        peer: peer.ip(),
    };
    to_response(ingress.handle(request).await)
}

fn to_response(r: IngressResponse) -> Response {
    let mut resp = (
        r.status,
        [(http::header::CONTENT_TYPE, "application/json")],
        r.body_bytes(),
    )
        .into_response();
    for (k, v) in r.headers {
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}
