//! The cost of the history routes on loopback: recording a 10k-account run over
//! HTTP (JSON Lines streamed), then a year of monthly books; reading the book
//! (first page, full CSV export) and one account's year. The same sequence on
//! the SQLite store and, where one is reachable, on PostgreSQL
//! (`HEADWAY_TEST_POSTGRES`), one after the other in one run.
//!
//! Run: `cargo bench -p headway-server --bench history`

use std::time::{Duration, Instant};

use headway_samples::Book;
use headway_server::{ServeOptions, start};
use headway_store::StoreLocation;
use headway_store::testing::TestDatabase;
use headway_tests::SAAS_HEALTH;

const TOKEN: &str = "bench-token";
const ACCOUNTS: usize = 10_000;
const READS: usize = 9;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let root = tempfile::tempdir().unwrap();
    bench(
        &root,
        StoreLocation::Sqlite(root.path().join("history.db")),
        "SQLite store on this disk",
    )
    .await;
    if let Some(db) = TestDatabase::create() {
        bench(&root, db.location(), "PostgreSQL on loopback").await;
    }
}

async fn bench(root: &tempfile::TempDir, store: StoreLocation, what: &str) {
    let dir = root.path().join("acme");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(SAAS_HEALTH, dir.join("plugin.wasm")).unwrap();
    let token = headway_tests::token_sha256(TOKEN);
    std::fs::write(
        dir.join("tenant.toml"),
        format!(
            "name = \"acme\"\nplugin = \"plugin.wasm\"\n[api]\ntoken_sha256 = \"{}\"\n",
            token
        ),
    )
    .unwrap();
    let mut options = ServeOptions::new(root.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    options.store = Some(store);
    let server = start(options).await.unwrap();
    let base = format!("http://{}/v1/tenants/acme", server.addr);
    let http = reqwest::Client::new();
    let post = |body: String| {
        http.post(format!("{base}/runs"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
    };
    let get = |path: String| http.get(format!("{base}{path}")).bearer_auth(TOKEN).send();

    let accounts = headway_samples::generate(Book::Saas, ACCOUNTS, 1);
    let book = headway_samples::to_jsonl(&accounts);
    println!("SaaS sample, saas-health, {what}, one client on loopback");
    let began = Instant::now();
    let r = post(book.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let first = began.elapsed();
    let began = Instant::now();
    let r = post(book).await.unwrap();
    assert_eq!(r.status(), 201);
    let again = began.elapsed();
    println!(
        "record {ACCOUNTS} accounts: {:.0} ms new, {:.0} ms again (all unchanged): {:.0} accounts/s",
        first.as_secs_f64() * 1e3,
        again.as_secs_f64() * 1e3,
        ACCOUNTS as f64 / first.as_secs_f64()
    );

    let year = headway_samples::to_jsonl(&headway_samples::monthly_books(Book::Saas, &accounts, 1));
    let snapshots = year.lines().count();
    let began = Instant::now();
    let r = post(year).await.unwrap();
    assert_eq!(r.status(), 201);
    println!(
        "record a year of monthly books: {snapshots} snapshots in {:.2} s",
        began.elapsed().as_secs_f64()
    );

    let timed = async |path: &str| {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..READS {
            let began = Instant::now();
            let r = get(path.to_owned()).await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            bytes = r.bytes().await.unwrap().len();
            times.push(began.elapsed());
        }
        (median(times), bytes)
    };
    let (page, page_bytes) = timed("/accounts?limit=50").await;
    let (export, export_bytes) = timed("/accounts?format=csv").await;
    let (filtered, _) = timed("/accounts?band=red&direction=declining&sort=velocity").await;
    let id = &accounts[ACCOUNTS / 2].id;
    let (one, one_bytes) = timed(&format!("/accounts/{id}")).await;
    println!(
        "median of {READS}, after {snapshots} + {} snapshots:",
        2 * ACCOUNTS
    );
    println!(
        "  GET /accounts?limit=50                 {:>7.1} ms ({page_bytes} bytes)",
        page.as_secs_f64() * 1e3
    );
    println!(
        "  GET /accounts?format=csv (whole book)  {:>7.1} ms ({export_bytes} bytes)",
        export.as_secs_f64() * 1e3
    );
    println!(
        "  GET /accounts filtered and sorted      {:>7.1} ms",
        filtered.as_secs_f64() * 1e3
    );
    println!(
        "  GET /accounts/{id} (a year)     {:>7.1} ms ({one_bytes} bytes)",
        one.as_secs_f64() * 1e3
    );
    server.shutdown().await.unwrap();
}
