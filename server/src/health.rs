//! Health routes: the grid (`GET /api/v1/health`), one entity's health and history, an SVG status badge, checks
//! added in the portal and maintenance windows (`health.edit` on the entity).

use std::collections::HashSet;

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde::Deserialize;

use portolan_core::access::{Action, Target};
use portolan_core::auth::RequestViewer;
use portolan_core::catalog::entity::entities;
use portolan_core::catalog::model::EntityRef;
use portolan_core::catalog::{store, visibility};
use portolan_core::health::query::{self, GridFilter};
use portolan_core::health::{HealthError, checks};
use portolan_types::Viewer;
use portolan_types::health::{
    CheckInput, CheckView, EntityHealth, HealthGrid, HealthHistory, MaintenanceInput, MaintenanceView,
};

use crate::ServerState;
use crate::access::authorize;
use crate::api::require;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{ApiError, ErrorEnvelope};

/// The health routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/health", get(grid))
        .route("/api/v1/health/checks", get(list_checks).post(create_check))
        .route("/api/v1/health/checks/{id}", put(update_check).delete(delete_check))
        .route("/api/v1/health/maintenance", post(create_maintenance))
        .route("/api/v1/health/maintenance/{id}", delete(delete_maintenance))
        .route("/api/v1/health/events", get(events))
        .route("/api/v1/health/alertmanager", post(alertmanager_webhook))
        .route("/api/v1/health/{kind}/{namespace}/{name}", get(entity_health))
        .route("/api/v1/health/{kind}/{namespace}/{name}/history", get(history))
        .route("/api/v1/health/{kind}/{namespace}/{name}/badge.svg", get(badge))
}

fn health_error(e: HealthError) -> ApiError {
    match e {
        HealthError::Invalid { field, reason } => ApiError::unprocessable(field, reason),
        HealthError::NotFound(m) => ApiError::not_found(m),
        HealthError::Declared(m) => ApiError::conflict(m),
        HealthError::Db(e) => ApiError::internal("reading health", e),
    }
}

async fn hidden(state: &ServerState, viewer: &Viewer) -> Result<HashSet<String>, ApiError> {
    let vis = visibility::for_viewer(&state.app.db, &state.app.config, viewer)
        .await
        .map_err(|e| ApiError::internal("loading memberships", e))?;
    portolan_core::deploys::hidden_components(&state.app.db, &vis)
        .await
        .map_err(|e| ApiError::internal("loading visibility", e))
}

/// An entity the viewer may see, by path.
async fn visible_entity(
    state: &ServerState,
    viewer: &Viewer,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<entities::Model, ApiError> {
    let r = EntityRef::new(kind, namespace, name);
    let vis = visibility::for_viewer(&state.app.db, &state.app.config, viewer)
        .await
        .map_err(|e| ApiError::internal("loading memberships", e))?;
    store::find(&state.app.db, &r)
        .await
        .map_err(|e| ApiError::internal("loading an entity", e))?
        .filter(|e| vis.allows(e))
        .ok_or_else(|| ApiError::not_found(format!("no entity {r}")))
}

/// Filters of `GET /api/v1/health`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GridParams {
    /// `24h` (default), `7d`, `30d` or `90d`.
    pub window: Option<String>,
    /// A team (`group:default/payments` or a bare name): what it and its sub-teams own.
    pub owner: Option<String>,
    /// A system.
    pub system: Option<String>,
    /// `true`: only what the viewer's user and teams own.
    pub mine: Option<bool>,
}

/// Services by environment: each cell's state, uptime over the window and p95 latency.
#[utoipa::path(get, path = "/api/v1/health", tag = "health", params(GridParams), responses(
    (status = 200, description = "The grid", body = HealthGrid),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A filter is wrong", body = ErrorEnvelope)))]
pub(crate) async fn grid(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<GridParams>,
) -> Result<Json<HealthGrid>, ApiError> {
    let viewer = require(&viewer)?;
    let (name, span) = query::grid_window(p.window.as_deref()).map_err(health_error)?;
    let mine_of = p.mine.unwrap_or(false).then_some(viewer.login.as_str());
    let only = query::grid_scope(&state.app.db, p.owner.as_deref(), p.system.as_deref(), mine_of)
        .await
        .map_err(health_error)?;
    let filter = GridFilter { only, hidden: hidden(&state, viewer).await? };
    query::grid(&state.app.db, &state.app.config, &state.app.grid_cache, &name, span, &filter, Utc::now())
        .await
        .map(Json)
        .map_err(|e| ApiError::internal("building the health grid", e))
}

