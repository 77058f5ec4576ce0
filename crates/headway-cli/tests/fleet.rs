//! A fleet on loopback: three `headway serve` replicas sharing one PostgreSQL
//! store (and a compiled-plugin cache), under continuous scoring load while 20
//! builds are published through the API and the CLI; then a replica killed
//! with SIGKILL in the middle of a recorded run.
//!
//! Prints how long each replica took to serve each build after its publication
//! returned (`cargo test -p headway-cli --test fleet -- --nocapture`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Served, headway, http, serve, stderr, try_http, try_http_as};
use headway_samples::Book;
use headway_store::testing::TestDatabase;

const REPLICAS: usize = 3;
const BUILDS: usize = 20;
const TENANT: &str = "/v1/tenants/saas-acme";

/// The repository's saas-health component with a custom section naming `n`:
/// the same rules under another digest.
fn build(n: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(headway_tests::SAAS_HEALTH).unwrap();
    let mut body = vec![13];
    body.extend_from_slice(b"headway-build");
    body.extend_from_slice(n.to_string().as_bytes());
    bytes.push(0);
    bytes.push(body.len() as u8);
    bytes.extend(body);
    bytes
}

fn serving(addr: &str) -> Option<String> {
    let (code, status) = try_http(addr, "GET", &format!("{TENANT}/status"), b"").ok()?;
    (code == 200).then(|| status["current"]["digest"].as_str().map(str::to_owned))?
}

