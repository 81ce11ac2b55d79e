//! Deploys routes: record deployments and incidents (`POST /api/v1/deployments`, `POST /api/v1/incidents`, bearer
//! token or session), list them, and the DORA four keys (`GET /api/v1/dora`).

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use serde::Deserialize;

use portolan_core::access::{Action, Target};
use portolan_core::auth::RequestViewer;
use portolan_core::catalog::visibility;
use portolan_core::deploys::{self, DeployError, DeploymentQuery};
use portolan_types::Viewer;
use portolan_types::deploys::{
    DeploySyncReport, DeploymentInput, DeploymentPage, DeploymentView, DoraDetails, DoraReport, Environment,
    IncidentInput, IncidentView, RunsWhere,
};

use crate::ServerState;
use crate::access::authorize;
use crate::api::require;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{ApiError, ErrorEnvelope};

/// The deploys routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/environments", get(list_environments))
        .route("/api/v1/deployments", get(list_deployments).post(record_deployment))
        .route("/api/v1/deployments/{id}", get(get_deployment))
        .route("/api/v1/incidents", get(list_incidents).post(record_incident))
        .route("/api/v1/dora", get(dora))
        .route("/api/v1/dora/details", get(dora_details))
        .route("/api/v1/runs-where", get(runs_where))
        .route(
            "/api/v1/entities/by-ref/{kind}/{namespace}/{name}/deployments/sync",
            axum::routing::post(sync_deployments),
        )
}

fn deploy_error(e: DeployError) -> ApiError {
    match e {
        DeployError::Invalid { field, reason } => ApiError::unprocessable(field, reason),
        DeployError::Db(e) => ApiError::internal("storing a deployment", e),
    }
}

async fn hidden(state: &ServerState, viewer: &Viewer) -> Result<std::collections::HashSet<String>, ApiError> {
    let vis = visibility::for_viewer(&state.app.db, &state.app.config, viewer)
        .await
        .map_err(|e| ApiError::internal("loading memberships", e))?;
    deploys::hidden_components(&state.app.db, &vis).await.map_err(|e| ApiError::internal("loading visibility", e))
}

/// The shared list of environments, in display order.
#[utoipa::path(get, path = "/api/v1/environments", tag = "deploys", responses(
    (status = 200, description = "The environments", body = Vec<Environment>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn list_environments(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<Json<Vec<Environment>>, ApiError> {
    require(&viewer)?;
    Ok(Json(deploys::environment_list(&state.app.config)))
}

/// Records a deployment from a CD tool (Argo CD, Jenkins, GitLab, a script). The same `external_id` again updates
/// it: 201 when new, 200 when updated. Needs `deployments.write` on the component (its owning team; a token needs
/// the `deployments:write` scope).
#[utoipa::path(post, path = "/api/v1/deployments", tag = "deploys", request_body = DeploymentInput, responses(
    (status = 201, description = "Recorded", body = DeploymentView),
    (status = 200, description = "Updated", body = DeploymentView),
    (status = 400, description = "The body is not JSON of this shape", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "deployments.write refused", body = ErrorEnvelope),
    (status = 422, description = "A field is wrong (`field` names it)", body = ErrorEnvelope)))]
pub(crate) async fn record_deployment(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<DeploymentInput>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let valid = deploys::validate_deployment(&state.app.db, &state.app.config, &body).await.map_err(deploy_error)?;
    let target = Target::entity(valid.component.entity_ref.clone(), valid.component.owner_ref.as_deref());
    authorize(&state, viewer, Action::DeploymentsWrite, &target).await?;
    let (view, created) =
        deploys::record_deployment(&state.app.db, &state.app.config, valid, "api").await.map_err(deploy_error)?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view)).into_response())
}

/// Filters of `GET /api/v1/deployments`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeploymentParams {
    /// A component (`component:default/payments-api` or a bare name).
    pub component: Option<String>,
    /// A team (`group:default/payments` or a bare name): what it and its sub-teams own.
    pub team: Option<String>,
    /// A system: its components.
    pub system: Option<String>,
    /// An environment.
    pub environment: Option<String>,
    /// A status.
    pub status: Option<String>,
    /// From (RFC 3339, inclusive).
    pub from: Option<String>,
    /// To (RFC 3339, exclusive).
    pub to: Option<String>,
    /// Page size, 1-500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Include each deployment's changes.
    pub changes: Option<bool>,
}

