//! Delivery against a receiver on loopback: down then up, signatures, dead
//! letters, a deliverer that dies holding alerts, on the embedded store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use headway_config::{Webhook, WebhookFormat};
use headway_core::alerts::{AlertDetail, Fired};
use headway_delivery::{Deliverer, Pass, Target, signature};
use headway_store::testing::{info, plugin, snap};
use headway_store::{AlertQuery, AlertStatus, SharedStore, StoreLocation, StoredAlert};

const SECRET_ENV: &str = "HEADWAY_DELIVERY_TEST_SECRET";
const SECRET: &str = "whsec_loopback";

/// What the receiver saw: each request's key, whether its signature held, body.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, bool, serde_json::Value)>,
}

struct Receiver {
    seen: Arc<Mutex<Seen>>,
    answer: Arc<AtomicU16>,
}

async fn receive(
    seen: Arc<Mutex<Seen>>,
    answer: Arc<AtomicU16>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let timestamp: i64 = header("headway-timestamp").parse().unwrap_or(0);
    let valid = header("headway-signature") == signature(SECRET.as_bytes(), timestamp, &body);
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    seen.lock()
        .unwrap()
        .requests
        .push((header("idempotency-key"), valid, json));
    StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap()
}

/// Serves the receiver on `listener`, answering `answer`.
fn start(listener: tokio::net::TcpListener, answer: u16) -> Receiver {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let status = Arc::new(AtomicU16::new(answer));
    let (s, a) = (Arc::clone(&seen), Arc::clone(&status));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, b: axum::body::Bytes| {
            receive(s.clone(), a.clone(), h, b)
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        seen,
        answer: status,
    }
}

fn target(port: u16, max_attempts: u32) -> Target {
    Target {
        tenant: "acme".into(),
        webhook: Webhook {
            url: format!("http://127.0.0.1:{port}/hook"),
            secret_env: SECRET_ENV.into(),
            format: WebhookFormat::Json,
            max_attempts,
            backoff_ms: 50,
            max_backoff_ms: 200,
            timeout_ms: 2_000,
            links_base: "https://headway.example".into(),
        },
    }
}

/// A store with three alerts filed by one recorded run.
fn store_with_alerts(dir: &std::path::Path) -> Arc<SharedStore> {
    let location = StoreLocation::Sqlite(dir.join("h.db"));
    let store = SharedStore::open(&location, 1).unwrap();
    {
        let mut writer = store.writer().unwrap();
        let mut run = writer
            .begin_run("acme", &info(), &plugin("sha256:1"))
            .unwrap();
        let snaps: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|a| snap(a, "2026-10-01", 40.0, "sha256:1"))
            .collect();
        run.add(&snaps).unwrap();
        let fired: Vec<Fired> = snaps
            .iter()
            .map(|s| Fired {
                rule: "turned-red".into(),
                kind: "band-entered",
                account_id: s.account_id.clone(),
                as_of: s.as_of,
                summary: "entered red from green (score 40.0)".into(),
                detail: AlertDetail {
                    score: 40.0,
                    band: "red".into(),
                    score_before: Some(70.0),
                    band_before: Some("green".into()),
                    since: Some("2026-09-01".parse().unwrap()),
                    moved: Vec::new(),
                },
            })
            .collect();
        assert_eq!(run.add_alerts(&fired).unwrap(), 3);
        run.commit(headway_store::RunLog::new(
            "acme",
            &plugin("sha256:1"),
            "t",
            String::new(),
        ))
        .unwrap();
    }
    Arc::new(store)
}

/// The tenant's alerts with `status` (any when `None`), at most `limit`.
fn listed(store: &SharedStore, status: Option<AlertStatus>, limit: usize) -> Vec<StoredAlert> {
    let query = AlertQuery {
        since: None,
        status,
        limit,
    };
    store.reader().unwrap().alerts("acme", &query).unwrap()
}

fn statuses(store: &SharedStore) -> HashMap<AlertStatus, usize> {
    let mut by = HashMap::new();
    for a in listed(store, None, 100) {
        *by.entry(a.status).or_default() += 1;
    }
    by
}

/// Requests the receiver saw, and how many distinct keys they carried.
fn requests_and_keys(receiver: &Receiver) -> (usize, usize) {
    let seen = receiver.seen.lock().unwrap();
    let keys: std::collections::HashSet<&str> =
        seen.requests.iter().map(|r| r.0.as_str()).collect();
    (seen.requests.len(), keys.len())
}

