//! The HTTP API: routes, bearer-token checks, JSON errors with a stable `code`.
//! `docs/openapi.json` documents it; a test keeps the two in step via
//! [`route_table`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, RawPathParams, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Json, Router};
use headway_core::{Date, InputDefaults};
use headway_pipeline::{
    DecisionContext, DecisionError, DecisionOutcome, InputRecord, OutputFormat, REQUEST_ACCOUNT,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::fleet;
use crate::history;
use crate::metrics::HttpMetrics;
use crate::overrides;
use crate::registry::{
    BuildStatus, Loaded, Registry, ReloadEvent, RollbackError, Tenant, TenantStatus,
};
use crate::revenue;
use headway_store::{DecisionInput, SharedStore};

/// How long a scoring request waits for one of its tenant's slots.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// What every route shares.
pub struct App {
    /// The tenants.
    pub registry: Arc<Registry>,
    /// What one request may take.
    pub limits: RequestLimits,
    /// The server's own counters.
    pub http: Arc<HttpMetrics>,
    /// The history store, when the server keeps one.
    pub history: Option<Arc<SharedStore>>,
    /// The most a recorded run's body may send.
    pub max_run_bytes: u64,
    /// SHA-256 of the operator's token, which opens every tenant.
    pub operator_token_sha256: Option<[u8; 32]>,
}

/// More header fields than this in one request: 431.
pub const MAX_HEADERS: usize = 100;
/// More header bytes (names and values) than this in one request: 431.
pub const MAX_HEADER_BYTES: usize = 32 << 10;
/// A longer request target (path and query) than this: 414.
pub const MAX_URI_BYTES: usize = 8 << 10;

/// What one request may take.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Largest body, in bytes (413 past it).
    pub max_body_bytes: usize,
    /// How long a client may take to send the body (408 past it).
    pub body_timeout: Duration,
}

/// Every route of the API: the router is built from this table, and the test
/// of `docs/openapi.json` reads it, so no route is served undocumented.
fn routes() -> Vec<(Method, &'static str, MethodRouter<Arc<App>>)> {
    use Method as M;
    vec![
        on(M::GET, "/healthz", healthz),
        on(M::GET, "/metrics", metrics),
        on(M::POST, "/v1/tenants/{tenant}/score", score),
        on(M::GET, "/v1/tenants/{tenant}/describe", describe),
        on(M::GET, "/v1/tenants/{tenant}/status", status),
        on(M::GET, "/v1/tenants/{tenant}/reloads", reloads),
        on(M::POST, "/v1/tenants/{tenant}/rollback", rollback),
        on(M::PUT, "/v1/tenants/{tenant}/plugin", fleet::put_plugin),
        on(
            M::GET,
            "/v1/tenants/{tenant}/plugin/activations",
            fleet::activations,
        ),
        on(M::POST, "/v1/tenants/{tenant}/runs", history::record_run),
        on(M::GET, "/v1/tenants/{tenant}/runs", history::list_runs),
        on(M::GET, "/v1/tenants/{tenant}/runs/{run}", history::get_run),
        on(
            M::GET,
            "/v1/tenants/{tenant}/decisions",
            history::list_decisions,
        ),
        on(M::GET, "/v1/tenants/{tenant}/alerts", history::list_alerts),
        on(
            M::GET,
            "/v1/tenants/{tenant}/accounts",
            history::list_accounts,
        ),
        on(
            M::GET,
            "/v1/tenants/{tenant}/accounts/{account}",
            history::get_account,
        ),
        on(
            M::POST,
            "/v1/tenants/{tenant}/accounts/{account}/overrides",
            overrides::change_override,
        ),
        on(
            M::GET,
            "/v1/tenants/{tenant}/accounts/{account}/overrides",
            overrides::list_overrides,
        ),
        on(M::GET, "/v1/tenants/{tenant}/forecast", history::forecast),
        on(M::GET, "/v1/tenants/{tenant}/backtest", history::backtest),
        on(M::GET, "/v1/tenants/{tenant}/retention", revenue::retention),
        on(M::PUT, "/v1/tenants/{tenant}/ledger", revenue::put_ledger),
        on(M::PUT, "/v1/tenants/{tenant}/surveys", revenue::put_surveys),
        on(
            M::PUT,
            "/v1/tenants/{tenant}/advocacy",
            revenue::put_advocacy,
        ),
    ]
}

