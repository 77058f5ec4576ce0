//! A CSM's overrides of one account, set, cleared and listed through the
//! views `headway override` uses.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use headway_core::Date;
use headway_core::overrides::{Setting, Target};
use headway_views::OverrideRequest;
use serde::Deserialize;

use crate::api::{ApiError, ApiPath, App, Authorized, read_body};
use crate::history::{blocking, history, read_store, store_error, view_error};

/// `{"factor": "adoption", "score": 80, ...}`, `{"band": "green", ...}` or
/// `{"clear": "factor:adoption" | "band", ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    factor: Option<String>,
    score: Option<f64>,
    band: Option<String>,
    clear: Option<Target>,
    from: Option<Date>,
    until: Option<Date>,
    author: String,
    reason: String,
}

impl OverrideBody {
    fn into_request(self, account_id: String) -> Result<OverrideRequest, ApiError> {
        let bad = |m: &str| Err(ApiError::bad_request(m));
        let (target, value) = match (self.factor, self.score, self.band, self.clear) {
            (Some(id), Some(score), None, None) => {
                (Target::Factor(id), Some(Setting::Score(score)))
            }
            (Some(_), None, None, None) => return bad("`factor` needs a `score` (0-100)"),
            (None, Some(_), None, None) => return bad("`score` needs the `factor` it sets"),
            (None, None, Some(band), None) => (Target::Band, Some(Setting::Band(band))),
            (None, None, None, Some(target)) => {
                if self.from.is_some() || self.until.is_some() {
                    return bad("`clear` takes no `from` or `until`");
                }
                (target, None)
            }
            _ => return bad("give one of `factor` (with `score`), `band` or `clear`"),
        };
        Ok(OverrideRequest {
            account_id,
            target,
            value,
            from: self.from,
            until: self.until,
            author: self.author,
            reason: self.reason,
        })
    }
}

/// `POST /v1/tenants/{tenant}/accounts/{account}/overrides`: sets or clears
/// one override, checked against the build serving; answers the change as the
/// audit trail keeps it.
pub(crate) async fn change_override(
    State(app): State<Arc<App>>,
    Authorized { tenant, loaded, .. }: Authorized,
    ApiPath((_, account)): ApiPath<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let history = history(&app)?;
    let bytes = read_body(body, app.limits).await?;
    let request = serde_json::from_slice::<OverrideBody>(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the override: {e}")))?
        .into_request(account)?;
    let at = headway_store::now();
    let change = blocking(move || {
        let mut store = history.writer().map_err(store_error)?;
        headway_views::change_override(&mut *store, &tenant.id, loaded.plugin.info(), request, at)
            .map_err(view_error)
    })
    .await?;
    Ok(Json(change).into_response())
}

/// `GET /v1/tenants/{tenant}/accounts/{account}/overrides`: the account's
/// overrides and every change to them, as `headway override` prints them.
pub(crate) async fn list_overrides(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    ApiPath((_, account)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let view = read_store(&app, authorized, move |store, tenant, _| {
        headway_views::overrides(store, &tenant.id, &account).map_err(view_error)
    })
    .await?;
    Ok(Json(view).into_response())
}