/// One entity's health in each environment: state, uptime over 24 h to 90 d, SLO and error budget, latency,
/// checks, alerts and maintenance windows.
#[utoipa::path(get, path = "/api/v1/health/{kind}/{namespace}/{name}", tag = "health",
    params(("kind" = String, Path), ("namespace" = String, Path), ("name" = String, Path)), responses(
    (status = 200, description = "The entity's health", body = EntityHealth),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such entity", body = ErrorEnvelope)))]
pub(crate) async fn entity_health(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((kind, namespace, name)): ApiPath<(String, String, String)>,
) -> Result<Json<EntityHealth>, ApiError> {
    let viewer = require(&viewer)?;
    let entity = visible_entity(&state, viewer, &kind, &namespace, &name).await?;
    query::entity_health(&state.app.db, &state.app.config, &entity, Utc::now())
        .await
        .map(Json)
        .map_err(|e| ApiError::internal("loading health", e))
}

/// Range of the history.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// The environment (default: the first production one).
    pub environment: Option<String>,
    /// From (RFC 3339, inclusive; default 90 days ago).
    pub from: Option<String>,
    /// To (RFC 3339, exclusive; default now).
    pub to: Option<String>,
}

fn time(field: &'static str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| ApiError::unprocessable(field, format!("`{t}` is not an RFC 3339 time")))
        })
        .transpose()
}

/// Uptime per hour (ranges up to 3 days) or per day, and every state change, in one environment.
#[utoipa::path(get, path = "/api/v1/health/{kind}/{namespace}/{name}/history", tag = "health",
    params(("kind" = String, Path), ("namespace" = String, Path), ("name" = String, Path), HistoryParams), responses(
    (status = 200, description = "The history", body = HealthHistory),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such entity", body = ErrorEnvelope),
    (status = 422, description = "A parameter is wrong", body = ErrorEnvelope)))]
pub(crate) async fn history(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((kind, namespace, name)): ApiPath<(String, String, String)>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Json<HealthHistory>, ApiError> {
    let viewer = require(&viewer)?;
    let entity = visible_entity(&state, viewer, &kind, &namespace, &name).await?;
    let config = &state.app.config;
    let env = match p.environment.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => {
            let e = e.to_lowercase();
            if config.environment(&e).is_none() {
                return Err(ApiError::unprocessable("environment", format!("`{e}` is not a configured environment")));
            }
            e
        }
        None => portolan_core::health::sync::default_environment(config)
            .unwrap_or_else(|| config.environments[0].name.clone()),
    };
    let now = Utc::now();
    let to = time("to", p.to.as_deref())?.unwrap_or(now);
    let from = time("from", p.from.as_deref())?.unwrap_or(to - Duration::days(90));
    if from >= to {
        return Err(ApiError::unprocessable("from", "must be before to"));
    }
    if to - from > Duration::days(400) {
        return Err(ApiError::unprocessable("from", "at most 400 days of history at once"));
    }
    query::history(&state.app.db, config, &entity.entity_ref, &env, from, to, now)
        .await
        .map(Json)
        .map_err(|e| ApiError::internal("loading health history", e))
}

/// Which environment a badge shows.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BadgeParams {
    /// The environment (default: the first production one).
    pub environment: Option<String>,
}

