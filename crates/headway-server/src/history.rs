//! The routes over the history store: recorded scoring runs, the book of
//! accounts and one account's course. Every query is scoped to the tenant of
//! the token; the figures come from `headway-views`, as the CLI's do.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use headway_config::LogFailure;
use headway_core::vector::Direction;
use headway_core::{Date, InputDefaults};
use headway_pipeline::{
    DecisionContext, DecisionError, DecisionOutcome, InputFormat, InputRecord, JsonArrayLines,
    OutputDigest, RunOptions, Source, StoreSink,
};
use headway_store::{AlertStatus, Decision, RunLog, SharedStore, SnapshotStore, StoreError};
use headway_views::{AccountRow, BookQuery, BuildChoice, SortKey, ViewError};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::json;

use crate::api::{ApiError, ApiPath, ApiQuery, App, Authorized, ErrorCode};
use crate::registry::{Loaded, Tenant};

/// Runs a blocking store task off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    task: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(task)
        .await
        .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
}

/// Runs `read` for the authorised tenant on a connection of its own to the
/// history store, off the async threads: every read route is one of these.
pub(crate) async fn read_store<T: Send + 'static>(
    app: &App,
    Authorized { tenant, loaded, .. }: Authorized,
    read: impl FnOnce(&dyn SnapshotStore, &Tenant, &Loaded) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let history = history(app)?;
    blocking(move || {
        let store = history.reader().map_err(store_error)?;
        read(&*store, &tenant, &loaded)
    })
    .await
}

pub(crate) fn history(app: &App) -> Result<Arc<SharedStore>, ApiError> {
    app.history.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NoStore,
            "this server keeps no history: start it with --store",
        )
    })
}

pub(crate) fn store_error(e: StoreError) -> ApiError {
    tracing::error!("history store: {e}");
    ApiError::internal("the history store failed; the operator's log has the details")
}

pub(crate) fn view_error(e: ViewError) -> ApiError {
    match e {
        ViewError::Store(e) => store_error(e),
        ViewError::Override(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidOverride,
            e.to_string(),
        ),
        e => ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, e.to_string()),
    }
}

#[derive(Deserialize)]
pub(crate) struct RunQuery {
    /// As-of day for accounts that have none.
    as_of: Option<Date>,
}

/// `POST /v1/tenants/{tenant}/runs`: scores a book and records it.
pub(crate) async fn record_run(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(query): ApiQuery<RunQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = authorized.who();
    let Authorized { tenant, loaded, .. } = authorized;
    let history = history(&app)?;
    let format = body_format(&headers)?;
    let limits = app.limits;
    let permit = crate::api::tenant_slot(&tenant, &loaded).await?;
    let engine = app
        .registry
        .engine_permits
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable())?;
    // Every body streams: a JSON array is read element by element as lines.
    let body = BodyReader::spawn(body, app.max_run_bytes, limits.body_timeout);
    let (reader, input): (Box<dyn Read + Send>, InputFormat) = match format {
        BodyFormat::JsonArray => (Box::new(JsonArrayLines::new(body)), InputFormat::JsonLines),
        BodyFormat::Lines(input) => (Box::new(body), input),
    };
    let defaults = InputDefaults { as_of: query.as_of };
    let runner = Arc::clone(&tenant);
    let outcome = tokio::task::spawn_blocking(move || {
        let input = Input {
            name: "request body",
            reader,
            format: input,
            defaults,
            caller,
        };
        record(&history, &runner, &loaded, input)
    })
    .await
    .map_err(|e| ApiError::internal(format!("run task failed: {e}")))?;
    drop((engine, permit));
    let (log, fuel) = outcome?;
    count_run(&tenant, &log, fuel);
    let location = format!("/v1/tenants/{}/runs/{}", tenant.id, log.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(log),
    )
        .into_response())
}

/// What a recorded run scores, and who asked.
pub(crate) struct Input<'a, R> {
    /// The source's name in messages.
    pub name: &'a str,
    /// The accounts, as lines (a JSON array already turned into lines).
    pub reader: R,
    /// How they read.
    pub format: InputFormat,
    /// Values for fields the input leaves out.
    pub defaults: InputDefaults,
    /// Who asked, for the decision log.
    pub caller: String,
}

