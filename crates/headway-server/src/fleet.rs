//! The routes of a fleet (servers sharing one PostgreSQL store): a build
//! published once serves on every server.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headway_store::{PgStore, Publication, SharedStore};
use serde_json::json;

use crate::api::{ApiError, App, Authorized, ErrorCode, RequestLimits, read_body};
use crate::history::{blocking, store_error};

/// The fleet's store, or why this server has none. Checked before any work
/// (without connecting: this runs on the async threads).
fn fleet(app: &App) -> Result<Arc<SharedStore>, ApiError> {
    app.history
        .clone()
        .filter(|store| store.location().file().is_none())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotInFleet,
                "this server shares no fleet database: start it with --store postgres://...",
            )
        })
}

/// The catalog of published builds on a pooled connection. Blocking.
fn catalog(store: &SharedStore) -> Result<PgStore, ApiError> {
    store
        .catalog()
        .map_err(store_error)?
        .ok_or_else(|| ApiError::internal("a fleet store without a catalog"))
}

/// `PUT /v1/tenants/{tenant}/plugin`: checks the component as a reload would
/// (contract, imports, describe, the tenant's fixtures), keeps it by digest and
/// makes it the tenant's build on every server of the fleet.
pub(crate) async fn put_plugin(
    State(app): State<Arc<App>>,
    Authorized { tenant, caller, .. }: Authorized,
    body: Body,
) -> Result<Response, ApiError> {
    let store = fleet(&app)?;
    let limits = RequestLimits {
        max_body_bytes: usize::try_from(app.registry.max_plugin_bytes()).unwrap_or(usize::MAX),
        ..app.limits
    };
    let component = read_body(body, limits).await?;
    let app = Arc::clone(&app);
    let activation = blocking(move || {
        let plugin = app
            .registry
            .check_candidate(&tenant.id, &component)
            .map_err(|reason| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::BuildRefused,
                    reason,
                )
            })?;
        let built = plugin.plugin_ref();
        let activation = catalog(&store)?
            .publish(
                &tenant.id,
                &Publication {
                    component: &component,
                    digest: &built.digest,
                    name: &built.name,
                    version: &built.version,
                    by: caller.as_str(),
                },
            )
            .map_err(store_error)?;
        // Here at once; the other servers when they hear of it.
        app.registry.reconcile();
        Ok(activation)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "activated": activation })),
    )
        .into_response())
}

/// `GET /v1/tenants/{tenant}/plugin/activations`: the builds published and
/// rolled back to, newest first.
pub(crate) async fn activations(
    State(app): State<Arc<App>>,
    Authorized { tenant, .. }: Authorized,
) -> Result<Response, ApiError> {
    let store = fleet(&app)?;
    let log = blocking(move || {
        catalog(&store)?
            .activations(&tenant.id, 100)
            .map_err(store_error)
    })
    .await?;
    Ok(Json(json!(log)).into_response())
}
