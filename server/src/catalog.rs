//! Catalog HTTP routes: Portolan's own `/api/v1/entities` and `/api/v1/locations`, and the read endpoints of
//! Backstage's catalog API with Backstage's JSON shapes, so tools written for Backstage work unchanged.

use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use portolan_core::auth::RequestViewer;
use portolan_core::catalog::cache::Cached;
use portolan_core::catalog::visibility::Visibility;
use portolan_core::catalog::{self, model::EntityRef, store};
use portolan_types::catalog::{EntityDetail, EntityPage, EntityQuery, GraphView, ImportReport, LocationView};

use crate::ServerState;
use crate::api::require;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{ApiError, ErrorEnvelope};

/// A page of `GET /api/v1/entities`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntityListPage {
    /// Each an `EntitySummary`, keeping only the `fields` asked for (all of them by default).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// How many entities match the filters.
    pub total: u64,
    /// Opaque cursor for the next page, if there is one.
    pub next_cursor: Option<String>,
}

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

/// The catalog: filters, search, sorting, cursor paging and `fields` selection.
#[utoipa::path(get, path = "/api/v1/entities", tag = "catalog", params(EntityQuery), responses(
    (status = 200, description = "A page of entities", body = EntityListPage),
    (status = 400, description = "A parameter is wrong", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn list(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(query): ApiQuery<EntityQuery>,
) -> Result<Json<Value>, ApiError> {
    let vis = visibility(&state, require(&viewer)?).await?;
    let page: EntityPage = store::list_counted(&state.app.db, Some(&state.app.entity_cache), &query, &vis)
        .await
        .map_err(|e| ApiError::internal("listing entities", e))?;
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

/// What the viewer may see of the catalog (`PORTOLAN_HIDDEN_NAMESPACES`).
async fn visibility(state: &ServerState, viewer: &portolan_types::Viewer) -> Result<Visibility, ApiError> {
    catalog::visibility::for_viewer(&state.app.db, &state.app.config, viewer)
        .await
        .map_err(|e| ApiError::internal("loading memberships", e))
}

fn parse_ref(kind: &str, namespace: &str, name: &str) -> EntityRef {
    EntityRef::new(kind, namespace, name)
}

/// One entity with its relations, links, source and API definition.
#[utoipa::path(get, path = "/api/v1/entities/by-ref/{kind}/{namespace}/{name}", tag = "catalog",
    params(("kind" = String, Path, example = "component"), ("namespace" = String, Path, example = "default"), ("name" = String, Path, example = "payments-api")),
    responses(
        (status = 200, description = "The entity", body = EntityDetail),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 404, description = "No such entity", body = ErrorEnvelope)))]
pub(crate) async fn by_ref(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((kind, namespace, name)): ApiPath<(String, String, String)>,
) -> Result<Json<EntityDetail>, ApiError> {
    let vis = visibility(&state, require(&viewer)?).await?;
    let r = parse_ref(&kind, &namespace, &name);
    match store::detail(&state.app.db, &r, &vis, &state.app.config).await {
        Ok(Some(d)) => Ok(Json(d)),
        Ok(None) => Err(ApiError::not_found(format!("no entity {r}"))),
        Err(e) => Err(ApiError::internal("loading an entity", e)),
    }
}

/// `?depth=1..3&relations=<preset>` of the graph endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GraphQuery {
    /// How many relations away (1 to 3, default 1).
    depth: Option<usize>,
    /// `ownership`, `structure`, `dependencies`, `apis` or `membership`; all relations when absent.
    relations: Option<String>,
}

/// The relation graph around an entity, with node positions for drawing.
#[utoipa::path(get, path = "/api/v1/entities/by-ref/{kind}/{namespace}/{name}/graph", tag = "catalog",
    params(("kind" = String, Path, example = "component"), ("namespace" = String, Path, example = "default"), ("name" = String, Path, example = "payments-api"), GraphQuery),
    responses(
        (status = 200, description = "The graph", body = GraphView),
        (status = 400, description = "A parameter is wrong", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 404, description = "No such entity", body = ErrorEnvelope)))]
