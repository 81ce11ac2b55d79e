//! Files attached to docs pages: upload (`multipart/form-data`, from the JSON API or a plain browser form), list,
//! delete, and `/files/{id}/{name}`, which serves a file to signed-in people with headers that keep it from
//! running anything in the portal's origin.

use axum::extract::{Extension, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};

use portolan_core::access::Action;
use portolan_core::auth::RequestViewer;
use portolan_core::docs::attachments;
use portolan_core::docs::pages::{self, DocsError};
use portolan_types::docs::Attachment;

use crate::ServerState;
use crate::access::authorize;
use crate::api::require;
use crate::http::ApiError;
use crate::http::ErrorEnvelope;
use crate::http::extract::ApiPath;

/// The routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/pages/{id}/attachments", get(list).post(upload))
        .route("/api/v1/attachments/{id}", delete(remove))
        .route("/files/{id}/{name}", get(serve))
}

/// Multipart overhead allowed on top of the largest file.
pub const UPLOAD_OVERHEAD: usize = 64 * 1024;

/// Whether a path is the upload route (its body limit follows the configured file size).
pub fn is_upload(path: &str) -> bool {
    path.strip_prefix("/api/v1/pages/").is_some_and(|rest| rest.ends_with("/attachments"))
}

async fn page_for_edit(state: &ServerState, viewer: &portolan_types::Viewer, id: i64) -> Result<(), ApiError> {
    let page = match pages::current(&state.app.db, id).await {
        Ok(Some((page, _))) => page,
        Ok(None) => return Err(ApiError::not_found("no such page")),
        Err(e) => return Err(ApiError::internal("loading a page", e)),
    };
    authorize(
        state,
        viewer,
        Action::DocsEdit,
        &pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref()),
    )
    .await?;
    if page.source_path.is_some() {
        return Err(ApiError::forbidden("this page is kept in sync from its repository; add files there"));
    }
    Ok(())
}

/// A page's files, by name.
#[utoipa::path(get, path = "/api/v1/pages/{id}/attachments", tag = "docs", params(("id" = i64, Path)), responses(
    (status = 200, description = "The files", body = Vec<Attachment>),
    (status = 400, description = "The id is not a number", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such page", body = ErrorEnvelope)))]
pub(crate) async fn list(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<Attachment>>, ApiError> {
    require(&viewer)?;
    match pages::current(&state.app.db, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(ApiError::not_found("no such page")),
        Err(e) => return Err(ApiError::internal("loading a page", e)),
    }
    attachments::list(&state.app.db, id).await.map(Json).map_err(|e| ApiError::internal("listing files", e))
}

/// The multipart form an upload takes.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub(crate) struct UploadForm {
    /// The file. Accepted: images (png, jpg, gif, webp, svg), PDF, zip and text (txt, log, md, csv, json, yaml);
    /// the content must be of the type the name says.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// For plain browser forms: the docs address to go back to (`/docs/…`).
    return_to: Option<String>,
}

/// Attaches a file to a page (`docs.edit`); a file of the same name is replaced. A plain browser form (one that
/// accepts HTML) is sent back to `return_to` instead of receiving JSON.
#[utoipa::path(post, path = "/api/v1/pages/{id}/attachments", tag = "docs", params(("id" = i64, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"), responses(
        (status = 201, description = "Stored", body = Attachment),
        (status = 303, description = "Stored or refused, for a plain form: back to the page"),
        (status = 400, description = "No file, or a file that is not what its name says", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "docs.edit refused, or the page is kept in a repository", body = ErrorEnvelope),
        (status = 404, description = "No such page", body = ErrorEnvelope),
        (status = 413, description = "The file is too large", body = ErrorEnvelope)))]
