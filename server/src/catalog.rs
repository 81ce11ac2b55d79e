//! Catalog HTTP routes: Portolan's own `/api/v1/entities` and `/api/v1/locations`, and the read endpoints of
//! Backstage's catalog API with Backstage's JSON shapes, so tools written for Backstage work unchanged.

use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
        .merge(backstage_router())
}

/// Backstage's catalog read API, answering errors in Backstage's shape.
fn backstage_router() -> Router<ServerState> {
    Router::new()
        .route("/api/catalog/entities", get(backstage_entities))
        .route("/api/catalog/entities/by-name/{kind}/{namespace}/{name}", get(backstage_by_name))
        .route("/api/catalog/entities/by-query", get(backstage_by_query))
        .route("/api/catalog/entities/by-refs", post(backstage_by_refs))
        .route("/api/catalog/entity-facets", get(backstage_facets))
        .route("/api/catalog/{*rest}", axum::routing::any(backstage_no_route))
        .route_layer(axum::middleware::from_fn(backstage_errors))
}

/// Backstage's error body: `{error: {name, message}, request: {method, url}, response: {statusCode}}`, which
/// Backstage's clients read (`ResponseError.fromResponse`). `error.code` stays, as in Portolan's own errors.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackstageError {
    /// The error: Backstage's `name` (`InputError`, `AuthenticationError`, `NotAllowedError`, `NotFoundError`,
    /// …), Portolan's `code` and the message.
    #[schema(value_type = Object)]
    pub error: Value,
    /// The request that failed: `method` and `url`.
    #[schema(value_type = Object)]
    pub request: Value,
    /// `statusCode`.
    #[schema(value_type = Object)]
    pub response: Value,
}

/// Any other path under `/api/catalog`: a 404 in Backstage's shape.
async fn backstage_no_route() -> ApiError {
    ApiError::not_found(
        "Portolan serves Backstage's catalog read API: entities, by-name, by-query, by-refs and entity-facets",
    )
}

/// Backstage's error name for a status, as its error handler gives it.
fn backstage_error_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNPROCESSABLE_ENTITY => "InputError",
        StatusCode::UNAUTHORIZED => "AuthenticationError",
        StatusCode::FORBIDDEN => "NotAllowedError",
        StatusCode::NOT_FOUND => "NotFoundError",
        StatusCode::CONFLICT => "ConflictError",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailableError",
        _ => "Error",
    }
}

/// Rewrites the error answers of Backstage's routes into Backstage's error body, keeping the message.
async fn backstage_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // Cheap clones (a method and a shared URI), so answers that succeed pay nearly nothing.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let ours: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
    let message = ours["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("request failed").to_owned());
    // Portolan's own error (code, and the fields at fault where there are any), with Backstage's name and message.
    let mut error = match ours.get("error") {
        Some(Value::Object(o)) => Value::Object(o.clone()),
        _ => serde_json::json!({}),
    };
    error["name"] = Value::from(backstage_error_name(status));
    error["message"] = Value::from(message);
    let body = BackstageError {
        error,
        request: serde_json::json!({
            "method": method.as_str(),
            "url": uri.path_and_query().map_or_else(|| uri.path(), |p| p.as_str()),
        }),
        response: serde_json::json!({ "statusCode": status.as_u16() }),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Response::from_parts(parts, axum::body::Body::from(serde_json::to_vec(&body).unwrap_or_default()))
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
        (status = 401, description = "No or bad credentials", body = BackstageError),
        (status = 404, description = "No such entity", body = BackstageError)))]
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
    /// A path on the server (file or directory) or a URL (or a glob over files on the configured GitHub).
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
        ("filter" = Option<Vec<String>>, Query, explode = true, description = "e.g. kind=component,spec.type=service or kind=user,spec.profile.email=ada@example.com: any field of the entity, keys and values in any case"),
        ("fullTextFilterTerm" = Option<String>, Query),
        ("fullTextFilterFields" = Option<String>, Query, description = "e.g. metadata.name,metadata.title: where to look for the term (part of the value, any case); name, title and description words when absent"),
        ("orderField" = Option<String>, Query, description = "e.g. metadata.name,asc; any field, entities without it last"),
        ("limit" = Option<u64>, Query, description = "1 to 1000, default 20; 0 answers the count alone"),
        ("offset" = Option<u64>, Query, description = "where the first page starts; later pages follow the cursor"),
        ("fields" = Option<Vec<String>>, Query, explode = true, description = "e.g. kind,metadata.name: only these parts of each entity"),
        ("cursor" = Option<String>, Query, description = "pageInfo.nextCursor or prevCursor of an earlier answer; it carries that query's filter, fullTextFilterTerm and orderField, which are then not read from the request"),
        ),
    responses(
        (status = 200, description = "A page of entities", body = BackstagePage),
        (status = 400, description = "A parameter is wrong", body = BackstageError),
        (status = 401, description = "No or bad credentials", body = BackstageError)))]
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
                full_text_fields: comma_list(&pairs, "fullTextFilterFields"),
                order_field: first_named(&pairs, "orderField").map(str::to_owned),
                order: Vec::new(),
            };
            let offset = match first_named(&pairs, "offset") {
                Some(o) => o.parse::<u64>().map_err(|_| ApiError::bad_request("offset must be a number, 0 or more"))?,
                None => 0,
            };
            (query, offset)
        }
    };
    // `limit=0` asks for the count alone, as in Backstage. `fields` is read from every request, as Backstage's
    // client sends it with each page.
    let limit = Some(Ord::min(limit, 1000));
    let (page, items) = backstage_page(&state, &query, limit, offset, &vis, &comma_list(&pairs, "fields")).await?;
    Ok(Json(BackstagePage {
        items,
        total_items: page.total,
        page_info: BackstagePageInfo { next_cursor: page.next_cursor, prev_cursor: page.prev_cursor },
    }))
}

