//! Docs routes: `/api/v1/pages` — make a page, read it (source and rendered HTML), save a revision based on the
//! one read (409 with the current page and a diff when someone saved in between), and list its history.

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;

use portolan_core::access::Action;
use portolan_core::auth::RequestViewer;
use portolan_core::docs::guides;
use portolan_core::docs::pages::{self, DocsError};
use portolan_types::docs::{
    DocsSyncReport, GuideProgress, MoveRequest, NewPage, PageConflict, PageSummary, PageUpdate, PageView,
    RestoreRequest, ReviewRequest, RevisionContent, RevisionDiff, RevisionView, StepUpdate, TeamGuide,
};

use crate::ServerState;
use crate::access::authorize;
use crate::api::require;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{ApiError, ErrorEnvelope};

/// The docs routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/pages", get(list_pages).post(create_page))
        .route("/api/v1/pages/{id}/diff", get(page_diff))
        .route("/api/v1/pages/{id}", get(get_page).put(save_page).delete(delete_page))
        .route("/api/v1/pages/{id}/revisions", get(page_revisions))
        .route("/api/v1/pages/{id}/revisions/{number}", get(page_revision))
        .route("/api/v1/pages/{id}/restore", post(restore_page))
        .route("/api/v1/pages/{id}/review", post(review_page))
        .route("/api/v1/pages/{id}/move", post(move_page))
        .route("/api/v1/guides", get(my_guides))
        .route("/api/v1/guides/{id}", get(guide))
        .route("/api/v1/guides/{id}/steps/{key}", post(guide_step))
        .route("/api/v1/team-guides", get(team_guides))
        .route("/api/v1/entities/by-ref/{kind}/{namespace}/{name}/docs/sync", post(sync_entity_docs))
}

/// Reads an entity's docs from its repository now (`backstage.io/techdocs-ref`), as the schedule and pushes
/// do: new files become pages of the entity's space, changed files new revisions, removed files are removed.
/// Needs `docs.edit` on the entity's pages (its owning team, editors, administrators).
#[utoipa::path(post, path = "/api/v1/entities/by-ref/{kind}/{namespace}/{name}/docs/sync", tag = "docs",
    params(("kind" = String, Path, example = "component"), ("namespace" = String, Path, example = "default"), ("name" = String, Path, example = "payments-api")),
    responses(
        (status = 200, description = "Synced", body = DocsSyncReport),
        (status = 400, description = "The entity declares no docs, or they cannot be found", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "docs.edit refused", body = ErrorEnvelope),
        (status = 404, description = "No such entity", body = ErrorEnvelope),
        (status = 409, description = "No GitHub token is configured (PORTOLAN_GITHUB_TOKEN)", body = ErrorEnvelope),
        (status = 502, description = "GitHub failed", body = ErrorEnvelope)))]
pub(crate) async fn sync_entity_docs(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((kind, namespace, name)): ApiPath<(String, String, String)>,
) -> Result<Json<DocsSyncReport>, ApiError> {
    use portolan_core::catalog::{model::EntityRef, store, visibility};
    use portolan_core::docs::techdocs::{self, SyncError};
    let viewer = require(&viewer)?;
    let r = EntityRef::new(&kind, &namespace, &name);
    let vis = visibility::for_viewer(&state.app.db, &state.app.config, viewer)
        .await
        .map_err(|e| ApiError::internal("loading memberships", e))?;
    let entity = store::find(&state.app.db, &r)
        .await
        .map_err(|e| ApiError::internal("loading an entity", e))?
        .filter(|e| vis.allows(e))
        .ok_or_else(|| ApiError::not_found(format!("no entity {r}")))?;
    let space = techdocs::space_for(&entity.name);
    authorize(&state, viewer, Action::DocsEdit, &pages::access_target(&space, "", entity.owner_ref.as_deref())).await?;
    crate::deploys::require_github_token(&state)?;
    match techdocs::sync_entity(&state.app, &entity).await {
        Ok(report) => Ok(Json(report)),
        Err(SyncError::Unusable(m)) => Err(ApiError::bad_request(m)),
        Err(SyncError::Github(e)) => Err(ApiError::bad_gateway(format!("GitHub: {e}"))),
        Err(SyncError::Docs(DocsError::Invalid(m))) => Err(ApiError::bad_request(m)),
        Err(e) => Err(ApiError::internal("syncing docs", e)),
    }
}

fn docs_error(e: DocsError) -> Response {
    match e {
        DocsError::Invalid(m) => ApiError::bad_request(m).into_response(),
        DocsError::NotFound => ApiError::not_found("no such page").into_response(),
        DocsError::Conflict { current, diff, rows, .. } => {
            (StatusCode::CONFLICT, Json(PageConflict { error: "conflict".to_owned(), current: *current, diff, rows }))
                .into_response()
        }
        e @ DocsError::ReadOnly(_) => ApiError::forbidden(e.to_string()).into_response(),
        DocsError::Db(e) => ApiError::internal("storing a page", e).into_response(),
    }
}

