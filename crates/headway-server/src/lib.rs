//! `headway serve`: one engine for many tenants over HTTP.
//!
//! [`start`] loads every tenant under the tenants directory ([`Registry`]), serves
//! the API ([`api::router`]) and keeps watching the directory: a changed plugin,
//! config or fixtures file is reloaded off the request path, checked, and swapped
//! in atomically while requests in flight finish on the version they started
//! with. A failed reload keeps the last good version serving.

pub mod api;
pub mod metrics;
pub mod registry;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use headway_host::Runtime;
pub use registry::{Reconciled, Registry};

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The tenants directory: one folder per tenant with its tenant.toml.
    pub tenants: PathBuf,
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Where compiled plugins are cached across restarts; none: compile each time.
    pub cache_dir: Option<PathBuf>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// How long a client may take to send a request's headers (a connection
    /// that sends nothing is closed after it).
    pub header_timeout: Duration,
    /// How long shutdown waits for requests in flight before closing them.
    pub shutdown_grace: Duration,
    /// Quiet time after the last file event before reloading.
    pub debounce: Duration,
    /// Rescan interval when no file event arrives.
    pub poll: Duration,
}

impl ServeOptions {
    /// Defaults for `tenants` on `listen`: no cache, 8 MiB bodies, 100 ms
    /// debounce, a rescan every 5 s.
    pub fn new(tenants: PathBuf, listen: SocketAddr) -> Self {
        Self {
            tenants,
            listen,
            cache_dir: None,
            max_body_bytes: 8 << 20,
            body_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            debounce: Duration::from_millis(100),
            poll: Duration::from_secs(5),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The plugin runtime failed to start.
    #[error("cannot start the plugin runtime: {0}")]
    Runtime(#[from] headway_host::RunError),
    /// The address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The tenants directory does not exist.
    #[error("tenants directory `{0}` not found")]
    NoTenants(PathBuf),
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its tenants.
    pub registry: Arc<Registry>,
    /// What the first load did.
    pub initial: Reconciled,
    stop: tokio::sync::watch::Sender<bool>,
    grace: Duration,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections, lets requests in flight finish (for at most
    /// the grace period: a client that never finishes sending cannot keep the
    /// process up), stops the watcher.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        let _ = self.watcher.await;
        let mut server = self.server;
        match tokio::time::timeout(self.grace, &mut server).await {
            Ok(done) => done.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Err(_) => {
                tracing::warn!(
                    grace_ms = self.grace.as_millis() as u64,
                    "connections still open after the grace period: closed"
                );
                server.abort();
                Ok(())
            }
        }
    }
}

/// Loads the tenants, binds, and serves in the background.
pub async fn start(options: ServeOptions) -> Result<Running, ServeError> {
    if !options.tenants.is_dir() {
        return Err(ServeError::NoTenants(options.tenants));
    }
    let mut runtime = Runtime::new()?;
    if let Some(dir) = &options.cache_dir {
        runtime = runtime.with_artifact_cache(dir.clone());
    }
    let registry = Arc::new(Registry::new(runtime, options.tenants.clone()));
    let initial = {
        let registry = Arc::clone(&registry);
        tokio::task::spawn_blocking(move || registry.reconcile())
            .await
            .unwrap_or_default()
    };
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: options.listen,
        source,
    })?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let limits = api::RequestLimits {
        max_body_bytes: options.max_body_bytes,
        body_timeout: options.body_timeout,
    };
    let app = api::router(Arc::clone(&registry), limits);
    let server = tokio::spawn(serve_connections(
        listener,
        app,
        stopped.clone(),
        options.header_timeout,
    ));
    let watcher = watch::spawn(
        Arc::clone(&registry),
        options.debounce,
        options.poll,
        stopped,
    );
    Ok(Running {
        addr,
        registry,
        initial,
        stop,
        grace: options.shutdown_grace,
        server,
        watcher,
    })
}

/// Accepts connections until `stop` changes, each served by hyper with a header
/// timeout (`axum::serve` sets none: a client that sends half a request line
/// would hold its connection forever), then waits for the open ones to finish.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
    header_timeout: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = TowerToHyperService::new(app.clone());
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
