//! Catalog HTTP routes: Portolan's own `/api/v1/entities` and `/api/v1/locations`, and the read endpoints of
//! Backstage's catalog API with Backstage's JSON shapes, so tools written for Backstage work unchanged.

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use portolan_core::auth::RequestViewer;
use portolan_core::catalog::{self, model::EntityRef, store};
use portolan_types::catalog::{EntityDetail, EntityPage, EntityQuery, LocationView};

use crate::ServerState;
use crate::api::require;
use crate::http::ApiError;

/// The catalog's routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/entities", get(list))
        .route("/api/v1/entities/by-ref/{kind}/{namespace}/{name}", get(by_ref))
        .route("/api/v1/locations", get(locations).post(register_location))
        .route("/api/catalog/entities/by-name/{kind}/{namespace}/{name}", get(backstage_by_name))
}

async fn list(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Query(query): Query<EntityQuery>,
) -> Result<Json<EntityPage>, ApiError> {
    require(&viewer)?;
    store::list(&state.app.db, &query).await.map(Json).map_err(|e| ApiError::internal("listing entities", e))
}

fn parse_ref(kind: &str, namespace: &str, name: &str) -> EntityRef {
    EntityRef::new(kind, namespace, name)
}

async fn by_ref(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<EntityDetail>, ApiError> {
    require(&viewer)?;
    let r = parse_ref(&kind, &namespace, &name);
    match store::detail(&state.app.db, &r).await {
        Ok(Some(d)) => Ok(Json(d)),
        Ok(None) => Err(ApiError::not_found(format!("no entity {r}"))),
        Err(e) => Err(ApiError::internal("loading an entity", e)),
    }
}

/// `GET /api/catalog/entities/by-name/{kind}/{namespace}/{name}`: Backstage's entity JSON, with `relations`.
async fn backstage_by_name(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    require(&viewer)?;
    let r = parse_ref(&kind, &namespace, &name);
    let row = match store::find(&state.app.db, &r).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            return Err(ApiError::not_found(format!(
                "No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            )));
        }
        Err(e) => return Err(ApiError::internal("loading an entity", e)),
    };
    store::backstage_json(&state.app.db, &row).await.map(Json).map_err(|e| ApiError::internal("loading relations", e))
}

async fn locations(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<Json<Vec<LocationView>>, ApiError> {
    require(&viewer)?;
    store::location_views(&state.app.db).await.map(Json).map_err(|e| ApiError::internal("listing locations", e))
}

/// `POST /api/v1/locations` body.
#[derive(Debug, Deserialize)]
struct RegisterLocation {
    /// A path on the server (file or directory) or a URL.
    target: String,
}

/// `POST /api/v1/locations`: registers a location and reads it at once. Administrators only until per-owner
/// permissions land.
async fn register_location(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Json(body): Json<RegisterLocation>,
) -> Result<impl IntoResponse, ApiError> {
    let who = require(&viewer)?;
    if !who.is_admin {
        return Err(ApiError::forbidden(
            "registering a location needs the catalog.location.create right (administrators)",
        ));
    }
    match catalog::import(&state.app.db, &body.target, &who.login).await {
        Ok((target, s)) => Ok((StatusCode::CREATED, Json(s.report(target)))),
        Err(catalog::ImportError::Target(m)) => Err(ApiError::bad_request(m)),
        Err(catalog::ImportError::Db(e)) => Err(ApiError::internal("importing a location", e)),
    }
}
