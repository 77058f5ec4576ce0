//! The dashboard: HTML pages under `/ui`, rendered by `headway-dashboard`
//! from the same views the API answers with.
//!
//! Sign-in takes a tenant's token (or the operator's) and keeps it in an
//! HttpOnly, SameSite=Strict cookie scoped to `/ui`; every page authorises it
//! exactly as the API authorises a bearer token. Forms that change something
//! carry a token derived from the session (`csrf`), checked on POST.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Form, FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use headway_dashboard::{
    Accounts, Empty, Filters, ForecastPage, Nav, Portfolio, ReloadLine, Retention, Rules, SignIn,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::{
    ApiError, ApiPath, ApiQuery, App, Authorized, Caller, authorize_token, redacted_reloads,
    redacted_status, roll_back,
};
use crate::history::{BookParams, book_query, chosen_build, read_store, view_error};
use crate::revenue::{ledger_of, period_kind, retention_of};

/// The session cookie's name.
const COOKIE: &str = "headway_session";

/// Every `/ui` route.
pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/ui", get(home))
        .route("/ui/style.css", get(style))
        .route("/ui/sign-in", get(sign_in_form).post(sign_in))
        .route("/ui/sign-out", post(sign_out))
        .route("/ui/t/{tenant}", get(portfolio))
        .route("/ui/t/{tenant}/accounts", get(accounts))
        .route("/ui/t/{tenant}/accounts/{account}", get(account))
        .route("/ui/t/{tenant}/forecast", get(forecast))
        .route("/ui/t/{tenant}/retention", get(retention))
        .route("/ui/t/{tenant}/rules", get(rules))
        .route("/ui/t/{tenant}/rollback", post(rollback))
}

/// A page, with headers no page goes without: never cached, never framed, no
/// script, nothing loaded from elsewhere.
fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => page(status, html),
        Err(e) => {
            tracing::error!("dashboard template: {e}");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>The page could not be drawn; the server log says why.</p>".into(),
            )
        }
    }
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        headway_dashboard::STYLE,
    )
        .into_response()
}

/// The session token of a request, from its cookie.
fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// The form token of a session: a hash of it, so a page can carry it and a
/// forged form from elsewhere cannot.
fn csrf_of(token: &str) -> String {
    let digest = Sha256::digest(format!("headway-csrf:{token}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tenants `token` opens, by id: every tenant for the operator's.
fn tenants_of(app: &App, token: &str) -> Vec<String> {
    app.registry
        .tenants()
        .keys()
        .filter(|id| authorize_token(app, id, token).is_ok())
        .cloned()
        .collect()
}

/// A signed-in request for the path's tenant.
struct Signed {
    authorized: Authorized,
    nav: Nav,
}

/// Why a page is not shown: the sign-in form, or a page saying why.
enum Refused {
    SignIn,
    Page(Response),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to("/ui/sign-in").into_response(),
            Self::Page(response) => response,
        }
    }
}

impl FromRequestParts<Arc<App>> for Signed {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Refused> {
        let token = session_token(&parts.headers).ok_or(Refused::SignIn)?;
        let params = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|_| Refused::SignIn)?;
        let id = params
            .iter()
            .find(|(name, _)| *name == "tenant")
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default();
        let authorized = authorize_token(app, &id, &token).map_err(|_| {
            // The same answer for a tenant that does not exist and one the
            // token does not open.
            Refused::Page(page(
                StatusCode::FORBIDDEN,
                "<!doctype html><title>Not yours</title><link rel=stylesheet href=/ui/style.css><main><h1>Nothing here for this sign-in</h1><p><a href=/ui>Back</a></p></main>".into(),
            ))
        })?;
        let others = match authorized.caller {
            Caller::Operator => tenants_of(app, &token)
                .into_iter()
                .filter(|t| *t != authorized.tenant.id)
                .collect(),
            Caller::Tenant => Vec::new(),
        };
        let nav = Nav {
            tenant: authorized.tenant.id.clone(),
            name: authorized.loaded.config.name.clone(),
            page: "",
            csrf: csrf_of(&token),
            others,
        };
        Ok(Self { authorized, nav })
    }
}

/// A view that failed, as a page: what the API would say, in words.
fn failed(nav: Nav, title: &str, e: &ApiError) -> Response {
    render(
        e.status(),
        &Empty {
            nav,
            title: title.to_owned(),
            message: e.message().to_owned(),
        },
    )
}

async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let first = session_token(&headers).and_then(|t| tenants_of(&app, &t).into_iter().next());
    match first {
        Some(tenant) => Redirect::to(&format!("/ui/t/{tenant}")).into_response(),
        None => Redirect::to("/ui/sign-in").into_response(),
    }
}

async fn sign_in_form() -> Response {
    render(StatusCode::OK, &SignIn { error: None })
}

#[derive(Deserialize)]
struct SignInForm {
    token: String,
}