/// Scores `input` with the tenant's build and records it, all or nothing, then
/// logs the decision: the run log as stored and the instructions used.
/// Blocks: call off the async threads.
pub(crate) fn record<R: Read + Send>(
    history: &SharedStore,
    tenant: &Tenant,
    loaded: &Loaded,
    input: Input<'_, R>,
) -> Result<(RunLog, u64), ApiError> {
    let plugin = &loaded.plugin;
    let mut kept = InputRecord::new(loaded.config.history.keep_inputs);
    let reader = std::io::BufReader::with_capacity(1 << 16, kept.tap(input.reader));
    let source = Source::new(input.name, reader, input.format);
    let context = DecisionContext {
        tenant: tenant.id.clone(),
        caller: input.caller,
        source: input.name.to_owned(),
        input: input.format.into(),
        as_of_default: input.defaults.as_of,
        at: headway_store::now(),
    };
    let mut store = history.writer().map_err(store_error)?;
    let mut sink = StoreSink::begin(&mut *store, &tenant.id, plugin, input.name)
        .map_err(store_error)?
        .with_alerts(&loaded.config.alerts);
    let mut options = RunOptions::new(1);
    options.defaults = input.defaults;
    let mut output = OutputDigest::new(plugin, &options);
    let summary = headway_pipeline::run(source, plugin, &options, &mut [&mut sink, &mut output])
        .map_err(run_error)?;
    let log = sink.commit(&summary).map_err(store_error)?;
    let outcome = DecisionOutcome {
        input: kept,
        output_digest: output.finish(),
        records: summary.records,
        failed: summary.failed,
        run: Some(log.id),
    };
    let mask = loaded.config.history.mask();
    let logged = headway_pipeline::log_decision(&mut *store, plugin, context, outcome, &mask);
    decision_logged(
        logged,
        tenant,
        loaded,
        &format!("run {} was recorded, but", log.id),
    )?;
    Ok((log, summary.fuel_used))
}

/// What a decision that could not be logged does, as the tenant chose: fail
/// the scoring (`what` says what happened nonetheless), or count it.
pub(crate) fn decision_logged(
    logged: Result<Decision, DecisionError>,
    tenant: &Tenant,
    loaded: &Loaded,
    what: &str,
) -> Result<(), ApiError> {
    let Err(e) = logged else {
        return Ok(());
    };
    match loaded.config.history.on_log_failure {
        LogFailure::Count => {
            tenant.metrics.decision_log_failures.inc();
            tracing::warn!(tenant = %tenant.id, "{what} {e}");
            Ok(())
        }
        LogFailure::Fail => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::DecisionLogFailed,
            format!("{what} {e}"),
        )),
    }
}

/// Adds a recorded run to the tenant's counters.
pub(crate) fn count_run(tenant: &Tenant, log: &RunLog, fuel: u64) {
    tenant.metrics.assessments.inc_by(log.records as u64);
    tenant.metrics.failures.inc_by(log.failed as u64);
    tenant.metrics.fuel.inc_by(fuel);
    tenant.metrics.alerts.inc_by(log.alerts as u64);
}

/// A run that stopped: a body that stalled or grew past the limit, or unreadable.
fn run_error(e: headway_pipeline::RunError) -> ApiError {
    use headway_pipeline::RunError;
    match &e {
        RunError::Read { source, .. } if source.kind() == std::io::ErrorKind::TimedOut => {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                source.to_string(),
            )
        }
        RunError::Read { source, .. } if source.kind() == std::io::ErrorKind::FileTooLarge => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                source.to_string(),
            )
        }
        RunError::Read { .. } => ApiError::bad_request(format!("{e}; nothing was recorded")),
        _ => ApiError::internal(format!("{e}; nothing was recorded")),
    }
}

enum BodyFormat {
    JsonArray,
    Lines(InputFormat),
}

/// `application/json`: an array; `text/csv`: CSV with a header; JSON Lines
/// otherwise (`application/x-ndjson`, `application/jsonl` or nothing said).
fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let kind = crate::api::media_type(headers);
    match kind.as_deref() {
        Some("application/json") => Ok(BodyFormat::JsonArray),
        Some("text/csv") => Ok(BodyFormat::Lines(InputFormat::Csv)),
        None
        | Some("application/x-ndjson" | "application/jsonl" | "application/json-lines")
        | Some("application/octet-stream") => Ok(BodyFormat::Lines(InputFormat::JsonLines)),
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            format!(
                "`{other}`: send application/json (an array), application/x-ndjson (JSON Lines) or text/csv"
            ),
        )),
    }
}

