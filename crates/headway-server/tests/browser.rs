//! The dashboard in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over WebDriver: sign in, open each page, follow
//! an account from the table, filter and sort, sign out; the numbers shown are
//! the API's. Screenshots of each page land in `target/dashboard-screenshots/`.
//!
//! Without `chromedriver` on the PATH the test skips, saying so, unless
//! `HEADWAY_REQUIRE_BROWSER` is set (as CI sets it): then it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use headway_samples::Book;
use headway_server::{Running, ServeOptions, start};
use headway_store::StoreLocation;
use headway_tests::{SAAS_HEALTH, SAAS_SEATS, repo_root, token_sha256};
use serde_json::{Value, json};

const ALPHA: &str = "alpha-token";

/// A chromedriver child on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spawned = Command::new("chromedriver")
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(child) => Some(Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }),
        Err(e) if std::env::var_os("HEADWAY_REQUIRE_BROWSER").is_some() => {
            panic!("chromedriver is required (HEADWAY_REQUIRE_BROWSER): {e}")
        }
        Err(e) => {
            eprintln!("skipping: no chromedriver ({e}); apt-get install chromium chromium-driver");
            None
        }
    }
}

/// One WebDriver session.
struct Browser {
    http: reqwest::Client,
    session: String,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    async fn open(driver: &Driver) -> Self {
        let http = reqwest::Client::new();
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        }}});
        // The driver takes a moment to listen.
        let deadline = Instant::now() + Duration::from_secs(30);
        let session = loop {
            match http
                .post(format!("{}/session", driver.url))
                .json(&caps)
                .send()
                .await
            {
                Ok(resp) => {
                    let body: Value = resp.json().await.unwrap();
                    let id = body["value"]["sessionId"].as_str();
                    break id
                        .unwrap_or_else(|| panic!("no session: {body}"))
                        .to_owned();
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("chromedriver does not answer: {e}"),
            }
        };
        let browser = Self {
            http,
            session: format!("{}/session/{session}", driver.url),
            _profile: profile,
        };
        // An element not there yet (a page still loading) is waited for.
        let implicit = json!({"implicit": 5_000});
        browser
            .call(reqwest::Method::POST, "/timeouts", Some(implicit))
            .await;
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let answer: Value = req.send().await.unwrap().json().await.unwrap();
        if answer["value"]["error"].is_string() {
            panic!("webdriver {path}: {answer}");
        }
        answer["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn url(&self) -> String {
        let url = self.call(reqwest::Method::GET, "/url", None).await;
        url.as_str().unwrap().to_owned()
    }

    /// Waits (at most 10 s) until the page is at `url`: a click's navigation
    /// may still be under way when the click answers.
    async fn wait_for(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.url().await;
            if now == url {
                return;
            }
            assert!(Instant::now() < deadline, "at {now}, not {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks what `css` finds and waits until the page's address contains `part`.
    async fn follow(&self, css: &str, part: &str) {
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.url().await.contains(part) {
            assert!(Instant::now() < deadline, "never reached `{part}`");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn count(&self, css: &str) -> usize {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found.as_array().unwrap().len()
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        let text = self
            .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await;
        text.as_str().unwrap().to_owned()
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Saves the page as `<name>.png` among the test's artefacts.
    async fn screenshot(&self, name: &str) {
        let shot = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

fn screenshots() -> PathBuf {
    repo_root().join("target/dashboard-screenshots")
}

/// `alpha` runs saas-health with a recorded year of 40 accounts.
async fn served() -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("alpha");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(SAAS_HEALTH, folder.join("plugin.wasm")).unwrap();
    std::fs::write(
        folder.join("tenant.toml"),
        format!(
            "name = \"Alpha SaaS\"\nplugin = \"plugin.wasm\"\n[api]\ntoken_sha256 = \"{}\"\n",
            token_sha256(ALPHA)
        ),
    )
    .unwrap();
    let mut options = ServeOptions::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    options.store = Some(StoreLocation::Sqlite(dir.path().join("h.db")));
    let server = start(options).await.unwrap();
    let accounts = headway_samples::generate(Book::Saas, 40, 12);
    let year =
        headway_samples::to_jsonl(&headway_samples::monthly_books(Book::Saas, &accounts, 12));
    let resp = reqwest::Client::new()
        .post(format!("http://{}/v1/tenants/alpha/runs", server.addr))
        .bearer_auth(ALPHA)
        .header("content-type", "application/x-ndjson")
        .body(year)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    for (path, body) in [
        (
            "ledger",
            headway_samples::ledger_csv(&headway_samples::ledger(Book::Saas, &accounts, 12)),
        ),
        (
            "surveys",
            headway_samples::surveys_csv(&headway_samples::surveys(&accounts, 12)),
        ),
        (
            "advocacy",
            headway_samples::advocacy_csv(&headway_samples::advocacy(Book::Saas, &accounts, 12)),
        ),
    ] {
        let resp = reqwest::Client::new()
            .put(format!("http://{}/v1/tenants/alpha/{path}", server.addr))
            .bearer_auth(ALPHA)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}: {}", resp.text().await.unwrap());
    }
    (dir, server)
}

async fn api(server: &Running, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("http://{}{path}", server.addr))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cs_lead_signs_in_follows_an_account_filters_sorts_and_signs_out() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let (dir, server) = served().await;
    let base = format!("http://{}", server.addr);
    let browser = Browser::open(&driver).await;

    // A wrong token is told so.
    browser.go(&format!("{base}/ui/t/alpha")).await;
    browser.wait_for(&format!("{base}/ui/sign-in")).await;
    browser.type_into("#token", "not-a-token").await;
    browser.click("button[type=submit]").await;
    assert!(browser.text(".error").await.contains("opens no tenant"));
    browser.screenshot("sign-in").await;

    // Signed in: the portfolio's figures are the API's.
    browser.type_into("#token", ALPHA).await;
    browser.click("button[type=submit]").await;
    browser.wait_for(&format!("{base}/ui/t/alpha")).await;
    let book = api(&server, "/v1/tenants/alpha/accounts?limit=1000").await;
    let rows = book["accounts"].as_array().unwrap();
    assert_eq!(browser.text("#accounts").await, rows.len().to_string());
    let forecast = api(&server, "/v1/tenants/alpha/forecast?horizon=90d").await;
    let expected = forecast["forecast"]["total_expected_arr"].as_f64().unwrap();
    assert_eq!(
        browser.text("#expansion").await,
        headway_core::money(expected)
    );
    let monthly = api(&server, "/v1/tenants/alpha/retention?period=month").await;
    let last = monthly.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        browser.text("#monthly tbody tr:last-of-type td").await,
        format!("{:.1}%", last["nrr"].as_f64().unwrap() * 100.0)
    );
    assert_eq!(browser.count("#monthly tbody tr").await, 12);
    browser.screenshot("portfolio").await;

    // Accounts: filter by band, then sort by score, highest first.
    browser
        .follow("nav a[href$='/accounts']", "/accounts")
        .await;
    browser.click("select[name=band] option[value=red]").await;
    browser.follow(".filters button", "band=red").await;
    let red = api(&server, "/v1/tenants/alpha/accounts?band=red&limit=1000").await;
    let matching = red["matching"].as_u64().unwrap();
    assert!(matching > 0, "the sample year has red accounts");
    assert_eq!(
        browser.text("#matching").await,
        format!("{matching} accounts")
    );
    browser
        .follow("thead a[href*='sort=score']", "order=asc")
        .await;
    browser
        .follow("thead a[href*='sort=score']", "order=desc")
        .await;
    assert!(browser.url().await.contains("order=desc"));
    let sorted = api(
        &server,
        "/v1/tenants/alpha/accounts?band=red&sort=score&order=desc&limit=1000",
    )
    .await;
    let top = sorted["accounts"][0]["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(browser.text("#accounts tbody tr th a").await, top);
    assert_eq!(
        browser.count("#accounts tbody tr").await as u64,
        matching.min(50)
    );
    browser.screenshot("accounts").await;

    // Follow the top account: its score and factors as the API has them.
    browser.click("#accounts tbody tr th a").await;
    browser
        .wait_for(&format!("{base}/ui/t/alpha/accounts/{top}"))
        .await;
    let view = api(&server, &format!("/v1/tenants/alpha/accounts/{top}")).await;
    let latest = view["snapshots"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        browser.text("#score").await,
        format!("{:.1}", latest["score"].as_f64().unwrap())
    );
    assert_eq!(
        browser.text("#band").await,
        latest["band"].as_str().unwrap()
    );
    assert_eq!(
        browser.count("#factors tbody tr").await,
        latest["factors"].as_array().unwrap().len()
    );
    assert_eq!(
        browser.count("svg.chart circle").await,
        view["snapshots"].as_array().unwrap().len()
    );
    browser.screenshot("account").await;

    // Forecast: the API's total and cohorts.
    browser
        .follow("nav a[href$='/forecast']", "/forecast")
        .await;
    assert_eq!(browser.text("#total").await, headway_core::money(expected));
    assert_eq!(
        browser.count("#cohorts tbody tr").await,
        forecast["forecast"]["milestones"].as_array().unwrap().len()
    );
    browser.screenshot("forecast").await;

    // Retention by quarter: the API's NRR of each period, and the cohort matrix.
    browser
        .follow("nav a[href$='/retention']", "/retention")
        .await;
    browser
        .click("select[name=period] option[value=quarter]")
        .await;
    browser.follow(".filters button", "period=quarter").await;
    let periods = api(&server, "/v1/tenants/alpha/retention?period=quarter").await;
    let periods = periods.as_array().unwrap();
    assert_eq!(browser.count("#periods tbody tr").await, periods.len());
    let last = periods.last().unwrap();
    let nrr = format!("{:.1}%", last["nrr"].as_f64().unwrap() * 100.0);
    let cell = "#periods tbody tr:last-of-type td:nth-of-type(3)";
    assert_eq!(browser.text(cell).await, nrr);
    // Advocacy by quarter: the API's advocating accounts of the busiest quarter.
    assert_eq!(browser.count("#advocacy tbody tr").await, periods.len());
    let (row, busiest) = periods
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| p["advocating_accounts"].as_u64().unwrap())
        .unwrap();
    let advocating = busiest["advocating_accounts"].as_u64().unwrap();
    assert!(advocating > 0, "some account advocated");
    let rate = busiest["advocacy_rate"].as_f64().unwrap() * 100.0;
    let cell = format!(
        "#advocacy tbody tr:nth-of-type({}) td:nth-of-type(1)",
        row + 1
    );
    assert_eq!(
        browser.text(&cell).await,
        format!("{advocating} ({rate:.1}%)")
    );
    let cohorts = api(&server, "/v1/tenants/alpha/retention?cohorts=true").await;
    assert_eq!(
        browser.count("#cohorts tbody tr").await,
        cohorts.as_array().unwrap().len()
    );
    browser.screenshot("retention").await;

    // Rules: a new build arrives; roll back from the page, and the old one serves.
    let folder = dir.path().join("alpha");
    std::fs::copy(SAAS_SEATS, folder.join("plugin.wasm.part")).unwrap();
    std::fs::rename(folder.join("plugin.wasm.part"), folder.join("plugin.wasm")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while api(&server, "/v1/tenants/alpha/status").await["current"]["name"] != "saas-seats" {
        assert!(Instant::now() < deadline, "the new build loads");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.follow("nav a[href$='/rules']", "/rules").await;
    assert!(browser.text("#serving").await.starts_with("saas-seats"));
    assert!(browser.text("#previous").await.starts_with("saas-health"));
    browser.screenshot("rules").await;
    browser.follow("#rollback", "done=rollback").await;
    assert!(browser.text("#notice").await.starts_with("Rolled back"));
    assert!(browser.text("#serving").await.starts_with("saas-health"));
    let status = api(&server, "/v1/tenants/alpha/status").await;
    assert_eq!(status["current"]["name"], "saas-health", "{status}");

    // On a phone's width nothing runs off the side: wide tables scroll in place.
    browser
        .call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": 390, "height": 844})),
        )
        .await;
    for (name, path) in [
        ("portfolio-phone", "/ui/t/alpha".to_owned()),
        ("accounts-phone", "/ui/t/alpha/accounts".to_owned()),
        ("account-phone", format!("/ui/t/alpha/accounts/{top}")),
    ] {
        browser.go(&format!("{base}{path}")).await;
        let fits = browser
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({
                    "script": "return document.documentElement.scrollWidth <= window.innerWidth;",
                    "args": [],
                })),
            )
            .await;
        browser.screenshot(name).await;
        assert_eq!(fits, json!(true), "{path} fits a phone's width");
    }

    // Signed out: the pages are closed again.
    browser.click(".sign-out button").await;
    browser.wait_for(&format!("{base}/ui/sign-in")).await;
    browser.go(&format!("{base}/ui/t/alpha/accounts")).await;
    browser.wait_for(&format!("{base}/ui/sign-in")).await;
    browser.close().await;
    server.shutdown().await.unwrap();
}
