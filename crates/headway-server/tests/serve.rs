//! `headway serve` end to end on loopback: tokens, errors, the reload pipeline,
//! rollback, the OpenAPI document, graceful shutdown, and a tenant's plugin
//! rewritten 50 times under load without a failed request.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use headway_server::api::{ErrorCode, route_table};
use headway_server::registry::ReloadOutcome::{Failed, Loaded, Restored, RolledBack};
use headway_server::{Running, ServeOptions, start};
use headway_tests::{LOGISTICS_OTIF, SAAS_HEALTH, SAAS_SEATS, repo_root, token_sha256};
use serde_json::{Value, json};

const ALPHA: &str = "alpha-token";
const BETA: &str = "beta-token";

fn digest_of(path: &str) -> String {
    headway_host::digest(&std::fs::read(path).unwrap())
}

/// Two tenants in a temp folder: `alpha` runs saas-health (no fixtures), `beta`
/// runs logistics-otif with its config and golden fixtures.
fn tenants() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let alpha = dir.path().join("alpha");
    std::fs::create_dir(&alpha).unwrap();
    std::fs::copy(SAAS_HEALTH, alpha.join("plugin.wasm")).unwrap();
    std::fs::write(
        alpha.join("tenant.toml"),
        format!(
            "name = \"Alpha\"\nplugin = \"plugin.wasm\"\n[api]\ntoken_sha256 = \"{}\"\nmax_concurrent = 16\n",
            token_sha256(ALPHA)
        ),
    )
    .unwrap();
    let beta = dir.path().join("beta");
    std::fs::create_dir(&beta).unwrap();
    std::fs::copy(LOGISTICS_OTIF, beta.join("plugin.wasm")).unwrap();
    let nordic = repo_root().join("tenants/logistics-nordic");
    std::fs::copy(nordic.join("fixtures.jsonl"), beta.join("fixtures.jsonl")).unwrap();
    std::fs::write(
        beta.join("tenant.toml"),
        format!(
            "name = \"Beta\"\nplugin = \"plugin.wasm\"\n[config]\ndefault-otif-target = \"0.95\"\n\
             default-difot-target = \"0.92\"\ndefault-claims-target = \"0.01\"\n\
             [api]\ntoken_sha256 = \"{}\"\n",
            token_sha256(BETA)
        ),
    )
    .unwrap();
    dir
}

async fn serve(dir: &Path, max_body_bytes: usize) -> Running {
    let mut options = ServeOptions::new(dir.to_owned(), "127.0.0.1:0".parse().unwrap());
    options.debounce = Duration::from_millis(20);
    options.poll = Duration::from_millis(250);
    options.max_body_bytes = max_body_bytes;
    start(options).await.expect("server starts")
}

/// The first `n` accounts of a sample book, as JSON values.
fn accounts(tenant: &str, n: usize) -> Vec<Value> {
    std::fs::read_to_string(
        repo_root()
            .join("tenants")
            .join(tenant)
            .join("accounts.jsonl"),
    )
    .unwrap()
    .lines()
    .take(n)
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

struct Client {
    http: reqwest::Client,
    addr: SocketAddr,
}

impl Client {
    fn new(addr: SocketAddr) -> Self {
        Self {
            http: reqwest::Client::new(),
            addr,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("http://{}{path}", self.addr));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body.to_string()))
            .await
    }

    async fn status(&self, tenant: &str, token: &str) -> Value {
        self.get(&format!("/v1/tenants/{tenant}/status"), Some(token))
            .await
            .1
    }
}

