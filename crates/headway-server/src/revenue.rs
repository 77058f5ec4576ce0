//! The revenue side of a tenant: its ledger and survey answers uploaded once,
//! kept in the history store, and the retention metrics and backtests computed
//! from them, as `headway retention` computes them from files.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use headway_core::retention::{
    Ledger, PeriodKind, PeriodMetrics, RetentionQuery, parse_advocacy, parse_ledger, parse_surveys,
};
use headway_core::{Date, InputError};
use headway_store::{MAX_LOGGED_FAILURES, Recorded, SnapshotStore, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiQuery, App, Authorized, ErrorCode, read_body};
use crate::history::{blocking, history, read_store, store_error};
use crate::registry::Tenant;

/// The upload's text and whether it is CSV (`text/csv`) or JSON Lines.
async fn upload(app: &App, headers: &HeaderMap, body: Body) -> Result<(String, bool), ApiError> {
    let kind = crate::api::media_type(headers);
    let csv = match kind.as_deref() {
        Some("text/csv") => true,
        None | Some("application/x-ndjson" | "application/jsonl" | "application/json-lines") => {
            false
        }
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                format!("`{other}`: send text/csv or application/x-ndjson (JSON Lines)"),
            ));
        }
    };
    let bytes = read_body(body, app.limits).await?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok((text, csv))
}

/// 422 naming every bad row (the first 100 in full): nothing is stored from an
/// upload with a bad row, as `headway retention` computes nothing from one.
fn invalid_rows(errors: &[InputError]) -> ApiError {
    let listed = errors
        .iter()
        .map(|e| json!({"line": e.line, "field": e.field, "account_id": e.account_id, "message": e.message}))
        .collect();
    rows_refused(listed)
}

fn rows_refused(mut listed: Vec<Value>) -> ApiError {
    let count = listed.len();
    listed.truncate(MAX_LOGGED_FAILURES);
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRows,
        format!("{count} bad rows; nothing stored"),
    )
    .with_errors(Value::Array(listed))
}

fn stored(rows: usize, r: Recorded) -> Response {
    Json(json!({"rows": rows, "new": r.new, "changed": r.changed, "unchanged": r.unchanged}))
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct LedgerParams {
    /// The `arr` column holds monthly revenue.
    #[serde(default)]
    mrr: bool,
}

/// `PUT /v1/tenants/{tenant}/ledger`: adds or corrects ledger rows (keyed by
/// account and day); the same rows again change nothing.
pub(crate) async fn put_ledger(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(params): ApiQuery<LedgerParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let parse = move |text: &str, csv| {
        let rows =
            parse_ledger("request body", text, csv, params.mrr).map_err(|e| invalid_rows(&e))?;
        // Two rows for one account and day would make its revenue that day ambiguous.
        let mut seen = BTreeSet::new();
        let repeated: Vec<Value> = rows
            .iter()
            .filter(|r| !seen.insert((r.account_id.as_str(), r.date)))
            .map(|r| {
                json!({"line": null, "field": "date", "account_id": r.account_id,
                       "message": format!("a second row for account `{}` on {}", r.account_id, r.date)})
            })
            .collect();
        if repeated.is_empty() {
            Ok(rows)
        } else {
            Err(rows_refused(repeated))
        }
    };
    put_rows(
        &app,
        authorized,
        &headers,
        body,
        parse,
        |store, tenant, rows| store.put_ledger(tenant, rows),
    )
    .await
}

/// `PUT /v1/tenants/{tenant}/surveys`: adds or corrects survey answers (keyed
/// by account, day and survey).
pub(crate) async fn put_surveys(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let parse =
        |text: &str, csv| parse_surveys("request body", text, csv).map_err(|e| invalid_rows(&e));
    put_rows(
        &app,
        authorized,
        &headers,
        body,
        parse,
        |store, tenant, rows| store.put_surveys(tenant, rows),
    )
    .await
}

/// `PUT /v1/tenants/{tenant}/advocacy`: adds advocacy events (referrals,
/// reference calls, case studies, reviews); the same events again change nothing.
pub(crate) async fn put_advocacy(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let parse =
        |text: &str, csv| parse_advocacy("request body", text, csv).map_err(|e| invalid_rows(&e));
    put_rows(
        &app,
        authorized,
        &headers,
        body,
        parse,
        |store, tenant, rows| store.put_advocacy(tenant, rows),
    )
    .await
}

/// An upload: the token (checked by the extractor), then the body, parsed whole (a bad row refuses
/// all of it), then written in one transaction.
async fn put_rows<T: Send + 'static>(
    app: &App,
    Authorized { tenant, .. }: Authorized,
    headers: &HeaderMap,
    body: Body,
    parse: impl FnOnce(&str, bool) -> Result<Vec<T>, ApiError>,
    write: impl FnOnce(&mut dyn SnapshotStore, &str, &[T]) -> Result<Recorded, StoreError>
    + Send
    + 'static,
) -> Result<Response, ApiError> {
    let history = history(app)?;
    let (text, csv) = upload(app, headers, body).await?;
    let rows = parse(&text, csv)?;
    let rows_len = rows.len();
    let recorded = blocking(move || {
        let mut store = history.writer().map_err(store_error)?;
        write(&mut *store, &tenant.id, &rows).map_err(store_error)
    })
    .await?;
    Ok(stored(rows_len, recorded))
}

