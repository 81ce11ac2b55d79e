//! Server-only helpers for server functions and components: the shared state, the viewer of the current
//! request, the response status and the document's security headers.

use http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use http::request::Parts;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use portolan_core::AppState;
use portolan_core::auth::RequestViewer;
use portolan_types::Viewer;

use crate::error::AppError;

/// The shared state, provided by the server for every render and server function call.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::Internal
    })
}

/// Who this request acts for, as resolved by the server's authentication middleware.
pub fn viewer() -> Option<Viewer> {
    use_context::<Parts>().and_then(|p| p.extensions.get::<RequestViewer>().and_then(|v| v.0.clone()))
}

/// The viewer, or [`AppError::Unauthorized`].
pub fn require_viewer() -> Result<Viewer, AppError> {
    viewer().ok_or(AppError::Unauthorized)
}

/// The visitor's session (tower-sessions), for state kept across one redirect.
pub fn session() -> Option<tower_sessions::Session> {
    use_context::<Parts>().and_then(|p| p.extensions.get::<tower_sessions::Session>().cloned())
}

/// Whether this server-function call is a plain HTML form post (no JavaScript ran): such a browser gets redirects,
/// not data. The same test `leptos_axum` uses to redirect plain forms back.
pub fn plain_form_post() -> bool {
    use_context::<Parts>().is_some_and(|p| {
        p.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
    })
}

/// A cookie sent with the request.
pub fn cookie(name: &str) -> Option<String> {
    let parts = use_context::<Parts>()?;
    parts.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        header.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    })
}

/// Sets the HTTP status of the page being rendered.
pub fn set_status(status: u16) {
    if let (Some(options), Ok(code)) = (use_context::<ResponseOptions>(), http::StatusCode::from_u16(status)) {
        options.set_status(code);
    }
}

/// Logs a service error with its details and turns it into the opaque [`AppError::Internal`].
pub fn internal(context: &str, error: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %error, "{context} failed");
    AppError::Internal
}

/// Asks the one decision function; a refusal becomes a 403 naming the action and the reason.
pub async fn authorize(
    state: &portolan_core::AppState,
    viewer: &Viewer,
    action: portolan_core::access::Action,
    target: &portolan_core::access::Target,
) -> Result<(), AppError> {
    match portolan_core::access::check(&state.db, viewer, action, target).await {
        Ok(d) if d.allowed => Ok(()),
        Ok(d) => Err(AppError::Forbidden(format!(
            "{}{} ({})",
            d.action,
            target.entity_ref.as_deref().map(|r| format!(" {r}")).unwrap_or_default(),
            d.reason
        ))),
        Err(e) => Err(internal("deciding a permission", e)),
    }
}

/// What the viewer may see of the catalog (`PORTOLAN_HIDDEN_NAMESPACES`).
pub async fn visibility(
    state: &portolan_core::AppState,
    viewer: &Viewer,
) -> Result<portolan_core::catalog::visibility::Visibility, AppError> {
    portolan_core::catalog::visibility::for_viewer(&state.db, &state.config, viewer)
        .await
        .map_err(|e| internal("loading memberships", e))
}

/// Whether the decision function allows an action (for hiding what a viewer may not do).
pub async fn allowed(
    state: &portolan_core::AppState,
    viewer: &Viewer,
    action: portolan_core::access::Action,
    target: &portolan_core::access::Target,
) -> Result<bool, AppError> {
    portolan_core::access::check(&state.db, viewer, action, target)
        .await
        .map(|d| d.allowed)
        .map_err(|e| internal("deciding a permission", e))
}

/// The Content-Security-Policy for HTML pages: scripts only from this origin or with this render's nonce (the
/// hydration script), wasm compilation allowed, no inline styles, no framing.
pub fn set_document_headers() {
    let Some(options) = use_context::<ResponseOptions>() else { return };
    let nonce = leptos::nonce::use_nonce().map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let github = use_context::<AppState>().map(|s| s.config.github_url.origin().ascii_serialization());
    let img_extra = github.filter(|o| o.starts_with("http:")).map(|o| format!(" {o}")).unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: https:{img_extra}; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        options.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}
