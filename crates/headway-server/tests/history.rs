//! The history routes end to end on loopback: recorded runs, the book of
//! accounts and one account's course, each scoped to the tenant of the token.

use std::net::SocketAddr;
use std::path::Path;

use headway_samples::Book;
use headway_server::{Running, ServeOptions, start};
use headway_store::StoreLocation;
use headway_store::testing::TestDatabase;
use headway_tests::{LOGISTICS_OTIF, SAAS_HEALTH, token_sha256};
use serde_json::{Value, json};

const ALPHA: &str = "alpha-token";
const BETA: &str = "beta-token";

/// `alpha` runs saas-health, `beta` runs logistics-otif.
fn tenants() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (id, plugin, token) in [
        ("alpha", SAAS_HEALTH, ALPHA),
        ("beta", LOGISTICS_OTIF, BETA),
    ] {
        let folder = dir.path().join(id);
        std::fs::create_dir(&folder).unwrap();
        std::fs::copy(plugin, folder.join("plugin.wasm")).unwrap();
        std::fs::write(
            folder.join("tenant.toml"),
            format!(
                "name = \"{id}\"\nplugin = \"plugin.wasm\"\n[api]\ntoken_sha256 = \"{}\"\n{}",
                token_sha256(token),
                // alpha's accounts turning red are announced.
                if id == "alpha" {
                    "[[alerts]]\nname = \"turned-red\"\nwhen = \"band-entered\"\nbands = [\"red\"]\n"
                } else {
                    ""
                }
            ),
        )
        .unwrap();
    }
    dir
}

async fn serve(dir: &Path, store: Option<&StoreLocation>) -> Running {
    let mut options = ServeOptions::new(dir.to_owned(), "127.0.0.1:0".parse().unwrap());
    options.store = store.cloned();
    start(options).await.expect("server starts")
}

/// A client that opens a connection per request: a refused upload may close
/// its connection before the body is read, and a pooled connection would carry
/// the next request into that close.
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

struct Client {
    http: reqwest::Client,
    addr: SocketAddr,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<(&str, String)>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self
            .http
            .request(method, format!("http://{}{path}", self.addr))
            .bearer_auth(token);
        if let Some((kind, body)) = body {
            req = req.header("content-type", kind).body(body);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap())
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let (status, _, text) = self.send(reqwest::Method::GET, path, token, None).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn run(&self, tenant: &str, token: &str, kind: &str, body: String) -> (u16, Value) {
        let path = format!("/v1/tenants/{tenant}/runs");
        let (status, headers, text) = self
            .send(reqwest::Method::POST, &path, token, Some((kind, body)))
            .await;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status == 201 {
            let location = headers["location"].to_str().unwrap();
            assert_eq!(location, format!("{path}/{}", value["id"]));
        }
        (status, value)
    }
}

/// A year of monthly books of 60 accounts, as JSON Lines.
fn year() -> String {
    let accounts = headway_samples::generate(Book::Saas, 60, 11);
    headway_samples::to_jsonl(&headway_samples::monthly_books(Book::Saas, &accounts, 11))
}