/// A status badge (SVG): the environment's state and 30-day uptime.
#[utoipa::path(get, path = "/api/v1/health/{kind}/{namespace}/{name}/badge.svg", tag = "health",
    params(("kind" = String, Path), ("namespace" = String, Path), ("name" = String, Path), BadgeParams), responses(
    (status = 200, description = "The badge", content_type = "image/svg+xml", body = String),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such entity", body = ErrorEnvelope)))]
pub(crate) async fn badge(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((kind, namespace, name)): ApiPath<(String, String, String)>,
    ApiQuery(p): ApiQuery<BadgeParams>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let entity = visible_entity(&state, viewer, &kind, &namespace, &name).await?;
    let config = &state.app.config;
    let env = p
        .environment
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .or_else(|| portolan_core::health::sync::default_environment(config))
        .unwrap_or_default();
    let health = query::entity_health(&state.app.db, config, &entity, Utc::now())
        .await
        .map_err(|e| ApiError::internal("loading health", e))?;
    let (state_name, uptime) = health
        .environments
        .iter()
        .find(|e| e.environment == env)
        .map(|e| (e.state.clone(), e.uptime.d30))
        .unwrap_or_else(|| ("no checks".to_owned(), None));
    let svg = badge_svg(&env, &state_name, uptime);
    Ok(([(CONTENT_TYPE, "image/svg+xml; charset=utf-8"), (CACHE_CONTROL, "no-cache")], svg).into_response())
}

/// A flat two-part badge; every text is escaped.
pub fn badge_svg(label: &str, state: &str, uptime: Option<f64>) -> String {
    let value = match uptime {
        Some(u) => format!("{state} · {:.2}%", u * 100.0),
        None => state.to_owned(),
    };
    let colour = match state {
        "up" => "#2e7d32",
        "degraded" => "#b26a00",
        "down" => "#c62828",
        "maintenance" => "#1565c0",
        _ => "#616161",
    };
    let w = |t: &str| 12 + 7 * t.chars().count();
    let (lw, vw) = (w(label), w(&value));
    let esc = crate::http::escape_html;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total}\" height=\"20\" role=\"img\" aria-label=\"{l}: {v}\">\
<title>{l}: {v}</title><rect width=\"{lw}\" height=\"20\" fill=\"#555\"/>\
<rect x=\"{lw}\" width=\"{vw}\" height=\"20\" fill=\"{colour}\"/>\
<g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,sans-serif\" font-size=\"11\">\
<text x=\"6\" y=\"14\">{l}</text><text x=\"{vx}\" y=\"14\">{v}</text></g></svg>",
        total = lw + vw,
        l = esc(label),
        v = esc(&value),
        vx = lw + 6,
    )
}

/// Filter of `GET /api/v1/health/checks`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckParams {
    /// Only this entity's checks.
    pub entity: Option<String>,
}

/// Every check (or one entity's), declared in git or added in the portal.
#[utoipa::path(get, path = "/api/v1/health/checks", tag = "health", params(CheckParams), responses(
    (status = 200, description = "The checks", body = Vec<CheckView>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A filter is wrong", body = ErrorEnvelope)))]
pub(crate) async fn list_checks(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<CheckParams>,
) -> Result<Json<Vec<CheckView>>, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let viewer = require(&viewer)?;
    let hidden = hidden(&state, viewer).await?;
    let mut select = checks::Entity::find();
    if let Some(e) = p.entity.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        let entity = query::resolve_entity(&state.app.db, e).await.map_err(health_error)?;
        select = select.filter(checks::Column::ComponentRef.eq(entity.entity_ref));
    }
    let rows = select
        .order_by_asc(checks::Column::ComponentRef)
        .order_by_asc(checks::Column::Environment)
        .order_by_asc(checks::Column::Name)
        .all(&state.app.db)
        .await
        .map_err(|e| ApiError::internal("loading checks", e))?;
    let now = Utc::now();
    Ok(Json(
        rows.iter().filter(|c| !hidden.contains(&c.component_ref)).map(|c| query::check_view(c, false, now)).collect(),
    ))
}

/// Adds a check for something not described in git. Needs `health.edit` on the entity.
#[utoipa::path(post, path = "/api/v1/health/checks", tag = "health", request_body = CheckInput, responses(
    (status = 201, description = "Added", body = CheckView),
    (status = 400, description = "The body is not JSON of this shape", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "health.edit refused", body = ErrorEnvelope),
    (status = 422, description = "A field is wrong (`field` names it)", body = ErrorEnvelope)))]
pub(crate) async fn create_check(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<CheckInput>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let valid = query::validate_check(&state.app.db, &state.app.config, &body).await.map_err(health_error)?;
    authorize(&state, viewer, Action::HealthEdit, &Target::for_row(&valid.entity)).await?;
    let view = query::create_check(&state.app.db, &valid).await.map_err(health_error)?;
    audit(&state, viewer, "health.check_created", &format!("{} {} {}", view.entity_ref, view.environment, view.name))
        .await;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn audit(state: &ServerState, viewer: &Viewer, action: &str, detail: &str) {
    let entry =
        portolan_core::audit::Entry { actor: &viewer.login, action, target: Some(detail), ..Default::default() };
    if let Err(e) = portolan_core::audit::record(&state.app.db, entry).await {
        tracing::warn!(error = %e, "audit log write failed");
    }
}

/// Changes a check added in the portal; a check declared in git answers 409 (edit it in the repository).
#[utoipa::path(put, path = "/api/v1/health/checks/{id}", tag = "health", request_body = CheckInput,
    params(("id" = i64, Path, description = "Check id")), responses(
    (status = 200, description = "Changed", body = CheckView),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "health.edit refused", body = ErrorEnvelope),
    (status = 404, description = "No such check", body = ErrorEnvelope),
    (status = 409, description = "Declared in git: edit it in the repository", body = ErrorEnvelope),
    (status = 422, description = "A field is wrong (`field` names it)", body = ErrorEnvelope)))]