/// A request body as a blocking reader for the pipeline: a task pulls frames
/// as the pipeline asks (a bounded channel: a slow run slows the client, not
/// memory), failing the read when the client stalls or sends too much.
struct BodyReader {
    frames: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl BodyReader {
    fn spawn(body: Body, limit: u64, idle: Duration) -> Self {
        let (tx, frames) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut body = body;
            let mut seen = 0u64;
            loop {
                let frame = match tokio::time::timeout(idle, body.frame()).await {
                    Err(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the body stalled for {} ms", idle.as_millis()),
                    )),
                    Ok(None) => break,
                    Ok(Some(Err(e))) => Err(std::io::Error::other(e)),
                    Ok(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => {
                            seen += data.len() as u64;
                            if seen > limit {
                                Err(std::io::Error::new(
                                    std::io::ErrorKind::FileTooLarge,
                                    format!("the body is over the {limit} bytes a run may send"),
                                ))
                            } else {
                                Ok(data)
                            }
                        }
                        Err(_) => continue, // trailers
                    },
                };
                let failed = frame.is_err();
                if tx.send(frame).await.is_err() || failed {
                    break;
                }
            }
        });
        Self {
            frames,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.frames.blocking_recv() {
                Some(frame) => self.current = frame?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[derive(Deserialize)]
pub(crate) struct RunsQuery {
    /// Runs older than this id (the `next` of the previous page).
    before: Option<i64>,
    /// Runs per page (default 20, at most 100).
    limit: Option<usize>,
}

impl RunsQuery {
    fn limit(&self) -> usize {
        self.limit.unwrap_or(20).clamp(1, 100)
    }
}

/// `GET /v1/tenants/{tenant}/runs`: newest first.
pub(crate) async fn list_runs(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit();
    let runs = read_store(&app, authorized, move |store, tenant, _| {
        let runs = store.runs(&tenant.id, query.before, limit + 1);
        runs.map_err(store_error)
    })
    .await?;
    let (runs, next) = page(runs, limit, |r| r.id);
    Ok(Json(json!({"runs": runs, "next": next})).into_response())
}

/// The first `limit` of `items` (read one more than that) and the cursor of
/// the next page, if there is one.
fn page<T>(mut items: Vec<T>, limit: usize, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<i64>) {
    let next = (items.len() > limit).then(|| id(&items[limit - 1]));
    items.truncate(limit);
    (items, next)
}

/// `GET /v1/tenants/{tenant}/decisions`: the decision log, newest first (the
/// same pages as runs).
pub(crate) async fn list_decisions(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit();
    let decisions = read_store(&app, authorized, move |store, tenant, _| {
        let decisions = store.decisions(&tenant.id, query.before, limit + 1);
        decisions.map_err(store_error)
    })
    .await?;
    let (decisions, next) = page(decisions, limit, |d| d.id);
    Ok(Json(json!({"decisions": decisions, "next": next})).into_response())
}

#[derive(Deserialize)]
pub(crate) struct AlertsQuery {
    /// Alerts of this day or later.
    since: Option<Date>,
    /// Only alerts whose delivery is `pending`, `delivered` or `dead`.
    status: Option<AlertStatus>,
    /// At most this many (default 100, at most 1,000).
    limit: Option<usize>,
}

/// `GET /v1/tenants/{tenant}/alerts`: what the tenant's rules fired, newest first.
pub(crate) async fn list_alerts(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(query): ApiQuery<AlertsQuery>,
) -> Result<Response, ApiError> {
    let query = headway_store::AlertQuery {
        since: query.since,
        status: query.status,
        limit: query.limit.unwrap_or(100).clamp(1, 1_000),
    };
    let alerts = read_store(&app, authorized, move |store, tenant, _| {
        store.alerts(&tenant.id, &query).map_err(store_error)
    })
    .await?;
    Ok(Json(json!({ "alerts": alerts })).into_response())
}

/// `GET /v1/tenants/{tenant}/runs/{run}`.
pub(crate) async fn get_run(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiPath((_, run)): ApiPath<(String, i64)>,
) -> Result<Response, ApiError> {
    let found = read_store(&app, authorized, move |store, tenant, _| {
        store.run(&tenant.id, run).map_err(store_error)
    })
    .await?;
    found.map(|log| Json(log).into_response()).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no run {run}"),
        )
    })
}