/// Every value of a repeatable parameter, each split at commas (`fields=kind,metadata.name&fields=spec`).
fn comma_list(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One page of a Backstage query (`by-query`, `GET /entities`): the page's references and cursors, and its
/// entities in Backstage's JSON (from the by-name cache where it has them), keeping only `fields` when given.
async fn backstage_page(
    state: &ServerState,
    query: &store::BackstageQuery,
    limit: Option<u64>,
    offset: u64,
    vis: &Visibility,
    fields: &[String],
) -> Result<(store::QueryPage, Vec<Box<serde_json::value::RawValue>>), ApiError> {
    let cache = Some(&*state.app.entity_cache);
    let page = store::by_query(&state.app.db, cache, query, limit, offset, vis)
        .await
        .map_err(|e| ApiError::internal("querying entities", e))?
        .map_err(ApiError::bad_request)?;
    let texts = store::backstage_texts(&state.app.db, cache, &page.refs)
        .await
        .map_err(|e| ApiError::internal("loading entities", e))?;
    Ok((page, raw_items(texts, fields)?))
}

/// Entity JSON texts as raw JSON items, keeping only `fields` (Backstage's dot paths) when any are given.
fn raw_items(texts: Vec<String>, fields: &[String]) -> Result<Vec<Box<serde_json::value::RawValue>>, ApiError> {
    texts
        .into_iter()
        .map(|text| {
            let text = if fields.is_empty() {
                text
            } else {
                let entity: Value = serde_json::from_str(&text)?;
                serde_json::to_string(&store::select_fields(&entity, fields))?
            };
            serde_json::value::RawValue::from_string(text)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal("encoding entities", e))
}

/// Backstage's list of entities, a JSON array: `filter` (repeatable, as for `by-query`), `fields`, `order`
/// (repeatable `asc:<field>` or `desc:<field>`), `offset`, `limit` (all entities when absent) and `after` (the
/// cursor a `Link: <…>; rel="next"` header gives when there are more).
#[utoipa::path(get, path = "/api/catalog/entities", tag = "backstage",
    params(
        ("filter" = Option<Vec<String>>, Query, explode = true, description = "e.g. kind=component,spec.type=service or kind=user,spec.profile.email=ada@example.com: any field of the entity, keys and values in any case"),
        ("fields" = Option<Vec<String>>, Query, explode = true, description = "e.g. kind,metadata.name"),
        ("order" = Option<Vec<String>>, Query, explode = true, description = "e.g. asc:metadata.name; any field, entities without it last"),
        ("offset" = Option<u64>, Query),
        ("limit" = Option<u64>, Query, description = "at least 1; every match when absent"),
        ("after" = Option<String>, Query, description = "the cursor of the `Link` header's next page"),
        ),
    responses(
        (status = 200, description = "The entities; a `Link` header names the next page when `limit` cut the list short", body = Vec<Object>),
        (status = 400, description = "A parameter is wrong", body = BackstageError),
        (status = 401, description = "No or bad credentials", body = BackstageError)))]