pub(crate) async fn update_check(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CheckInput>,
) -> Result<Json<CheckView>, ApiError> {
    let viewer = require(&viewer)?;
    let existing = query::find_check(&state.app.db, id).await.map_err(health_error)?;
    let entity = query::resolve_entity(&state.app.db, &existing.component_ref).await.map_err(health_error)?;
    authorize(&state, viewer, Action::HealthEdit, &Target::for_row(&entity)).await?;
    let valid = query::validate_check(&state.app.db, &state.app.config, &body).await.map_err(health_error)?;
    let view = query::update_check(&state.app.db, &existing, &valid).await.map_err(health_error)?;
    audit(&state, viewer, "health.check_updated", &format!("{} {}", view.entity_ref, view.id)).await;
    Ok(Json(view))
}

/// Removes a check added in the portal, with its history.
#[utoipa::path(delete, path = "/api/v1/health/checks/{id}", tag = "health",
    params(("id" = i64, Path, description = "Check id")), responses(
    (status = 204, description = "Removed"),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "health.edit refused", body = ErrorEnvelope),
    (status = 404, description = "No such check", body = ErrorEnvelope),
    (status = 409, description = "Declared in git: remove it in the repository", body = ErrorEnvelope)))]
pub(crate) async fn delete_check(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let viewer = require(&viewer)?;
    let existing = query::find_check(&state.app.db, id).await.map_err(health_error)?;
    let entity = query::resolve_entity(&state.app.db, &existing.component_ref).await.map_err(health_error)?;
    authorize(&state, viewer, Action::HealthEdit, &Target::for_row(&entity)).await?;
    query::delete_check(&state.app.db, &existing).await.map_err(health_error)?;
    audit(&state, viewer, "health.check_deleted", &format!("{} {}", existing.component_ref, id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Plans a maintenance window: probes go on, alerting pauses and the time is left out of uptime.
#[utoipa::path(post, path = "/api/v1/health/maintenance", tag = "health", request_body = MaintenanceInput, responses(
    (status = 201, description = "Planned", body = MaintenanceView),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "health.edit refused", body = ErrorEnvelope),
    (status = 422, description = "A field is wrong (`field` names it)", body = ErrorEnvelope)))]
pub(crate) async fn create_maintenance(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<MaintenanceInput>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let entity = query::resolve_entity(&state.app.db, &body.entity).await.map_err(health_error)?;
    authorize(&state, viewer, Action::HealthEdit, &Target::for_row(&entity)).await?;
    let view = query::create_maintenance(&state.app.db, &state.app.config, &entity, &body, &viewer.login)
        .await
        .map_err(health_error)?;
    audit(&state, viewer, "health.maintenance_planned", &format!("{} {}", view.entity_ref, view.id)).await;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Ends a maintenance window (removes it).
#[utoipa::path(delete, path = "/api/v1/health/maintenance/{id}", tag = "health",
    params(("id" = i64, Path, description = "Window id")), responses(
    (status = 204, description = "Removed"),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "health.edit refused", body = ErrorEnvelope),
    (status = 404, description = "No such window", body = ErrorEnvelope)))]
