//! Access routes: API tokens (`/api/v1/tokens`), granted rules and decisions (`/api/v1/access/...`), and the
//! helper every write route uses to ask the one decision function.

use axum::extract::{Extension, State};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use portolan_core::access::tokens::{self, TokenError};
use portolan_core::access::{self, Action, ExplainError, RuleError, Target};
use portolan_core::auth::RequestViewer;
use portolan_types::Viewer;
use portolan_types::access::{Decision, Explanation, NewToken, RuleView, TokenView};

use crate::ServerState;
use crate::api::require;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{ApiError, ErrorEnvelope};

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

/// The viewer's tokens and their teams' (administrators: everyone's), never the secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "access", responses(
    (status = 200, description = "The tokens", body = Vec<TokenView>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn list_tokens(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<impl IntoResponse, ApiError> {
    let viewer = require(&viewer)?;
    tokens::list(&state.app.db, viewer).await.map(Json).map_err(|e| ApiError::internal("listing tokens", e))
}

/// A new token: its secret, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTokenResponse {
    /// Id, for revoking.
    pub id: i64,
    /// The secret to send as `Authorization: Bearer …`.
    pub token: String,
    /// Name.
    pub name: String,
    /// The first characters of the secret, as lists show it.
    pub prefix: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// The team of a team token.
    pub team: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC, if it expires.
    pub expires_at: Option<String>,
}

/// Makes a personal or team token; the answer holds the secret, shown once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "access", request_body = NewToken, responses(
    (status = 201, description = "Created", body = CreatedTokenResponse),
    (status = 400, description = "A field is wrong", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "More rights than the owner has, or another team's token", body = ErrorEnvelope)))]
pub(crate) async fn create_token(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<impl IntoResponse, ApiError> {
    let viewer = require(&viewer)?;
    let created = tokens::create(&state.app.db, viewer, &body).await.map_err(token_error)?;
    let v = created.view;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenResponse {
            id: created.id,
            token: created.token,
            name: v.name,
            prefix: v.prefix,
            scopes: v.scopes,
            team: v.team,
            created_at: v.created_at,
            expires_at: v.expires_at,
        }),
    ))
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "access", params(("id" = i64, Path)), responses(
    (status = 204, description = "Revoked"),
    (status = 400, description = "The id is not a number", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "Someone else's token", body = ErrorEnvelope),
    (status = 404, description = "No such token", body = ErrorEnvelope)))]
pub(crate) async fn revoke_token(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
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

/// Every granted rule (`access.admin`).
#[utoipa::path(get, path = "/api/v1/access/rules", tag = "access", responses(
    (status = 200, description = "The rules, oldest first", body = Vec<RuleView>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "access.admin refused", body = ErrorEnvelope)))]
pub(crate) async fn list_rules(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &viewer).await?;
    access::rule_views(&state.app.db).await.map(Json).map_err(|e| ApiError::internal("listing rules", e))
}

/// `POST /api/v1/access/rules` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewRule {
    /// Who: `user:default/x` or `group:default/y` (a bare name is a user).
    subject: String,
    /// What: an action name (`docs.edit`) or `*`.
    action: String,
    /// Where: `all`, `kind`, `namespace` or `entity`.
    scope_type: String,
    /// The kind, namespace or entity reference (not for `all`).
    #[serde(default)]
    scope_value: Option<String>,
}

/// Grants a right (`access.admin`).
#[utoipa::path(post, path = "/api/v1/access/rules", tag = "access", request_body = NewRule, responses(
    (status = 201, description = "Granted", body = RuleView),
    (status = 400, description = "A field is wrong", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "access.admin refused", body = ErrorEnvelope)))]
pub(crate) async fn grant_rule(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<NewRule>,
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

/// Revokes a rule (`access.admin`).
#[utoipa::path(delete, path = "/api/v1/access/rules/{id}", tag = "access", params(("id" = i64, Path)), responses(
    (status = 204, description = "Revoked"),
    (status = 400, description = "The id is not a number", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "access.admin refused", body = ErrorEnvelope),
    (status = 404, description = "No such rule", body = ErrorEnvelope)))]
pub(crate) async fn revoke_rule(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let admin = require_admin(&state, &viewer).await?;
    match access::revoke_rule(&state.app.db, &admin.login, id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::not_found("no such rule")),
        Err(e) => Err(ApiError::internal("revoking a rule", e)),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DecisionQuery {
    /// Whose rights (default: the viewer's own; another person's needs `access.admin`).
    login: Option<String>,
    /// The entity (`kind:namespace/name`).
    entity: Option<String>,
}

/// For one person and entity, every action with the rule that allows or refuses it and why.
#[utoipa::path(get, path = "/api/v1/access/decisions", tag = "access", params(DecisionQuery), responses(
    (status = 200, description = "One decision per action", body = Explanation),
    (status = 400, description = "The entity reference is wrong", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "Someone else's rights need access.admin", body = ErrorEnvelope),
    (status = 404, description = "No such person or entity", body = ErrorEnvelope)))]
pub(crate) async fn decisions(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(q): ApiQuery<DecisionQuery>,
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