/// The SQLite file of a test's tenants directory.
fn sqlite(dir: &tempfile::TempDir) -> StoreLocation {
    StoreLocation::Sqlite(dir.path().join("history.db"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_runs_feed_the_book_and_every_account_on_sqlite() {
    let dir = tenants();
    let store = sqlite(&dir);
    recorded_runs_feed_the_book_and_every_account(dir, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_runs_feed_the_book_and_every_account_on_postgres() {
    let Some(db) = TestDatabase::create() else {
        return;
    };
    recorded_runs_feed_the_book_and_every_account(tenants(), db.location()).await;
}

async fn recorded_runs_feed_the_book_and_every_account(
    dir: tempfile::TempDir,
    store: StoreLocation,
) {
    let server = serve(dir.path(), Some(&store)).await;
    let c = Client {
        http: fresh_connections(),
        addr: server.addr,
    };
    let year = year();
    let lines = year.lines().count();

    // A year streamed as JSON Lines: recorded once, then again unchanged.
    let (code, first) = c
        .run("alpha", ALPHA, "application/x-ndjson", year.clone())
        .await;
    assert_eq!(code, 201, "{first}");
    assert_eq!(
        (first["records"].as_u64(), first["scored"].as_u64()),
        (Some(lines as u64), Some(lines as u64))
    );
    assert_eq!(first["recorded"]["new"].as_u64(), Some(lines as u64));
    assert_eq!(first["failures"], json!([]));
    let (code, again) = c
        .run("alpha", ALPHA, "application/x-ndjson", year.clone())
        .await;
    assert_eq!(code, 201);
    assert_eq!(again["recorded"]["unchanged"].as_u64(), Some(lines as u64));
    // Alerts: filed by the first run, once; listed; counted.
    let fired = first["alerts"].as_u64().unwrap();
    assert!(fired > 0, "accounts of the sample year turn red: {first}");
    assert_eq!(again["alerts"], 0, "the same run files nothing again");
    let (code, listed) = c.get("/v1/tenants/alpha/alerts?limit=1000", ALPHA).await;
    assert_eq!(code, 200, "{listed}");
    assert_eq!(listed["alerts"].as_array().unwrap().len() as u64, fired);
    let (code, none) = c.get("/v1/tenants/beta/alerts", BETA).await;
    assert_eq!(
        (code, none["alerts"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (_, metrics) = c.get("/metrics", ALPHA).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains(&format!(
            "headway_alerts_filed_total{{tenant=\"alpha\"}} {fired}"
        )),
        "{metrics}"
    );
    assert_eq!(
        again["id"].as_i64(),
        Some(first["id"].as_i64().unwrap() + 1)
    );

    // Beta records a JSON array with one bad account: named by its line.
    let logistics = headway_samples::generate(Book::Logistics, 3, 5);
    let mut values: Vec<Value> = logistics
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    values[1]["stage"] = json!("asleep");
    let (code, beta_run) = c
        .run(
            "beta",
            BETA,
            "application/json",
            Value::Array(values).to_string(),
        )
        .await;
    assert_eq!(code, 201, "{beta_run}");
    assert_eq!(
        (beta_run["scored"].as_u64(), beta_run["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(beta_run["failures"][0]["line"], 2);
    assert_eq!(beta_run["failures"][0]["error"]["kind"], "input");

    // Runs: newest first, a page at a time, each tenant its own.
    let (code, page) = c.get("/v1/tenants/alpha/runs?limit=1", ALPHA).await;
    assert_eq!(code, 200);
    assert_eq!(page["runs"][0]["id"], again["id"]);
    let next = page["next"].as_i64().unwrap();
    let (_, older) = c
        .get(
            &format!("/v1/tenants/alpha/runs?limit=1&before={next}"),
            ALPHA,
        )
        .await;
    assert_eq!(older["runs"][0]["id"], first["id"]);
    assert_eq!(older["next"], Value::Null);
    let beta_id = beta_run["id"].as_i64().unwrap();
    let (code, _) = c
        .get(&format!("/v1/tenants/alpha/runs/{beta_id}"), ALPHA)
        .await;
    assert_eq!(code, 404, "alpha cannot read beta's run by its id");
    let (code, run) = c
        .get(&format!("/v1/tenants/beta/runs/{beta_id}"), BETA)
        .await;
    assert_eq!((code, run["tenant"].as_str()), (200, Some("beta")));

    // The book, page by page: every current account once, in score order.
    let mut seen: Vec<Value> = Vec::new();
    let mut path = "/v1/tenants/alpha/accounts?limit=7".to_owned();
    let matching = loop {
        let (code, page) = c.get(&path, ALPHA).await;
        assert_eq!(code, 200, "{page}");
        seen.extend(page["accounts"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/tenants/alpha/accounts?limit=7&after={next}"),
            None => break page["matching"].as_u64().unwrap() as usize,
        }
    };
    assert_eq!(seen.len(), matching);
    let current = year
        .lines()
        .filter(|l| l.contains("\"as_of\":\"2026-11-01\""))
        .count();
    assert_eq!(matching, current, "the accounts of the latest month");
    let scores: Vec<f64> = seen.iter().map(|a| a["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    let (_, red) = c
        .get("/v1/tenants/alpha/accounts?band=red&limit=1000", ALPHA)
        .await;
    let red = red["accounts"].as_array().unwrap().clone();
    assert_eq!(
        red.len(),
        seen.iter().filter(|a| a["band"] == "red").count()
    );
    let (code, headers, csv) = c
        .send(
            reqwest::Method::GET,
            "/v1/tenants/alpha/accounts?format=csv&sort=id",
            ALPHA,
            None,
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(csv.lines().count(), matching + 1);
    assert!(csv.starts_with("account_id,as_of,score,band,arr,segment,renewal_date,velocity"));
    let (code, bad) = c
        .get("/v1/tenants/alpha/accounts?direction=up", ALPHA)
        .await;
    assert_eq!((code, bad["code"].as_str()), (400, Some("bad-request")));

    // One account: the same figures as the view over the store file.
    let id = seen[0]["account_id"].as_str().unwrap().to_owned();
    let (code, account) = c
        .get(&format!("/v1/tenants/alpha/accounts/{id}"), ALPHA)
        .await;
    assert_eq!(code, 200, "{account}");
    let direct = {
        let (store, id) = (store.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            let store = store.open().unwrap();
            let latest = headway_views::BuildChoice::Latest;
            let build = headway_views::pick_build(&*store, "alpha", latest).unwrap();
            headway_views::account(&*store, "alpha", &id, &build, 90).unwrap()
        })
        .await
        .unwrap()
    };
    assert_eq!(account, serde_json::to_value(&direct).unwrap());
    assert_eq!(
        account["snapshots"].as_array().unwrap().len(),
        year.lines()
            .filter(|l| l.contains(&format!("\"id\":\"{id}\"")))
            .count()
    );
    assert!(account["vector"]["magnitude"].is_number());

    // Isolation: another tenant's token, and another tenant's account id.
    for path in [
        "/v1/tenants/alpha/runs",
        "/v1/tenants/alpha/runs/1",
        "/v1/tenants/alpha/accounts",
        &format!("/v1/tenants/alpha/accounts/{id}"),
    ] {
        let (code, body) = c.get(path, BETA).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (403, Some("forbidden")),
            "{path}"
        );
    }
    let (code, _) = c
        .run("alpha", BETA, "application/x-ndjson", year.clone())
        .await;
    assert_eq!(code, 403);
    let (code, body) = c
        .get(&format!("/v1/tenants/beta/accounts/{id}"), BETA)
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (404, Some("not-found")),
        "{body}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_refuse_what_they_cannot_record() {
    let dir = tenants();
    let store = sqlite(&dir);
    let server = serve(dir.path(), Some(&store)).await;
    let c = Client {
        http: fresh_connections(),
        addr: server.addr,
    };
    // A JSON array streams like lines; a broken one records nothing.
    let accounts: Vec<Value> = headway_samples::generate(Book::Saas, 3, 9)
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    let pretty = serde_json::to_string_pretty(&accounts).unwrap();
    let (code, body) = c
        .run("alpha", ALPHA, "application/json", pretty.clone())
        .await;
    assert_eq!((code, body["scored"].as_u64()), (201, Some(3)), "{body}");
    let cut = &pretty[..pretty.len() - 2];
    let (code, body) = c
        .run("alpha", ALPHA, "application/json", cut.to_owned())
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("bad-request")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("nothing was recorded"),
        "{body}"
    );
    let (_, runs) = c.get("/v1/tenants/alpha/runs", ALPHA).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    let (code, body) = c.run("alpha", ALPHA, "text/xml", "<a/>".into()).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (415, Some("unsupported-media-type"))
    );
    // CSV streams too; a header the parser refuses is line 1's error.
    let (code, body) = c
        .run("alpha", ALPHA, "text/csv", "nonsense\n1\n".into())
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["failures"][0]["line"], 1);
    let (code, body) = c.get("/v1/tenants/beta/accounts", BETA).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (404, Some("not-found")),
        "no snapshots yet: {body}"
    );
    // Paths and queries that do not decode are JSON errors too.
    for path in [
        "/v1/tenants/alpha/runs/abc",
        "/v1/tenants/alpha/runs?limit=many",
    ] {
        let (code, body) = c.get(path, ALPHA).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (400, Some("bad-request")),
            "{path}: {body}"
        );
    }
    // Each answer is counted under its own status, 201 and 415 included.
    let metrics = reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (status, count) in [("201", 2), ("415", 1), ("400", 3)] {
        let series = format!("headway_http_responses_total{{status=\"{status}\"}} {count}");
        assert!(metrics.contains(&series), "{series}\n{metrics}");
    }
    server.shutdown().await.unwrap();

    // A server without a store says so on every history route.
    let server = serve(dir.path(), None).await;
    let c = Client {
        http: fresh_connections(),
        addr: server.addr,
    };
    let (code, body) = c.get("/v1/tenants/alpha/runs", ALPHA).await;
    assert_eq!((code, body["code"].as_str()), (404, Some("no-store")));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledgers_and_surveys_are_validated_and_kept_per_tenant_on_sqlite() {
    let dir = tenants();
    let store = sqlite(&dir);
    ledgers_and_surveys_are_validated_and_kept_per_tenant(dir, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledgers_and_surveys_are_validated_and_kept_per_tenant_on_postgres() {
    let Some(db) = TestDatabase::create() else {
        return;
    };
    ledgers_and_surveys_are_validated_and_kept_per_tenant(tenants(), db.location()).await;
}

async fn ledgers_and_surveys_are_validated_and_kept_per_tenant(
    dir: tempfile::TempDir,
    store: StoreLocation,
) {
    let server = serve(dir.path(), Some(&store)).await;
    let c = Client {
        http: fresh_connections(),
        addr: server.addr,
    };
    let put = |path: &'static str, token: &'static str, kind: &'static str, body: &str| {
        let body = body.to_owned();
        let c = &c;
        async move {
            let (code, _, text) = c
                .send(reqwest::Method::PUT, path, token, Some((kind, body)))
                .await;
            (code, serde_json::from_str::<Value>(&text).unwrap())
        }
    };
    let (code, body) = c.get("/v1/tenants/alpha/retention", ALPHA).await;
    assert_eq!((code, body["code"].as_str()), (404, Some("no-ledger")));

    // One bad row refuses the whole upload, naming the line and field.
    let bad = "account_id,date,arr\na,2026-01-01,1200\nb,2026-13-01,500\n";
    let (code, body) = put("/v1/tenants/alpha/ledger", ALPHA, "text/csv", bad).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (422, Some("invalid-rows")),
        "{body}"
    );
    assert_eq!(
        (
            body["errors"][0]["line"].as_u64(),
            body["errors"][0]["field"].as_str()
        ),
        (Some(3), Some("date"))
    );
    let twice = "account_id,date,arr\na,2026-01-01,1200\na,2026-01-01,1300\n";
    let (code, body) = put("/v1/tenants/alpha/ledger", ALPHA, "text/csv", twice).await;
    assert_eq!(code, 422);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("a second row"),
        "{body}"
    );

    let good = "account_id,date,arr\na,2026-01-01,1200\nb,2026-01-01,600\nb,2026-04-01,0\n";
    let (code, body) = put("/v1/tenants/alpha/ledger", ALPHA, "text/csv", good).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"rows": 3, "new": 3, "changed": 0, "unchanged": 0})
    );
    let (_, body) = put("/v1/tenants/alpha/ledger", ALPHA, "text/csv", good).await;
    assert_eq!(
        body,
        json!({"rows": 3, "new": 0, "changed": 0, "unchanged": 3})
    );
    let surveys = "{\"account_id\":\"a\",\"date\":\"2026-02-01\",\"kind\":\"nps\",\"score\":10}\n";
    let (code, body) = put(
        "/v1/tenants/alpha/surveys",
        ALPHA,
        "application/x-ndjson",
        surveys,
    )
    .await;
    assert_eq!((code, body["new"].as_u64()), (200, Some(1)), "{body}");

    // By hand: a pays 1,200 and b 600 from January; b stops on April 1. Q2
    // starts at 1,800, b's 600 churns, GRR = 1,200 / 1,800.
    let (code, q) = c
        .get(
            "/v1/tenants/alpha/retention?period=quarter&from=2026-04-01&to=2026-06-30",
            ALPHA,
        )
        .await;
    assert_eq!(code, 200, "{q}");
    assert_eq!(q[0]["start_arr"].as_f64(), Some(1800.0));
    assert_eq!(q[0]["churned_arr"].as_f64(), Some(600.0));
    assert_eq!(q[0]["grr"].as_f64(), Some(1200.0 / 1800.0));

    // Advocacy: b referred a last year; a takes a reference call in Q2. A
    // review naming a referred account is refused with its line.
    let wrong = "account_id,date,kind,referred\na,2026-05-01,review,b\n";
    let (code, body) = put("/v1/tenants/alpha/advocacy", ALPHA, "text/csv", wrong).await;
    assert_eq!(
        (code, body["errors"][0]["field"].as_str()),
        (422, Some("referred")),
        "{body}"
    );
    let advocacy =
        "account_id,date,kind,referred\nb,2025-06-01,referral,a\na,2026-05-01,reference-call,\n";
    let (code, body) = put("/v1/tenants/alpha/advocacy", ALPHA, "text/csv", advocacy).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"rows": 2, "new": 2, "changed": 0, "unchanged": 0})
    );
    let (_, body) = put("/v1/tenants/alpha/advocacy", ALPHA, "text/csv", advocacy).await;
    assert_eq!(
        body,
        json!({"rows": 2, "new": 0, "changed": 0, "unchanged": 2})
    );
    let (_, q) = c
        .get(
            "/v1/tenants/alpha/retention?period=quarter&from=2026-04-01&to=2026-06-30",
            ALPHA,
        )
        .await;
    // Paying in Q2: a and b (until April 1); a advocated. a came by referral
    // and kept its 1,200; b, not referred, churned.
    assert_eq!(q[0]["advocating_accounts"].as_u64(), Some(1));
    assert_eq!(q[0]["advocacy_rate"].as_f64(), Some(0.5));
    assert_eq!(
        (q[0]["referred_nrr"].as_f64(), q[0]["other_nrr"].as_f64()),
        (Some(1.0), Some(0.0))
    );
    let (code, _) = put("/v1/tenants/alpha/advocacy", BETA, "text/csv", advocacy).await;
    assert_eq!(code, 403);

    // Beta sees none of it, and cannot write alpha's.
    let (code, body) = c.get("/v1/tenants/beta/retention", BETA).await;
    assert_eq!((code, body["code"].as_str()), (404, Some("no-ledger")));
    let (code, _) = put("/v1/tenants/alpha/ledger", BETA, "text/csv", good).await;
    assert_eq!(code, 403);
    let (code, _) = put(
        "/v1/tenants/alpha/surveys",
        BETA,
        "application/x-ndjson",
        surveys,
    )
    .await;
    assert_eq!(code, 403);
    let (code, _) = c.get("/v1/tenants/alpha/retention", BETA).await;
    assert_eq!(code, 403);
    for path in ["/v1/tenants/alpha/forecast", "/v1/tenants/alpha/backtest"] {
        let (code, _) = c.get(path, BETA).await;
        assert_eq!(code, 403, "{path}");
    }
    let (code, body) = c
        .get("/v1/tenants/alpha/forecast?horizon=soon", ALPHA)
        .await;
    assert_eq!((code, body["code"].as_str()), (400, Some("bad-request")));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_records_the_nightly_export_once_a_day() {
    let dir = tenants();
    let store = sqlite(&dir);
    // 00:00 UTC has always passed today: due at the first check.
    let alpha = dir.path().join("alpha");
    let accounts = headway_samples::generate(Book::Saas, 25, 3);
    std::fs::write(
        alpha.join("export.jsonl"),
        headway_samples::to_jsonl(&accounts),
    )
    .unwrap();
    let schedule = "[schedule]\nsource = \"export.jsonl\"\nat = \"00:00\"\n";
    let alpha_toml = std::fs::read_to_string(alpha.join("tenant.toml")).unwrap();
    std::fs::write(alpha.join("tenant.toml"), format!("{alpha_toml}{schedule}")).unwrap();
    let beta = dir.path().join("beta");
    let toml = std::fs::read_to_string(beta.join("tenant.toml")).unwrap();
    let missing = "[schedule]\nsource = \"nightly.csv\"\nat = \"00:00\"\n";
    std::fs::write(beta.join("tenant.toml"), format!("{toml}{missing}")).unwrap();

    let start_server = || {
        let mut options = ServeOptions::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
        options.store = Some(store.clone());
        options.schedule_tick = std::time::Duration::from_millis(50);
        start(options)
    };
    let server = start_server().await.expect("server starts");
    let scheduled =
        |server: &Running, id: &str| server.registry.tenant(id).unwrap().last_scheduled_run();
    for _ in 0..200 {
        if scheduled(&server, "alpha").is_some() && scheduled(&server, "beta").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let run = scheduled(&server, "alpha").expect("alpha's schedule ran");
    let run_id = run.run_id.expect("and recorded");
    let beta = scheduled(&server, "beta").expect("beta's schedule ran");
    assert_eq!(beta.run_id, None);
    let error = beta.error.unwrap();
    assert!(
        error.contains("nightly.csv") && !error.contains(&*dir.path().to_string_lossy()),
        "{error}"
    );

    let c = Client {
        http: fresh_connections(),
        addr: server.addr,
    };
    let (_, log) = c
        .get(&format!("/v1/tenants/alpha/runs/{run_id}"), ALPHA)
        .await;
    assert_eq!(log["scored"], 25);
    assert!(log["source"].as_str().unwrap().ends_with("export.jsonl"));
    let (_, status) = c.get("/v1/tenants/alpha/status", ALPHA).await;
    assert_eq!(status["last_scheduled_run"]["run_id"], run_id);
    server.shutdown().await.unwrap();

    // A restart the same day does not run the day again.
    let server = start_server().await.expect("server restarts");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(scheduled(&server, "alpha"), None);
    let c = Client {
        http: fresh_connections(),
        addr: server.addr,
    };
    let (_, runs) = c.get("/v1/tenants/alpha/runs", ALPHA).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    server.shutdown().await.unwrap();

    // A time of day that is not one refuses the config, naming it.
    std::fs::write(
        alpha.join("tenant.toml"),
        format!("{alpha_toml}[schedule]\nsource = \"x.jsonl\"\nat = \"25:00\"\n"),
    )
    .unwrap();
    let err = headway_host::load_tenant_config(&alpha)
        .unwrap_err()
        .to_string();
    assert!(err.contains("schedule.at is `25:00`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_closes_on_an_async_thread() {
    let Some(db) = TestDatabase::create() else {
        return;
    };
    let location = db.location();
    let store = tokio::task::spawn_blocking(move || {
        let store = headway_store::SharedStore::open(&location, 2).unwrap();
        // A pooled connection left idle: what a server holds at shutdown.
        store.reader().unwrap().runs("alpha", None, 1).unwrap();
        store
    })
    .await
    .unwrap();
    // Where a server drops its store at shutdown: must not panic.
    drop(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_moves_the_served_score_by_its_points_and_expires() {
    let dir = tenants();
    let store = sqlite(&dir);
    let server = serve(dir.path(), Some(&store)).await;
    let c = Client {
        http: fresh_connections(),
        addr: server.addr,
    };
    let accounts = headway_samples::generate(Book::Saas, 8, 4);
    let year = headway_samples::to_jsonl(&headway_samples::monthly_books(Book::Saas, &accounts, 4));
    let (code, body) = c.run("alpha", ALPHA, "application/x-ndjson", year).await;
    assert_eq!(code, 201, "{body}");
    let (_, book) = c.get("/v1/tenants/alpha/accounts?sort=id", ALPHA).await;
    let id = book["accounts"][0]["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/tenants/alpha/accounts/{id}");
    let (_, before) = c.get(&path, ALPHA).await;
    let snapshots = before["snapshots"].as_array().unwrap().clone();
    let latest = snapshots.last().unwrap().clone();
    let (first_day, latest_day) = (snapshots[0]["as_of"].clone(), latest["as_of"].clone());
    // A factor the plugin counted, set to the far end of the scale from its score.
    let factor = latest["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["weight"].as_f64().unwrap() > 0.0)
        .unwrap();
    let (name, weight) = (
        factor["name"].as_str().unwrap(),
        factor["weight"].as_f64().unwrap(),
    );
    let was = factor["contribution"].as_f64().unwrap() / weight;
    let set_to = if was < 50.0 { 100.0 } else { 0.0 };
    let expected = (latest["score"].as_f64().unwrap() + weight * (set_to - was)).clamp(0.0, 100.0);

    let post = |token: &'static str, body: Value| {
        let c = &c;
        let path = format!("{path}/overrides");
        async move {
            let (code, _, text) = c
                .send(
                    reqwest::Method::POST,
                    &path,
                    token,
                    Some(("application/json", body.to_string())),
                )
                .await;
            (code, serde_json::from_str::<Value>(&text).unwrap())
        }
    };
    let until = "2027-12-31";
    let (code, change) = post(
        ALPHA,
        json!({"factor": name, "score": set_to, "until": until, "author": "dana", "reason": "pilot team left"}),
    )
    .await;
    assert_eq!(code, 200, "{change}");
    assert_eq!(
        change["new"]["from"], latest_day,
        "from defaults to the latest day"
    );
    assert_eq!(change["old"], Value::Null);

    // The served score moved by exactly weight x (new - old) points, on the latest day only.
    let (_, after) = c.get(&path, ALPHA).await;
    let now = after["snapshots"].as_array().unwrap();
    let score = now.last().unwrap()["score"].as_f64().unwrap();
    assert!((score - expected).abs() < 1e-9, "{score} vs {expected}");
    assert_eq!(now[..now.len() - 1], snapshots[..snapshots.len() - 1]);
    let note = format!("override by dana until {until}: pilot team left");
    assert_eq!(now.last().unwrap()["overrides"][0]["note"], note);
    let (_, book) = c.get("/v1/tenants/alpha/accounts?sort=id", ALPHA).await;
    assert!((book["accounts"][0]["score"].as_f64().unwrap() - expected).abs() < 1e-9);

    // Moved to days already past, it no longer applies to the latest one.
    let (code, _) = post(
        ALPHA,
        json!({"factor": name, "score": set_to, "from": first_day, "until": snapshots[1]["as_of"], "author": "dana", "reason": "only the pilot"}),
    )
    .await;
    assert_eq!(code, 200);
    let (_, expired) = c.get(&path, ALPHA).await;
    let expired = expired["snapshots"].as_array().unwrap();
    assert_eq!(
        expired.last(),
        snapshots.last(),
        "expired: as the plugin scored it"
    );
    assert_ne!(
        expired[0], snapshots[0],
        "still applied to the days it covers"
    );

    // Refused as asked, named; the audit trail keeps the two changes only.
    let (code, body) = post(
        ALPHA,
        json!({"factor": "nope", "score": 5, "until": until, "author": "dana", "reason": "x"}),
    )
    .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (422, Some("invalid-override")),
        "{body}"
    );
    let (code, body) = post(
        ALPHA,
        json!({"factor": name, "band": "red", "until": until, "author": "dana", "reason": "x"}),
    )
    .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("bad-request")),
        "{body}"
    );
    let (code, body) = post(
        ALPHA,
        json!({"clear": "band", "author": "dana", "reason": "x"}),
    )
    .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (404, Some("not-found")),
        "{body}"
    );
    let (code, trail) = c.get(&format!("{path}/overrides"), ALPHA).await;
    assert_eq!(code, 200, "{trail}");
    let log = trail["log"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1]["old"], log[0]["new"]);
    assert_eq!(trail["overrides"].as_array().unwrap().len(), 1);

    // Another tenant's token sees and changes nothing of alpha's.
    let (code, _) = c.get(&format!("{path}/overrides"), BETA).await;
    assert_eq!(code, 403);
    let (code, _) = post(
        BETA,
        json!({"clear": format!("factor:{name}"), "author": "eve", "reason": "x"}),
    )
    .await;
    assert_eq!(code, 403);
    let (code, theirs) = c
        .get(&format!("/v1/tenants/beta/accounts/{id}/overrides"), BETA)
        .await;
    assert_eq!(
        (code, theirs["log"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    server.shutdown().await.unwrap();
}

/// Decisions of `tenant` in the SQLite store, newest first.
fn decisions(store: &StoreLocation, tenant: &str) -> Vec<headway_store::Decision> {
    store.open().unwrap().decisions(tenant, None, 100).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scoring_is_logged_replays_and_a_log_that_fails_is_never_silent() {
    use headway_store::DecisionInput;
    let dir = tenants();
    // alpha keeps its inputs without the names; beta only logs, and counts a
    // log it cannot write instead of failing.
    let alpha = dir.path().join("alpha/tenant.toml");
    let text = std::fs::read_to_string(&alpha).unwrap();
    std::fs::write(
        &alpha,
        format!("{text}[history]\nkeep_inputs = true\nmask = [\"name\"]\n"),
    )
    .unwrap();
    let beta = dir.path().join("beta/tenant.toml");
    let text = std::fs::read_to_string(&beta).unwrap();
    std::fs::write(
        &beta,
        format!("{text}[history]\non_log_failure = \"count\"\n"),
    )
    .unwrap();
    let store = sqlite(&dir);
    let server = serve(dir.path(), Some(&store)).await;
    let c = Client {
        http: fresh_connections(),
        addr: server.addr,
    };
    let accounts = headway_samples::generate(Book::Saas, 3, 9);
    let name = accounts[0].name.clone();
    let body = serde_json::to_string(&json!({ "accounts": accounts })).unwrap();
    let score = |tenant: &'static str, token: &'static str, body: String| {
        let c = &c;
        async move {
            let path = format!("/v1/tenants/{tenant}/score");
            let (status, _, text) = c
                .send(
                    reqwest::Method::POST,
                    &path,
                    token,
                    Some(("application/json", body)),
                )
                .await;
            (status, serde_json::from_str::<Value>(&text).unwrap())
        }
    };
    let (code, answer) = score("alpha", ALPHA, body.clone()).await;
    assert_eq!(code, 200, "{answer}");
    let (code, _) = c.run("alpha", ALPHA, "application/x-ndjson", year()).await;
    assert_eq!(code, 201);

    let logged = decisions(&store, "alpha");
    assert_eq!(logged.len(), 2);
    let (run, request) = (&logged[0], &logged[1]);
    assert_eq!(
        (
            request.input,
            request.run,
            request.records,
            request.input_kept
        ),
        (DecisionInput::Request, None, 3, true)
    );
    assert!(
        request.caller.starts_with("api: tenant token sha256:") && request.caller.len() == 33,
        "{}",
        request.caller
    );
    assert_eq!(
        request.input_digest,
        headway_pipeline::sha256(body.as_bytes())
    );
    assert_eq!(request.masked, ["name"]);
    assert_eq!(
        (run.input, run.records),
        (DecisionInput::JsonLines, year().lines().count())
    );
    assert_eq!(
        run.input_digest,
        headway_pipeline::sha256(year().as_bytes())
    );
    assert!(run.run.is_some());
    // The kept input holds no name; replayed on the kept build it gives the
    // logged output byte for byte.
    let opened = store.open().unwrap();
    for d in [run, request] {
        let kept = opened
            .kept_input("alpha", &d.input_digest)
            .unwrap()
            .unwrap();
        let kept = headway_pipeline::unpack(&kept).unwrap();
        assert!(
            !String::from_utf8_lossy(&kept).contains(&name),
            "{name} kept"
        );
        let build = opened.kept_build("alpha", &d.build).unwrap().unwrap();
        let plugin = headway_host::Runtime::new()
            .unwrap()
            .load(
                &headway_pipeline::unpack(&build.component).unwrap(),
                "kept",
                &serde_json::from_str(&build.options).unwrap(),
            )
            .unwrap();
        let records = headway_pipeline::rescore(d, &kept, &plugin).unwrap();
        assert_eq!(headway_pipeline::sha256(&records), d.output_digest);
    }
    // Over HTTP, a page at a time, for the tenant's own token only.
    let (code, page) = c.get("/v1/tenants/alpha/decisions?limit=1", ALPHA).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["decisions"][0]["id"], run.id);
    assert_eq!(page["next"], run.id);
    let (_, rest) = c
        .get(
            &format!("/v1/tenants/alpha/decisions?before={}", run.id),
            ALPHA,
        )
        .await;
    assert_eq!(
        rest["decisions"][0]["input_digest"],
        request.input_digest.as_str()
    );
    assert_eq!(rest["next"], Value::Null);
    assert_eq!(c.get("/v1/tenants/alpha/decisions", BETA).await.0, 403);
    // beta logs without keeping anything.
    let (code, _) = score("beta", BETA, "[]".to_owned()).await;
    assert_eq!(code, 400, "no accounts: not scored, not logged");
    let logistics =
        serde_json::to_string(&headway_samples::generate(Book::Logistics, 2, 3)).unwrap();
    assert_eq!(score("beta", BETA, logistics.clone()).await.0, 200);
    let beta_logged = decisions(&store, "beta");
    assert_eq!(beta_logged.len(), 1);
    assert!(!beta_logged[0].input_kept);
    assert_eq!(
        opened
            .kept_input("beta", &beta_logged[0].input_digest)
            .unwrap(),
        None
    );
    drop(opened);

    // Now the log cannot be written.
    let file = store.file().unwrap();
    rusqlite::Connection::open(file)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_log BEFORE INSERT ON decisions BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
        )
        .unwrap();
    let (code, answer) = score("alpha", ALPHA, body.clone()).await;
    assert_eq!(code, 503, "{answer}");
    assert_eq!(answer["code"], "decision-log-failed");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.starts_with("the accounts were scored, but the decision log cannot be written")
            && message.contains("disk says no"),
        "{message}"
    );
    let (code, answer) = c.run("alpha", ALPHA, "application/x-ndjson", year()).await;
    assert_eq!(code, 503, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains(" was recorded, but the decision log"),
        "{answer}"
    );
    // beta counts instead, and answers.
    let (code, answer) = score("beta", BETA, logistics).await;
    assert_eq!(code, 200, "{answer}");
    let (_, metrics) = c.get("/metrics", "").await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("headway_decision_log_failures_total{tenant=\"beta\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("headway_decision_log_failures_total{tenant=\"alpha\"} 0"));
    server.shutdown().await.unwrap();
}
