//! `GET /api/v1/search`: one search over docs pages and catalog entities, ranked, with marked snippets.

use axum::extract::{Extension, State};
use axum::routing::get;
use axum::{Json, Router};

use portolan_core::auth::RequestViewer;
use portolan_core::catalog::visibility;
use portolan_types::search::{SearchQuery, SearchResults};

use crate::ServerState;
use crate::api::require;
use crate::http::extract::ApiQuery;
use crate::http::{ApiError, ErrorEnvelope};

/// The search route.
pub fn router() -> Router<ServerState> {
    Router::new().route("/api/v1/search", get(search))
}

/// Pages (title and text) and entities (name, title, description) matching every word, partially; best first.
/// Entities in namespaces hidden from the caller are left out.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery), responses(
    (status = 200, description = "The results", body = SearchResults),
    (status = 400, description = "A parameter is wrong", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn search(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    let viewer = require(&viewer)?;
    let db = &state.app.db;
    let vis = visibility::for_viewer(db, &state.app.config, viewer)
        .await
        .map_err(|e| ApiError::internal("deciding visibility", e))?;
    portolan_core::search::search(db, &state.app.docs_cache.texts, &vis, &q)
        .await
        .map(Json)
        .map_err(|e| ApiError::internal("searching", e))
}
