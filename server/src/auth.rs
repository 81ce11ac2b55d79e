//! Signing in with GitHub (OAuth authorization code with `state` and PKCE), the local-admin shortcut, signing
//! out, and resolving who each request acts for.
//!
//! Login state lives in the server-side session: the `state` and PKCE verifier are stored when the person is
//! sent to GitHub and removed on the first callback, so a forged, replayed or stale callback finds nothing to
//! match. A successful login gets a fresh session id; a refused one leaves no session behind.

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::header::AUTHORIZATION;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tower_sessions::Session;

use portolan_core::Secret;
use portolan_core::audit;
use portolan_core::auth::{self as core_auth, RequestViewer};
use portolan_core::config::{Config, GithubOAuth};
use portolan_types::LoginError;

use crate::ServerState;
use crate::http::ApiError;

/// Session key holding the signed-in user's id.
pub const USER_ID_KEY: &str = "uid";
/// Session key holding a login in progress.
const PENDING_KEY: &str = "oauth_pending";
/// How long someone may spend on GitHub's consent page.
const PENDING_TTL_SECONDS: i64 = 600;

/// A login in progress: what the callback must match.
#[derive(Debug, Serialize, Deserialize)]
struct PendingLogin {
    state: String,
    pkce_verifier: String,
    started_at: i64,
    /// Where to land after signing in (already checked by `safe_next`).
    #[serde(default)]
    next: Option<String>,
}

/// `?next=` on the sign-in routes: the page to return to.
#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The authentication routes. `/auth/local` exists only where the local admin is enabled.
pub fn router(config: &Config) -> Router<ServerState> {
    let router = Router::new()
        .route("/auth/github", get(github_start))
        .route("/auth/github/callback", get(github_callback))
        .route("/auth/logout", post(logout));
    if config.local_admin_enabled() { router.route("/auth/local", post(local_admin)) } else { router }
}

fn oauth_client(
    config: &Config,
    app: &GithubOAuth,
) -> Result<
    oauth2::basic::BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    oauth2::url::ParseError,
> {
    let base = config.github_url.as_str().trim_end_matches('/');
    Ok(BasicClient::new(ClientId::new(app.client_id.clone()))
        .set_client_secret(ClientSecret::new(app.client_secret.expose().to_owned()))
        .set_auth_uri(AuthUrl::new(format!("{base}/login/oauth/authorize"))?)
        .set_token_uri(TokenUrl::new(format!("{base}/login/oauth/access_token"))?)
        .set_redirect_uri(RedirectUrl::new(config.github_callback_url())?)
        // GitHub documents the client credentials as form parameters.
        .set_auth_type(AuthType::RequestBody))
}