/// One row of the table: the method is said once, and routes by it.
fn on<H: Handler<X, Arc<App>>, X: 'static>(
    method: Method,
    path: &'static str,
    handler: H,
) -> (Method, &'static str, MethodRouter<Arc<App>>) {
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    (method, path, axum::routing::on(filter, handler))
}

/// Every route as `(method, path)`, in the order of the table.
pub fn route_table() -> Vec<(String, &'static str)> {
    routes()
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), path))
        .collect()
}

/// The API. `/metrics` is among its routes unless `metrics_elsewhere` (then
/// [`metrics_router`] serves it on an internal address).
pub fn router(app: Arc<App>, metrics_elsewhere: bool) -> Router {
    served(app, |path| !(metrics_elsewhere && path == "/metrics"))
}

/// `/metrics` and `/healthz` alone, for an address only the operator's
/// monitoring reaches: the metrics name every tenant, plugin and digest.
pub fn metrics_router(app: Arc<App>) -> Router {
    served(app, |path| path == "/metrics" || path == "/healthz")
}

/// The routes whose path `keep` accepts, with the JSON fallbacks and the guard.
fn served(app: Arc<App>, keep: impl Fn(&str) -> bool) -> Router {
    let mut router = Router::new();
    for (_, path, handler) in routes() {
        if keep(path) {
            // Routes sharing a path merge into one, each answering its method.
            router = router.route(path, handler);
        }
    }
    router
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "this route does not take that method",
            )
        })
        .merge(if keep("/ui") {
            crate::dashboard::router()
        } else {
            Router::new()
        })
        .layer(middleware::from_fn_with_state(Arc::clone(&app.http), guard))
        .with_state(app)
}

/// Before any route: refuses oversized heads with a JSON error (hyper's own
/// limits sit higher and only catch what would not fit its buffer), and counts
/// every answer by status.
async fn guard(State(http): State<Arc<HttpMetrics>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let response = if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::HeadersTooLarge,
            format!(
                "{} header fields of {header_bytes} bytes; at most {MAX_HEADERS} fields of \
                 {MAX_HEADER_BYTES} bytes in all",
                headers.len()
            ),
        )
        .into_response()
    } else if uri_bytes > MAX_URI_BYTES {
        ApiError::new(
            StatusCode::URI_TOO_LONG,
            ErrorCode::UriTooLong,
            format!("the request target is {uri_bytes} bytes, at most {MAX_URI_BYTES}"),
        )
        .into_response()
    } else {
        next.run(request).await
    };
    http.response(response.status().as_u16());
    response
}

/// `Path`, refused with the API's JSON error (axum's own is plain text).
pub(crate) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Self(t))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// `Query`, refused with the API's JSON error.
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Self(t))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Whether reading a body failed on the size limit.
fn is_too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// The stable `code` of every error answer; `docs/openapi.json` lists exactly
/// these (a test keeps the two in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No bearer token.
    Unauthorized,
    /// The token does not give access to this tenant.
    Forbidden,
    /// The request cannot be read.
    BadRequest,
    /// The body is over its limit.
    PayloadTooLarge,
    /// More accounts than one request may hold.
    TooManyAccounts,
    /// The body did not arrive in time.
    RequestTimeout,
    /// The tenant's slots are busy.
    TooManyRequests,
    /// Shutting down.
    Unavailable,
    /// Nothing to roll back to.
    NoPreviousVersion,
    /// No such route or resource.
    NotFound,
    /// The route does not take that method.
    MethodNotAllowed,
    /// The server failed.
    Internal,
    /// Too many or too large header fields.
    HeadersTooLarge,
    /// The request target is too long.
    UriTooLong,
    /// The server keeps no history.
    NoStore,
    /// The tenant has uploaded no ledger.
    NoLedger,
    /// An upload with bad rows.
    InvalidRows,
    /// A body type the route does not take.
    UnsupportedMediaType,
    /// The server shares no fleet database.
    NotInFleet,
    /// A published build failed the gate every reload passes.
    BuildRefused,
    /// An override that cannot be set as asked.
    InvalidOverride,
    /// The decision log cannot be written and the tenant fails such scorings.
    DecisionLogFailed,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [Self; 22] = [
        Self::Unauthorized,
        Self::Forbidden,
        Self::BadRequest,
        Self::PayloadTooLarge,
        Self::TooManyAccounts,
        Self::RequestTimeout,
        Self::TooManyRequests,
        Self::Unavailable,
        Self::NoPreviousVersion,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Internal,
        Self::HeadersTooLarge,
        Self::UriTooLong,
        Self::NoStore,
        Self::NoLedger,
        Self::InvalidRows,
        Self::UnsupportedMediaType,
        Self::NotInFleet,
        Self::BuildRefused,
        Self::InvalidOverride,
        Self::DecisionLogFailed,
    ];

    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::BadRequest => "bad-request",
            Self::PayloadTooLarge => "payload-too-large",
            Self::TooManyAccounts => "too-many-accounts",
            Self::RequestTimeout => "request-timeout",
            Self::TooManyRequests => "too-many-requests",
            Self::Unavailable => "unavailable",
            Self::NoPreviousVersion => "no-previous-version",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Internal => "internal",
            Self::HeadersTooLarge => "headers-too-large",
            Self::UriTooLong => "uri-too-long",
            Self::NoStore => "no-store",
            Self::NoLedger => "no-ledger",
            Self::InvalidRows => "invalid-rows",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::NotInFleet => "not-in-fleet",
            Self::BuildRefused => "build-refused",
            Self::InvalidOverride => "invalid-override",
            Self::DecisionLogFailed => "decision-log-failed",
        }
    }
}