fn with_kind(text: &str, kind: &str) -> String {
    if text.contains(':') { text.to_owned() } else { format!("{kind}:{text}") }
}

/// The components `component`, `team` and `system` narrow to (`None`: all).
pub(crate) async fn components_for(
    state: &ServerState,
    component: Option<&str>,
    team: Option<&str>,
    system: Option<&str>,
) -> Result<Option<Vec<String>>, ApiError> {
    let mut out: Option<Vec<String>> = None;
    for (text, kind) in [(component, "component"), (team, "group"), (system, "system")] {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { continue };
        let found = deploys::scope_components(&state.app.db, &with_kind(text, kind))
            .await
            .map_err(|e| match e {
                DeployError::Invalid { reason, .. } => ApiError::unprocessable(
                    match kind {
                        "group" => "team",
                        other => other,
                    },
                    reason,
                ),
                e => deploy_error(e),
            })?
            .unwrap_or_default();
        out = Some(match out {
            None => found,
            Some(prev) => prev.into_iter().filter(|c| found.contains(c)).collect(),
        });
    }
    Ok(out)
}

fn time_param(field: &'static str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.filter(|t| !t.trim().is_empty()).map(|t| deploys::parse_time(field, t).map_err(deploy_error)).transpose()
}

/// Deployments, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/deployments", tag = "deploys", params(DeploymentParams), responses(
    (status = 200, description = "A page of deployments", body = DeploymentPage),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A filter is wrong", body = ErrorEnvelope)))]
pub(crate) async fn list_deployments(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<DeploymentParams>,
) -> Result<Json<DeploymentPage>, ApiError> {
    let viewer = require(&viewer)?;
    let q = DeploymentQuery {
        components: components_for(&state, p.component.as_deref(), p.team.as_deref(), p.system.as_deref()).await?,
        environment: p.environment.filter(|e| !e.trim().is_empty()),
        status: p.status.filter(|s| !s.trim().is_empty()),
        from: time_param("from", p.from.as_deref())?,
        to: time_param("to", p.to.as_deref())?,
        limit: p.limit,
        cursor: p.cursor.filter(|c| !c.is_empty()),
        changes: p.changes.unwrap_or(false),
    };
    let hidden = hidden(&state, viewer).await?;
    deploys::list_deployments(&state.app.db, &state.app.config, &q, &hidden).await.map(Json).map_err(deploy_error)
}

/// One deployment with the changes it brought.
#[utoipa::path(get, path = "/api/v1/deployments/{id}", tag = "deploys",
    params(("id" = i64, Path, description = "Deployment id")), responses(
    (status = 200, description = "The deployment", body = DeploymentView),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such deployment", body = ErrorEnvelope)))]
pub(crate) async fn get_deployment(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DeploymentView>, ApiError> {
    let viewer = require(&viewer)?;
    let hidden = hidden(&state, viewer).await?;
    deploys::deployment(&state.app.db, &state.app.config, id, &hidden)
        .await
        .map_err(|e| ApiError::internal("loading a deployment", e))?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no such deployment"))
}

/// Records an incident (PagerDuty, Opsgenie, a person). The same `external_id` again updates it, e.g. to resolve
/// it: 201 when new, 200 when updated. Needs `incidents.write` on the component.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "deploys", request_body = IncidentInput, responses(
    (status = 201, description = "Recorded", body = IncidentView),
    (status = 200, description = "Updated", body = IncidentView),
    (status = 400, description = "The body is not JSON of this shape", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "incidents.write refused", body = ErrorEnvelope),
    (status = 422, description = "A field is wrong (`field` names it)", body = ErrorEnvelope)))]
pub(crate) async fn record_incident(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<IncidentInput>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let valid = deploys::validate_incident(&state.app.db, &state.app.config, &body).await.map_err(deploy_error)?;
    let target = Target::entity(valid.component.entity_ref.clone(), valid.component.owner_ref.as_deref());
    authorize(&state, viewer, Action::IncidentsWrite, &target).await?;
    let (view, created) = deploys::record_incident(&state.app.db, valid, "api").await.map_err(deploy_error)?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view)).into_response())
}

/// Filters of `GET /api/v1/incidents`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentParams {
    /// A component, team or system (entity ref).
    pub entity: Option<String>,
    /// An environment.
    pub environment: Option<String>,
    /// Started from (RFC 3339, inclusive).
    pub from: Option<String>,
    /// Started before (RFC 3339, exclusive).
    pub to: Option<String>,
}