pub(crate) async fn graph(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((kind, namespace, name)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<GraphQuery>,
) -> Result<Json<GraphView>, ApiError> {
    use portolan_core::catalog::relations::RelationType;
    let vis = visibility(&state, require(&viewer)?).await?;
    let r = parse_ref(&kind, &namespace, &name);
    match store::find(&state.app.db, &r).await {
        Ok(Some(row)) if vis.allows(&row) => {}
        Ok(Some(_)) => return Err(ApiError::not_found(format!("no entity {r}"))),
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
    store::graph(&state.app.db, &r, q.depth.unwrap_or(1), &types, &vis)
        .await
        .map(Json)
        .map_err(|e| ApiError::internal("drawing the relation graph", e))
}

/// Backstage's entity JSON (`apiVersion`, `kind`, `metadata`, `spec`, `relations`), as Backstage's catalog API
/// answers it.
#[utoipa::path(get, path = "/api/catalog/entities/by-name/{kind}/{namespace}/{name}", tag = "backstage",
    params(("kind" = String, Path, example = "component"), ("namespace" = String, Path, example = "default"), ("name" = String, Path, example = "payments-api")),
    responses(
        (status = 200, description = "The entity", body = Object),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 404, description = "No such entity", body = ErrorEnvelope)))]
pub(crate) async fn backstage_by_name(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((kind, namespace, name)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let vis = visibility(&state, require(&viewer)?).await?;
    let r = parse_ref(&kind, &namespace, &name);
    let key = r.to_string();
    let not_found = || {
        ApiError::not_found(format!("No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"))
    };
    let cache = &state.app.entity_cache;
    if let Some(hit) = cache.get(&key) {
        if !vis.allows_parts(&hit.namespace, hit.owner_ref.as_deref()) {
            return Err(not_found());
        }
        if let Some(json) = hit.json() {
            return Ok(json_text(json));
        }
    }
    let ticket = cache.ticket();
    let row = match store::find(&state.app.db, &r).await {
        Ok(Some(row)) => row,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(ApiError::internal("loading an entity", e)),
    };
    let body =
        store::backstage_json(&state.app.db, &row).await.map_err(|e| ApiError::internal("loading relations", e))?;
    let text = serde_json::to_string(&body).map_err(|e| ApiError::internal("encoding an entity", e))?;
    let allowed = vis.allows(&row);
    cache.put(ticket, key, Cached::new(&text, &row.namespace, row.owner_ref.as_deref()));
    if !allowed {
        return Err(not_found());
    }
    Ok(json_text(text))
}

/// A response of JSON text already encoded.
fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Every registered location with its last refresh.
#[utoipa::path(get, path = "/api/v1/locations", tag = "catalog", responses(
    (status = 200, description = "The locations", body = Vec<LocationView>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn locations(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<Json<Vec<LocationView>>, ApiError> {
    require(&viewer)?;
    store::location_views(&state.app.db).await.map(Json).map_err(|e| ApiError::internal("listing locations", e))
}

/// `POST /api/v1/locations` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterLocation {
    /// A path on the server (file or directory) or a URL.
    target: String,
}

/// Registers a location (a path on the server, or a URL) and reads it at once (`catalog.location.create`).
#[utoipa::path(post, path = "/api/v1/locations", tag = "catalog", request_body = RegisterLocation, responses(
    (status = 201, description = "Registered and read; `errors` lists documents that could not be used", body = ImportReport),
    (status = 400, description = "The target cannot be read", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "catalog.location.create refused", body = ErrorEnvelope)))]
pub(crate) async fn register_location(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<RegisterLocation>,
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

/// Backstage's paged query answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackstagePage {
    /// Entities in Backstage's JSON, as the by-name cache keeps it.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Box<serde_json::value::RawValue>>,
    /// How many match.
    pub total_items: u64,
    /// Cursors.
    pub page_info: BackstagePageInfo,
}

/// Cursors of a [`BackstagePage`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackstagePageInfo {
    /// The next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_cursor: Option<String>,
}

/// Backstage's `entity-facets` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackstageFacets {
    /// For each facet asked for, its values and how many entities have each.
    pub facets: std::collections::BTreeMap<String, Vec<FacetCount>>,
}

/// One value of a facet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    /// The value.
    pub value: String,
    /// How many entities have it.
    pub count: u64,
}