/// An error response: `{"code": "...", "message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    /// What each bad row of an upload was (`errors` in the answer).
    errors: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: None,
        }
    }

    /// The status it answers with.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The message alone.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// The error with a list of what was wrong, row by row.
    pub(crate) fn with_errors(mut self, errors: Value) -> Self {
        self.errors = Some(errors);
        self
    }

    /// The same answer for a wrong token, an unknown tenant and a tenant without
    /// a token: a caller learns nothing about tenants it may not see.
    pub(crate) fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this token does not give access to this tenant",
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            message,
        )
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "shutting down",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code.as_str(), "message": self.message});
        if let Some(errors) = self.errors {
            body["errors"] = errors;
        }
        (self.status, Json(body)).into_response()
    }
}

/// Who a request is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The tenant's own token.
    Tenant,
    /// The operator's token, which opens every tenant.
    Operator,
}

impl Caller {
    /// As activation logs name it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "api: tenant token",
            Self::Operator => "api: operator token",
        }
    }
}

/// The tenant and its current build, if `headers` carry the tenant's token or
/// the operator's.
fn authorize(app: &App, id: &str, headers: &HeaderMap) -> Result<Authorized, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "send the tenant's token as `Authorization: Bearer <token>`",
            )
        })?;
    authorize_token(app, id, token)
}

/// The tenant `id` and its current build, if `token` is its token or the
/// operator's.
pub(crate) fn authorize_token(app: &App, id: &str, token: &str) -> Result<Authorized, ApiError> {
    let tenant = app.registry.tenant(id).ok_or_else(ApiError::forbidden)?;
    let loaded = tenant.current().ok_or_else(ApiError::forbidden)?;
    let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    // Compared in constant time: how long it takes says nothing of the hash.
    let matches =
        |expected: Option<[u8; 32]>| expected.is_some_and(|e| bool::from(e.ct_eq(&given)));
    let caller = if matches(app.operator_token_sha256) {
        Caller::Operator
    } else if matches(loaded.token_sha256) {
        Caller::Tenant
    } else {
        return Err(ApiError::forbidden());
    };
    let f = Sha256::digest(given);
    Ok(Authorized {
        tenant,
        loaded,
        caller,
        token: format!("sha256:{:02x}{:02x}{:02x}{:02x}", f[0], f[1], f[2], f[3]),
    })
}

/// The tenant of the path's `{tenant}` and its build, when the request carries
/// that tenant's token. Every tenant route takes one, before any other
/// argument that reads the request, so nothing of a body is read for a caller
/// without the token.
pub(crate) struct Authorized {
    /// The tenant.
    pub tenant: Arc<Tenant>,
    /// The build serving it now; the request keeps it until it is done.
    pub loaded: Arc<Loaded>,
    /// Whose token it was.
    pub caller: Caller,
    /// Which token: `sha256:` and 8 hex digits of its hash's hash (the
    /// stored hash itself never leaves the server).
    pub token: String,
}

impl Authorized {
    /// Who asked, as the decision log names them:
    /// `api: tenant token sha256:1a2b3c4d`.
    pub(crate) fn who(&self) -> String {
        format!("{} {}", self.caller.as_str(), self.token)
    }
}

impl FromRequestParts<Arc<App>> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let id = params
            .iter()
            .find(|(name, _)| *name == "tenant")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(ApiError::forbidden)?;
        authorize(app, &id, &parts.headers)
    }
}

