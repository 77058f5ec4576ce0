//! `headway serve` on loopback: throughput and latency, reload latency, memory per
//! tenant, and restart time with a warm artifact cache versus a cold one.
//!
//! Run: `cargo bench -p headway-server --bench serve`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headway_host::Runtime;
use headway_server::{Registry, ServeOptions, start};
use headway_tests::{SAAS_HEALTH, SAAS_SEATS, repo_root};
use serde_json::Value;

const TOKEN: &str = "bench-token";

/// A tenant folder whose plugin is `plugin` (copied in).
fn tenant(root: &Path, id: &str, plugin: &[u8]) {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.wasm"), plugin).unwrap();
    let token = headway_tests::token_sha256(TOKEN);
    std::fs::write(
        dir.join("tenant.toml"),
        format!("name = \"{id}\"\nplugin = \"plugin.wasm\"\n[api]\ntoken_sha256 = \"{token}\"\nmax_concurrent = 64\n"),
    )
    .unwrap();
}

/// `bytes` with a custom section appended: the same plugin, another digest (a
/// distinct build for the compiler and the cache).
fn variant(bytes: &[u8], n: usize) -> Vec<u8> {
    let name = format!("headway-bench-{n}");
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(section.len() as u8);
    out.extend_from_slice(&section);
    out
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let plugin = std::fs::read(SAAS_HEALTH).unwrap();
    let account: Value = serde_json::from_str(
        std::fs::read_to_string(repo_root().join("tenants/saas-acme/accounts.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();

    // Throughput and latency: one account per request.
    let dir = tempfile::tempdir().unwrap();
    tenant(dir.path(), "acme", &plugin);
    let server = start(ServeOptions::new(
        dir.path().to_owned(),
        "127.0.0.1:0".parse().unwrap(),
    ))
    .await
    .unwrap();
    let url = format!("http://{}/v1/tenants/acme/score", server.addr);
    let body = account.to_string();
    println!(
        "requests of one account, loopback, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:>8}  {:>10}  {:>9}  {:>9}",
        "clients", "requests/s", "p50 ms", "p99 ms"
    );
    for clients in [1, 8] {
        let per_client = 2_000 / clients;
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (url, body) = (url.clone(), body.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let mut times = Vec::with_capacity(per_client);
                    for _ in 0..per_client {
                        let t = Instant::now();
                        let r = http
                            .post(&url)
                            .bearer_auth(TOKEN)
                            .body(body.clone())
                            .send()
                            .await
                            .unwrap();
                        assert!(r.status().is_success());
                        r.bytes().await.unwrap();
                        times.push(t.elapsed());
                    }
                    times
                })
            })
            .collect();
        let mut times = Vec::new();
        for t in tasks {
            times.extend(t.await.unwrap());
        }
        let rate = times.len() as f64 / started.elapsed().as_secs_f64();
        times.sort();
        println!(
            "{clients:>8}  {rate:>10.0}  {:>9.2}  {:>9.2}",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3
        );
    }

    // Reload latency: from the file write until a request is answered by the new
    // build.
    let seats = std::fs::read(SAAS_SEATS).unwrap();
    let http = reqwest::Client::new();
    let mut reloads = Vec::new();
    for i in 0..10 {
        let (bytes, name) = if i % 2 == 0 {
            (&seats, "saas-seats")
        } else {
            (&plugin, "saas-health")
        };
        let started = Instant::now();
        std::fs::write(dir.path().join("acme/plugin.wasm"), bytes).unwrap();
        loop {
            let r: Value = http
                .post(&url)
                .bearer_auth(TOKEN)
                .body(body.clone())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if r["plugin"]["name"] == name {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        reloads.push(started.elapsed());
    }
    reloads.sort();
    println!(
        "reload, file write to new build serving (100 ms debounce, compile cached in memory after the first two): median {:.0} ms, max {:.0} ms",
        percentile(&reloads, 0.5).as_secs_f64() * 1e3,
        reloads.last().unwrap().as_secs_f64() * 1e3
    );
    server.shutdown().await.unwrap();

    // Memory: N tenants sharing one build, loaded in one process (increasing N).
    let before = rss_mib();
    println!("process memory (RSS) before loading tenants: {before:.0} MiB");
    for n in [1, 100, 1_000] {
        let root = tempfile::tempdir().unwrap();
        for i in 0..n {
            tenant(root.path(), &format!("t{i:04}"), &plugin);
        }
        let registry = Registry::new(Runtime::new().unwrap(), root.path().to_owned());
        let started = Instant::now();
        let done = registry.reconcile();
        assert_eq!(done.loaded.len(), n);
        println!(
            "{n:>5} tenants (one shared build): loaded in {:.0} ms, RSS {:.0} MiB",
            started.elapsed().as_secs_f64() * 1e3,
            rss_mib()
        );
        drop(registry);
    }

    // Restart: 20 tenants with distinct builds, cold (empty cache) then warm.
    let root = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for i in 0..20 {
        tenant(root.path(), &format!("t{i:02}"), &variant(&plugin, i));
    }
    let mut times = Vec::new();
    for label in ["cold", "warm"] {
        let runtime = Runtime::new()
            .unwrap()
            .with_artifact_cache(cache.path().to_owned());
        let registry = Arc::new(Registry::new(runtime, root.path().to_owned()));
        let started = Instant::now();
        assert_eq!(registry.reconcile().loaded.len(), 20);
        let t = started.elapsed();
        println!(
            "restart with 20 distinct builds, {label} cache: {:.0} ms",
            t.as_secs_f64() * 1e3
        );
        times.push(t);
    }
    println!(
        "warm / cold: {:.3}x",
        times[1].as_secs_f64() / times[0].as_secs_f64()
    );
}
