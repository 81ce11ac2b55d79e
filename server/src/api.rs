//! The versioned JSON API (`/api/v1/...`) and the operations endpoints (`/healthz`, `/readyz`, `/metrics`).
//!
//! Every page's data is also reachable here for scripts and other tools; authentication is the session cookie
//! or `Authorization: Bearer <token>`.

use axum::extract::{Extension, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use http::header::CONTENT_TYPE;
use serde::Serialize;

use portolan_core::auth::RequestViewer;
use portolan_types::Viewer;

use crate::ServerState;
use crate::http::extract::ApiPath;
use crate::http::{ApiError, ErrorEnvelope};

/// Routes under `/api/v1` plus the operations endpoints.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/me", get(me))
        .route("/api/v1/people/{login}", get(person))
        .route("/api/v1/{*rest}", axum::routing::any(api_not_found))
}

/// The signed-in viewer, or a 401 in the API's envelope.
pub fn require(viewer: &RequestViewer) -> Result<&Viewer, ApiError> {
    viewer.0.as_ref().ok_or_else(|| ApiError::unauthorized("sign in or send Authorization: Bearer <token>"))
}

/// `/healthz` and `/readyz` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "The process is up", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".to_owned(), database: None })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()), responses(
    (status = 200, description = "Ready to serve", body = Health),
    (status = 503, description = "The database is not reachable", body = ErrorEnvelope)))]
pub(crate) async fn readyz(State(state): State<ServerState>) -> Result<impl IntoResponse, ApiError> {
    match state.app.db.ping().await {
        Ok(()) => Ok(Json(Health {
            status: "ok".to_owned(),
            database: Some(portolan_core::db::backend_name(&state.app.db).to_owned()),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            Err(ApiError::unavailable("the database is not reachable"))
        }
    }
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<ServerState>) -> impl IntoResponse {
    let db = &state.app.db;
    let mut body = state.metrics.render(portolan_core::db::pool_stats(db), portolan_core::db::backend_name(db));
    state.health_metrics.render(&mut body);
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

/// Who the request acts for.
#[utoipa::path(get, path = "/api/v1/me", tag = "people", responses(
    (status = 200, description = "The person or token the request acts for", body = Viewer),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn me(Extension(viewer): Extension<RequestViewer>) -> Result<Json<Viewer>, ApiError> {
    Ok(Json(require(&viewer)?.clone()))
}

/// A person with their organisations and teams.
#[utoipa::path(get, path = "/api/v1/people/{login}", tag = "people",
    params(("login" = String, Path, description = "GitHub login", example = "admin")),
    responses(
        (status = 200, description = "The person", body = portolan_types::PersonView),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 404, description = "Nobody by that login has signed in", body = ErrorEnvelope)))]
pub(crate) async fn person(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(login): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    require(&viewer)?;
    match portolan_core::auth::person(&state.app.db, &login).await {
        Ok(Some(p)) => Ok(Json(p)),
        Ok(None) => Err(ApiError::not_found(format!("nobody called {login}"))),
        Err(e) => Err(ApiError::internal("loading a person", e)),
    }
}

pub(crate) async fn api_not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}
