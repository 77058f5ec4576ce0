//! The dashboard's pages on loopback: sign-in by token into a cookie, each
//! page showing the API's figures, the tenant of the token and no other.

use headway_samples::Book;
use headway_server::{Running, ServeOptions, start};
use headway_store::StoreLocation;
use headway_tests::{LOGISTICS_OTIF, SAAS_HEALTH, token_sha256};
use serde_json::Value;
use sha2::Digest;

const ALPHA: &str = "alpha-token";
const BETA: &str = "beta-token";
const OPERATOR: &str = "operator-token";

/// `alpha` runs saas-health with a recorded year, `beta` logistics-otif.
async fn served() -> (tempfile::TempDir, Running) {
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
                "name = \"{id} & co\"\nplugin = \"plugin.wasm\"\n[api]\ntoken_sha256 = \"{}\"\n",
                token_sha256(token)
            ),
        )
        .unwrap();
    }
    let mut options = ServeOptions::new(dir.path().to_owned(), "127.0.0.1:0".parse().unwrap());
    options.store = Some(StoreLocation::Sqlite(dir.path().join("h.db")));
    let operator: [u8; 32] = sha2::Sha256::digest(OPERATOR.as_bytes()).into();
    options.operator_token_sha256 = Some(operator);
    let server = start(options).await.unwrap();
    let accounts = headway_samples::generate(Book::Saas, 30, 8);
    let year = headway_samples::to_jsonl(&headway_samples::monthly_books(Book::Saas, &accounts, 8));
    let recorded = client()
        .post(format!("http://{}/v1/tenants/alpha/runs", server.addr))
        .bearer_auth(ALPHA)
        .header("content-type", "application/x-ndjson")
        .body(year)
        .send()
        .await
        .unwrap();
    assert_eq!(recorded.status(), 201);
    (dir, server)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `token`: the cookie and where the answer sends the browser.