pub(crate) async fn upload(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    page_for_edit(&state, viewer, id).await?;
    let wants_html =
        headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let max = state.app.config.docs_attachment_max_bytes;
    let mut multipart = multipart.map_err(|e| ApiError::bad_request(format!("send multipart/form-data: {e}")))?;
    let mut return_to: Option<String> = None;
    let mut file: Option<(String, Option<String>, Vec<u8>)> = None;
    let read = async {
        while let Some(mut field) = multipart.next_field().await.map_err(field_error)? {
            match field.name() {
                Some("return_to") => return_to = Some(field.text().await.map_err(field_error)?),
                Some("file") if file.is_none() => {
                    let name = field.file_name().unwrap_or_default().to_owned();
                    let declared = field.content_type().map(str::to_owned);
                    let mut data = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(field_error)? {
                        if data.len() + chunk.len() > max {
                            return Err(ApiError::too_large(format!("{name}: files may be at most {max} bytes")));
                        }
                        data.extend_from_slice(&chunk);
                    }
                    file = Some((name, declared, data));
                }
                _ => {}
            }
        }
        Ok(())
    }
    .await;
    let stored = match read {
        Err(e) => Err(e),
        Ok(()) => match &file {
            None => Err(ApiError::bad_request("file: send the file in a multipart field named file")),
            Some((name, _, _)) if name.trim().is_empty() => Err(ApiError::bad_request("file: choose a file first")),
            Some((name, declared, data)) => {
                match attachments::store(&state.app.db, &viewer.login, id, name, declared.as_deref(), data, max).await {
                    Ok(a) => Ok(a),
                    Err(DocsError::Invalid(m)) => Err(ApiError::bad_request(m)),
                    Err(DocsError::NotFound) => Err(ApiError::not_found("no such page")),
                    Err(e) => Err(ApiError::internal("storing a file", e)),
                }
            }
        },
    };
    let back = return_to.filter(|r| safe_return(r));
    match (wants_html, back, stored) {
        (true, Some(back), Ok(a)) => Ok(Redirect::to(&with_query(&back, "attached", &a.name)).into_response()),
        (true, Some(back), Err(e)) => Ok(Redirect::to(&with_query(&back, "attach_error", e.message())).into_response()),
        (_, _, Ok(a)) => Ok((StatusCode::CREATED, Json(a)).into_response()),
        (_, _, Err(e)) => Err(e),
    }
}

fn field_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(e.body_text())
    } else {
        ApiError::bad_request(format!("the form could not be read: {}", e.body_text()))
    }
}

/// Only a docs address of this portal: no scheme, no `//host`, no backslashes, no way out of `/docs/`.
fn safe_return(r: &str) -> bool {
    r.starts_with("/docs/")
        && !r.contains("//")
        && !r.contains('\\')
        && !r.contains("..")
        && r.chars().all(|c| c.is_ascii_graphic())
}

fn with_query(back: &str, key: &str, value: &str) -> String {
    let path = back.split(['?', '#']).next().unwrap_or(back);
    let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    format!("{path}?{key}={value}#attachments")
}

/// Removes a file from its page (`docs.edit`).
#[utoipa::path(delete, path = "/api/v1/attachments/{id}", tag = "docs", params(("id" = i64, Path)), responses(
    (status = 204, description = "Removed"),
    (status = 400, description = "The id is not a number", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "docs.edit refused", body = ErrorEnvelope),
    (status = 404, description = "No such file", body = ErrorEnvelope)))]
pub(crate) async fn remove(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let viewer = require(&viewer)?;
    let found = attachments::find(&state.app.db, id)
        .await
        .map_err(|e| ApiError::internal("loading a file", e))?
        .ok_or_else(|| ApiError::not_found("no such file"))?;
    page_for_edit(&state, viewer, found.page_id).await?;
    match attachments::delete(&state.app.db, &viewer.login, id).await {
        Ok(()) | Err(DocsError::NotFound) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(ApiError::internal("removing a file", e)),
    }
}

/// Serves a file to a signed-in person, revalidated by its hash.
async fn serve(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    headers: HeaderMap,
    ApiPath((id, name)): ApiPath<(i64, String)>,
) -> Result<Response, ApiError> {
    require(&viewer)?;
    let file = attachments::get(&state.app.db, id)
        .await
        .map_err(|e| ApiError::internal("loading a file", e))?
        .filter(|f| f.name == name)
        .ok_or_else(|| ApiError::not_found("no such file"))?;
    let etag = format!("\"{}\"", file.sha256);
    let fresh = headers.get(http::header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut res = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { file.data.into_response() };
    let h = res.headers_mut();
    for (key, value) in attachments::headers(&file.content_type, &file.name) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(key, v);
        }
    }
    h.insert(http::header::ETAG, HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_forms_only_go_back_into_the_docs() {
        assert!(safe_return("/docs/payments/restart/edit"));
        for bad in
            ["https://evil.example/docs/", "//evil.example", "/docs//evil", "/docs/../admin", "/\\evil", "/catalog"]
        {
            assert!(!safe_return(bad), "{bad}");
        }
        assert_eq!(
            with_query("/docs/a/b/edit?x=1#top", "attached", "a b.png"),
            "/docs/a/b/edit?attached=a+b.png#attachments"
        );
    }
}
