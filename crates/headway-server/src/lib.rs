//! `headway serve`: one engine for many tenants over HTTP.
//!
//! [`start`] loads every tenant under the tenants directory ([`Registry`]), serves
//! the API ([`api::router`]) and keeps watching the directory: a changed plugin,
//! config or fixtures file is reloaded off the request path, checked, and swapped
//! in atomically while requests in flight finish on the version they started
//! with. A failed reload keeps the last good version serving.

pub mod api;
mod dashboard;
mod deliver;
mod fleet;
mod history;
pub mod metrics;
mod overrides;
pub mod registry;
mod revenue;
mod schedule;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use headway_host::Runtime;
use headway_store::StoreLocation;
pub use registry::{Reconciled, Registry};

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The tenants directory: one folder per tenant with its tenant.toml.
    pub tenants: PathBuf,
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Serve `/metrics` here instead of on `listen`: the metrics name every
    /// tenant, plugin and digest, so they belong on an internal address.
    pub metrics_listen: Option<SocketAddr>,
    /// Where compiled plugins are cached across restarts; none: compile each time.
    pub cache_dir: Option<PathBuf>,
    /// The largest plugin file a tenant may point at.
    pub max_plugin_bytes: u64,
    /// The history store recorded runs go to and reads come from; none: the
    /// server only scores.
    pub store: Option<StoreLocation>,
    /// SHA-256 of the operator's token: it opens every tenant's routes (to
    /// publish, roll back, read), as each tenant's own token opens its own.
    pub operator_token_sha256: Option<[u8; 32]>,
    /// Most connections a PostgreSQL store keeps open (SQLite: one writer, a
    /// reader per read).
    pub store_connections: u32,
    /// Largest request body accepted (a recorded run's JSON Lines or CSV body
    /// streams, and has `max_run_bytes` instead).
    pub max_body_bytes: usize,
    /// Largest streamed body of a recorded run.
    pub max_run_bytes: u64,
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
    /// How often `[schedule]`s are checked.
    pub schedule_tick: Duration,
    /// How often the alert outbox is checked for what is due.
    pub delivery_tick: Duration,
}

