//! `headway serve`: the HTTP server over a tenants directory.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use headway_store::StoreLocation;
use sha2::{Digest, Sha256};

/// Serve every tenant of a directory over HTTP, reloading a tenant's rules when
/// its files change (see docs/openapi.json).
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The tenants directory (one folder per tenant, each with tenant.toml).
    #[arg(long, default_value = "tenants")]
    tenants: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve /metrics on this address only (it names every tenant, plugin and
    /// digest: keep it where only your monitoring reaches). Without it, /metrics
    /// is on --listen.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// The history store: recorded runs go here, and the read routes (accounts,
    /// runs) answer from it. A SQLite file, or a postgres:// URL that several
    /// servers share; `none`: the server only scores.
    #[arg(long, default_value = "headway.db")]
    store: String,
    /// Most connections kept open to a PostgreSQL store.
    #[arg(long, default_value_t = 16)]
    store_connections: u32,
    /// The variable holding the operator's token, which opens every tenant's
    /// routes (publish, roll back, read) as a tenant's own token opens its own.
    #[arg(long)]
    operator_token_env: Option<String>,
    /// Largest streamed body of a recorded run (JSON Lines or CSV), in MiB.
    #[arg(long, default_value_t = 1024)]
    max_run_mib: u64,
    /// Keep compiled plugins here across restarts (outside the tenants directory).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 8)]
    max_body_mib: usize,
    /// Largest plugin file a tenant may point at, in MiB.
    #[arg(long, default_value_t = headway_host::MAX_PLUGIN_BYTES >> 20)]
    max_plugin_mib: u64,
}

/// Runs until SIGTERM or Ctrl-C, then finishes requests in flight.
pub fn serve(args: ServeArgs) -> Result<()> {
    let mut options = headway_server::ServeOptions::new(args.tenants, args.listen);
    options.metrics_listen = args.metrics_listen;
    options.cache_dir = args.cache_dir;
    options.store = match args.store.as_str() {
        "none" => None,
        store => Some(StoreLocation::parse(store).map_err(anyhow::Error::msg)?),
    };
    options.store_connections = args.store_connections;
    if let Some(name) = &args.operator_token_env {
        let token = std::env::var(name)
            .ok()
            .filter(|t| !t.is_empty())
            .with_context(|| format!("--operator-token-env {name}: the variable is not set"))?;
        options.operator_token_sha256 = Some(Sha256::digest(token.as_bytes()).into());
    }
    options.max_run_bytes = args.max_run_mib << 20;
    options.max_body_bytes = args.max_body_mib << 20;
    options.max_plugin_bytes = args.max_plugin_mib << 20;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = headway_server::start(options).await?;
        let tenants = server.registry.tenants();
        let serving = tenants.values().filter(|t| t.current().is_some()).count();
        eprintln!(
            "listening on http://{}: {} tenants, {serving} serving",
            server.addr,
            tenants.len()
        );
        match server.metrics_addr {
            Some(at) => eprintln!("metrics on http://{at}/metrics"),
            None => eprintln!(
                "metrics on http://{}/metrics, open to anyone who reaches it \
                 (--metrics-listen moves them to an internal address)",
                server.addr
            ),
        }
        for id in &server.initial.failed {
            if let Some(t) = server.registry.tenant(id) {
                let status = t.status();
                eprintln!(
                    "tenant `{id}` not serving: {}",
                    status.last_reload_error.unwrap_or_default()
                );
            }
        }
        shutdown_signal().await;
        eprintln!("shutting down: finishing requests in flight");
        server.shutdown().await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