/// Which build a read shows (`?build=<digest prefix>`, else the build serving
/// if it has snapshots, else the latest) and the tenant's vector window.
pub(crate) fn chosen_build(
    store: &dyn SnapshotStore,
    tenant: &Tenant,
    loaded: &Loaded,
    asked: Option<&str>,
) -> Result<(headway_store::StoredBuild, i32), ApiError> {
    let choice = match asked {
        Some(b) => BuildChoice::Exactly(b),
        None => BuildChoice::Prefer(&loaded.plugin.plugin_ref().digest),
    };
    let build = headway_views::pick_build(store, &tenant.id, choice).map_err(view_error)?;
    Ok((build, loaded.config.vector.window_days as i32))
}

#[derive(Deserialize, Default)]
pub(crate) struct BookParams {
    /// Part of an account id.
    pub(crate) q: Option<String>,
    pub(crate) band: Option<String>,
    pub(crate) direction: Option<String>,
    pub(crate) segment: Option<String>,
    /// `30d`, `12w` or days.
    pub(crate) renewal_within: Option<String>,
    /// `score` (default), `velocity`, `arr`, `renewal`, `id`.
    pub(crate) sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub(crate) order: Option<String>,
    pub(crate) after: Option<String>,
    pub(crate) limit: Option<usize>,
    /// `json` (default) or `csv`.
    pub(crate) format: Option<String>,
    pub(crate) build: Option<String>,
}

/// Rows per page of the book unless asked; the most one page may hold.
const BOOK_PAGE: usize = 50;
const MAX_BOOK_PAGE: usize = 1_000;

pub(crate) fn book_query(p: &BookParams, csv: bool) -> Result<BookQuery, ApiError> {
    let bad = |name: &str, value: &str, expected: &str| {
        ApiError::bad_request(format!("`{name}={value}`: expected {expected}"))
    };
    let direction = match p.direction.as_deref() {
        None => None,
        Some("improving") => Some(Direction::Improving),
        Some("steady") => Some(Direction::Steady),
        Some("declining") => Some(Direction::Declining),
        Some(d) => return Err(bad("direction", d, "improving, steady or declining")),
    };
    let sort = match p.sort.as_deref() {
        None => SortKey::Score,
        Some(s) => SortKey::parse(s)
            .ok_or_else(|| bad("sort", s, "score, velocity, arr, renewal or id"))?,
    };
    let descending = match p.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => return Err(bad("order", o, "asc or desc")),
    };
    let renewal_within_days = p
        .renewal_within
        .as_deref()
        .map(|r| {
            headway_core::parse_days(r)
                .ok_or_else(|| bad("renewal_within", r, "days like 30d or 12w"))
        })
        .transpose()?;
    // A CSV export takes every matching row unless told otherwise.
    let default_limit = if csv { usize::MAX } else { BOOK_PAGE };
    let max = if csv { usize::MAX } else { MAX_BOOK_PAGE };
    Ok(BookQuery {
        search: p.q.clone().filter(|q| !q.trim().is_empty()),
        band: p.band.clone(),
        direction,
        segment: p.segment.clone(),
        renewal_within_days,
        sort,
        descending,
        after: p.after.clone(),
        limit: p.limit.unwrap_or(default_limit).clamp(1, max),
    })
}

/// `GET /v1/tenants/{tenant}/accounts`: the latest of every account with its
/// Success Vector, filtered, sorted and paged; `format=csv` for a spreadsheet.
pub(crate) async fn list_accounts(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(params): ApiQuery<BookParams>,
) -> Result<Response, ApiError> {
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(ApiError::bad_request(format!(
                "`format={f}`: expected json or csv"
            )));
        }
    };
    let query = book_query(&params, csv)?;
    let (build, window, page) = read_store(&app, authorized, move |store, tenant, loaded| {
        let (build, window) = chosen_build(store, tenant, loaded, params.build.as_deref())?;
        let rows =
            headway_views::book_rows(store, &tenant.id, &build, window).map_err(view_error)?;
        Ok((build, window, headway_views::book(rows, &query)))
    })
    .await?;
    if csv {
        let mut response = book_csv(&page.accounts).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            "text/csv; charset=utf-8".parse().expect("a header"),
        );
        if let Some(next) = page.next.as_deref().and_then(|n| n.parse().ok()) {
            headers.insert("x-next-cursor", next);
        }
        return Ok(response);
    }
    Ok(Json(json!({
        "plugin": build.plugin,
        "as_of": build.last,
        "window_days": window,
        "matching": page.matching,
        "accounts": page.accounts,
        "next": page.next,
    }))
    .into_response())
}