/// Makes a page with its first revision (`docs.edit` on the owning team).
#[utoipa::path(post, path = "/api/v1/pages", tag = "docs", request_body = NewPage, responses(
    (status = 201, description = "Created", body = PageView),
    (status = 400, description = "A field is wrong", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "docs.edit refused", body = ErrorEnvelope)))]
pub(crate) async fn create_page(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(body): ApiJson<NewPage>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let owner = match pages::owner_ref(body.owner.as_deref()) {
        Ok(o) => o,
        Err(e) => return Ok(docs_error(e)),
    };
    let target = pages::access_target(body.space.trim(), &pages::slugify(&body.title), owner.as_deref());
    authorize(&state, viewer, Action::DocsEdit, &target).await?;
    Ok(match pages::create(&state.app.db, &viewer.login, &body).await {
        Ok(page) => (StatusCode::CREATED, Json(page)).into_response(),
        Err(e) => docs_error(e),
    })
}

/// A page: its Markdown source, rendered HTML, headings and current revision.
#[utoipa::path(get, path = "/api/v1/pages/{id}", tag = "docs", params(("id" = i64, Path)), responses(
    (status = 200, description = "The page", body = PageView),
    (status = 400, description = "The id is not a number", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such page", body = ErrorEnvelope)))]
pub(crate) async fn get_page(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PageView>, ApiError> {
    require(&viewer)?;
    match pages::get(&state.app.db, id).await {
        Ok(Some((_, page))) => Ok(Json(page)),
        Ok(None) => Err(ApiError::not_found("no such page")),
        Err(e) => Err(ApiError::internal("loading a page", e)),
    }
}

/// Saves a new revision based on `base_revision` (`docs.edit`); 409 with the current page and a diff when someone
/// saved in between, writing nothing.
#[utoipa::path(put, path = "/api/v1/pages/{id}", tag = "docs", params(("id" = i64, Path)), request_body = PageUpdate,
    responses(
        (status = 200, description = "Saved", body = PageView),
        (status = 400, description = "A field is wrong", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "docs.edit refused", body = ErrorEnvelope),
        (status = 404, description = "No such page", body = ErrorEnvelope),
        (status = 409, description = "Someone saved since base_revision", body = PageConflict)))]
pub(crate) async fn save_page(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PageUpdate>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let db = &state.app.db;
    let loaded = match pages::current(db, id).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return Err(ApiError::not_found("no such page")),
        Err(e) => return Err(ApiError::internal("loading a page", e)),
    };
    let page = &loaded.0;
    authorize(
        &state,
        viewer,
        Action::DocsEdit,
        &pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref()),
    )
    .await?;
    Ok(match pages::save_loaded(db, &viewer.login, loaded, &body).await {
        Ok((page, rev)) => match pages::view(db, &page, &rev).await {
            Ok(view) => Json(view).into_response(),
            Err(e) => ApiError::internal("rendering the saved page", e).into_response(),
        },
        Err(e) => docs_error(e),
    })
}

/// A page's revisions, newest first.
#[utoipa::path(get, path = "/api/v1/pages/{id}/revisions", tag = "docs", params(("id" = i64, Path)), responses(
    (status = 200, description = "The revisions", body = Vec<RevisionView>),
    (status = 400, description = "The id is not a number", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such page", body = ErrorEnvelope)))]
pub(crate) async fn page_revisions(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    require(&viewer)?;
    let db = &state.app.db;
    let current = match pages::current_revision_id(db, id).await {
        Ok(Some(current)) => current,
        Ok(None) => return Err(ApiError::not_found("no such page")),
        Err(e) => return Err(ApiError::internal("loading a page", e)),
    };
    match pages::history_until(db, &state.app.docs_cache.histories, id, current).await {
        Ok(history) => Ok(Json(history.revisions.as_slice()).into_response()),
        Err(e) => Err(ApiError::internal("listing revisions", e)),
    }
}

/// `?space=` of the page list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this space.
    space: Option<String>,
    /// `true`: only runbooks past their review date, longest overdue first.
    stale: Option<bool>,
}