async fn sign_in(server: &Running, token: &str) -> (u16, Option<String>, Option<String>) {
    let resp = client()
        .post(format!("http://{}/ui/sign-in", server.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (
        resp.status().as_u16(),
        header("set-cookie"),
        header("location"),
    )
}

async fn page(server: &Running, cookie: Option<&str>, path: &str) -> (u16, String) {
    let mut req = client().get(format!("http://{}{path}", server.addr));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn api(server: &Running, path: &str) -> Value {
    client()
        .get(format!("http://{}{path}", server.addr))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The text of the element with `id`, tags stripped.
fn text_of(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\"")).expect(id);
    let open = start + html[start..].find('>').unwrap() + 1;
    let close = open + html[open..].find("</").unwrap();
    html[open..close].trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_tenant_sees_its_own_figures_and_nothing_else() {
    let (_dir, server) = served().await;

    // No cookie: to the sign-in form. A wrong token: refused, no cookie.
    let (code, _) = page(&server, None, "/ui/t/alpha").await;
    assert_eq!(code, 303);
    let (code, cookie, _) = sign_in(&server, "wrong").await;
    assert_eq!((code, cookie), (401, None));

    let (code, cookie, location) = sign_in(&server, ALPHA).await;
    assert_eq!((code, location.as_deref()), (303, Some("/ui/t/alpha")));
    let cookie = cookie.unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let cookie = Some(session.as_str());

    // Portfolio: the book's count and the forecast's expected ARR.
    let (code, html) = page(&server, cookie, "/ui/t/alpha").await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("alpha &#38; co"), "the name, escaped: {html}");
    let book = api(&server, "/v1/tenants/alpha/accounts?limit=1000").await;
    let rows = book["accounts"].as_array().unwrap();
    assert_eq!(text_of(&html, "accounts"), rows.len().to_string());
    let forecast = api(&server, "/v1/tenants/alpha/forecast?horizon=90d").await;
    let expected = forecast["forecast"]["total_expected_arr"].as_f64().unwrap();
    assert_eq!(text_of(&html, "expansion"), headway_core::money(expected));
    let arr: f64 = rows.iter().map(|r| r["arr"].as_f64().unwrap()).sum();
    assert_eq!(text_of(&html, "arr"), headway_core::money(arr));

    // Accounts: filtered by band and sorted by score, as the API.
    let (code, html) = page(
        &server,
        cookie,
        "/ui/t/alpha/accounts?band=red&sort=score&order=desc",
    )
    .await;
    assert_eq!(code, 200);
    let red = api(
        &server,
        "/v1/tenants/alpha/accounts?band=red&sort=score&order=desc",
    )
    .await;
    assert_eq!(
        text_of(&html, "matching"),
        format!("{} accounts", red["matching"])
    );
    let first = red["accounts"][0]["account_id"].as_str().unwrap();
    let body = &html[html.find("<tbody>").unwrap()..];
    assert_eq!(
        text_attr(body, "/ui/t/alpha/accounts/"),
        first,
        "the first row is the API's first"
    );
    assert_eq!(
        body.matches("<tr>").count(),
        red["accounts"].as_array().unwrap().len()
    );
    let one = rows[0]["account_id"].as_str().unwrap();
    let (_, found) = page(
        &server,
        cookie,
        &format!("/ui/t/alpha/accounts?q={}", one.to_uppercase()),
    )
    .await;
    assert!(
        found.contains(&format!(">{one}</a>")),
        "search ignores case"
    );

    // Account: the latest score and its factors, as the API has them.
    let view = api(&server, &format!("/v1/tenants/alpha/accounts/{one}")).await;
    let latest = view["snapshots"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let (code, html) = page(&server, cookie, &format!("/ui/t/alpha/accounts/{one}")).await;
    assert_eq!(code, 200);
    assert_eq!(
        text_of(&html, "score"),
        format!("{:.1}", latest["score"].as_f64().unwrap())
    );
    assert_eq!(text_of(&html, "band"), latest["band"].as_str().unwrap());
    assert_eq!(
        html.matches("<circle").count(),
        view["snapshots"].as_array().unwrap().len(),
        "one point per snapshot"
    );
    for f in latest["factors"].as_array().unwrap() {
        let points = format!("{:.1}</td><td>", f["contribution"].as_f64().unwrap());
        assert!(html.contains(&points), "{f}");
    }

    // Another tenant's pages: nothing, the same answer as for one that does not exist.
    for path in ["/ui/t/beta", "/ui/t/beta/accounts", "/ui/t/nosuch"] {
        let (code, html) = page(&server, cookie, path).await;
        assert_eq!(code, 403, "{path}");
        assert!(!html.contains("beta &#38; co"));
    }

    // Rollback from a forged form: refused, nothing changes (no previous build either).
    let forged = post_form(&server, &session, "/ui/t/alpha/rollback", "csrf=forged").await;
    assert_eq!(forged.status(), 403);
    let (code, rules) = page(&server, cookie, "/ui/t/alpha/rules").await;
    assert_eq!(code, 200);
    assert!(rules.contains("No earlier build to roll back to."));
    let (code, _) = page(&server, cookie, "/ui/t/alpha/forecast").await;
    assert_eq!(code, 200);

    // Sign-out needs the page's form token; then the cookie is gone.
    let out = post_form(&server, &session, "/ui/sign-out", "csrf=forged").await;
    assert_eq!(out.status(), 403);
    let (_, html) = page(&server, cookie, "/ui/t/alpha").await;
    let csrf = text_attr(&html, "name=\"csrf\" value=\"");
    let out = post_form(&server, &session, "/ui/sign-out", &format!("csrf={csrf}")).await;
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    server.shutdown().await.unwrap();
}

/// The attribute value that follows `prefix`.
fn text_attr<'h>(html: &'h str, prefix: &str) -> &'h str {
    let start = html.find(prefix).unwrap() + prefix.len();
    &html[start..start + html[start..].find('"').unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_token_opens_every_tenant_and_a_tenants_only_its_own() {
    let (_dir, server) = served().await;
    let (code, cookie, location) = sign_in(&server, OPERATOR).await;
    assert_eq!((code, location.as_deref()), (303, Some("/ui/t/alpha")));
    let session = cookie.unwrap().split(';').next().unwrap().to_owned();
    let (code, html) = page(&server, Some(&session), "/ui/t/alpha").await;
    assert_eq!(code, 200);
    assert!(
        html.contains(r#"<a href="/ui/t/beta">beta</a>"#),
        "a link to every other tenant"
    );
    // Beta has no snapshots yet: its page says so, by name of what to do.
    let (code, html) = page(&server, Some(&session), "/ui/t/beta").await;
    assert_eq!(code, 404);
    assert!(html.contains("no snapshots of tenant `beta`"), "{html}");

    let (_, cookie, _) = sign_in(&server, BETA).await;
    let session = cookie.unwrap().split(';').next().unwrap().to_owned();
    let (_, html) = page(&server, Some(&session), "/ui/t/beta").await;
    assert!(
        !html.contains("/ui/t/alpha"),
        "a tenant's pages name no other tenant"
    );
    server.shutdown().await.unwrap();
}

/// POSTs a form as the browser of `session` does.
async fn post_form(server: &Running, session: &str, path: &str, body: &str) -> reqwest::Response {
    client()
        .post(format!("http://{}{path}", server.addr))
        .header("cookie", session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}