/// `GET /auth/github`: sends the person to GitHub's consent page.
async fn github_start(State(state): State<ServerState>, session: Session, Query(q): Query<NextQuery>) -> Response {
    let config = &state.app.config;
    let Some(app) = config.github_oauth.as_ref() else {
        return ApiError::not_found("GitHub sign-in is not configured").into_response();
    };
    let client = match oauth_client(config, app) {
        Ok(c) => c,
        Err(e) => return ApiError::internal("building the OAuth client", e).into_response(),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read:user".to_owned()))
        .add_scope(Scope::new("read:org".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingLogin {
        state: csrf.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        started_at: chrono::Utc::now().timestamp(),
        next: Some(portolan_types::safe_next(q.next.as_deref())),
    };
    if let Err(e) = session.insert(PENDING_KEY, pending).await {
        return ApiError::internal("storing the login state", e).into_response();
    }
    Redirect::to(url.as_str()).into_response()
}

/// What GitHub sends back to the callback.
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Compares two strings in time that depends only on their lengths.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Ends a refused login: no session survives, the refusal is audited, and the person lands on the login page
/// with a sentence saying why.
async fn refuse(state: &ServerState, session: &Session, reason: LoginError, who: Option<&str>) -> Response {
    if let Err(e) = session.flush().await {
        tracing::error!(error = %e, "flushing a refused login's session failed");
    }
    tracing::warn!(reason = reason.code(), login = who.unwrap_or("-"), "login refused");
    let detail = serde_json::json!({"reason": reason.code()});
    let entry = audit::Entry {
        actor: who.unwrap_or("anonymous"),
        action: "auth.login_refused",
        detail: Some(detail),
        ..Default::default()
    };
    if let Err(e) = audit::record(&state.app.db, entry).await {
        tracing::error!(error = %e, "recording a refused login failed");
    }
    Redirect::to(&format!("/login?error={}", reason.code())).into_response()
}

/// `GET /auth/github/callback`: checks `state`, exchanges the code with the PKCE verifier, reads the person's
/// profile, organisations and teams, and signs them in if an allowed organisation has them.
async fn github_callback(
    State(state): State<ServerState>,
    session: Session,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let config = state.app.config.clone();
    let Some(app) = config.github_oauth.as_ref() else {
        return ApiError::not_found("GitHub sign-in is not configured").into_response();
    };
    // Take the pending login out first: whatever happens next, this state can never be used again.
    let pending: Option<PendingLogin> = match session.remove(PENDING_KEY).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "reading the login state failed");
            None
        }
    };
    if q.error.is_some() {
        return refuse(&state, &session, LoginError::Denied, None).await;
    }
    let now = chrono::Utc::now().timestamp();
    let (Some(pending), Some(returned_state), Some(code)) = (pending, q.state.as_deref(), q.code) else {
        return refuse(&state, &session, LoginError::State, None).await;
    };
    if !constant_time_eq(&pending.state, returned_state) || now - pending.started_at > PENDING_TTL_SECONDS {
        return refuse(&state, &session, LoginError::State, None).await;
    }
    let next = portolan_types::safe_next(pending.next.as_deref());
    let client = match oauth_client(&config, app) {
        Ok(c) => c,
        Err(e) => return ApiError::internal("building the OAuth client", e).into_response(),
    };
    let token = match client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&state.http)
        .await
    {
        Ok(t) => Secret::new(t.access_token().secret().clone()),
        Err(e) => {
            // The error can quote GitHub's answer, never our secret or the code verifier.
            tracing::warn!(error = %describe_token_error(&e), "GitHub token exchange failed");
            return refuse(&state, &session, LoginError::Exchange, None).await;
        }
    };
    let identity = match state.app.github.identity(&token).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "reading the GitHub identity failed");
            return refuse(&state, &session, LoginError::Github, None).await;
        }
    };
    if !core_auth::is_allowed(&identity, &config.allowed_orgs) {
        return refuse(&state, &session, LoginError::Org, Some(&identity.login)).await;
    }
    let user = match core_auth::record_github_login(&state.app.db, &identity).await {
        Ok(u) => u,
        Err(e) => return ApiError::internal("recording a login", e).into_response(),
    };
    if let Err(e) = sign_in(&session, user.id).await {
        return ApiError::internal("starting a session", e).into_response();
    }
    tracing::info!(user.login = %user.login, "signed in {}", user.login);
    let entry =
        audit::Entry { actor: &user.login, action: "auth.login", target: Some(&user.login), ..Default::default() };
    if let Err(e) = audit::record(&state.app.db, entry).await {
        tracing::error!(error = %e, "recording a login in the audit log failed");
    }
    Redirect::to(&next).into_response()
}

fn describe_token_error<RE: std::error::Error + 'static>(
    e: &oauth2::RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> String {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => format!("GitHub answered {}", r.error()),
        oauth2::RequestTokenError::Request(r) => format!("request failed: {r}"),
        oauth2::RequestTokenError::Parse(p, _) => format!("unreadable answer: {p}"),
        oauth2::RequestTokenError::Other(o) => o.clone(),
    }
}

/// Starts an authenticated session under a new id, so an id planted before login is worthless after it.
async fn sign_in(session: &Session, user_id: i64) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_ID_KEY, user_id).await
}