/// Polls `check` until it holds (10 s at most).
async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Replaces a file the way deploy tools do: write aside, then rename over it.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rewriting_a_plugin_50_times_under_load_fails_no_request() {
    let dir = tenants();
    let server = serve(dir.path(), 8 << 20).await;
    assert_eq!(server.initial.loaded, ["alpha", "beta"]);
    let (v1, v2) = (digest_of(SAAS_HEALTH), digest_of(SAAS_SEATS));
    let beta_digest = digest_of(LOGISTICS_OTIF);
    let full = std::fs::read(SAAS_HEALTH).unwrap();
    let seats = std::fs::read(SAAS_SEATS).unwrap();
    let broken = &full[..full.len() / 2];
    let broken_digest = headway_host::digest(broken);

    let stop = Arc::new(AtomicBool::new(false));
    let client = Arc::new(Client::new(server.addr));
    let load = |tenant: &'static str, token: &'static str, book: &str, n| {
        let (client, stop) = (Arc::clone(&client), Arc::clone(&stop));
        let body = json!({"accounts": accounts(book, n)});
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (code, answer) = client
                    .post(&format!("/v1/tenants/{tenant}/score"), Some(token), &body)
                    .await;
                seen.push((code, answer));
            }
            seen
        })
    };
    let clients: Vec<_> = (0..6)
        .map(|_| load("alpha", ALPHA, "saas-acme", 20))
        .chain((0..2).map(|_| load("beta", BETA, "logistics-nordic", 20)))
        .collect();

    let plugin = dir.path().join("alpha/plugin.wasm");
    for i in 0..50 {
        let bytes: &[u8] = match i % 3 {
            0 => &seats,
            1 => broken,
            _ => &full,
        };
        // Half the writes in place (a reader may catch them half-written), half
        // by rename.
        if i % 2 == 0 {
            std::fs::write(&plugin, bytes).unwrap();
        } else {
            replace(&plugin, bytes);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    // However the writes above raced the watcher, a broken build that stays is
    // refused (and reported) while the last good one keeps serving.
    std::fs::write(&plugin, broken).unwrap();
    eventually("the broken build is refused", async || {
        client.status("alpha", ALPHA).await["last_reload_error"].is_string()
    })
    .await;
    replace(&plugin, &seats);
    eventually("the last version serves", async || {
        client.status("alpha", ALPHA).await["current"]["digest"] == v2.as_str()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);

    let mut alpha_digests = BTreeSet::new();
    let mut requests = 0;
    for (i, c) in clients.into_iter().enumerate() {
        let tenant = if i < 6 { "alpha" } else { "beta" };
        for (code, answer) in c.await.unwrap() {
            requests += 1;
            assert_eq!(code, 200, "{tenant}: {answer}");
            let digest = answer["plugin"]["digest"].as_str().unwrap().to_owned();
            for r in answer["results"].as_array().unwrap() {
                assert!(r["error"].is_null(), "{tenant}: {r}");
                assert_eq!(r["plugin"]["digest"], digest.as_str());
            }
            if tenant == "beta" {
                assert_eq!(digest, beta_digest, "beta is unaffected");
            } else {
                alpha_digests.insert(digest);
            }
        }
    }
    assert!(
        !alpha_digests.contains(&broken_digest),
        "the broken build never serves"
    );
    assert_eq!(
        alpha_digests,
        BTreeSet::from([v1.clone(), v2.clone()]),
        "both versions served, nothing else"
    );
    let status = client.status("alpha", ALPHA).await;
    assert!(status["reload_failures"].as_u64().unwrap() >= 1, "{status}");
    let beta = client.status("beta", BETA).await;
    assert_eq!(
        (beta["reloads"].as_u64(), beta["reload_failures"].as_u64()),
        (Some(1), Some(0))
    );
    eprintln!(
        "{requests} requests, {} reloads of alpha",
        status["reloads"]
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_token_opens_every_tenant_and_only_it_does() {
    let dir = tenants();
    let mut options = ServeOptions::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    options.operator_token_sha256 = Some(token_bytes("operator-token"));
    let server = start(options).await.expect("server starts");
    let c = Client::new(server.addr);
    for tenant in ["alpha", "beta"] {
        let path = format!("/v1/tenants/{tenant}/status");
        let (code, body) = c.get(&path, Some("operator-token")).await;
        assert_eq!((code, body["id"].as_str()), (200, Some(tenant)), "{body}");
    }
    // A tenant's own token still opens only its own; a near miss opens nothing.
    assert_eq!(c.get("/v1/tenants/alpha/status", Some(ALPHA)).await.0, 200);
    assert_eq!(c.get("/v1/tenants/beta/status", Some(ALPHA)).await.0, 403);
    assert_eq!(
        c.get("/v1/tenants/beta/status", Some("operator-tokeN"))
            .await
            .0,
        403
    );
    assert_eq!(
        c.get("/v1/tenants/nobody/status", Some("operator-token"))
            .await
            .0,
        403
    );
    server.shutdown().await.unwrap();
}

fn token_bytes(token: &str) -> [u8; 32] {
    let mut hash = [0; 32];
    hex::decode_to_slice(token_sha256(token), &mut hash).unwrap();
    hash
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_errors_reveal_nothing_and_name_the_problem() {
    let dir = tenants();
    let server = serve(dir.path(), 64 << 10).await;
    let c = Client::new(server.addr);
    let one = accounts("saas-acme", 1).remove(0);
    let score = "/v1/tenants/alpha/score";

    let (code, body) = c.post(score, None, &one).await;
    assert_eq!((code, body["code"].as_str()), (401, Some("unauthorized")));
    // Beta's token on alpha, and any token on a tenant that does not exist: the
    // same 403, word for word.
    let (code, wrong) = c.post(score, Some(BETA), &one).await;
    assert_eq!((code, wrong["code"].as_str()), (403, Some("forbidden")));
    let (code, unknown) = c.post("/v1/tenants/nobody/score", Some(BETA), &one).await;
    assert_eq!((code, &unknown), (403, &wrong));
    let (code, _) = c.get("/v1/tenants/alpha/status", Some(BETA)).await;
    assert_eq!(code, 403);

    let (code, body) = c
        .send(
            reqwest::Method::POST,
            score,
            Some(ALPHA),
            Some("{\"id\": ".into()),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("bad-request")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("not JSON"),
        "{body}"
    );
    let big = json!({"accounts": vec![one.clone(); 200]});
    let (code, body) = c.post(score, Some(ALPHA), &big).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (413, Some("payload-too-large")),
        "{body}"
    );
    let (code, body) = c.post(score, Some(ALPHA), &json!([])).await;
    assert_eq!((code, body["code"].as_str()), (400, Some("bad-request")));

    // A bad account is a per-record error; the good one still scores.
    let bad = json!({"id": "x", "stage": "asleep", "arr": 1, "start_date": "2026-01-01"});
    let (code, body) = c.post(score, Some(ALPHA), &json!([one, bad])).await;
    assert_eq!(code, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert!(results[0]["error"].is_null());
    assert_eq!(results[1]["error"]["kind"], "input");
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("asleep"),
        "{body}"
    );
    // One account in, one record out.
    let (code, single) = c.post(score, Some(ALPHA), &one).await;
    assert_eq!(
        (code, single["account_id"].as_str()),
        (200, Some("saas-0001"))
    );

    let (code, body) = c.get("/v1/tenants/alpha/nothing", Some(ALPHA)).await;
    assert_eq!((code, body["code"].as_str()), (404, Some("not-found")));
    let (code, body) = c.get(score, Some(ALPHA)).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (405, Some("method-not-allowed"))
    );

    let (_, metrics) = c.get("/metrics", None).await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("headway_requests_total{tenant=\"alpha\",outcome=\"ok\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("headway_requests_total{tenant=\"alpha\",outcome=\"payload-too-large\"} 1")
    );
    assert!(metrics.contains("headway_assessment_failures_total{tenant=\"alpha\"} 1"));
    // Every request of alpha is in its latency histogram, in the +Inf bucket too.
    let value = |line: &str| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
    let requests: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("headway_requests_total{tenant=\"alpha\""))
        .map(value)
        .sum();
    assert!(requests >= 3.0);
    for series in [
        "headway_request_duration_seconds_count{tenant=\"alpha\"}",
        "headway_request_duration_seconds_bucket{tenant=\"alpha\",le=\"+Inf\"}",
    ] {
        let line = metrics.lines().find(|l| l.starts_with(series)).unwrap();
        assert_eq!(value(line), requests, "{line}");
    }
    assert!(metrics.contains("# TYPE headway_request_duration_seconds histogram"));
    assert!(metrics.contains(&format!(
        "headway_plugin_info{{tenant=\"beta\",plugin=\"logistics-otif\",version=\"0.1.0\",digest=\"{}\"}} 1",
        digest_of(LOGISTICS_OTIF)
    )));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_keeps_the_last_good_version_and_rolls_back() {
    let dir = tenants();
    let server = serve(dir.path(), 8 << 20).await;
    let c = Client::new(server.addr);
    let beta_dir = dir.path().join("beta");
    let (logistics, seats) = (digest_of(LOGISTICS_OTIF), digest_of(SAAS_SEATS));

    // A build that fails the tenant's golden fixtures is refused.
    replace(
        &beta_dir.join("plugin.wasm"),
        &std::fs::read(SAAS_SEATS).unwrap(),
    );
    eventually("the fixture failure is reported", async || {
        c.status("beta", BETA).await["last_reload_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("fixtures: "))
    })
    .await;
    assert_eq!(
        c.status("beta", BETA).await["current"]["digest"],
        logistics.as_str()
    );

    // Without fixtures it loads; the old build becomes the rollback target.
    std::fs::remove_file(beta_dir.join("fixtures.jsonl")).unwrap();
    eventually("the new build serves", async || {
        c.status("beta", BETA).await["current"]["digest"] == seats.as_str()
    })
    .await;
    let status = c.status("beta", BETA).await;
    assert_eq!(status["previous"]["digest"], logistics.as_str());
    assert!(status["last_reload_error"].is_null());

    let (code, body) = c
        .post("/v1/tenants/beta/rollback", Some(BETA), &json!({}))
        .await;
    assert_eq!((code, &body["serving"]["digest"]), (200, &json!(logistics)));
    let status = c.status("beta", BETA).await;
    assert_eq!(
        (&status["current"]["digest"], &status["previous"]["digest"]),
        (&json!(logistics), &json!(seats))
    );

    // A deleted plugin: reported, last good keeps serving.
    std::fs::remove_file(beta_dir.join("plugin.wasm")).unwrap();
    eventually("the missing plugin is reported", async || {
        c.status("beta", BETA).await["last_reload_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot read plugin"))
    })
    .await;
    let one = json!(accounts("logistics-nordic", 1)[0]);
    let (code, body) = c.post("/v1/tenants/beta/score", Some(BETA), &one).await;
    assert_eq!((code, &body["plugin"]["digest"]), (200, &json!(logistics)));

    // A config-only change reloads the same build with the new config.
    let toml = beta_dir.join("tenant.toml");
    std::fs::copy(LOGISTICS_OTIF, beta_dir.join("plugin.wasm")).unwrap();
    let text = std::fs::read_to_string(&toml).unwrap();
    replace(&toml, text.replace("0.95", "0.97").as_bytes());
    eventually("the config change is loaded", async || {
        let reloads = c.get("/v1/tenants/beta/reloads", Some(BETA)).await.1;
        reloads.as_array().unwrap().last().unwrap()["outcome"] == "loaded"
    })
    .await;
    let reloads = c.get("/v1/tenants/beta/reloads", Some(BETA)).await.1;
    let outcomes: Vec<&str> = reloads
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "loaded",
            "failed",
            "loaded",
            "rolled-back",
            "failed",
            "loaded"
        ]
    );

    // A tenant folder added serves; removed, it is gone.
    let gamma = dir.path().join("gamma");
    std::fs::create_dir(&gamma).unwrap();
    std::fs::copy(SAAS_HEALTH, gamma.join("plugin.wasm")).unwrap();
    std::fs::write(
        gamma.join("tenant.toml"),
        format!(
            "name = \"G\"\nplugin = \"plugin.wasm\"\n[api]\ntoken_sha256 = \"{}\"\n",
            token_sha256("g")
        ),
    )
    .unwrap();
    eventually("gamma serves", async || {
        c.status("gamma", "g").await["current"].is_object()
    })
    .await;
    std::fs::remove_dir_all(&gamma).unwrap();
    eventually("gamma is gone", async || {
        c.get("/v1/tenants/gamma/status", Some("g")).await.0 == 403
    })
    .await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_router() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("docs/openapi.json")).unwrap(),
    )
    .unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = route_table()
        .into_iter()
        .map(|(m, p)| (m, p.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let known: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        codes, known,
        "the documented error codes are the ones the server answers"
    );
    let outcomes = &doc["components"]["schemas"]["ReloadEvent"]["properties"]["outcome"]["enum"];
    let outcomes: Vec<&str> = outcomes
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    let known: Vec<&str> = [Loaded, Failed, Restored, RolledBack]
        .iter()
        .map(|o| o.as_str())
        .collect();
    assert_eq!(outcomes, known);
    // Every documented route answers (not the router's 404 or 405).
    let dir = tenants();
    let mut options = ServeOptions::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    options.store = Some(headway_store::StoreLocation::Sqlite(
        dir.path().join("history.db"),
    ));
    let server = start(options).await.expect("server starts");
    let c = Client::new(server.addr);
    for (method, path) in &routed {
        let path = path.replace("{tenant}", "alpha");
        let method: reqwest::Method = method.parse().unwrap();
        let (code, body) = c.send(method, &path, Some(ALPHA), Some("{}".into())).await;
        let unrouted = code == 405 || body["message"] == "no such route";
        assert!(!unrouted, "{path}: {code} {body}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let dir = tenants();
    let server = serve(dir.path(), 64 << 20).await;
    let addr = server.addr;
    let mut many = Vec::new();
    for copy in 0..5 {
        for mut a in accounts("saas-acme", 1000) {
            a["id"] = json!(format!("{}-{copy}", a["id"].as_str().unwrap()));
            many.push(a);
        }
    }
    let big = json!({ "accounts": many });
    let request = tokio::spawn(async move {
        Client::new(addr)
            .post("/v1/tenants/alpha/score", Some(ALPHA), &big)
            .await
    });
    // Shut down once the request is being scored (it holds one of alpha's slots).
    let alpha = server.registry.tenant("alpha").unwrap();
    let max = 16; // alpha's `max_concurrent`
    eventually("the request is in flight", async || {
        alpha.permits.available_permits() < max
    })
    .await;
    server.shutdown().await.unwrap();
    let (code, body) = request.await.unwrap();
    assert_eq!(code, 200);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5000);
    assert!(results.iter().all(|r| r["error"].is_null()));
    assert!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_err(),
        "no longer listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_outside_the_tenants_folder_is_watched_too() {
    // tenants/delta/tenant.toml points at ../../plugins/p.wasm, as the example
    // tenants point at the plugins' build folder.
    let dir = tempfile::tempdir().unwrap();
    let (tenants, plugins) = (dir.path().join("tenants"), dir.path().join("plugins"));
    std::fs::create_dir_all(tenants.join("delta")).unwrap();
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(SAAS_HEALTH, plugins.join("p.wasm")).unwrap();
    std::fs::write(
        tenants.join("delta/tenant.toml"),
        format!(
            "name = \"D\"\nplugin = \"../../plugins/p.wasm\"\n[api]\ntoken_sha256 = \"{}\"\n",
            token_sha256("d")
        ),
    )
    .unwrap();
    let mut options = ServeOptions::new(tenants, "127.0.0.1:0".parse().unwrap());
    options.poll = Duration::from_secs(600); // only a file event can trigger the reload
    let server = start(options).await.unwrap();
    let c = Client::new(server.addr);
    replace(&plugins.join("p.wasm"), &std::fs::read(SAAS_SEATS).unwrap());
    let seats = digest_of(SAAS_SEATS);
    eventually("the new build serves", async || {
        c.status("delta", "d").await["current"]["digest"] == seats.as_str()
    })
    .await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_folder_cannot_take_over_a_tenant_id() {
    let dir = tenants();
    let server = serve(dir.path(), 8 << 20).await;
    let c = Client::new(server.addr);
    let saas = digest_of(SAAS_HEALTH);
    // An impostor: its own folder, token and plugin, claiming `alpha`'s id.
    let impostor = dir.path().join("0-impostor");
    std::fs::create_dir(&impostor).unwrap();
    std::fs::copy(SAAS_SEATS, impostor.join("plugin.wasm")).unwrap();
    std::fs::write(
        impostor.join("tenant.toml"),
        format!(
            "id = \"alpha\"\nname = \"Not Alpha\"\nplugin = \"plugin.wasm\"\n[api]\ntoken_sha256 = \"{}\"\n",
            token_sha256("impostor-token")
        ),
    )
    .unwrap();
    eventually("the conflict is reported", async || {
        c.status("alpha", ALPHA).await["last_reload_error"]
            .as_str()
            .is_some_and(|e| e.contains("0-impostor") && e.contains("claim tenant id `alpha`"))
    })
    .await;
    let status = c.status("alpha", ALPHA).await;
    assert_eq!(
        status["current"]["digest"],
        saas.as_str(),
        "alpha keeps its own build"
    );
    let error = status["last_reload_error"].as_str().unwrap().to_owned();
    assert!(error.contains("alpha` keeps it"), "{error}");
    assert!(
        error.contains("<tenants>/0-impostor")
            && !error.contains(&dir.path().display().to_string()),
        "the server's own paths are not shown to a tenant: {error}"
    );
    let (code, _) = c
        .get("/v1/tenants/alpha/status", Some("impostor-token"))
        .await;
    assert_eq!(code, 403, "the impostor's token opens nothing");
    let (_, metrics) = c.get("/metrics", None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.lines().any(
            |l| l.starts_with("headway_reload_failures_total{tenant=\"alpha\"}")
                && !l.ends_with(" 0")
        ),
        "{metrics}"
    );
    // Rescans do not count the same conflict again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reloads = c.get("/v1/tenants/alpha/reloads", Some(ALPHA)).await.1;
    let conflicts = reloads
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["error"]
                .as_str()
                .is_some_and(|m| m.contains("claim tenant id"))
        })
        .count();
    assert_eq!(conflicts, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undone_bad_deploy_clears_its_error_and_a_repeat_counts_again() {
    let dir = tenants();
    let server = serve(dir.path(), 8 << 20).await;
    let c = Client::new(server.addr);
    let plugin = dir.path().join("alpha/plugin.wasm");
    let good = std::fs::read(SAAS_HEALTH).unwrap();
    let failures = async || {
        let (_, metrics) = c.get("/metrics", None).await;
        metrics
            .as_str()
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("headway_reload_failures_total{tenant=\"alpha\"} "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    for round in 1..=2 {
        replace(&plugin, b"not a component");
        eventually("the bad deploy is reported", async || {
            !c.status("alpha", ALPHA).await["last_reload_error"].is_null()
        })
        .await;
        assert_eq!(failures().await, round, "failure {round} is counted");
        replace(&plugin, &good);
        eventually("the restore clears the error", async || {
            c.status("alpha", ALPHA).await["last_reload_error"].is_null()
        })
        .await;
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_checked_before_their_bodies_cost_anything() {
    use std::io::{Read, Write};
    let dir = tenants();
    let mut options = ServeOptions::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    options.body_timeout = Duration::from_millis(300);
    options.header_timeout = Duration::from_millis(300);
    options.shutdown_grace = Duration::from_millis(500);
    let server = start(options).await.expect("server starts");
    let c = Client::new(server.addr);
    // A wrong token announcing a 9 MiB body it never sends: refused at once for
    // the token, nothing of the body waited for or read.
    let addr = server.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        conn.write_all(
            format!(
                "POST /v1/tenants/alpha/score HTTP/1.1\r\nhost: x\r\nauthorization: Bearer wrong\r\n\
                 content-length: {}\r\n\r\n",
                9 << 20
            )
            .as_bytes(),
        )
        .unwrap();
        let mut answer = vec![0u8; 4096];
        let n = conn.read(&mut answer).expect("answered without the body");
        String::from_utf8_lossy(&answer[..n]).to_string()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // A query that does not decode: JSON with a code, like every other error.
    let (code, body) = c
        .post(
            "/v1/tenants/alpha/score?as_of=someday",
            Some(ALPHA),
            &json!({}),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("bad-request")),
        "{body}"
    );
    // More accounts than one request may hold.
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"id": format!("a{i}"), "stage": "trial", "arr": 0, "start_date": "2026-01-01"}))
        .collect();
    let (code, body) = c
        .post(
            "/v1/tenants/alpha/score?as_of=2026-11-01",
            Some(ALPHA),
            &json!(many),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (413, Some("too-many-accounts"))
    );
    // A client that sends half a body and stalls: 408 after the body timeout.
    let answer = tokio::task::spawn_blocking(move || {
        let mut slow = std::net::TcpStream::connect(addr).unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        slow.write_all(
            format!(
                "POST /v1/tenants/alpha/score HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ALPHA}\r\n\
                 content-type: application/json\r\ncontent-length: 100\r\n\r\n[{{\"id\":"
            )
            .as_bytes(),
        )
        .unwrap();
        let mut answer = vec![0u8; 4096];
        let n = slow.read(&mut answer).expect("answered before the test gives up");
        String::from_utf8_lossy(&answer[..n]).to_string()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
    // Half a request line and then nothing: the connection is closed after the
    // header timeout, and so is an idle one after a complete request.
    for first in [
        "POST /v1/tenants/alpha/sco",
        "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
    ] {
        let closed = tokio::task::spawn_blocking(move || {
            let mut conn = std::net::TcpStream::connect(addr).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            conn.write_all(first.as_bytes()).unwrap();
            let began = std::time::Instant::now();
            let mut sink = [0u8; 4096];
            loop {
                match conn.read(&mut sink) {
                    Ok(0) => return Some(began.elapsed()),
                    Ok(_) => continue,
                    Err(_) => return None,
                }
            }
        })
        .await
        .unwrap();
        let closed = closed.unwrap_or_else(|| panic!("{first:?}: still open after 5 s"));
        assert!(
            closed < Duration::from_secs(3),
            "{first:?}: closed after {closed:?}"
        );
    }
    // A client that never finishes cannot hold shutdown past the grace period.
    let mut stalled = std::net::TcpStream::connect(server.addr).unwrap();
    stalled
        .write_all(b"POST /v1/tenants/alpha/score HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    let began = std::time::Instant::now();
    server.shutdown().await.unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    drop(stalled);
}

/// Sends `request` as raw bytes and returns what comes back until the server
/// closes (or 5 s pass).
async fn raw(addr: SocketAddr, request: Vec<u8>) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // The server may answer and close before all of a huge head is sent.
        let _ = conn.write_all(&request);
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).to_string()
    })
    .await
    .unwrap()
}

fn metric(metrics: &str, series: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_answer_json_and_every_answer_is_counted() {
    let dir = tenants();
    let server = serve(dir.path(), 64 << 10).await;
    let c = Client::new(server.addr);
    let head = |extra: String| {
        format!("GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{extra}\r\n").into_bytes()
    };
    // 150 small fields, and one field of 40 KiB: both within hyper's buffer,
    // refused by the API with its JSON error.
    let many: String = (0..150).map(|i| format!("x-{i}: y\r\n")).collect();
    let long = format!("x-long: {}\r\n", "y".repeat(40 << 10));
    for extra in [many, long] {
        let answer = raw(server.addr, head(extra)).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
        assert!(
            answer.contains("\"code\":\"headers-too-large\""),
            "{answer:.400}"
        );
    }
    let target = format!("/healthz?{}", "q".repeat(9 << 10));
    let answer = raw(
        server.addr,
        format!("GET {target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").into_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer:.200}");
    assert!(
        answer.contains("\"code\":\"uri-too-long\""),
        "{answer:.400}"
    );
    // A head past hyper's own buffer never reaches the router: hyper answers
    // 431 itself, and the connection error is counted.
    let huge = format!("x-huge: {}\r\n", "y".repeat(1 << 20));
    let answer = raw(server.addr, head(huge)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");

    let (code, _) = c.get("/nowhere", None).await;
    assert_eq!(code, 404);
    let (_, metrics) = c.get("/metrics", None).await;
    let metrics = metrics.as_str().unwrap();
    let count = |series: &str| metric(metrics, series);
    assert_eq!(
        count("headway_http_responses_total{status=\"431\"}"),
        Some(2)
    );
    assert_eq!(
        count("headway_http_responses_total{status=\"414\"}"),
        Some(1)
    );
    assert_eq!(
        count("headway_http_responses_total{status=\"404\"}"),
        Some(1)
    );
    assert_eq!(
        count("headway_connection_errors_total{kind=\"headers-too-large\"}"),
        Some(1),
        "{metrics}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_move_to_an_internal_address() {
    let dir = tenants();
    let mut options = ServeOptions::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    options.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = start(options).await.expect("server starts");
    let public = Client::new(server.addr);
    let (code, body) = public.get("/metrics", None).await;
    assert_eq!((code, body["code"].as_str()), (404, Some("not-found")));
    let (code, _) = public.get("/healthz", None).await;
    assert_eq!(code, 200);
    let internal = Client::new(server.metrics_addr.expect("a metrics address"));
    let (code, metrics) = internal.get("/metrics", None).await;
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap();
    // The public 404 is counted where the metrics are.
    assert_eq!(
        metric(metrics, "headway_http_responses_total{status=\"404\"}"),
        Some(1),
        "{metrics}"
    );
    assert!(metrics.contains("headway_plugin_info{tenant=\"alpha\""));
    // Nothing else is served on the internal address.
    let (code, _) = internal.get("/v1/tenants/alpha/status", Some(ALPHA)).await;
    assert_eq!(code, 404);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_tenant_folder_points_at_is_read_within_bounds() {
    let dir = tenants();
    // Beta's fixtures are a device that never ends; alpha's plugin is over the
    // operator's cap of 1 MiB. Each fails alone, naming the file.
    let fixtures = dir.path().join("beta/fixtures.jsonl");
    std::fs::remove_file(&fixtures).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &fixtures).unwrap();
    let gamma = dir.path().join("gamma");
    std::fs::create_dir(&gamma).unwrap();
    std::fs::copy(SAAS_HEALTH, gamma.join("plugin.wasm")).unwrap();
    std::fs::write(
        gamma.join("tenant.toml"),
        "name = \"Gamma\"\nplugin = \"plugin.wasm\"\n",
    )
    .unwrap();
    let big = dir.path().join("alpha/plugin.wasm");
    let mut bytes = std::fs::read(&big).unwrap();
    bytes.resize(bytes.len().max(1 << 20) + 1, 0);
    std::fs::write(&big, bytes).unwrap();
    let mut options = ServeOptions::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    options.max_plugin_bytes = 1 << 20;
    let server = start(options).await.expect("server starts");
    let mut failed = server.initial.failed.clone();
    failed.sort();
    assert_eq!(failed, ["alpha", "beta"]);
    assert_eq!(server.initial.loaded, ["gamma"]);
    let error = |id: &str| {
        server
            .registry
            .tenant(id)
            .unwrap()
            .status()
            .last_reload_error
            .unwrap()
    };
    let alpha = error("alpha");
    assert!(
        alpha.contains("plugin.wasm") && alpha.contains("more than the 1048576 allowed"),
        "{alpha}"
    );
    let beta = error("beta");
    assert!(
        beta.contains("fixtures") && beta.contains("it is a device, not a regular file"),
        "{beta}"
    );
    server.shutdown().await.unwrap();
}
