//! Limits: rate limits per client (429 with `Retry-After`), much tighter after failed authentication, and
//! request body limits per route (413).

use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use portolan_testkit::FakeGithubConfig;
use serde_json::json;

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp, TestResponse, WEBHOOK_SECRET};

db_tests!(
    failed_authentication_locks_out_that_client_only,
    the_api_is_limited_per_client_and_generous_to_credentials,
    the_login_flow_is_limited_per_client,
    wrongly_signed_webhooks_count_as_failed_authentication,
    bodies_larger_than_the_route_takes_get_413,
);

const A: &str = "203.0.113.7";
const B: &str = "198.51.100.9";

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut req = Request::get(path).header(header::COOKIE, "");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    req.body(Body::empty()).expect("request")
}

fn retry_after(res: &TestResponse) -> u64 {
    res.headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("429 without a Retry-After in seconds: {res:?}"))
}

async fn failed_authentication_locks_out_that_client_only(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.rate_limits.auth_failures = 5).await;
    for i in 0..5 {
        let res = app.send_from(A, get("/api/v1/me", Some("ptl_guessed-wrong-0000000000000000"))).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}: {res:?}");
    }
    // The sixth guess is refused before the token is even looked at, and so is the right token from there.
    let res = app.send_from(A, get("/api/v1/me", Some("ptl_guessed-wrong-0000000000000000"))).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    assert!(res.body.contains("failed authentications"), "{}", res.body);
    let wait = retry_after(&res);
    assert!((1..=12).contains(&wait), "5 a minute: the next attempt within 12 s, not {wait}");
    let res = app.send_from(A, get("/api/v1/me", Some(API_TOKEN))).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    // Another client is not affected, nor are requests from A that carry no credentials.
    let res = app.send_from(B, get("/api/v1/me", Some(API_TOKEN))).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let res = app.send_from(A, get("/healthz", None)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}

async fn the_api_is_limited_per_client_and_generous_to_credentials(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.rate_limits.anonymous = 3).await;
    for _ in 0..3 {
        let res = app.send_from(A, get("/api/v1/entities", None)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
    }
    let res = app.send_from(A, get("/api/v1/entities", None)).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    assert!((1..=20).contains(&retry_after(&res)));
    assert_eq!(res.json()["error"]["code"], "rate_limited", "the JSON error envelope: {}", res.body);
    // Calls without credentials are not failed authentications: B and the signed-in are unaffected.
    assert_eq!(app.send_from(B, get("/api/v1/entities", None)).await.status, StatusCode::UNAUTHORIZED);
    // With credentials, the default limit lets a load test through.
    for i in 0..300 {
        let res = app.send_from(A, get("/api/v1/entities?limit=1", Some(API_TOKEN))).await;
        assert_eq!(res.status, StatusCode::OK, "request {i}: {res:?}");
    }

    // The authenticated limit is a setting too, and counts per principal, not per address.
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.rate_limits.authenticated = 2).await;
    for ip in [A, B] {
        let res = app.send_from(ip, get("/api/v1/me", Some(API_TOKEN))).await;
        assert_eq!(res.status, StatusCode::OK, "{res:?}");
    }
    let res = app.send_from("192.0.2.1", get("/api/v1/me", Some(API_TOKEN))).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
}

async fn the_login_flow_is_limited_per_client(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.rate_limits.login = 2).await;
    for _ in 0..2 {
        let res = app.send_from(A, get("/auth/github", None)).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    }
    let res = app.send_from(A, get("/auth/github", None)).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    retry_after(&res);
    let res = app.send_from(B, get("/auth/github", None)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
}

fn webhook(body: &str, signature: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/api/v1/webhooks/github")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, "")
        .header("x-github-event", "ping")
        .header("x-github-delivery", format!("d-{}", body.len()))
        .header("x-hub-signature-256", signature)
        .body(Body::from(body.to_owned()))
        .expect("request")
}

async fn wrongly_signed_webhooks_count_as_failed_authentication(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.rate_limits.auth_failures = 3).await;
    let body = json!({"zen": "Keep it logically awesome.", "hook_id": 1}).to_string();
    for _ in 0..3 {
        let res = app.send_from(A, webhook(&body, "sha256=00")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
    }
    let good = portolan_core::github::sign(WEBHOOK_SECRET, body.as_bytes());
    let res = app.send_from(A, webhook(&body, &good)).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    let res = app.send_from(B, webhook(&body, &good)).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{res:?}");
}

async fn bodies_larger_than_the_route_takes_get_413(b: Backend) {
    let mut app = TestApp::new(b).await;
    // The JSON API takes 1 MiB.
    let big = json!({"target": "x".repeat(1024 * 1024 + 10)});
    let res = app.post_json_with_token("/api/v1/locations", &big, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{res:?}");
    // A body streamed without Content-Length is cut off as well.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..12).map(|_| Ok(format!("\"{}\",", "y".repeat(100_000)))).collect();
    let stream = Body::from_stream(futures_util::stream::iter(chunks));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/locations")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {API_TOKEN}"))
        .header(header::COOKIE, "")
        .body(stream)
        .expect("request");
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{res:?}");
    // A webhook delivery may be up to 25 MB, as GitHub sends them.
    let payload = json!({"zen": "z".repeat(3 * 1024 * 1024), "hook_id": 2}).to_string();
    let sig = portolan_core::github::sign(WEBHOOK_SECRET, payload.as_bytes());
    let res = app.send_from(A, webhook(&payload, &sig)).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{res:?}");
    // Server functions (forms) take 2 MiB.
    let form = format!("target={}", "z".repeat(3 * 1024 * 1024));
    // Browsers send the length with a form, so it is refused before a byte of it is read.
    let length = form.len().to_string();
    let res = app.post_form("/fn/catalog_register_location", &form, &[("content-length", &length)]).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{res:?}");
}