async fn sign_in(State(app): State<Arc<App>>, Form(form): Form<SignInForm>) -> Response {
    let token = form.token.trim();
    // A cookie value holds no separators, spaces or quotes.
    let fits = !token.is_empty()
        && token.len() <= 4096
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b";,\"\\".contains(&b));
    let opens = if fits {
        tenants_of(&app, token)
    } else {
        Vec::new()
    };
    let Some(first) = opens.first() else {
        return render(
            StatusCode::UNAUTHORIZED,
            &SignIn {
                error: Some("That token opens no tenant of this server.".into()),
            },
        );
    };
    let mut response = Redirect::to(&format!("/ui/t/{first}")).into_response();
    let cookie = format!("{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// Whether a form came from a page of this session.
fn csrf_holds(headers: &HeaderMap, given: &str) -> bool {
    session_token(headers)
        .is_some_and(|token| bool::from(csrf_of(&token).as_bytes().ct_eq(given.as_bytes())))
}

/// A form that did not come from a page of this session.
fn refused_form() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "<!doctype html><title>Refused</title><p>This form did not come from your session.</p>"
            .into(),
    )
}

async fn sign_out(headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    if !csrf_holds(&headers, &form.csrf) {
        return refused_form();
    }
    let mut response = Redirect::to("/ui/sign-in").into_response();
    let expired = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Days of horizon the portfolio's expected expansion covers.
const PORTFOLIO_HORIZON_DAYS: i32 = 90;

async fn portfolio(State(app): State<Arc<App>>, signed: Signed) -> Response {
    let Signed {
        authorized,
        mut nav,
    } = signed;
    nav.page = "portfolio";
    let read = read_store(&app, authorized, |store, tenant, loaded| {
        let (build, window) = chosen_build(store, tenant, loaded, None)?;
        // One read of the book for its rows and its forecast.
        let book =
            headway_views::current_book(store, &tenant.id, &build, window).map_err(view_error)?;
        let rows = headway_views::rows_of(&book);
        let forecast =
            headway_views::forecast_of(&book, &tenant.id, &build, window, PORTFOLIO_HORIZON_DAYS);
        let mix = headway_views::band_mix(store, &tenant.id, &build).map_err(view_error)?;
        // Monthly retention when the tenant uploaded a ledger, as `GET .../retention`.
        let monthly = match ledger_of(store, tenant) {
            Ok(ledger) => retention_of(store, tenant, &ledger, &monthly_query())?,
            Err(_) => Vec::new(),
        };
        Ok((build, rows, forecast, mix, monthly))
    })
    .await;
    match read {
        Ok((build, rows, forecast, mix, monthly)) => render(
            StatusCode::OK,
            &Portfolio::new(nav, &build.info, &rows, &forecast, &mix, &monthly),
        ),
        Err(e) => failed(nav, "Portfolio", &e),
    }
}

/// The accounts table's query: the book's (`GET .../accounts`), and the
/// filters as typed (empty fields mean any).
#[derive(Deserialize, Default)]
struct AccountsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    band: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    segment: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    order: String,
    after: Option<String>,
}

impl AccountsQuery {
    fn filters(&self) -> Filters {
        Filters {
            search: self.q.clone(),
            band: self.band.clone(),
            direction: self.direction.clone(),
            segment: self.segment.clone(),
            sort: self.sort.clone(),
            order: self.order.clone(),
        }
    }

    fn book_params(&self) -> BookParams {
        let some = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
        BookParams {
            q: some(&self.q),
            band: some(&self.band),
            direction: some(&self.direction),
            segment: some(&self.segment),
            sort: some(&self.sort),
            order: some(&self.order),
            after: self.after.clone(),
            ..BookParams::default()
        }
    }