pub(crate) async fn delete_maintenance(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let viewer = require(&viewer)?;
    let w = query::find_maintenance(&state.app.db, id).await.map_err(health_error)?;
    let entity = query::resolve_entity(&state.app.db, &w.component_ref).await.map_err(health_error)?;
    authorize(&state, viewer, Action::HealthEdit, &Target::for_row(&entity)).await?;
    query::delete_maintenance(&state.app.db, id).await.map_err(health_error)?;
    audit(&state, viewer, "health.maintenance_removed", &format!("{} {}", w.component_ref, id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// What the Alertmanager receiver did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AlertmanagerReceipt {
    /// Alerts stored or updated.
    pub alerts: usize,
    /// Incidents opened (alerts of production environments starting to fire).
    pub incidents_opened: usize,
    /// Incidents resolved.
    pub incidents_resolved: usize,
    /// Alerts no catalog entity claims (by `prometheus.io/alert` or the configured label).
    pub unmatched: usize,
}

/// Alertmanager's webhook receiver (`webhook_configs` with `send_resolved: true` and a bearer token holding
/// `health.edit` everywhere, e.g. an admin token with the `health:write` scope): firing alerts of production
/// environments open incidents on the entity they belong to, resolved ones close them and stay as history.
#[utoipa::path(post, path = "/api/v1/health/alertmanager", tag = "health", request_body = Object, responses(
    (status = 200, description = "Received", body = AlertmanagerReceipt),
    (status = 400, description = "Not an Alertmanager payload", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "health.edit refused", body = ErrorEnvelope)))]
pub(crate) async fn alertmanager_webhook(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<AlertmanagerReceipt>, ApiError> {
    let viewer = require(&viewer)?;
    authorize(&state, viewer, Action::HealthEdit, &Target::global()).await?;
    if !body.get("alerts").is_some_and(serde_json::Value::is_array) {
        return Err(ApiError::bad_request("not an Alertmanager webhook payload: `alerts` must be a list"));
    }
    let r = portolan_core::health::alerting::receive(&state.app.db, &state.app.config, &body)
        .await
        .map_err(|e| ApiError::internal("storing alerts", e))?;
    Ok(Json(AlertmanagerReceipt {
        alerts: r.alerts,
        incidents_opened: r.opened,
        incidents_resolved: r.resolved,
        unmatched: r.unmatched,
    }))
}

/// Fans state changes out to live pages. One poller per process reads new rows of `health_state_changes` (so a
/// change recorded by any replica reaches every replica's pages); it starts with the first subscriber.
#[derive(Debug)]
pub struct HealthEvents {
    tx: tokio::sync::broadcast::Sender<String>,
    started: std::sync::atomic::AtomicBool,
}

impl Default for HealthEvents {
    fn default() -> Self {
        HealthEvents { tx: tokio::sync::broadcast::channel(1024).0, started: std::sync::atomic::AtomicBool::new(false) }
    }
}

impl HealthEvents {
    /// A receiver of state-change events (JSON), starting the poller if needed.
    pub fn subscribe(&self, db: &sea_orm::DatabaseConnection) -> tokio::sync::broadcast::Receiver<String> {
        let rx = self.tx.subscribe();
        if !self.started.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let (tx, db) = (self.tx.clone(), db.clone());
            tokio::spawn(async move {
                let mut last = None;
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    match query::changes_after(&db, last).await {
                        Ok((newest, events)) => {
                            last = Some(newest);
                            for e in events {
                                if let Ok(text) = serde_json::to_string(&e) {
                                    let _ = tx.send(text);
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "reading health state changes failed"),
                    }
                }
            });
        }
        rx
    }
}

/// Live state changes as server-sent events: `event: state`, `data: {"entity_ref", "environment", "check_id",
/// "from", "to", "at"}`; a comment every 15 s keeps proxies from closing the stream.
#[utoipa::path(get, path = "/api/v1/health/events", tag = "health", responses(
    (status = 200, description = "An event stream", content_type = "text/event-stream", body = String),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn events(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let viewer = require(&viewer)?;
    let hidden = hidden(&state, viewer).await?;
    let rx = state.health_events.subscribe(&state.app.db);
    let stream = futures_util::stream::unfold((rx, hidden), |(mut rx, hidden)| async move {
        loop {
            match rx.recv().await {
                Ok(text) => {
                    let entity = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v["entity_ref"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    if hidden.contains(&entity) {
                        continue;
                    }
                    let event = Event::default().event("state").data(text);
                    return Some((Ok::<_, std::convert::Infallible>(event), (rx, hidden)));
                }
                // A slow reader missed some: the page refetches on the next one anyway.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_escape_what_they_show() {
        let svg = badge_svg("prod<script>", "up", Some(0.99912));
        assert!(svg.contains("prod&lt;script&gt;"), "{svg}");
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("up · 99.91%"));
        assert!(svg.contains("#2e7d32"));
        assert!(badge_svg("production", "down", None).contains("#c62828"));
    }
}