pub(crate) async fn backstage_entities(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let vis = visibility(&state, require(&viewer)?).await?;
    let pairs = query_pairs(raw);
    let number = |name: &str| -> Result<Option<u64>, ApiError> {
        first_named(&pairs, name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| ApiError::bad_request(format!("Invalid {name}, must be a whole number")))
            })
            .transpose()
    };
    let limit = number("limit")?;
    if limit == Some(0) {
        return Err(ApiError::bad_request("Invalid limit, must be greater than zero"));
    }
    if limit.is_some_and(|l| l > i64::MAX as u64) {
        return Err(ApiError::bad_request(format!("Invalid limit, must be at most {}", i64::MAX)));
    }
    let (query, offset) = match first_named(&pairs, "after") {
        Some(after) => store::BackstageQuery::from_cursor(after).ok_or_else(|| {
            ApiError::bad_request("after is not a cursor this catalog gave out; start again without it")
        })?,
        None => {
            let query = store::BackstageQuery {
                filters: all_named(&pairs, "filter"),
                order: all_named(&pairs, "order"),
                ..Default::default()
            };
            (query, number("offset")?.unwrap_or(0))
        }
    };
    let (page, items) = backstage_page(&state, &query, limit, offset, &vis, &comma_list(&pairs, "fields")).await?;
    let mut response = Json(items).into_response();
    if let Some(next) = page.next_cursor {
        // As Backstage does: the same request, without `offset`, with `after`.
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "offset" && k != "after") {
            link.append_pair(k, v);
        }
        link.append_pair("after", &next);
        let value = format!("</api/catalog/entities?{}>; rel=\"next\"", link.finish());
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// `POST /api/catalog/entities/by-refs` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntitiesByRefs {
    /// Full references (`component:default/payments-api`), at most 1,000.
    entity_refs: Vec<String>,
    /// Only these parts of each entity (`kind`, `metadata.name`); all of it when absent.
    #[serde(default)]
    fields: Vec<String>,
}

/// Backstage's `by-refs` answer: one item for each reference asked for, in order; `null` where there is none.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackstageBatch {
    /// An entity or `null` for each reference.
    #[schema(value_type = Vec<serde_json::Value>)]
    pub items: Vec<Option<Box<serde_json::value::RawValue>>>,
}

/// The most references one `by-refs` request names.
const MAX_BATCH_REFS: usize = 1000;

/// Backstage's batch read: the entities named, in the order named, `null` for those that do not exist, that the
/// viewer may not see or that do not match the `filter` parameters.
#[utoipa::path(post, path = "/api/catalog/entities/by-refs", tag = "backstage", request_body = EntitiesByRefs,
    params(
        ("filter" = Option<Vec<String>>, Query, explode = true, description = "e.g. kind=component"),
        ("fields" = Option<Vec<String>>, Query, explode = true, description = "e.g. kind,metadata.name"),
        ),
    responses(
        (status = 200, description = "One item for each reference", body = BackstageBatch),
        (status = 400, description = "The body or a parameter is wrong", body = BackstageError),
        (status = 401, description = "No or bad credentials", body = BackstageError)))]
pub(crate) async fn backstage_by_refs(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<Json<BackstageBatch>, ApiError> {
    // Who asks comes first: an anonymous request is a 401 whatever its body.
    let vis = visibility(&state, require(&viewer)?).await?;
    let body: EntitiesByRefs = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "Malformed request body: {e}; expected {{\"entityRefs\": [\"kind:namespace/name\", …]}}"
        ))
    })?;
    if body.entity_refs.len() > MAX_BATCH_REFS {
        return Err(ApiError::bad_request(format!("at most {MAX_BATCH_REFS} entityRefs in one request")));
    }
    let pairs = query_pairs(raw);
    let filters = store::parse_filters(&all_named(&pairs, "filter"));
    let found = store::by_refs(&state.app.db, &body.entity_refs, &filters, &vis)
        .await
        .map_err(|e| ApiError::internal("looking up entities", e))?
        .map_err(ApiError::bad_request)?;
    let present: Vec<String> = found.iter().flatten().cloned().collect();
    let texts = store::backstage_text_each(&state.app.db, Some(&*state.app.entity_cache), &present)
        .await
        .map_err(|e| ApiError::internal("loading entities", e))?;
    let mut fields = body.fields;
    fields.extend(comma_list(&pairs, "fields"));
    let mut read = texts.into_iter();
    let mut items = Vec::with_capacity(found.len());
    for wanted in &found {
        let text = if wanted.is_some() { read.next().flatten() } else { None };
        items.push(match text {
            Some(text) => raw_items(vec![text], &fields)?.pop(),
            None => None,
        });
    }
    Ok(Json(BackstageBatch { items }))
}

/// Backstage's facets: `?facet=kind&facet=spec.type` answers `{facets: {kind: [{value, count}]}}`.
#[utoipa::path(get, path = "/api/catalog/entity-facets", tag = "backstage",
    params(
        ("facet" = Vec<String>, Query, explode = true, description = "e.g. kind, spec.type, metadata.tags"),
        ("filter" = Option<Vec<String>>, Query, explode = true)),
    responses(
        (status = 200, description = "The facets", body = BackstageFacets),
        (status = 400, description = "A parameter is wrong", body = BackstageError),
        (status = 401, description = "No or bad credentials", body = BackstageError)))]
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
