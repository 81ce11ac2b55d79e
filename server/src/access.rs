//! Access routes: API tokens (`/api/v1/tokens`), granted rules and decisions (`/api/v1/access/...`), and the
//! helper every write route uses to ask the one decision function.

use axum::extract::{Extension, Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use portolan_core::access::tokens::{self, TokenError};
use portolan_core::access::{self, Action, ExplainError, RuleError, Target};
use portolan_core::auth::RequestViewer;
use portolan_types::Viewer;
use portolan_types::access::{Decision, NewToken};

use crate::ServerState;
use crate::api::require;
use crate::http::ApiError;

/// The access routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/access/rules", get(list_rules).post(grant_rule))
        .route("/api/v1/access/rules/{id}", delete(revoke_rule))
        .route("/api/v1/access/decisions", get(decisions))
}

/// A refusal: 403 naming the action and the reason.
pub fn refusal(decision: &Decision) -> ApiError {
    ApiError::forbidden(format!("{} refused: {}", decision.action, decision.reason))
}

/// Asks the decision function; `Err` is the response to send (403 or 500).
pub async fn authorize(state: &ServerState, viewer: &Viewer, action: Action, target: &Target) -> Result<(), ApiError> {
    match access::check(&state.app.db, viewer, action, target).await {
        Ok(d) if d.allowed => Ok(()),
        Ok(d) => Err(refusal(&d)),
        Err(e) => Err(ApiError::internal("deciding a permission", e)),
    }
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Invalid(m) => ApiError::bad_request(m),
        TokenError::Forbidden(m) => ApiError::forbidden(m),
        TokenError::NotFound => ApiError::not_found("no such token"),
        TokenError::Db(e) => ApiError::internal("storing a token", e),
    }
}

/// `GET /api/v1/tokens`: the viewer's tokens and their teams' (administrators: all), never the secrets.
async fn list_tokens(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<impl IntoResponse, ApiError> {
    let viewer = require(&viewer)?;
    tokens::list(&state.app.db, viewer).await.map(Json).map_err(|e| ApiError::internal("listing tokens", e))
}

/// `POST /api/v1/tokens`: 201 with `id` and `token` (shown once).
async fn create_token(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Json(body): Json<NewToken>,
) -> Result<impl IntoResponse, ApiError> {
    let viewer = require(&viewer)?;
    let created = tokens::create(&state.app.db, viewer, &body).await.map_err(token_error)?;
    let v = &created.view;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": created.id, "token": created.token, "name": v.name, "prefix": v.prefix, "scopes": v.scopes,
            "team": v.team, "created_at": v.created_at, "expires_at": v.expires_at,
        })),
    ))
}

/// `DELETE /api/v1/tokens/{id}`: revokes at once.
async fn revoke_token(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let viewer = require(&viewer)?;
    tokens::revoke(&state.app.db, viewer, id).await.map_err(token_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn require_admin(state: &ServerState, viewer: &RequestViewer) -> Result<Viewer, ApiError> {
    let viewer = require(viewer)?.clone();
    authorize(state, &viewer, Action::AccessAdmin, &Target::global()).await?;
    Ok(viewer)
}

/// `GET /api/v1/access/rules`: every granted rule (administrators).
async fn list_rules(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &viewer).await?;
    access::rule_views(&state.app.db).await.map(Json).map_err(|e| ApiError::internal("listing rules", e))
}

/// `POST /api/v1/access/rules` body.
#[derive(Debug, Deserialize)]
struct NewRule {
    subject: String,
    action: String,
    scope_type: String,
    #[serde(default)]
    scope_value: Option<String>,
}

/// `POST /api/v1/access/rules`: grants a right (administrators).
async fn grant_rule(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Json(body): Json<NewRule>,
) -> Result<impl IntoResponse, ApiError> {
    let admin = require_admin(&state, &viewer).await?;
    let rule = access::grant_rule(
        &state.app.db,
        &admin.login,
        &body.subject,
        &body.action,
        &body.scope_type,
        body.scope_value.as_deref(),
    )
    .await
    .map_err(|e| match e {
        RuleError::Invalid(m) => ApiError::bad_request(m),
        RuleError::Db(e) => ApiError::internal("granting a rule", e),
    })?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// `DELETE /api/v1/access/rules/{id}` (administrators).
async fn revoke_rule(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let admin = require_admin(&state, &viewer).await?;
    match access::revoke_rule(&state.app.db, &admin.login, id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::not_found("no such rule")),
        Err(e) => Err(ApiError::internal("revoking a rule", e)),
    }
}

#[derive(Debug, Deserialize)]
struct DecisionQuery {
    /// Whose rights (default: the viewer's own; another person's needs `access.admin`).
    login: Option<String>,
    /// The entity (`kind:namespace/name`).
    entity: Option<String>,
}

/// `GET /api/v1/access/decisions?login=&entity=`: for one person and entity, every action with the rule that
/// allows or refuses it and why.
async fn decisions(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    Query(q): Query<DecisionQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let me = require(&viewer)?;
    access::explain(&state.app.db, &state.app.config, me, q.login.as_deref(), q.entity.as_deref())
        .await
        .map(Json)
        .map_err(|e| match e {
            ExplainError::Forbidden(d) => refusal(&d),
            ExplainError::NotFound(m) => ApiError::not_found(m),
            ExplainError::Invalid(m) => ApiError::bad_request(m),
            ExplainError::Db(e) => ApiError::internal("explaining decisions", e),
        })
}