impl ServeOptions {
    /// Defaults for `tenants` on `listen`: no cache, 8 MiB bodies, 100 ms
    /// debounce, a rescan every 5 s.
    pub fn new(tenants: PathBuf, listen: SocketAddr) -> Self {
        Self {
            tenants,
            listen,
            metrics_listen: None,
            cache_dir: None,
            max_plugin_bytes: headway_host::MAX_PLUGIN_BYTES,
            store: None,
            store_connections: 16,
            operator_token_sha256: None,
            max_body_bytes: 8 << 20,
            max_run_bytes: 1 << 30,
            body_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            debounce: Duration::from_millis(100),
            poll: Duration::from_secs(5),
            schedule_tick: Duration::from_secs(30),
            delivery_tick: Duration::from_secs(1),
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
    /// The history store cannot be opened.
    #[error("cannot open the history store: {0}")]
    Store(#[from] headway_store::StoreError),
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when not on `addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// Its tenants.
    pub registry: Arc<Registry>,
    /// What the first load did.
    pub initial: Reconciled,
    stop: tokio::sync::watch::Sender<bool>,
    grace: Duration,
    server: tokio::task::JoinHandle<()>,
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
            Ok(done) => done.map_err(std::io::Error::other),
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
    let history = match &options.store {
        Some(location) => {
            // Blocking: the PostgreSQL driver runs a runtime of its own.
            let (location, connections) = (location.clone(), options.store_connections);
            let opened = tokio::task::spawn_blocking(move || {
                headway_store::SharedStore::open(&location, connections)
            })
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            Some(Arc::new(opened?))
        }
        None => None,
    };
    let mut runtime = Runtime::new()?;
    if let Some(dir) = &options.cache_dir {
        runtime = runtime.with_artifact_cache(dir.clone());
    }
    let mut registry = Registry::new(runtime, options.tenants.clone())
        .with_max_plugin_bytes(options.max_plugin_bytes);
    if let Some(store) = &history {
        registry = registry.with_fleet(Arc::clone(store));
    }
    let registry = Arc::new(registry);
    let initial = {
        let registry = Arc::clone(&registry);
        tokio::task::spawn_blocking(move || registry.reconcile())
            .await
            .unwrap_or_default()
    };
    let listener = bind(options.listen).await?;
    let addr = local_addr(&listener, options.listen)?;
    let (metrics_listener, metrics_addr) = match options.metrics_listen {
        Some(at) => {
            let listener = bind(at).await?;
            let bound = local_addr(&listener, at)?;
            (Some(listener), Some(bound))
        }
        None => (None, None),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let limits = api::RequestLimits {
        max_body_bytes: options.max_body_bytes,
        body_timeout: options.body_timeout,
    };
    let http = Arc::new(metrics::HttpMetrics::default());
    let connections = Connections {
        http: Arc::clone(&http),
        header_timeout: options.header_timeout,
        stop: stopped.clone(),
    };
    let app = Arc::new(api::App {
        registry: Arc::clone(&registry),
        limits,
        http,
        history: history.clone(),
        max_run_bytes: options.max_run_bytes,
        operator_token_sha256: options.operator_token_sha256,
    });
    let router = api::router(Arc::clone(&app), metrics_listener.is_some());
    let mut servers = vec![tokio::spawn(connections.clone().serve(listener, router))];
    if let Some(history) = history {
        servers.push(tokio::spawn(deliver::run(
            Arc::clone(&registry),
            Arc::clone(&history),
            options.delivery_tick,
            stopped.clone(),
        )));
        servers.push(tokio::spawn(schedule::run(
            Arc::clone(&app),
            history,
            options.schedule_tick,
            stopped.clone(),
        )));
    }
    if let Some(listener) = metrics_listener {
        let router = api::metrics_router(app);
        servers.push(tokio::spawn(connections.serve(listener, router)));
    }
    let server = tokio::spawn(async move {
        for server in servers {
            let _ = server.await;
        }
    });
    let fleet = match &options.store {
        Some(StoreLocation::Postgres(url)) => Some(url.clone()),
        _ => None,
    };
    let watcher = watch::spawn(
        Arc::clone(&registry),
        fleet,
        options.debounce,
        options.poll,
        stopped,
    );
    Ok(Running {
        addr,
        metrics_addr,
        registry,
        initial,
        stop,
        grace: options.shutdown_grace,
        server,
        watcher,
    })
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })
}

fn local_addr(
    listener: &tokio::net::TcpListener,
    addr: SocketAddr,
) -> Result<SocketAddr, ServeError> {
    listener
        .local_addr()
        .map_err(|source| ServeError::Listen { addr, source })
}

/// How connections are served, whichever listener they arrive on.
#[derive(Clone)]
struct Connections {
    http: Arc<metrics::HttpMetrics>,
    header_timeout: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// hyper's own limits on a request head, above the API's (which answer JSON):
/// a head past these never reaches the router, and hyper answers 431 itself.
const HYPER_MAX_HEADERS: usize = 4 * api::MAX_HEADERS;
const HYPER_MAX_BUF_BYTES: usize = 4 * (api::MAX_HEADER_BYTES + api::MAX_URI_BYTES);

impl Connections {
    /// Accepts connections until `stop` changes, each served by hyper with a
    /// header timeout (`axum::serve` sets none: a client that sends half a
    /// request line would hold its connection forever), then waits for the open
    /// ones to finish.
    async fn serve(mut self, listener: tokio::net::TcpListener, app: axum::Router) {
        use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
        use hyper_util::server::conn::auto::Builder;
        use hyper_util::server::graceful::GracefulShutdown;
        use hyper_util::service::TowerToHyperService;

        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .max_headers(HYPER_MAX_HEADERS)
            .max_buf_size(HYPER_MAX_BUF_BYTES);
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
                    let http = Arc::clone(&self.http);
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            count_connection_error(&http, &*e);
                        }
                    });
                }
                _ = self.stop.changed() => break,
            }
        }
        drop(listener);
        graceful.shutdown().await;
    }
}

/// Counts what went wrong on a connection before the router saw a request; a
/// client closing its connection early is normal and not counted.
fn count_connection_error(http: &metrics::HttpMetrics, e: &(dyn std::error::Error + 'static)) {
    let Some(e) = e.downcast_ref::<hyper::Error>() else {
        http.connection_error("other");
        return;
    };
    let kind = if e.is_timeout() {
        "header-timeout"
    } else if e.is_parse_too_large() {
        "headers-too-large"
    } else if e.is_parse() {
        "malformed"
    } else {
        return;
    };
    tracing::debug!("connection closed: {e}");
    http.connection_error(kind);
}