/// Incidents, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/incidents", tag = "deploys", params(IncidentParams), responses(
    (status = 200, description = "Incidents", body = Vec<IncidentView>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A filter is wrong", body = ErrorEnvelope)))]
pub(crate) async fn list_incidents(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<IncidentParams>,
) -> Result<Json<Vec<IncidentView>>, ApiError> {
    let viewer = require(&viewer)?;
    let components = match p.entity.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => deploys::scope_components(&state.app.db, &with_kind(e, "component")).await.map_err(|e| match e {
            DeployError::Invalid { reason, .. } => ApiError::unprocessable("entity", reason),
            e => deploy_error(e),
        })?,
        None => None,
    };
    let hidden = hidden(&state, viewer).await?;
    deploys::list_incidents(
        &state.app.db,
        &state.app.config,
        components.as_deref(),
        p.environment.as_deref().filter(|e| !e.trim().is_empty()),
        time_param("from", p.from.as_deref())?,
        time_param("to", p.to.as_deref())?,
        &hidden,
    )
    .await
    .map(Json)
    .map_err(deploy_error)
}

/// Parameters of `GET /api/v1/dora`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DoraParams {
    /// `all` (default), or the entity ref of a team, system, domain or component.
    pub scope: Option<String>,
    /// `production` (default: every production environment) or one environment.
    pub environment: Option<String>,
    /// Start (RFC 3339; default 90 days before `to`).
    pub from: Option<String>,
    /// End (RFC 3339, exclusive; default now).
    pub to: Option<String>,
    /// The State of DevOps report year whose bands to use (2023 or 2024; default the configured one).
    pub year: Option<i32>,
}

/// Resolves the period and computes the report (shared with the page).
pub(crate) async fn dora_for(
    state: &ServerState,
    viewer: &Viewer,
    p: &DoraParams,
    details: bool,
) -> Result<(DoraReport, DoraDetails), ApiError> {
    let to = time_param("to", p.to.as_deref())?.unwrap_or_else(Utc::now);
    let from = time_param("from", p.from.as_deref())?.unwrap_or(to - Duration::days(90));
    if let Some(y) = p.year
        && !portolan_core::deploys::dora::BAND_TABLES.iter().any(|t| t.year == y)
    {
        return Err(ApiError::unprocessable("year", format!("no band table for {y}; 2023 and 2024 are known")));
    }
    let hidden = hidden(state, viewer).await?;
    let request = deploys::DoraRequest {
        scope: p.scope.as_deref().unwrap_or("all"),
        environment: p.environment.as_deref().unwrap_or("production"),
        from,
        to,
        bands_year: p.year,
        details,
    };
    deploys::dora_report(&state.app.db, &state.app.config, &request, &hidden).await.map_err(deploy_error)
}

/// The DORA four keys for a scope and period, with their bands, a weekly trend and a data-quality panel. The
/// README's "How the four keys are computed" explains each figure.
#[utoipa::path(get, path = "/api/v1/dora", tag = "deploys", params(DoraParams), responses(
    (status = 200, description = "The four keys", body = DoraReport),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A parameter is wrong", body = ErrorEnvelope)))]
pub(crate) async fn dora(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<DoraParams>,
) -> Result<Json<DoraReport>, ApiError> {
    let viewer = require(&viewer)?;
    dora_for(&state, viewer, &p, false).await.map(|(r, _)| Json(r))
}

/// What is behind each figure of `GET /api/v1/dora` (same parameters): the deployments counted for frequency,
/// which of them failed, each change's lead time and each recovery.
#[utoipa::path(get, path = "/api/v1/dora/details", tag = "deploys", params(DoraParams), responses(
    (status = 200, description = "The drill-down", body = DoraDetails),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A parameter is wrong", body = ErrorEnvelope)))]
pub(crate) async fn dora_details(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<DoraParams>,
) -> Result<Json<DoraDetails>, ApiError> {
    let viewer = require(&viewer)?;
    dora_for(&state, viewer, &p, true).await.map(|(_, d)| Json(d))
}

/// Filters of `GET /api/v1/runs-where`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsWhereParams {
    /// A team: what it owns.
    pub team: Option<String>,
    /// A system: its components.
    pub system: Option<String>,
    /// A component.
    pub component: Option<String>,
}