/// Backstage's paged query, `{items, totalItems, pageInfo}`: `filter` (repeatable; `key=value` pairs joined by
/// commas are AND, repeated filters are OR), `fullTextFilterTerm`, `orderField` (`field,asc|desc`), `limit`,
/// `cursor` (from `pageInfo`; it carries the query, so later pages send only `cursor` and `limit`).
#[utoipa::path(get, path = "/api/catalog/entities/by-query", tag = "backstage",
    params(
        ("filter" = Option<Vec<String>>, Query, explode = true, description = "e.g. kind=component,spec.type=service"),
        ("fullTextFilterTerm" = Option<String>, Query),
        ("orderField" = Option<String>, Query, description = "e.g. metadata.name,asc"),
        ("limit" = Option<u64>, Query, description = "1 to 1000, default 20; 0 answers the count alone"),
        ("offset" = Option<u64>, Query, description = "where the first page starts; later pages follow the cursor"),
        ("fields" = Option<Vec<String>>, Query, explode = true, description = "e.g. kind,metadata.name: only these parts of each entity"),
        ("cursor" = Option<String>, Query, description = "pageInfo.nextCursor or prevCursor of an earlier answer; it carries that query's filter, fullTextFilterTerm and orderField, which are then not read from the request"),
        ),
    responses(
        (status = 200, description = "A page of entities", body = BackstagePage),
        (status = 400, description = "A parameter is wrong", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn backstage_by_query(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    RawQuery(raw): RawQuery,
) -> Result<Json<BackstagePage>, ApiError> {
    let vis = visibility(&state, require(&viewer)?).await?;
    let pairs = query_pairs(raw);
    let limit = match first_named(&pairs, "limit") {
        Some(l) => l.parse::<u64>().map_err(|_| ApiError::bad_request("limit must be a positive number"))?,
        None => 20,
    };
    // As in Backstage, a cursor stands for the whole query: what else the request says is not read.
    let (query, offset) = match first_named(&pairs, "cursor") {
        Some(cursor) => store::BackstageQuery::from_cursor(cursor)
            .ok_or_else(|| ApiError::bad_request("cursor is not one this catalog gave out; start again without it"))?,
        None => {
            let query = store::BackstageQuery {
                filters: all_named(&pairs, "filter"),
                full_text: first_named(&pairs, "fullTextFilterTerm").map(str::to_owned),
                order_field: first_named(&pairs, "orderField").map(str::to_owned),
            };
            let offset = match first_named(&pairs, "offset") {
                Some(o) => o.parse::<u64>().map_err(|_| ApiError::bad_request("offset must be a number, 0 or more"))?,
                None => 0,
            };
            (query, offset)
        }
    };
    let cache = Some(&*state.app.entity_cache);
    let page = store::by_query(&state.app.db, cache, &query, limit, offset, &vis)
        .await
        .map_err(|e| ApiError::internal("querying entities", e))?
        .map_err(ApiError::bad_request)?;
    let texts = store::backstage_texts(&state.app.db, cache, &page.refs)
        .await
        .map_err(|e| ApiError::internal("loading entities", e))?;
    // `fields` is read from every request, as Backstage's client sends it with each page.
    let fields: Vec<String> = all_named(&pairs, "fields")
        .iter()
        .flat_map(|f| f.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    let texts = if fields.is_empty() {
        texts
    } else {
        texts
            .iter()
            .map(|text| {
                let entity: Value = serde_json::from_str(text)?;
                serde_json::to_string(&store::select_fields(&entity, &fields))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::internal("selecting fields", e))?
    };
    let items = texts
        .into_iter()
        .map(serde_json::value::RawValue::from_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal("encoding entities", e))?;
    Ok(Json(BackstagePage {
        items,
        total_items: page.total,
        page_info: BackstagePageInfo { next_cursor: page.next_cursor, prev_cursor: page.prev_cursor },
    }))
}

/// Backstage's facets: `?facet=kind&facet=spec.type` answers `{facets: {kind: [{value, count}]}}`.
#[utoipa::path(get, path = "/api/catalog/entity-facets", tag = "backstage",
    params(
        ("facet" = Vec<String>, Query, explode = true, description = "e.g. kind, spec.type, metadata.tags"),
        ("filter" = Option<Vec<String>>, Query, explode = true)),
    responses(
        (status = 200, description = "The facets", body = BackstageFacets),
        (status = 400, description = "A parameter is wrong", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn backstage_facets(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    RawQuery(raw): RawQuery,
) -> Result<Json<BackstageFacets>, ApiError> {
    let vis = visibility(&state, require(&viewer)?).await?;
    let pairs = query_pairs(raw);
    let facet_names = all_named(&pairs, "facet");
    if facet_names.is_empty() {
        return Err(ApiError::bad_request("give at least one facet, e.g. ?facet=kind"));
    }
    let filters = store::parse_filters(&all_named(&pairs, "filter"));
    let facets = store::facets(&state.app.db, &facet_names, &filters, &vis)
        .await
        .map_err(|e| ApiError::internal("computing facets", e))?
        .map_err(ApiError::bad_request)?;
    let facets = facets
        .into_iter()
        .map(|(name, values)| (name, values.into_iter().map(|(value, count)| FacetCount { value, count }).collect()))
        .collect();
    Ok(Json(BackstageFacets { facets }))
}