    /// The query string of the page after `next`.
    fn next_page(&self, next: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = [
            ("q", &self.q),
            ("band", &self.band),
            ("direction", &self.direction),
            ("segment", &self.segment),
            ("sort", &self.sort),
            ("order", &self.order),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect();
        pairs.push(("after", next));
        headway_dashboard::encode_query(&pairs)
    }
}

async fn accounts(
    State(app): State<Arc<App>>,
    signed: Signed,
    ApiQuery(query): ApiQuery<AccountsQuery>,
) -> Response {
    let Signed {
        authorized,
        mut nav,
    } = signed;
    nav.page = "accounts";
    let book = match book_query(&query.book_params(), false) {
        Ok(book) => book,
        Err(e) => return failed(nav, "Accounts", &e),
    };
    let read = read_store(&app, authorized, move |store, tenant, loaded| {
        let (build, window) = chosen_build(store, tenant, loaded, None)?;
        let rows =
            headway_views::book_rows(store, &tenant.id, &build, window).map_err(view_error)?;
        Ok((build, headway_views::book(rows, &book)))
    })
    .await;
    match read {
        Ok((build, page)) => {
            let next = page.next.as_deref().map(|n| query.next_page(n));
            render(
                StatusCode::OK,
                &Accounts::new(nav, &build.info, query.filters(), &page, next),
            )
        }
        Err(e) => failed(nav, "Accounts", &e),
    }
}

async fn account(
    State(app): State<Arc<App>>,
    signed: Signed,
    ApiPath((_, id)): ApiPath<(String, String)>,
) -> Response {
    let Signed {
        authorized,
        mut nav,
    } = signed;
    nav.page = "account";
    let read = read_store(&app, authorized, move |store, tenant, loaded| {
        let (build, window) = chosen_build(store, tenant, loaded, None)?;
        let view =
            headway_views::account(store, &tenant.id, &id, &build, window).map_err(view_error)?;
        Ok((build, view))
    })
    .await;
    match read {
        Ok((build, view)) => render(
            StatusCode::OK,
            &headway_dashboard::Account::new(nav, &build.info, &view),
        ),
        Err(e) => failed(nav, "Account", &e),
    }
}

async fn forecast(State(app): State<Arc<App>>, signed: Signed) -> Response {
    let Signed {
        authorized,
        mut nav,
    } = signed;
    nav.page = "forecast";
    let read = read_store(&app, authorized, |store, tenant, loaded| {
        let (build, window) = chosen_build(store, tenant, loaded, None)?;
        headway_views::forecast(store, &tenant.id, &build, window, PORTFOLIO_HORIZON_DAYS)
            .map_err(view_error)
    })
    .await;
    match read {
        Ok(view) => render(StatusCode::OK, &ForecastPage::new(nav, &view)),
        Err(e) => failed(nav, "Forecast", &e),
    }
}

/// What `?done=` on the rules page says happened.
#[derive(Deserialize, Default)]
struct RulesQuery {
    done: Option<String>,
}

/// The rules page of a signed-in tenant, with `notice` on top.
fn rules_page(app: &App, signed: Signed, notice: Option<String>) -> Rules {
    let Signed {
        authorized,
        mut nav,
    } = signed;
    nav.page = "rules";
    let status = redacted_status(app, &authorized.tenant);
    let label = |b: &crate::registry::BuildStatus| {
        headway_views::build_label(&headway_core::PluginRef {
            name: b.name.clone(),
            version: b.version.clone(),
            digest: b.digest.clone(),
        })
    };
    let reloads = redacted_reloads(app, &authorized.tenant)
        .into_iter()
        .map(|r| ReloadLine {
            at: headway_dashboard::utc(r.at),
            outcome: r.outcome.as_str().to_owned(),
            version: r.version.unwrap_or_default(),
            error: r.error.unwrap_or_default(),
        })
        .collect();
    let mut page = Rules::new(
        nav,
        authorized.loaded.plugin.info(),
        status.current.as_ref().map(label).unwrap_or_default(),
        status
            .current
            .as_ref()
            .map(|b| b.contract.clone())
            .unwrap_or_default(),
        status.previous.as_ref().map(label),
        status.last_reload_error,
        reloads,
    );
    page.notice = notice;
    page
}

async fn rules(
    State(app): State<Arc<App>>,
    signed: Signed,
    ApiQuery(query): ApiQuery<RulesQuery>,
) -> Response {
    let notice = (query.done.as_deref() == Some("rollback"))
        .then(|| "Rolled back: the build above serves now.".to_owned());
    render(StatusCode::OK, &rules_page(&app, signed, notice))
}

async fn rollback(
    State(app): State<Arc<App>>,
    signed: Signed,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_holds(&headers, &form.csrf) {
        return refused_form();
    }
    match roll_back(&app, &signed.authorized.tenant, signed.authorized.caller).await {
        Ok(_) => Redirect::to(&format!("/ui/t/{}/rules?done=rollback", signed.nav.tenant))
            .into_response(),
        Err(e) => {
            let notice = format!("Not rolled back: {}", e.message());
            render(e.status(), &rules_page(&app, signed, Some(notice)))
        }
    }
}

#[derive(Deserialize, Default)]
struct RetentionPageQuery {
    period: Option<String>,
}

async fn retention(
    State(app): State<Arc<App>>,
    signed: Signed,
    ApiQuery(query): ApiQuery<RetentionPageQuery>,
) -> Response {
    let Signed {
        authorized,
        mut nav,
    } = signed;
    nav.page = "retention";
    let shown = query.period.clone().unwrap_or_else(|| "month".into());
    let period = match period_kind(query.period.as_deref()) {
        Ok(period) => period,
        Err(e) => return failed(nav, "Retention", &e),
    };
    // As `GET .../retention` and `GET .../retention?cohorts=true` compute them.
    let read = read_store(&app, authorized, move |store, tenant, _| {
        let ledger = ledger_of(store, tenant)?;
        let q = headway_core::retention::RetentionQuery {
            period,
            ..monthly_query()
        };
        let metrics = retention_of(store, tenant, &ledger, &q)?;
        let cohorts = headway_core::retention::cohorts_between(&ledger, None, None);
        Ok((metrics, cohorts))
    })
    .await;
    match read {
        Ok((metrics, cohorts)) => render(
            StatusCode::OK,
            &Retention::new(nav, &shown, &metrics, &cohorts),
        ),
        Err(e) => failed(nav, "Retention", &e),
    }
}

/// Every month of the ledger, the book as a whole (`GET .../retention`'s default).
fn monthly_query() -> headway_core::retention::RetentionQuery {
    headway_core::retention::RetentionQuery {
        period: headway_core::retention::PeriodKind::Month,
        from: None,
        to: None,
        by_segment: false,
    }
}
