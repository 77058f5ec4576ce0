//! Alert delivery across a real `headway serve` killed mid-delivery: the
//! restarted server sends what the dead one held, none lost, and a receiver that
//! keeps the idempotency keys it has seen sees each alert once.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{headway, serve_tenants, stderr, stdout};
use serde_json::Value;

const SECRET: &str = "whsec_restart";

/// A receiver on loopback that keeps every request's idempotency key. The
/// first request is held unanswered (the server is killed meanwhile); every
/// later one is answered 200 at once.
struct Receiver {
    port: u16,
    /// Keys in the order the requests arrived, duplicates included.
    keys: Arc<Mutex<Vec<String>>>,
    /// Told when the first request has arrived.
    first: mpsc::Receiver<()>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let keys = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (told, first) = mpsc::channel();
        let (k, s) = (Arc::clone(&keys), Arc::clone(&stop));
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let (keys, told) = (Arc::clone(&k), told.clone());
                // At most one held connection and a bounded number of others.
                assert!(n < 500, "the server sends a bounded number of requests");
                std::thread::spawn(move || answer(conn.unwrap(), n == 0, &keys, &told));
            }
        });
        Self {
            port,
            keys,
            first,
            stop,
        }
    }

    fn keys(&self) -> Vec<String> {
        self.keys.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request, keeps its key; holds the first without answering.
fn answer(conn: TcpStream, hold: bool, keys: &Mutex<Vec<String>>, told: &mpsc::Sender<()>) {
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let (mut key, mut length) = (String::new(), 0usize);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "idempotency-key" => key = value.trim().to_owned(),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    // The alert is taken in (acted on) as soon as it is read.
    keys.lock().unwrap().push(key);
    if hold {
        let _ = told.send(());
        // Never answered: the server dies waiting.
        let _ = reader.read_to_end(&mut Vec::new());
        return;
    }
    let mut conn = conn;
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
}

/// The tenant's alerts by status, as `headway alerts` lists them.
fn statuses(store: &str, tenant: &str) -> HashMap<String, usize> {
    let out = headway(&[
        "alerts", "--store", store, "--tenant", tenant, "--format", "json", "--limit", "10000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut by = HashMap::new();
    for a in alerts.as_array().unwrap() {
        *by.entry(a["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    by
}

#[test]
fn a_server_killed_mid_delivery_loses_no_alert_and_repeats_none_to_a_keeping_receiver() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("acme");
    std::fs::create_dir(&tenant).unwrap();
    // A timeout of 500 ms: the lease of a claim (ten timeouts) ends 5 s after it.
    std::fs::write(
        tenant.join("tenant.toml"),
        format!(
            "name = \"Acme\"\nplugin = \"{}\"\n[api]\ntoken_sha256 = \"{}\"\n\
             [[alerts]]\nname = \"turned-red\"\nwhen = \"band-entered\"\nbands = [\"red\"]\n\
             [webhook]\nurl = \"http://127.0.0.1:{}/hook\"\nsecret_env = \"ACME_SECRET\"\n\
             backoff_ms = 100\nmax_backoff_ms = 400\ntimeout_ms = 500\n",
            headway_tests::SAAS_HEALTH,
            headway_tests::token_sha256("acme-token"),
            receiver.port
        ),
    )
    .unwrap();
    let (tenant, store) = (
        tenant.to_str().unwrap().to_owned(),
        dir.path().join("h.db").to_str().unwrap().to_owned(),
    );
    let year = dir.path().join("year.jsonl").to_str().unwrap().to_owned();
    let sample = headway(&[
        "sample", "saas", "--what", "history", "--count", "40", "-o", &year,
    ]);
    assert!(sample.status.success(), "{}", stderr(&sample));
    let scored = headway(&[
        "score", "--tenant", &tenant, "--store", &store, "--format", "json", &year,
    ]);
    assert!(scored.status.success(), "{}", stderr(&scored));
    let filed = statuses(&store, &tenant)["pending"];
    assert!(filed > 1, "the sample year has accounts turning red");

    let tenants = dir.path().to_str().unwrap().to_owned();
    let env = [("ACME_SECRET", SECRET)];
    let mut first = serve_tenants(&tenants, &["--store", &store], &env);
    receiver
        .first
        .recv_timeout(Duration::from_secs(60))
        .expect("the server starts delivering");
    // SIGKILL while the first request waits for its answer.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert_eq!(receiver.keys().len(), 1, "one request was on the wire");
    assert_eq!(statuses(&store, &tenant).get("delivered"), None);

    let second = serve_tenants(&tenants, &["--store", &store], &env);
    let deadline = Instant::now() + Duration::from_secs(90);
    while statuses(&store, &tenant).get("delivered") != Some(&filed) {
        assert!(
            Instant::now() < deadline,
            "not all delivered: {:?}",
            statuses(&store, &tenant)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(second);

    let keys = receiver.keys();
    let distinct: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), filed, "every alert arrived: none lost");
    // The one the dead server sent came again, with the same key (a try that
    // times out on a slow machine may repeat others, with theirs).
    assert!(keys.len() > filed, "{keys:?}");
    assert!(keys.iter().filter(|k| **k == keys[0]).count() >= 2);
}
