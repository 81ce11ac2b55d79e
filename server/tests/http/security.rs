//! Security: cross-site requests against every form, session fixation, open redirects after login, an XSS
//! corpus through every text field people can write, and secrets kept out of the logs.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp, WEBHOOK_SECRET};

db_tests!(
    cross_site_posts_to_every_form_are_refused,
    a_session_id_planted_before_login_is_worthless_after_it,
    next_after_login_never_leaves_the_portal,
    user_text_is_escaped_on_every_page,
    secrets_never_reach_the_log,
);

/// Every server function that changes something, found from the registry rather than listed by hand, so a new
/// form is covered the day it is added.
fn mutating_server_functions() -> Vec<String> {
    let mut paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .filter(|(_, method)| *method == Method::POST)
        .map(|(p, _)| p.to_owned())
        .collect();
    paths.sort();
    paths
}

async fn cross_site_posts_to_every_form_are_refused(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await;
    let paths = mutating_server_functions();
    for must in ["/fn/tokens_create", "/fn/catalog_save_entity", "/fn/access_grant", "/fn/catalog_register_location"] {
        assert!(paths.iter().any(|p| p == must), "{must} missing from {paths:?}");
    }
    let mut forms = paths;
    forms.push("/auth/logout".to_owned());
    for path in &forms {
        // A modern browser says where the request came from.
        let res = app
            .post_form(
                path,
                "name=evil&scopes%5B0%5D=admin",
                &[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {res:?}");
        // An older one sends only the Origin.
        let res = app.post_form(path, "name=evil", &[("origin", "https://evil.example")]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path} (Origin only): {res:?}");
    }
    // Nothing happened: no token was made and the session is still alive.
    let tokens = app.get("/api/v1/tokens").await;
    assert_eq!(tokens.status, StatusCode::OK, "still signed in: {tokens:?}");
    assert_eq!(tokens.json(), json!([]));
    // The same form from the portal itself works.
    let res = app
        .post_form(
            "/fn/tokens_create",
            "name=ok&scopes%5B0%5D=read",
            &[("sec-fetch-site", "same-origin"), ("accept", "application/json")],
        )
        .await;
    assert!(res.status.is_success() || res.status.is_redirection(), "{res:?}");
    assert_eq!(app.get("/api/v1/tokens").await.json().as_array().map(Vec::len), Some(1));
}

async fn a_session_id_planted_before_login_is_worthless_after_it(b: Backend) {
    let mut app = TestApp::new(b).await;
    // The attacker gets a session id from the portal and plants it in the victim's browser.
    app.start_login().await;
    let planted = app.session_cookie().expect("a pre-login session");
    let mut victim = TestApp { cookies: app.cookies.clone(), ..app.replica().await };
    let res = victim.login_as("octocat").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    let fresh = victim.session_cookie().expect("signed in");
    assert_ne!(fresh, planted, "login must issue a new session id");
    let me = victim.get("/api/v1/me").await;
    assert_eq!(me.json()["login"], "octocat");
    // The planted id does not carry the victim's sign-in.
    let res = app.get_with_cookie("/api/v1/me", &planted).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
}

async fn next_after_login_never_leaves_the_portal(b: Backend) {
    let cases = [
        ("/catalog/default/component/payments-api", "/catalog/default/component/payments-api"),
        ("/catalog?kind=api&q=pay", "/catalog?kind=api&q=pay"),
        ("https://evil.example", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/auth/logout", "/"),
    ];
    for (next, lands) in cases {
        let mut app = TestApp::new(b).await;
        let start = format!("/auth/github?next={}", portolan_types::encode_query_value(next));
        let res = app.get(&start).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
        let authorize = url::Url::parse(&res.location()).unwrap();
        assert!(!authorize.as_str().contains("evil"), "next is kept on the server, not sent to GitHub: {authorize}");
        let callback = app.consent(&authorize, Some("octocat")).await;
        let res = app.get(&callback).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
        assert_eq!(res.location(), lands, "next={next}");
    }
    // The login page passes a safe `next` on to the sign-in link and drops an unsafe one.
    let mut app = TestApp::new(b).await;
    let page = app.get("/login?next=%2Fcatalog%3Fkind%3Dapi").await;
    assert!(page.body.contains("/auth/github?next=%2Fcatalog%3Fkind%3Dapi"), "{}", page.body);
    let page = app.get("/login?next=https%3A%2F%2Fevil.example").await;
    assert!(!page.body.contains("evil.example"), "{}", page.body);
    // A page that needs a viewer sends the browser to log in with the way back.
    let res = app.get("/settings/access?login=x").await;
    let body_or_location = format!("{} {}", res.location(), res.body);
    assert!(body_or_location.contains("/login?next=%2Fsettings%2Faccess%3Flogin%3Dx"), "{res:?}");
}

/// Strings that would run script if any page put them into HTML unescaped.
const XSS: [&str; 7] = [
    "<script>alert('xss-1')</script>",
    "\"><img src=x onerror=alert('xss-2')>",
    "'><svg onload=alert('xss-3')>",
    "</textarea><script>alert('xss-4')</script>",
    "<a href=\"javascript:alert('xss-5')\">x</a>",
    "{{7*7}}<iframe src=javascript:alert('xss-6')>",
    "</title><script>alert('xss-7')</script>",
];

fn assert_escaped(page: &str, context: &str) {
    for raw in [
        "<script>alert(",
        "<img src=x",
        "<svg onload",
        "<a href=\"javascript:",
        "<iframe src=javascript",
        "</title><script",
    ] {
        if let Some(at) = page.find(raw) {
            let start = page.floor_char_boundary(at.saturating_sub(300));
            let end = page.ceil_char_boundary((at + 200).min(page.len()));
            panic!("{context}: `{raw}` reached the page unescaped: …{}…", &page[start..end]);
        }
    }
}

async fn user_text_is_escaped_on_every_page(b: Backend) {
    let mut app = TestApp::new(b).await;
    // Every text field of a descriptor: title, description, tags are validated, so labels, annotations,
    // links and spec fields carry the rest.
    let yaml = format!(
        r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: xss-probe
  title: {t6:?}
  description: {t1:?}
  annotations:
    example.com/note: {t2:?}
  labels:
    team: safe
  tags: [safe]
  # and a comment {t0:?}
  links:
    - url: "javascript:alert('xss-5')"
      title: {t3:?}
    - url: https://example.com/
      title: {t4:?}
spec:
  type: {t5:?}
  lifecycle: production
  owner: group:default/payments
"#,
        t0 = XSS[0],
        t1 = XSS[1],
        t2 = XSS[2],
        t3 = XSS[3],
        t4 = XSS[4],
        t5 = XSS[5],
        t6 = XSS[6],
    );
    let dir = crate::catalog::temp_catalog("xss", &[("catalog-info.yaml", &yaml)]);
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": dir}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.json()["added"], 1, "the probe is a valid entity: {}", res.body);
    app.login_as("octocat").await;
    let entity = app.get("/catalog/default/component/xss-probe").await;
    assert_eq!(entity.status, StatusCode::OK, "{entity:?}");
    assert!(entity.body.contains("&lt;/title&gt;&lt;script&gt;alert("), "the title is shown, escaped: {}", entity.body);
    assert_escaped(&entity.body, "entity page");
    let q = portolan_types::encode_query_value(XSS[0]);
    for path in [
        "/catalog".to_owned(),
        format!("/catalog?q={q}"),
        format!("/catalog?owner={q}&tag={q}"),
        format!("/catalog/new?kind={q}"),
        "/catalog/locations".to_owned(),
        "/catalog/default/component/xss-probe/edit".to_owned(),
        format!("/settings/access?entity={q}"),
        format!("/settings/access?login={q}"),
        format!("/people/{q}"),
        format!("/login?error={q}&next={q}"),
        format!("/no-such-page/{q}"),
    ] {
        let page = app.get(&path).await;
        assert!(page.status.as_u16() < 500, "{path}: {page:?}");
        assert_escaped(&page.body, &path);
    }
    // Text a person types into the portal itself: a token's name.
    let res = app.post_json("/api/v1/tokens", &json!({"name": XSS[1], "scopes": ["read"]})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let page = app.get("/settings/tokens").await;
    assert_escaped(&page.body, "tokens page");
    // The JSON API is JSON, never sniffed as HTML.
    let api = app.get("/api/v1/entities/by-ref/component/default/xss-probe").await;
    assert!(api.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    assert_eq!(api.headers["x-content-type-options"], "nosniff");
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn secrets_never_reach_the_log(b: Backend) {
    let sink = Captured::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await;
    let res = app.post_json("/api/v1/tokens", &json!({"name": "ci", "scopes": ["read"]})).await;
    let secret = res.json()["token"].as_str().unwrap().to_owned();
    let id = res.json()["id"].as_i64().unwrap();
    assert_eq!(app.get_with_token("/api/v1/me", &secret).await.status, StatusCode::OK);
    app.get_with_token("/api/v1/me", API_TOKEN).await;
    let wrong = format!("{secret}x");
    assert_eq!(app.get_with_token("/api/v1/me", &wrong).await.status, StatusCode::UNAUTHORIZED);
    app.send(Request::delete(format!("/api/v1/tokens/{id}")).body(Body::empty()).unwrap()).await;
    assert_eq!(app.get_with_token("/api/v1/me", &secret).await.status, StatusCode::UNAUTHORIZED);
    app.post_webhook("ping", "d-secret", &json!({"zen": "z", "hook_id": 1}), None).await;
    app.post_webhook("ping", "d-wrong", &json!({"zen": "z", "hook_id": 1}), Some("sha256=00")).await;

    let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("/api/v1/me"), "the log captured the requests: {log}");
    let session = app.session_cookie().expect("signed in");
    for (what, value) in [
        ("the token", secret.as_str()),
        ("the token's random part", &secret[4..]),
        ("the API token", API_TOKEN),
        ("the webhook secret", WEBHOOK_SECRET),
        ("the OAuth client secret", app.state.app.config.github_oauth.as_ref().unwrap().client_secret.expose()),
        ("the session id", session.as_str()),
    ] {
        assert!(!log.contains(value), "{what} appears in the log:\n{log}");
    }
}