/// The book as CSV: text cells made safe for spreadsheets.
fn book_csv(rows: &[AccountRow]) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let text = |s: &str| headway_core::spreadsheet_safe(s).into_owned();
    let _ = out.write_record([
        "account_id",
        "as_of",
        "score",
        "band",
        "arr",
        "segment",
        "renewal_date",
        "velocity",
        "direction",
        "next_milestone",
        "next_milestone_on",
    ]);
    let day = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    for r in rows {
        let _ = out.write_record([
            text(&r.account_id),
            r.as_of.to_string(),
            headway_pipeline::clean(r.score).to_string(),
            text(&r.band),
            headway_pipeline::clean(r.arr).to_string(),
            text(&r.segment),
            day(r.renewal_date),
            r.velocity
                .map(|v| headway_pipeline::clean(v).to_string())
                .unwrap_or_default(),
            r.direction
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            r.next_milestone.as_deref().map(text).unwrap_or_default(),
            day(r.next_milestone_on),
        ]);
    }
    out.into_inner().unwrap_or_default()
}

#[derive(Deserialize)]
pub(crate) struct AccountParams {
    build: Option<String>,
}

/// `GET /v1/tenants/{tenant}/accounts/{account}`: every snapshot and the
/// Success Vector, as `headway history --format json` prints them.
pub(crate) async fn get_account(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiPath((_, account)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<AccountParams>,
) -> Result<Response, ApiError> {
    let view = read_store(&app, authorized, move |store, tenant, loaded| {
        let (build, window) = chosen_build(store, tenant, loaded, params.build.as_deref())?;
        headway_views::account(store, &tenant.id, &account, &build, window).map_err(view_error)
    })
    .await?;
    Ok(Json(view).into_response())
}

#[derive(Deserialize)]
pub(crate) struct HorizonParams {
    /// `90d`, `12w` or days (default 90).
    horizon: Option<String>,
    build: Option<String>,
}

fn horizon(params: &HorizonParams) -> Result<i32, ApiError> {
    match params.horizon.as_deref() {
        None => Ok(90),
        Some(h) => headway_core::parse_days(h).ok_or_else(|| {
            ApiError::bad_request(format!("`horizon={h}`: expected days like 90d or 12w"))
        }),
    }
}

/// `GET /v1/tenants/{tenant}/forecast`: as `headway forecast --format json`.
pub(crate) async fn forecast(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(params): ApiQuery<HorizonParams>,
) -> Result<Response, ApiError> {
    let horizon = horizon(&params)?;
    let view = read_store(&app, authorized, move |store, tenant, loaded| {
        let (build, window) = chosen_build(store, tenant, loaded, params.build.as_deref())?;
        headway_views::forecast(store, &tenant.id, &build, window, horizon).map_err(view_error)
    })
    .await?;
    Ok(Json(view).into_response())
}

/// `GET /v1/tenants/{tenant}/backtest`: every stored build (or the one asked
/// for) judged against the uploaded ledger, as `headway backtest --format json`.
pub(crate) async fn backtest(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(params): ApiQuery<HorizonParams>,
) -> Result<Response, ApiError> {
    let horizon = horizon(&params)?;
    let results = read_store(&app, authorized, move |store, tenant, loaded| {
        let ledger = crate::revenue::ledger_of(store, tenant)?;
        let builds = match params.build.as_deref() {
            Some(b) => vec![
                headway_views::pick_build(store, &tenant.id, BuildChoice::Exactly(b))
                    .map_err(view_error)?,
            ],
            None => store.builds(&tenant.id).map_err(store_error)?,
        };
        if builds.is_empty() {
            return Err(view_error(ViewError::NoBuild {
                tenant: tenant.id.clone(),
                build: None,
            }));
        }
        let window = loaded.config.vector.window_days as i32;
        headway_views::backtests(store, &tenant.id, &builds, &ledger, horizon, window)
            .map_err(view_error)
    })
    .await?;
    Ok(Json(results).into_response())
}