/// What runs where: each component's current version per environment, its age, and how many commits each
/// non-production environment is ahead of production (at most 500 components, by name).
#[utoipa::path(get, path = "/api/v1/runs-where", tag = "deploys", params(RunsWhereParams), responses(
    (status = 200, description = "The matrix", body = RunsWhere),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 422, description = "A filter is wrong", body = ErrorEnvelope)))]
pub(crate) async fn runs_where(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(p): ApiQuery<RunsWhereParams>,
) -> Result<Json<RunsWhere>, ApiError> {
    let viewer = require(&viewer)?;
    let components = components_for(&state, p.component.as_deref(), p.team.as_deref(), p.system.as_deref()).await?;
    let hidden = hidden(&state, viewer).await?;
    deploys::runs_where(&state.app.db, &state.app.config, components.as_deref(), &hidden, 500)
        .await
        .map(Json)
        .map_err(|e| ApiError::internal("loading what runs where", e))
}

/// Reading a repository's deployments, runs and commits needs the portal's GitHub token: without one every sync
/// would fail upstream, so say what to configure instead.
pub(crate) fn require_github_token(state: &ServerState) -> Result<(), ApiError> {
    if state.app.config.github_token.is_none() {
        return Err(ApiError::not_configured(
            "syncing from GitHub needs a token: set PORTOLAN_GITHUB_TOKEN (and PORTOLAN_GITHUB_API_URL for GitHub Enterprise)",
        ));
    }
    Ok(())
}

/// Reads a component's deployments from GitHub now (its `github.com/project-slug`): deployments and statuses,
/// deployment workflow runs, the commits each successful deployment brought and their pull requests. Needs
/// `deployments.write` on the component.
#[utoipa::path(post, path = "/api/v1/entities/by-ref/{kind}/{namespace}/{name}/deployments/sync", tag = "deploys",
    params(("kind" = String, Path, example = "component"), ("namespace" = String, Path, example = "default"), ("name" = String, Path, example = "payments-api")),
    responses(
        (status = 200, description = "Synced", body = DeploySyncReport),
        (status = 400, description = "The component has no repository", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "deployments.write refused", body = ErrorEnvelope),
        (status = 404, description = "No such component", body = ErrorEnvelope),
        (status = 409, description = "No GitHub token is configured (PORTOLAN_GITHUB_TOKEN)", body = ErrorEnvelope),
        (status = 429, description = "GitHub's rate limit: retry later", body = ErrorEnvelope),
        (status = 502, description = "GitHub failed", body = ErrorEnvelope)))]
pub(crate) async fn sync_deployments(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((kind, namespace, name)): ApiPath<(String, String, String)>,
) -> Result<Json<DeploySyncReport>, ApiError> {
    use portolan_core::catalog::{model::EntityRef, store};
    use portolan_core::deploys::github::{self as gh, SyncError};
    use portolan_core::github::GithubSyncError;
    let viewer = require(&viewer)?;
    let r = EntityRef::new(&kind, &namespace, &name);
    let vis = visibility::for_viewer(&state.app.db, &state.app.config, viewer)
        .await
        .map_err(|e| ApiError::internal("loading memberships", e))?;
    let entity = store::find(&state.app.db, &r)
        .await
        .map_err(|e| ApiError::internal("loading an entity", e))?
        .filter(|e| vis.allows(e) && e.kind == "component")
        .ok_or_else(|| ApiError::not_found(format!("no component {r}")))?;
    authorize(
        &state,
        viewer,
        Action::DeploymentsWrite,
        &Target::entity(entity.entity_ref.clone(), entity.owner_ref.as_deref()),
    )
    .await?;
    require_github_token(&state)?;
    match gh::sync_component(&state.app, &entity).await {
        Ok(report) => Ok(Json(report)),
        Err(e @ SyncError::NoRepository(_)) => Err(ApiError::bad_request(e.to_string())),
        Err(SyncError::Github(GithubSyncError::RateLimited { retry_after_secs, .. })) => {
            Err(ApiError::too_many_requests(format!("GitHub's rate limit: try again in {retry_after_secs} s")))
        }
        Err(SyncError::Github(e)) => Err(ApiError::bad_gateway(format!("GitHub: {e}"))),
        Err(SyncError::Db(e)) => Err(ApiError::internal("syncing deployments", e)),
    }
}
