//! Server functions answer a failure with status 500 (to scripts) or a redirect back to the form (to browsers
//! without JavaScript), whatever the failure. A refusal is not a server error: this layer gives refusals their own
//! status, 401 or 403, in both cases; a form posted directly by someone who may not (the page showed them no such
//! form) gets a plain page saying what was refused. Validation errors keep the redirect, so a form shows them.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;

use portolan_app::error::AppError;

use crate::http::escape_html as escape;

/// Error bodies are small; anything larger is not one.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Rewrites the status of refused server-function calls.
pub async fn refusal_status(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with(portolan_app::SERVER_FN_PREFIX) {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let redirected_form = res.headers().contains_key("serverfnerror") && res.status().is_redirection();
    if !(redirected_form || res.status() == StatusCode::INTERNAL_SERVER_ERROR) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_ERROR_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response(),
    };
    let status = match serde_json::from_slice::<AppError>(&bytes) {
        Ok(e @ (AppError::Forbidden(_) | AppError::Unauthorized)) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
            if redirected_form {
                let csp = HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                );
                return (status, [(header::CONTENT_SECURITY_POLICY, csp)], refusal_page(&e)).into_response();
            }
            status
        }
        _ => parts.status,
    };
    parts.status = status;
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::from(bytes))
}

fn refusal_page(error: &AppError) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Portolan</title>\
         <link rel=\"stylesheet\" href=\"/pkg/{css}.css\"></head><body><main class=\"page\"><section \
         class=\"error-page\"><p class=\"error-code\">{code}</p><h1>{title}</h1><p>{message}</p><p><a href=\"/\">Back \
         to the home page</a></p></section></main></body></html>",
        title = escape(error.title()),
        code = error.status(),
        message = escape(&error.to_string()),
        css = portolan_app::OUTPUT_NAME,
    ))
}