async fn healthz(State(app): State<Arc<App>>) -> Json<Value> {
    let tenants = app.registry.tenants();
    let serving = tenants.values().filter(|t| t.current().is_some()).count();
    Json(json!({"status": "ok", "tenants": tenants.len(), "serving": serving}))
}

async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(&app.registry, &app.http),
    )
}

#[derive(Deserialize)]
struct ScoreQuery {
    /// As-of day for accounts that have none.
    as_of: Option<Date>,
}

async fn score(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    query: Result<Query<ScoreQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let caller = authorized.who();
    let Authorized { tenant, loaded, .. } = authorized;
    let outcome = match query {
        Ok(Query(query)) => score_authorized(&app, &tenant, loaded, query, body, caller).await,
        Err(e) => Err(ApiError::bad_request(e.body_text())),
    };
    let label = match &outcome {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    };
    tenant.metrics.request(label, started.elapsed());
    outcome
}

/// The body's media type, lowercase, without parameters (`text/csv`).
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let kind = value.split(';').next().unwrap_or("");
    Some(kind.trim().to_ascii_lowercase())
}

/// Reads a whole request body within the size limit and the body timeout.
pub(crate) async fn read_body(body: Body, limits: RequestLimits) -> Result<Bytes, ApiError> {
    let read = tokio::time::timeout(
        limits.body_timeout,
        axum::body::to_bytes(body, limits.max_body_bytes),
    );
    match read.await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RequestTimeout,
            format!(
                "the body did not arrive within {} ms",
                limits.body_timeout.as_millis()
            ),
        )),
        Ok(Err(e)) if is_too_large(&e) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!(
                "the body is over the {} bytes allowed",
                limits.max_body_bytes
            ),
        )),
        Ok(Err(e)) => Err(ApiError::bad_request(format!("cannot read the body: {e}"))),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// One of the tenant's `[api] max_concurrent` slots, waiting at most
/// [`QUEUE_WAIT`] for it.
pub(crate) async fn tenant_slot<'t>(
    tenant: &'t Tenant,
    loaded: &Loaded,
) -> Result<tokio::sync::SemaphorePermit<'t>, ApiError> {
    tokio::time::timeout(QUEUE_WAIT, tenant.permits.acquire())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                format!(
                    "the tenant's {} concurrent requests are busy; retry shortly",
                    loaded.config.api.max_concurrent
                ),
            )
        })?
        .map_err(|_| ApiError::unavailable())
}

/// Accounts one scoring request may hold; a book is a run, not a request.
pub const MAX_ACCOUNTS_PER_REQUEST: usize = 10_000;

