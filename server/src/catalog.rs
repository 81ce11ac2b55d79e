//! Catalog HTTP routes: Portolan's own `/api/v1/entities` and `/api/v1/locations`, and the read endpoints of
//! Backstage's catalog API with Backstage's JSON shapes, so tools written for Backstage work unchanged.

use axum::extract::{Extension, Path, Query, RawQuery, State};
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
        .route("/api/v1/entities/by-ref/{kind}/{namespace}/{name}/graph", get(graph))
        .route("/api/v1/locations", get(locations).post(register_location))
        .route("/api/catalog/entities/by-name/{kind}/{namespace}/{name}", get(backstage_by_name))
        .route("/api/catalog/entities/by-query", get(backstage_by_query))
        .route("/api/catalog/entity-facets", get(backstage_facets))
}

/// `GET /api/v1/entities`: filters, search, sorting, cursor paging and `fields` selection.
async fn list(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Query(query): Query<EntityQuery>,
) -> Result<Json<Value>, ApiError> {
    require(&viewer)?;
    let page: EntityPage =
        store::list(&state.app.db, &query).await.map_err(|e| ApiError::internal("listing entities", e))?;
    let mut value = serde_json::to_value(&page).map_err(|e| ApiError::internal("encoding entities", e))?;
    if let Some(fields) = query.fields.as_deref().filter(|f| !f.trim().is_empty()) {
        let wanted: Vec<&str> = fields.split(',').map(str::trim).filter(|f| !f.is_empty()).collect();
        let known = [
            "entity_ref",
            "kind",
            "namespace",
            "name",
            "title",
            "description",
            "spec_type",
            "lifecycle",
            "owner_ref",
            "system_ref",
            "tags",
            "orphan",
            "managed_by",
        ];
        if let Some(bad) = wanted.iter().find(|f| !known.contains(f)) {
            return Err(ApiError::bad_request(format!("unknown field `{bad}`; known: {}", known.join(", "))));
        }
        if let Some(items) = value.get_mut("items").and_then(Value::as_array_mut) {
            for item in items {
                if let Some(obj) = item.as_object_mut() {
                    obj.retain(|k, _| wanted.contains(&k.as_str()));
                }
            }
        }
    }
    Ok(Json(value))
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

/// `?depth=1..3&relations=<preset>` of the graph endpoint.
#[derive(Debug, Deserialize)]
struct GraphQuery {
    depth: Option<usize>,
    relations: Option<String>,
}

/// `GET /api/v1/entities/by-ref/{kind}/{namespace}/{name}/graph`: the relation graph with node positions.
async fn graph(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    Query(q): Query<GraphQuery>,
) -> Result<Json<portolan_types::catalog::GraphView>, ApiError> {
    use portolan_core::catalog::relations::RelationType;
    require(&viewer)?;
    let r = parse_ref(&kind, &namespace, &name);
    match store::find(&state.app.db, &r).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(ApiError::not_found(format!("no entity {r}"))),
        Err(e) => return Err(ApiError::internal("loading an entity", e)),
    }
    let preset = q.relations.unwrap_or_default();
    if !preset.is_empty() && !portolan_types::catalog::GRAPH_PRESETS.iter().any(|(v, _, _)| *v == preset) {
        return Err(ApiError::bad_request(
            "relations must be one of ownership, structure, dependencies, apis, membership",
        ));
    }
    let types: Vec<RelationType> =
        portolan_types::catalog::graph_preset(&preset).iter().filter_map(|n| RelationType::parse(n)).collect();
    store::graph(&state.app.db, &r, q.depth.unwrap_or(1), &types)
        .await
        .map(Json)
        .map_err(|e| ApiError::internal("drawing the relation graph", e))
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
    crate::access::authorize(
        &state,
        who,
        portolan_core::access::Action::CatalogLocationCreate,
        &portolan_core::access::Target::global(),
    )
    .await?;
    match catalog::import(&state.app, &body.target, &who.login).await {
        Ok((target, s)) => Ok((StatusCode::CREATED, Json(s.report(target)))),
        Err(catalog::ImportError::Target(m)) => Err(ApiError::bad_request(m)),
        Err(catalog::ImportError::Db(e)) => Err(ApiError::internal("importing a location", e)),
    }
}

/// Query parameters as (name, value) pairs, repeated names kept (Backstage repeats `filter` and `facet`).
fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn all_named(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

fn first_named<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `GET /api/catalog/entities/by-query`: Backstage's paged query, `{items, totalItems, pageInfo}`.
async fn backstage_by_query(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    require(&viewer)?;
    let pairs = query_pairs(raw);
    let filters = store::parse_filters(&all_named(&pairs, "filter"));
    let limit = match first_named(&pairs, "limit") {
        Some(l) => l.parse::<u64>().map_err(|_| ApiError::bad_request("limit must be a positive number"))?,
        None => 20,
    };
    let page = store::by_query(
        &state.app.db,
        &filters,
        first_named(&pairs, "fullTextFilterTerm"),
        first_named(&pairs, "orderField"),
        limit,
        first_named(&pairs, "cursor"),
    )
    .await
    .map_err(|e| ApiError::internal("querying entities", e))?
    .map_err(ApiError::bad_request)?;
    let mut items = Vec::with_capacity(page.rows.len());
    for row in &page.rows {
        items.push(
            store::backstage_json(&state.app.db, row).await.map_err(|e| ApiError::internal("loading relations", e))?,
        );
    }
    let mut page_info = serde_json::Map::new();
    if let Some(c) = page.next_cursor {
        page_info.insert("nextCursor".into(), Value::String(c));
    }
    if let Some(c) = page.prev_cursor {
        page_info.insert("prevCursor".into(), Value::String(c));
    }
    Ok(Json(serde_json::json!({ "items": items, "totalItems": page.total, "pageInfo": page_info })))
}

/// `GET /api/catalog/entity-facets?facet=kind&facet=spec.type`: `{facets: {kind: [{value, count}]}}`.
async fn backstage_facets(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    require(&viewer)?;
    let pairs = query_pairs(raw);
    let facet_names = all_named(&pairs, "facet");
    if facet_names.is_empty() {
        return Err(ApiError::bad_request("give at least one facet, e.g. ?facet=kind"));
    }
    let filters = store::parse_filters(&all_named(&pairs, "filter"));
    let facets = store::facets(&state.app.db, &facet_names, &filters)
        .await
        .map_err(|e| ApiError::internal("computing facets", e))?
        .map_err(ApiError::bad_request)?;
    let facets: serde_json::Map<String, Value> = facets
        .into_iter()
        .map(|(name, values)| {
            let list =
                values.into_iter().map(|(value, count)| serde_json::json!({"value": value, "count": count})).collect();
            (name, Value::Array(list))
        })
        .collect();
    Ok(Json(serde_json::json!({ "facets": facets })))
}