/// A deliverer reading the test secret (the environment is left alone).
fn deliverer(store: &Arc<SharedStore>) -> Deliverer {
    Deliverer::new(Arc::clone(store))
        .with_secrets(|var| (var == SECRET_ENV).then(|| SECRET.to_owned()))
}

#[tokio::test]
async fn a_receiver_down_then_up_gets_each_alert_once_signed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    // A port nobody listens on yet.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let target = target(port, 5);
    let deliverer = deliverer(&store);
    let down = deliverer.pass(&target).await.unwrap();
    assert_eq!(
        down,
        Pass {
            delivered: 0,
            failed: 3,
            dead: 0
        }
    );
    // Within the backoff nothing is due.
    assert_eq!(deliverer.pass(&target).await.unwrap(), Pass::default());
    let receiver = start(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
        204,
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    let up = deliverer.pass(&target).await.unwrap();
    assert_eq!(
        up,
        Pass {
            delivered: 3,
            failed: 0,
            dead: 0
        }
    );
    assert_eq!(deliverer.pass(&target).await.unwrap(), Pass::default());
    assert_eq!(requests_and_keys(&receiver), (3, 3), "each once");
    let seen = receiver.seen.lock().unwrap();
    assert!(
        seen.requests.iter().all(|r| r.1),
        "every signature verifies"
    );
    let body = &seen
        .requests
        .iter()
        .find(|r| r.2["account_id"] == "a")
        .unwrap()
        .2;
    assert_eq!(body["rule"], "turned-red");
    assert_eq!(body["detail"]["score_before"], 70.0);
    assert_eq!(
        body["links"]["account"],
        "https://headway.example/v1/tenants/acme/accounts/a"
    );
    assert_eq!(
        body["id"],
        seen.requests
            .iter()
            .find(|r| r.2["account_id"] == "a")
            .unwrap()
            .0
    );
    assert_eq!(
        statuses(&store),
        HashMap::from([(AlertStatus::Delivered, 3)])
    );
    let delivered = listed(&store, None, 1);
    assert_eq!(delivered[0].attempts, 2, "one refused, one taken");
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_leaves_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = start(listener, 500);
    let target = target(port, 3);
    let deliverer = deliverer(&store);
    let mut total = Pass::default();
    for _ in 0..3 {
        let pass = deliverer.pass(&target).await.unwrap();
        total.failed += pass.failed;
        total.dead += pass.dead;
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert_eq!(
        total,
        Pass {
            delivered: 0,
            failed: 6,
            dead: 3
        }
    );
    assert_eq!(
        receiver.seen.lock().unwrap().requests.len(),
        9,
        "3 tries each"
    );
    assert_eq!(statuses(&store), HashMap::from([(AlertStatus::Dead, 3)]));
    let dead = listed(&store, Some(AlertStatus::Dead), 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("answered HTTP 500 (try 3 of 3: given up)")
    );
    // A dead letter is not tried again.
    receiver.answer.store(200, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(deliverer.pass(&target).await.unwrap(), Pass::default());
}

#[tokio::test]
async fn alerts_a_dead_deliverer_held_are_sent_once_its_lease_ends() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = start(listener, 200);
    // Another server claimed two of them and died before sending.
    let now = jiff::Timestamp::now().as_millisecond();
    let held = store
        .writer()
        .unwrap()
        .claim_alerts("acme", now, 300, 2)
        .unwrap();
    assert_eq!(held.len(), 2);
    let deliverer = deliverer(&store);
    let target = target(port, 5);
    assert_eq!(
        deliverer.pass(&target).await.unwrap().delivered,
        1,
        "only the free one"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(deliverer.pass(&target).await.unwrap().delivered, 2);
    assert_eq!(deliverer.pass(&target).await.unwrap(), Pass::default());
    assert_eq!(
        requests_and_keys(&receiver),
        (3, 3),
        "none lost, none twice"
    );
}

#[tokio::test]
async fn a_missing_secret_is_named_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let mut target = target(9, 5);
    target.webhook.secret_env = "HEADWAY_DELIVERY_TEST_NO_SUCH_SECRET".into();
    let err = deliverer(&store).pass(&target).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "tenant acme: webhook.secret_env `HEADWAY_DELIVERY_TEST_NO_SUCH_SECRET` is not set; its alerts wait in the outbox"
    );
    assert_eq!(statuses(&store), HashMap::from([(AlertStatus::Pending, 3)]));
}