/// Scores a small book on `addr` until `stop`, counting answers other than 200.
fn load(addr: String, stop: Arc<AtomicBool>, sent: Arc<AtomicUsize>, failed: Arc<AtomicUsize>) {
    let accounts = headway_samples::generate(Book::Saas, 20, 5);
    let body = serde_json::to_vec(&accounts).unwrap();
    while !stop.load(Ordering::Relaxed) {
        sent.fetch_add(1, Ordering::Relaxed);
        match try_http(&addr, "POST", &format!("{TENANT}/score"), &body) {
            Ok((200, _)) => {}
            Ok((code, body)) => {
                eprintln!("{addr}: {code} {body}");
                failed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                eprintln!("{addr}: {e}");
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn on(addrs: &[String]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let threads = addrs
            .iter()
            .map(|addr| {
                let (addr, stop, sent, failed) = (
                    addr.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&sent),
                    Arc::clone(&failed),
                );
                std::thread::spawn(move || load(addr, stop, sent, failed))
            })
            .collect();
        Self {
            stop,
            sent,
            failed,
            threads,
        }
    }

    /// Stops, and says how many requests were sent and how many failed.
    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// Waits until every replica serves `digest`: how long each took.
fn converge(addrs: &[String], digest: &str, since: Instant) -> Vec<Duration> {
    addrs
        .iter()
        .map(|addr| {
            loop {
                if serving(addr).as_deref() == Some(digest) {
                    break since.elapsed();
                }
                assert!(
                    since.elapsed() < Duration::from_secs(60),
                    "{addr} never served {digest}"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn a_build_published_once_serves_on_every_replica() {
    let Some(db) = TestDatabase::create() else {
        return;
    };
    let url = db.url();
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let replica_args = [
        "--store",
        &url,
        "--cache-dir",
        cache_dir,
        "--operator-token-env",
        "HEADWAY_OPERATOR_TOKEN",
    ];
    let mut replicas: Vec<Served> = (0..REPLICAS).map(|_| serve(&replica_args)).collect();
    let addrs: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
    let file_digest = headway_host::digest(&std::fs::read(headway_tests::SAAS_HEALTH).unwrap());
    for addr in &addrs {
        assert_eq!(serving(addr).as_deref(), Some(file_digest.as_str()));
    }

    let load = Load::on(&addrs);
    let mut latencies = Vec::new();
    let mut digests = Vec::new();
    for n in 0..BUILDS {
        let component = build(n);
        let digest = headway_host::digest(&component);
        let published = if n % 2 == 0 {
            // Through the API of one replica, in turn, with the tenant's token
            // or the operator's.
            let (token, by) = match n % 4 {
                0 => ("t0ken", "api: tenant token"),
                _ => ("operator", "api: operator token"),
            };
            let path = format!("{TENANT}/plugin");
            let replica = &addrs[n % REPLICAS];
            let (code, body) = try_http_as(token, replica, "PUT", &path, &component).unwrap();
            assert_eq!(code, 201, "{body}");
            assert_eq!(body["activated"]["by"], by);
            assert_eq!(body["activated"]["digest"], digest.as_str());
            Instant::now()
        } else {
            let file = cache.path().join(format!("build-{n}.wasm"));
            std::fs::write(&file, &component).unwrap();
            let out = headway(&[
                "publish",
                "--store",
                &url,
                "--tenant",
                "tenants/saas-acme",
                file.to_str().unwrap(),
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(stderr(&out).contains(&digest), "{}", stderr(&out));
            Instant::now()
        };
        latencies.extend(converge(&addrs, &digest, published));
        digests.push(digest);
    }
    // A build that fails the gate is refused, and nothing changes.
    let broken = b"\0asm\r\0\x01\0not a component".to_vec();
    let (code, body) = http(&addrs[0], "PUT", &format!("{TENANT}/plugin"), &broken);
    assert_eq!(
        (code, body["code"].as_str()),
        (422, Some("build-refused")),
        "{body}"
    );
    // Rollback on one replica is fleet-wide.
    let (code, body) = http(&addrs[1], "POST", &format!("{TENANT}/rollback"), b"");
    assert_eq!(code, 200, "{body}");
    converge(&addrs, &digests[BUILDS - 2], Instant::now());
    let (code, log) = http(
        &addrs[2],
        "GET",
        &format!("{TENANT}/plugin/activations"),
        b"",
    );
    assert_eq!(code, 200);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), BUILDS + 1);
    assert_eq!(
        (log[0]["action"].as_str(), log[0]["digest"].as_str()),
        (Some("rollback"), Some(digests[BUILDS - 2].as_str()))
    );
    let (sent, failed) = load.finish();
    assert_eq!(
        failed, 0,
        "of {sent} scoring requests during {BUILDS} publications"
    );
    latencies.sort();
    eprintln!(
        "fleet: {REPLICAS} replicas, {BUILDS} builds, {sent} scoring requests, {failed} failed; \
         publish to serving on a replica: median {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.9).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );

    // A replica that starts late serves the active build, from the database.
    let late = serve(&replica_args);
    assert_eq!(
        serving(&late.addr).as_deref(),
        Some(digests[BUILDS - 2].as_str())
    );
    replicas.push(late);

    killed_mid_run(&mut replicas);
}

/// Records a run, kills a replica with SIGKILL while it records another, and
/// checks that nothing committed is lost, nothing half-recorded shows, the
/// others keep serving, and the run can be repeated.
fn killed_mid_run(replicas: &mut [Served]) {
    let addr = |i: usize| replicas[i].addr.clone();
    let (survivors, victim) = ([addr(0), addr(1)], addr(2));
    let accounts = headway_samples::generate(Book::Saas, 3_000, 8);
    let first = headway_samples::to_jsonl(&accounts[..1_000]);
    let (code, run) = http(
        &survivors[0],
        "POST",
        &format!("{TENANT}/runs"),
        first.as_bytes(),
    );
    assert_eq!(
        (code, run["recorded"]["new"].as_u64()),
        (201, Some(1_000)),
        "{run}"
    );
    let load = Load::on(&survivors);

    // Half the body, a pause for the replica to record it, then SIGKILL.
    let rest = headway_samples::to_jsonl(&accounts[1_000..]).into_bytes();
    let mut conn = std::net::TcpStream::connect(&victim).unwrap();
    use std::io::Write;
    write!(
        conn,
        "POST {TENANT}/runs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t0ken\r\n\
         content-type: application/x-ndjson\r\ncontent-length: {}\r\n\r\n",
        rest.len()
    )
    .unwrap();
    conn.write_all(&rest[..rest.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    replicas[2].child.kill().unwrap();
    replicas[2].child.wait().unwrap();

    let (code, runs) = http(&survivors[1], "GET", &format!("{TENANT}/runs"), b"");
    assert_eq!(code, 200);
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "only the committed run: {runs:?}");
    let (code, book) = http(&survivors[1], "GET", &format!("{TENANT}/accounts"), b"");
    assert_eq!(code, 200);
    assert_eq!(book["matching"], 1_000, "the committed run, whole");

    // The run again, on a survivor: recorded; once more: idempotent.
    for (expect_new, expect_unchanged) in [(2_000, 0), (0, 2_000)] {
        let (code, run) = http(&survivors[1], "POST", &format!("{TENANT}/runs"), &rest);
        assert_eq!(code, 201, "{run}");
        assert_eq!(
            (
                run["recorded"]["new"].as_u64(),
                run["recorded"]["unchanged"].as_u64()
            ),
            (Some(expect_new), Some(expect_unchanged))
        );
    }
    let (sent, failed) = load.finish();
    assert_eq!(failed, 0, "of {sent} scoring requests on the survivors");
}