/// `POST /auth/local`: "Continue as local admin" (only routed when no GitHub app is configured and the server
/// listens on loopback only).
async fn local_admin(State(state): State<ServerState>, session: Session, Query(q): Query<NextQuery>) -> Response {
    let user = match core_auth::ensure_local_admin(&state.app.db).await {
        Ok(u) => u,
        Err(e) => return ApiError::internal("creating the local admin", e).into_response(),
    };
    if let Err(e) = sign_in(&session, user.id).await {
        return ApiError::internal("starting a session", e).into_response();
    }
    let entry = audit::Entry { actor: &user.login, action: "auth.login_local", ..Default::default() };
    if let Err(e) = audit::record(&state.app.db, entry).await {
        tracing::error!(error = %e, "recording a login in the audit log failed");
    }
    Redirect::to(&portolan_types::safe_next(q.next.as_deref())).into_response()
}

/// `POST /auth/logout`: destroys the session (row and cookie).
async fn logout(State(state): State<ServerState>, session: Session) -> Response {
    let who = match session.get::<i64>(USER_ID_KEY).await {
        Ok(Some(id)) => core_auth::viewer_for_user(&state.app.db, &state.app.config, id).await.ok().flatten(),
        _ => None,
    };
    if let Err(e) = session.flush().await {
        return ApiError::internal("ending a session", e).into_response();
    }
    if let Some(v) = who {
        let entry = audit::Entry { actor: &v.login, action: "auth.logout", ..Default::default() };
        if let Err(e) = audit::record(&state.app.db, entry).await {
            tracing::error!(error = %e, "recording a logout failed");
        }
    }
    Redirect::to("/login").into_response()
}

/// Paths that never need to know the viewer (static assets, probes), so they cost no database round trip.
fn is_anonymous_path(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/favicon.svg" | "/favicon.ico" | "/healthz" | "/readyz" | "/metrics")
}

/// Middleware: works out who the request acts for (bearer token first, then the session) and stores it as a
/// [`RequestViewer`] extension for handlers, pages and server functions. A bearer token that matches nothing is
/// refused with 401 rather than silently treated as anonymous.
pub async fn resolve_viewer(
    State(state): State<ServerState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let mut viewer = RequestViewer(None);
    if !is_anonymous_path(req.uri().path()) {
        let bearer = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        if let Some(token) = bearer {
            use portolan_core::access::tokens::{Authenticated, authenticate};
            if state.app.config.api_token.as_ref().is_some_and(|expected| constant_time_eq(expected.expose(), token)) {
                viewer.0 = Some(core_auth::api_token_viewer());
            } else {
                match authenticate(&state.app.db, &state.app.config, token).await {
                    Ok(Authenticated::Viewer(v)) => viewer.0 = Some(*v),
                    Ok(Authenticated::Dead(why)) => {
                        tracing::warn!(path = %req.uri().path(), reason = why, "request with a dead token refused");
                        return ApiError::unauthorized(why).into_response();
                    }
                    Ok(Authenticated::Unknown) => {
                        tracing::warn!(path = %req.uri().path(), "request with an unknown bearer token refused");
                        return ApiError::unauthorized("the bearer token is not valid").into_response();
                    }
                    Err(e) => return ApiError::internal("checking a token", e).into_response(),
                }
            }
        } else {
            match session.get::<i64>(USER_ID_KEY).await {
                Ok(Some(id)) => match core_auth::viewer_for_user(&state.app.db, &state.app.config, id).await {
                    Ok(v) => viewer.0 = v,
                    Err(e) => return ApiError::internal("loading the signed-in user", e).into_response(),
                },
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "unreadable session ignored"),
            }
        }
    }
    req.extensions_mut().insert(viewer);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(!constant_time_eq("", "a"));
    }

    #[test]
    fn assets_and_probes_skip_viewer_resolution() {
        assert!(is_anonymous_path("/pkg/portolan.wasm"));
        assert!(is_anonymous_path("/healthz"));
        assert!(!is_anonymous_path("/"));
        assert!(!is_anonymous_path("/api/v1/me"));
    }
}
