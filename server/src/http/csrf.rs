//! Cross-site request forgery protection for every state-changing request.
//!
//! Session cookies are `SameSite=Lax`, which already keeps them off cross-site POSTs in current browsers; this
//! check adds a second, browser-independent line: a mutation whose `Sec-Fetch-Site` says it came from another
//! site, or whose `Origin` is neither this host nor the public URL, is refused with 403. Requests that carry a
//! bearer token are not cookie-authenticated and pass.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;
use http::header::{AUTHORIZATION, HOST, ORIGIN};

use crate::ServerState;
use crate::http::ApiError;

/// Refuses cross-origin mutations.
pub async fn check_origin(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    if bearer {
        return next.run(req).await;
    }
    let allowed = match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin" | "none") => true,
        Some(_) => false,
        None => match headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(origin) => {
                let public = state.app.config.public_url.origin().ascii_serialization();
                let host = headers.get(HOST).and_then(|v| v.to_str().ok());
                origin == public
                    || host.is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}"))
            }
        },
    };
    if allowed {
        next.run(req).await
    } else {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), "cross-origin request refused");
        ApiError::forbidden("cross-origin requests may not change anything").into_response()
    }
}