#[derive(Deserialize)]
pub(crate) struct RetentionParams {
    /// `month` (default), `quarter` or `year`.
    period: Option<String>,
    from: Option<Date>,
    to: Option<Date>,
    /// One row per segment and period.
    #[serde(default)]
    by_segment: bool,
    /// The signup-cohort matrix instead of periods.
    #[serde(default)]
    cohorts: bool,
}

/// `GET /v1/tenants/{tenant}/retention`: as `headway retention --format json`
/// over the uploaded ledger, surveys and advocacy events.
pub(crate) async fn retention(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiQuery(params): ApiQuery<RetentionParams>,
) -> Result<Response, ApiError> {
    let period = period_kind(params.period.as_deref())?;
    read_store(&app, authorized, move |store, tenant, _| {
        let ledger = ledger_of(store, tenant)?;
        if params.cohorts {
            let rows = headway_core::retention::cohorts_between(&ledger, params.from, params.to);
            return Ok(Json(rows).into_response());
        }
        let query = RetentionQuery {
            period,
            from: params.from,
            to: params.to,
            by_segment: params.by_segment,
        };
        Ok(Json(retention_of(store, tenant, &ledger, &query)?).into_response())
    })
    .await
}

/// `period=`: `month` (the default), `quarter` or `year`.
pub(crate) fn period_kind(period: Option<&str>) -> Result<PeriodKind, ApiError> {
    match period {
        None | Some("month") => Ok(PeriodKind::Month),
        Some("quarter") => Ok(PeriodKind::Quarter),
        Some("year") => Ok(PeriodKind::Year),
        Some(p) => Err(ApiError::bad_request(format!(
            "`period={p}`: expected month, quarter or year"
        ))),
    }
}

/// The tenant's uploaded ledger; 404 `no-ledger` before the first upload.
/// Retention metrics over `ledger` with the tenant's uploaded surveys and
/// advocacy events: what the API and the dashboard show.
pub(crate) fn retention_of(
    store: &dyn SnapshotStore,
    tenant: &Tenant,
    ledger: &Ledger,
    query: &RetentionQuery,
) -> Result<Vec<PeriodMetrics>, ApiError> {
    let surveys = store.surveys(&tenant.id).map_err(store_error)?;
    let advocacy = store.advocacy(&tenant.id).map_err(store_error)?;
    Ok(headway_core::retention::retention(
        ledger, &surveys, &advocacy, query,
    ))
}

pub(crate) fn ledger_of(store: &dyn SnapshotStore, tenant: &Tenant) -> Result<Ledger, ApiError> {
    let rows = store.ledger(&tenant.id).map_err(store_error)?;
    if rows.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NoLedger,
            "no revenue ledger yet: upload it with PUT .../ledger",
        ));
    }
    Ok(Ledger::new(rows))
}