/// Every page (or one space's), by space then title.
#[utoipa::path(get, path = "/api/v1/pages", tag = "docs", params(ListQuery), responses(
    (status = 200, description = "The pages", body = Vec<PageSummary>),
    (status = 400, description = "A parameter is wrong", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn list_pages(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<PageSummary>>, ApiError> {
    require(&viewer)?;
    let listed = if q.stale == Some(true) {
        pages::stale(&state.app.db, None).await.map(|all| {
            let space = q.space.as_deref().map(str::to_lowercase);
            all.into_iter().filter(|p| space.as_ref().is_none_or(|s| &p.space == s)).collect()
        })
    } else {
        pages::list(&state.app.db, q.space.as_deref()).await
    };
    listed.map(Json).map_err(|e| ApiError::internal("listing pages", e))
}

/// `?from=&to=` revision ids of the diff.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiffQuery {
    /// A revision id.
    from: i64,
    /// Another revision id of the same page.
    to: i64,
}

/// The line diff between two revisions of a page, older to newer.
#[utoipa::path(get, path = "/api/v1/pages/{id}/diff", tag = "docs", params(("id" = i64, Path), DiffQuery), responses(
    (status = 200, description = "The diff", body = RevisionDiff),
    (status = 400, description = "A revision is not this page's, or a parameter is wrong", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn page_diff(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Result<Response, ApiError> {
    require(&viewer)?;
    Ok(match pages::diff_revisions(&state.app.db, id, q.from, q.to).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => docs_error(e),
    })
}

/// One revision of a page by its number (1, 2, …): its source and rendered HTML.
#[utoipa::path(get, path = "/api/v1/pages/{id}/revisions/{number}", tag = "docs",
    params(("id" = i64, Path), ("number" = i32, Path)), responses(
    (status = 200, description = "The revision", body = RevisionContent),
    (status = 400, description = "A parameter is not a number", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such page or revision", body = ErrorEnvelope)))]
pub(crate) async fn page_revision(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((id, number)): ApiPath<(i64, i32)>,
) -> Result<Response, ApiError> {
    require(&viewer)?;
    Ok(match pages::revision(&state.app.db, id, number).await {
        Ok(r) => Json(r).into_response(),
        Err(DocsError::NotFound) => ApiError::not_found("no such page or revision").into_response(),
        Err(e) => docs_error(e),
    })
}

/// Brings an old revision back as a new revision (`docs.edit`); nothing is rewritten. 409 like a save when the
/// page moved past `base_revision`.
#[utoipa::path(post, path = "/api/v1/pages/{id}/restore", tag = "docs", params(("id" = i64, Path)),
    request_body = RestoreRequest, responses(
        (status = 200, description = "Restored as a new revision", body = PageView),
        (status = 400, description = "The revision is not this page's", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "docs.edit refused", body = ErrorEnvelope),
        (status = 404, description = "No such page", body = ErrorEnvelope),
        (status = 409, description = "Someone saved since base_revision", body = PageConflict)))]
pub(crate) async fn restore_page(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RestoreRequest>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let page = match pages::current(&state.app.db, id).await {
        Ok(Some((page, _))) => page,
        Ok(None) => return Err(ApiError::not_found("no such page")),
        Err(e) => return Err(ApiError::internal("loading a page", e)),
    };
    authorize(
        &state,
        viewer,
        Action::DocsEdit,
        &pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref()),
    )
    .await?;
    Ok(match pages::restore(&state.app.db, &viewer.login, id, body.revision, body.base_revision).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => docs_error(e),
    })
}

/// Deletes a page with all its revisions (`docs.edit`); 204.
#[utoipa::path(delete, path = "/api/v1/pages/{id}", tag = "docs", params(("id" = i64, Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 400, description = "The id is not a number", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "docs.edit refused", body = ErrorEnvelope),
    (status = 404, description = "No such page", body = ErrorEnvelope)))]
pub(crate) async fn delete_page(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let page = match pages::current(&state.app.db, id).await {
        Ok(Some((page, _))) => page,
        Ok(None) => return Err(ApiError::not_found("no such page")),
        Err(e) => return Err(ApiError::internal("loading a page", e)),
    };
    authorize(
        &state,
        viewer,
        Action::DocsEdit,
        &pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref()),
    )
    .await?;
    Ok(match pages::delete(&state.app.db, &viewer.login, id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => docs_error(e),
    })
}

/// Marks a page reviewed now, optionally with a new interval (`docs.edit`); stale runbooks stop being flagged.
#[utoipa::path(post, path = "/api/v1/pages/{id}/review", tag = "docs", params(("id" = i64, Path)),
    request_body = ReviewRequest, responses(
        (status = 200, description = "Reviewed", body = PageView),
        (status = 400, description = "The interval is out of range", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "docs.edit refused", body = ErrorEnvelope),
        (status = 404, description = "No such page", body = ErrorEnvelope)))]
pub(crate) async fn review_page(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReviewRequest>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let page = match pages::current(&state.app.db, id).await {
        Ok(Some((page, _))) => page,
        Ok(None) => return Err(ApiError::not_found("no such page")),
        Err(e) => return Err(ApiError::internal("loading a page", e)),
    };
    authorize(
        &state,
        viewer,
        Action::DocsEdit,
        &pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref()),
    )
    .await?;
    Ok(match pages::mark_reviewed(&state.app.db, &viewer.login, id, body.interval_days).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => docs_error(e),
    })
}