async fn score_authorized(
    app: &App,
    tenant: &Arc<Tenant>,
    loaded: Arc<Loaded>,
    query: ScoreQuery,
    body: Body,
    caller: String,
) -> Result<Response, ApiError> {
    let registry = &app.registry;
    let body = read_body(body, app.limits).await?;
    // The tenant's slot before parsing: a parsed body is ten times its bytes,
    // and only requests that may run now should hold one.
    let permit = tenant_slot(tenant, &loaded).await?;
    let (items, single) =
        headway_pipeline::request_accounts(&body).map_err(ApiError::bad_request)?;
    // Kept for the decision log (digested and compressed off the async
    // threads), or let go now: the parsed accounts are what scoring reads.
    let logged_body = app.history.clone().map(|history| (history, body));
    if items.is_empty() {
        return Err(ApiError::bad_request("no accounts in the request"));
    }
    if items.len() > MAX_ACCOUNTS_PER_REQUEST {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyAccounts,
            format!(
                "{} accounts in one request, at most {MAX_ACCOUNTS_PER_REQUEST}: split the book",
                items.len()
            ),
        ));
    }
    // Then a slot of the engine's instance pool, shared by every tenant.
    let engine_permit = registry
        .engine_permits
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable())?;
    let defaults = InputDefaults { as_of: query.as_of };
    let context = DecisionContext {
        tenant: tenant.id.clone(),
        caller,
        source: "request body".to_owned(),
        input: DecisionInput::Request,
        as_of_default: query.as_of,
        at: headway_store::now(),
    };
    let runner = Arc::clone(tenant);
    let run = tokio::task::spawn_blocking(move || {
        let logged_input = logged_body.map(|(history, body)| {
            (
                history,
                InputRecord::of(&body, loaded.config.history.keep_inputs),
            )
        });
        let chunk = headway_pipeline::score_values(
            REQUEST_ACCOUNT,
            items,
            &loaded.plugin,
            &defaults,
            OutputFormat::JsonLines,
        );
        let logged = match logged_input {
            Some((history, input)) => {
                let outcome = DecisionOutcome {
                    input,
                    output_digest: headway_pipeline::sha256(&chunk.rendered),
                    records: chunk.len(),
                    failed: chunk.failed(),
                    run: None,
                };
                let logged = history
                    .writer()
                    .map_err(DecisionError::from)
                    .and_then(|mut store| {
                        let mask = loaded.config.history.mask();
                        headway_pipeline::log_decision(
                            &mut *store,
                            &loaded.plugin,
                            context,
                            outcome,
                            &mask,
                        )
                    });
                crate::history::decision_logged(
                    logged,
                    &runner,
                    &loaded,
                    "the accounts were scored, but",
                )
            }
            None => Ok(()),
        };
        (chunk, loaded, logged)
    })
    .await;
    drop((engine_permit, permit));
    let (chunk, loaded, logged) = run.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            format!("scoring task failed: {e}"),
        )
    })?;
    let metrics = &tenant.metrics;
    metrics.assessments.inc_by(chunk.len() as u64);
    metrics.failures.inc_by(chunk.failed() as u64);
    metrics.fuel.inc_by(chunk.fuel_used);
    logged?;
    // The records as the CLI writes them: one JSON object per line, joined.
    let records = chunk
        .rendered
        .strip_suffix(b"\n")
        .unwrap_or(&chunk.rendered);
    let body = if single {
        records.to_vec()
    } else {
        let mut body = serde_json::to_vec(&json!({
            "plugin": loaded.plugin.plugin_ref(),
            "instructions": chunk.fuel_used,
        }))
        .expect("a JSON value serialises");
        body.pop(); // the closing brace: the results follow
        body.extend_from_slice(b",\"results\":[");
        for (i, record) in records.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(record);
        }
        body.extend_from_slice(b"]}");
        body
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn describe(Authorized { tenant, loaded, .. }: Authorized) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({
        "tenant": tenant.id,
        "name": loaded.config.name,
        "plugin": loaded.plugin.plugin_ref(),
        "contract": loaded.plugin.contract().to_string(),
        "info": loaded.plugin.info(),
    })))
}

async fn status(
    State(app): State<Arc<App>>,
    Authorized { tenant, .. }: Authorized,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(redacted_status(&app, &tenant))))
}

/// The tenant's status as callers see it: errors without the server's paths.
pub(crate) fn redacted_status(app: &App, tenant: &Tenant) -> TenantStatus {
    let mut status = tenant.status();
    status.last_reload_error = status.last_reload_error.map(|e| app.registry.redact(&e));
    status
}

async fn reloads(
    State(app): State<Arc<App>>,
    Authorized { tenant, .. }: Authorized,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(redacted_reloads(&app, &tenant))))
}

/// The tenant's reloads, oldest first, errors without the server's paths.
pub(crate) fn redacted_reloads(app: &App, tenant: &Tenant) -> Vec<ReloadEvent> {
    let mut events = tenant.reloads();
    for e in &mut events {
        e.error = e.error.as_deref().map(|m| app.registry.redact(m));
    }
    events
}

async fn rollback(
    State(app): State<Arc<App>>,
    Authorized { tenant, caller, .. }: Authorized,
) -> Result<Json<Value>, ApiError> {
    let build = roll_back(&app, &tenant, caller).await?;
    Ok(Json(json!({"serving": build})))
}

/// Serves the tenant's previous build again (the API's and the dashboard's
/// rollback).
pub(crate) async fn roll_back(
    app: &App,
    tenant: &Tenant,
    caller: Caller,
) -> Result<BuildStatus, ApiError> {
    let registry = Arc::clone(&app.registry);
    let id = tenant.id.clone();
    let done = tokio::task::spawn_blocking(move || registry.rollback(&id, caller.as_str()))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                e.to_string(),
            )
        })?;
    done.map_err(|e| match e {
        // Authorised a moment ago: the tenant's folder went away since.
        RollbackError::NoTenant => ApiError::forbidden(),
        RollbackError::NoPrevious => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoPreviousVersion,
            e.to_string(),
        ),
        RollbackError::Fleet(reason) => {
            tracing::error!("rollback: {reason}");
            ApiError::internal("the fleet database failed; the operator's log has the details")
        }
    })
}
