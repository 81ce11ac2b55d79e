//! Rate limits per client: token buckets kept in memory, one per (class, client).
//!
//! - `login`: the sign-in flow (`/login`, `/auth/...`), per client address.
//! - `webhook`: the webhook receivers, per client address.
//! - `anonymous`: the JSON API and server functions without a signed-in viewer, per client address.
//! - `authenticated`: the same with a viewer, per viewer: generous by default, so automation and load tests are
//!   not throttled.
//! - `auth-failure`: each failed authentication from a client (a bad or revoked token, a wrongly signed webhook,
//!   a failed GitHub callback) takes one token; when they run out, every further attempt to authenticate from
//!   that client is answered 429 before the credentials are even looked at.
//!
//! A refused request gets 429 with `Retry-After` (whole seconds) and the usual JSON error envelope. A limit of 0
//! turns a class off. The client is the connection's peer address, or with `PORTOLAN_TRUST_PROXY` the address
//! the nearest proxy appended to `X-Forwarded-For`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

use portolan_core::auth::RequestViewer;
use portolan_core::config::RateLimits;

use crate::ServerState;
use crate::http::ApiError;

/// What a bucket counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// The sign-in flow.
    Login,
    /// Webhook deliveries.
    Webhook,
    /// API calls without a viewer.
    Anonymous,
    /// API calls with a viewer.
    Authenticated,
    /// Failed authentications.
    AuthFailure,
}

impl Class {
    fn per_minute(self, limits: &RateLimits) -> u32 {
        match self {
            Class::Login => limits.login,
            Class::Webhook => limits.webhooks,
            Class::Anonymous => limits.anonymous,
            Class::Authenticated => limits.authenticated,
            Class::AuthFailure => limits.auth_failures,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Login => "login",
            Class::Webhook => "webhook",
            Class::Anonymous => "anonymous",
            Class::Authenticated => "authenticated",
            Class::AuthFailure => "auth-failure",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    capacity: f64,
    updated: Instant,
}

/// The buckets of one server process.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<(Class, String), Bucket>>,
}

/// Buckets kept before idle ones are swept.
const SWEEP_ABOVE: usize = 50_000;

impl Limiter {
    /// Runs `f` on the bucket of (`class`, `key`), holding `per_minute` at most and refilled by `per_minute` a
    /// minute up to `now`; `f` also gets the refill rate a second.
    fn with_bucket<T>(
        &self,
        class: Class,
        key: &str,
        per_minute: u32,
        now: Instant,
        f: impl FnOnce(&mut Bucket, f64) -> T,
    ) -> T {
        let capacity = f64::from(per_minute);
        let rate = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > SWEEP_ABOVE {
            // A bucket that would be full again holds nothing worth keeping.
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * b.capacity / 60.0 < b.capacity
            });
        }
        let bucket =
            buckets.entry((class, key.to_owned())).or_insert(Bucket { tokens: capacity, capacity, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.updated = now;
        f(bucket, rate)
    }

    /// Takes one token; `Err` carries how long until one is there. A limit of 0 takes nothing.
    fn take(&self, class: Class, key: &str, per_minute: u32, now: Instant) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        self.with_bucket(class, key, per_minute, now, |bucket, rate| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
            }
        })
    }

    /// How long until the bucket holds a token again, if it is empty now; takes nothing.
    fn exhausted(&self, class: Class, key: &str, per_minute: u32, now: Instant) -> Option<Duration> {
        if per_minute == 0 {
            return None;
        }
        self.with_bucket(class, key, per_minute, now, |bucket, rate| {
            (bucket.tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        })
    }
}