/// Moves or renames a page (`docs.edit` where it is and where it goes); the old address keeps leading to it.
#[utoipa::path(post, path = "/api/v1/pages/{id}/move", tag = "docs", params(("id" = i64, Path)),
    request_body = MoveRequest, responses(
        (status = 200, description = "Moved", body = PageView),
        (status = 400, description = "The space is wrong or the address is another page's", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "docs.edit refused", body = ErrorEnvelope),
        (status = 404, description = "No such page", body = ErrorEnvelope)))]
pub(crate) async fn move_page(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MoveRequest>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let page = match pages::current(&state.app.db, id).await {
        Ok(Some((page, _))) => page,
        Ok(None) => return Err(ApiError::not_found("no such page")),
        Err(e) => return Err(ApiError::internal("loading a page", e)),
    };
    let owner = page.owner_ref.as_deref();
    authorize(&state, viewer, Action::DocsEdit, &pages::access_target(&page.space, &page.slug, owner)).await?;
    let slug = pages::slugify(body.slug.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or(&page.title));
    authorize(&state, viewer, Action::DocsEdit, &pages::access_target(body.space.trim(), &slug, owner)).await?;
    Ok(
        match pages::move_page(&state.app.db, &viewer.login, id, &body.space, Some(&slug), body.parent.as_deref()).await
        {
            Ok(page) => Json(page).into_response(),
            Err(e) => docs_error(e),
        },
    )
}

async fn memberships(state: &ServerState, viewer: &portolan_types::Viewer) -> Result<Vec<String>, ApiError> {
    portolan_core::access::subject_for(&state.app.db, viewer)
        .await
        .map(|s| s.memberships)
        .map_err(|e| ApiError::internal("finding memberships", e))
}

/// The caller's onboarding guides: those assigned to their teams and those they picked, with their progress.
#[utoipa::path(get, path = "/api/v1/guides", tag = "docs", responses(
    (status = 200, description = "The guides, least done first", body = Vec<GuideProgress>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn my_guides(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let teams = memberships(&state, viewer).await?;
    Ok(match guides::for_login(&state.app.db, &viewer.login, &teams).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => docs_error(e),
    })
}

/// One guide's steps with the caller's ticks.
#[utoipa::path(get, path = "/api/v1/guides/{id}", tag = "docs", params(("id" = i64, Path)), responses(
    (status = 200, description = "The guide", body = GuideProgress),
    (status = 400, description = "The page is not a guide", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such page", body = ErrorEnvelope)))]
pub(crate) async fn guide(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let teams = memberships(&state, viewer).await?;
    Ok(match guides::for_person(&state.app.db, id, &viewer.login, &teams).await {
        Ok(g) => Json(g).into_response(),
        Err(e) => docs_error(e),
    })
}

/// Ticks a step of a guide off for the caller (or clears it, `done: false`); answers the guide.
#[utoipa::path(post, path = "/api/v1/guides/{id}/steps/{key}", tag = "docs",
    params(("id" = i64, Path), ("key" = String, Path)), request_body = StepUpdate, responses(
    (status = 200, description = "The guide with the caller's ticks", body = GuideProgress),
    (status = 400, description = "Not a guide, or not one of its steps", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such page", body = ErrorEnvelope)))]
pub(crate) async fn guide_step(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((id, key)): ApiPath<(i64, String)>,
    ApiJson(body): ApiJson<StepUpdate>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let db = &state.app.db;
    if let Err(e) = guides::set_step(db, id, &key, &viewer.login, body.done).await {
        return Ok(docs_error(e));
    }
    let teams = memberships(&state, viewer).await?;
    Ok(match guides::for_person(db, id, &viewer.login, &teams).await {
        Ok(g) => Json(g).into_response(),
        Err(e) => docs_error(e),
    })
}

/// `?group=` of the team guides.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TeamQuery {
    /// The team (`group:default/payments` or `payments`).
    group: String,
}

/// A team's guides with every member's progress.
#[utoipa::path(get, path = "/api/v1/team-guides", tag = "docs", params(TeamQuery), responses(
    (status = 200, description = "The team's guides", body = Vec<TeamGuide>),
    (status = 400, description = "The group is not a reference", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn team_guides(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(q): ApiQuery<TeamQuery>,
) -> Result<Json<Vec<TeamGuide>>, ApiError> {
    require(&viewer)?;
    let group = match pages::owner_ref(Some(&q.group)) {
        Ok(Some(g)) => g,
        _ => return Err(ApiError::bad_request("group: a group reference such as group:default/payments")),
    };
    guides::for_team(&state.app.db, &group).await.map(Json).map_err(|e| ApiError::internal("team guides", e))
}