/// The client a request comes from.
pub fn client_key(req: &Request, trust_proxy: bool) -> String {
    if trust_proxy
        && let Some(ip) = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|p| p.trim().parse::<IpAddr>().ok())
            .next_back()
    {
        return ip.to_string();
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn too_many(class: Class, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let message = match class {
        Class::AuthFailure => format!("too many failed authentications from this client; try again in {seconds} s"),
        _ => format!("rate limit ({}) exceeded; try again in {seconds} s", class.name()),
    };
    let mut res = ApiError::too_many_requests(message).into_response();
    res.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    res
}

fn carries_credentials(req: &Request) -> bool {
    req.headers().contains_key(http::header::AUTHORIZATION)
}

fn is_login_flow(path: &str) -> bool {
    path == "/login" || path.starts_with("/auth/")
}

fn is_webhook(path: &str) -> bool {
    path.starts_with("/api/v1/webhooks/")
}

/// Outer layer, before credentials are checked: refuses clients that failed to authenticate too often, limits
/// the login flow and the webhook receivers, and counts failed authentications.
pub async fn guard(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    let limits = &state.app.config.rate_limits;
    let client = client_key(&req, limits.trust_proxy);
    let path = req.uri().path().to_owned();
    let now = Instant::now();
    let attempts_auth = carries_credentials(&req) || is_webhook(&path) || path.starts_with("/auth/");
    if attempts_auth && let Some(wait) = state.limiter.exhausted(Class::AuthFailure, &client, limits.auth_failures, now)
    {
        tracing::warn!(client = %client, path = %path, "refused: too many failed authentications");
        return too_many(Class::AuthFailure, wait);
    }
    let class = if is_login_flow(&path) {
        Some(Class::Login)
    } else if is_webhook(&path) {
        Some(Class::Webhook)
    } else {
        None
    };
    if let Some(class) = class
        && let Err(wait) = state.limiter.take(class, &client, class.per_minute(limits), now)
    {
        tracing::warn!(client = %client, path = %path, limit = class.name(), "rate limited");
        return too_many(class, wait);
    }
    let res = next.run(req).await;
    let failed = res.status() == StatusCode::UNAUTHORIZED && attempts_auth
        || path.starts_with("/auth/") && redirects_to_login_error(&res);
    if failed {
        let _ = state.limiter.take(Class::AuthFailure, &client, limits.auth_failures, Instant::now());
    }
    res
}

fn redirects_to_login_error(res: &Response) -> bool {
    res.status().is_redirection()
        && res
            .headers()
            .get(http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/login?error="))
}

/// Inner layer, once the viewer is known: limits the JSON API and server functions per viewer, or per client
/// address for anonymous callers.
pub async fn limit_api(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !(path.starts_with("/api/") || path.starts_with(portolan_app::SERVER_FN_PREFIX)) || is_webhook(path) {
        return next.run(req).await;
    }
    let limits = &state.app.config.rate_limits;
    let viewer = req.extensions().get::<RequestViewer>().and_then(|v| v.0.as_ref()).map(|v| v.login.clone());
    let (class, key) = match viewer {
        Some(login) => (Class::Authenticated, login),
        None => (Class::Anonymous, client_key(&req, limits.trust_proxy)),
    };
    if let Err(wait) = state.limiter.take(class, &key, class.per_minute(limits), Instant::now()) {
        tracing::warn!(client = %key, limit = class.name(), "rate limited");
        return too_many(class, wait);
    }
    next.run(req).await
}

/// The largest request body a route takes, in bytes (`max_file`: the configured largest attachment).
pub fn body_limit_for(path: &str, max_file: usize) -> usize {
    const MIB: usize = 1024 * 1024;
    if crate::attachments::is_upload(path) {
        max_file.saturating_add(crate::attachments::UPLOAD_OVERHEAD)
    } else if is_webhook(path) {
        // GitHub caps webhook payloads at 25 MB.
        25 * MIB
    } else if path.starts_with(portolan_app::SERVER_FN_PREFIX) {
        // Forms: entity YAML, and later runbook pages.
        2 * MIB
    } else {
        MIB
    }
}

/// Refuses bodies larger than the route takes: at once with 413 when `Content-Length` says so, and while
/// reading when a streamed body grows past it (the extractors answer 413 then).
pub async fn limit_body(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    let max = body_limit_for(req.uri().path(), state.app.config.docs_attachment_max_bytes);
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return ApiError::too_large(format!("this route takes bodies of at most {max} bytes")).into_response();
    }
    let req = req.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, max)));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_then_refills_at_its_rate() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take(Class::Login, "1.2.3.4", 3, t0).is_ok());
        }
        let wait = l.take(Class::Login, "1.2.3.4", 3, t0).unwrap_err();
        assert!((19..=20).contains(&wait.as_secs()), "3 a minute: one every 20 s, got {wait:?}");
        // Another client and another class have their own buckets.
        assert!(l.take(Class::Login, "5.6.7.8", 3, t0).is_ok());
        assert!(l.take(Class::Webhook, "1.2.3.4", 3, t0).is_ok());
        // After 20 s one request is allowed again, not more.
        let t1 = t0 + Duration::from_secs(20);
        assert!(l.take(Class::Login, "1.2.3.4", 3, t1).is_ok());
        assert!(l.take(Class::Login, "1.2.3.4", 3, t1).is_err());
    }

    #[test]
    fn zero_turns_a_limit_off_and_probing_takes_nothing() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(l.take(Class::Authenticated, "ci", 0, t0).is_ok());
        }
        for _ in 0..5 {
            assert!(l.exhausted(Class::AuthFailure, "1.2.3.4", 2, t0).is_none());
        }
        assert!(l.take(Class::AuthFailure, "1.2.3.4", 2, t0).is_ok());
        assert!(l.take(Class::AuthFailure, "1.2.3.4", 2, t0).is_ok());
        assert!(l.exhausted(Class::AuthFailure, "1.2.3.4", 2, t0).is_some());
    }
}
