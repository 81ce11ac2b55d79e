//! HTTP tests: the whole router in-process, every test on SQLite and on PostgreSQL, GitHub played by an
//! in-process fake that speaks GitHub's JSON.

#[path = "http/support.rs"]
mod support;

#[path = "http/catalog.rs"]
mod catalog;

#[path = "http/github.rs"]
mod github;

#[path = "http/access.rs"]
mod access;

#[path = "http/cost.rs"]
mod cost;

#[path = "http/deploys.rs"]
mod deploys;

#[path = "http/health.rs"]
mod health;

#[path = "http/docs.rs"]
mod docs;

#[path = "http/docs_tree.rs"]
mod docs_tree;

#[path = "http/limits.rs"]
mod limits;

#[path = "http/security.rs"]
mod security;

use http::StatusCode;
use portolan_testkit::FakeGithubConfig;
use support::{API_TOKEN, Backend, TestApp};

db_tests!(
    github_login_signs_in_with_a_new_session_id_and_records_teams,
    authorize_request_carries_state_and_pkce,
    forged_state_is_refused,
    replayed_state_is_refused,
    failed_token_exchange_is_refused,
    people_outside_the_allowed_orgs_are_refused,
    cancelling_on_github_is_refused,
    logout_destroys_the_session,
    session_cookie_is_http_only_and_same_site_lax,
    secure_cookie_when_public_url_is_https,
    sessions_are_shared_between_replicas,
    teams_are_read_across_pages,
    local_admin_only_without_github_on_loopback,
    local_admin_is_offered_on_a_laptop_setup,
    bearer_token_authenticates_the_api,
    cross_origin_mutations_are_refused,
    operations_endpoints_answer,
    the_openapi_document_and_its_reference_page_are_public,
    pages_render_on_the_server_with_real_statuses,
    theme_choice_is_remembered_without_javascript,
    security_headers_are_set,
    migrations_run_twice_without_harm,
);

async fn github_login_signs_in_with_a_new_session_id_and_records_teams(b: Backend) {
    let mut app = TestApp::new(b).await;
    let authorize = app.start_login().await;
    let before = app.session_cookie().expect("the login state lives in a session");
    let callback = app.consent(&authorize, Some("octocat")).await;
    let res = app.get(&callback).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    assert_eq!(res.location(), "/");
    let after = app.session_cookie().expect("signed-in session");
    assert_ne!(before, after, "login must issue a new session id");

    let me = app.get("/api/v1/me").await.json();
    assert_eq!(me["login"], "octocat");
    assert_eq!(me["name"], "The Octocat");
    assert_eq!(me["kind"], "github");
    assert_eq!(me["is_admin"], true, "member of acme/platform, listed in PORTOLAN_ADMIN_TEAMS");

    let person = app.get("/api/v1/people/octocat").await.json();
    let teams: Vec<String> = person["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}/{}", t["org"].as_str().unwrap(), t["slug"].as_str().unwrap()))
        .collect();
    assert_eq!(teams, ["acme/payments", "acme/platform", "github/octo-team"]);
    assert_eq!(person["orgs"], serde_json::json!(["acme", "github"]));

    let audit = portolan_core::audit::recent(&app.state.app.db, 10).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "auth.login" && e.actor == "octocat"), "{audit:?}");

    // The old (pre-login) session id is worthless now.
    let stale = app.get_with_cookie("/api/v1/me", &before).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
}

async fn authorize_request_carries_state_and_pkce(b: Backend) {
    let mut app = TestApp::new(b).await;
    let url = app.start_login().await;
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert!(url.as_str().starts_with(&format!("{}/login/oauth/authorize?", app.github.url())));
    assert_eq!(q["client_id"], app.github.client_id());
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["code_challenge"].len() >= 43);
    assert!(q["state"].len() >= 16);
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:3000/auth/github/callback");
    assert!(q["scope"].contains("read:org"));
    // A second attempt gets a different state.
    let again = app.start_login().await;
    let q2: std::collections::HashMap<_, _> = again.query_pairs().into_owned().collect();
    assert_ne!(q["state"], q2["state"]);
}

async fn assert_refused(app: &mut TestApp, res: &support::TestResponse, code: &str) {
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    assert_eq!(res.location(), format!("/login?error={code}"));
    assert!(app.session_cookie().is_none(), "a refused login must leave no session: {:?}", app.cookies);
    let me = app.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let page = app.get(&res.location()).await;
    assert_eq!(page.status, StatusCode::OK);
    let message = portolan_types::LoginError::from_code(code).unwrap().message().replace('\'', "&#x27;");
    assert!(page.body.contains(&message), "the login page explains the refusal: {}", page.body);
}

async fn forged_state_is_refused(b: Backend) {
    let mut app = TestApp::new(b).await;
    let authorize = app.start_login().await;
    let callback = app.consent(&authorize, Some("octocat")).await;
    let real_state = authorize.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let forged = callback.replace(&format!("state={real_state}"), "state=forged-by-an-attacker");
    assert_ne!(forged, callback);
    let res = app.get(&forged).await;
    assert_refused(&mut app, &res, "state").await;
    assert_eq!(app.github.token_exchanges(), 0, "no code exchange without a matching state");
}

async fn replayed_state_is_refused(b: Backend) {
    let mut app = TestApp::new(b).await;
    let authorize = app.start_login().await;
    let callback = app.consent(&authorize, Some("octocat")).await;
    // Someone who captured the callback URL replays it from another browser: there is no login in progress there.
    let mut attacker = app.replica().await;
    attacker.cookies.clear();
    let res = attacker.get(&callback).await;
    assert_refused(&mut attacker, &res, "state").await;
    // The real person completes the login; replaying the same callback afterwards finds the state used up.
    let ok = app.get(&callback).await;
    assert_eq!(ok.location(), "/");
    let replay = app.get(&callback).await;
    assert_refused(&mut app, &replay, "state").await;
}

async fn failed_token_exchange_is_refused(b: Backend) {
    let mut app = TestApp::new(b).await;
    let authorize = app.start_login().await;
    let callback = app.consent(&authorize, Some("octocat")).await;
    let code = url::Url::parse(&format!("http://x{callback}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = app.get(&callback.replace(&code, "not-a-real-code")).await;
    assert_refused(&mut app, &res, "exchange").await;
    assert_eq!(app.github.token_exchanges(), 1);
}

async fn people_outside_the_allowed_orgs_are_refused(b: Backend) {
    let mut app = TestApp::new(b).await;
    let res = app.login_as("mallory").await;
    assert_refused(&mut app, &res, "org").await;
    let lookup = app.get_with_token("/api/v1/people/mallory", API_TOKEN).await;
    assert_eq!(lookup.status, StatusCode::NOT_FOUND, "a refused person is not recorded");
    let audit = portolan_core::audit::recent(&app.state.app.db, 10).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "auth.login_refused" && e.actor == "mallory"));
}

async fn cancelling_on_github_is_refused(b: Backend) {
    let mut app = TestApp::new(b).await;
    let authorize = app.start_login().await;
    let callback = app.consent(&authorize, None).await;
    assert!(callback.contains("error=access_denied"));
    let res = app.get(&callback).await;
    assert_refused(&mut app, &res, "denied").await;
}

async fn logout_destroys_the_session(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await;
    let session = app.session_cookie().unwrap();
    let res = app.post_form("/auth/logout", "", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login");
    assert!(app.session_cookie().is_none(), "the cookie is cleared");
    let reuse = app.get_with_cookie("/api/v1/me", &session).await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED, "the old session id no longer works");
}

async fn session_cookie_is_http_only_and_same_site_lax(b: Backend) {
    let mut app = TestApp::new(b).await;
    let res = app.get("/auth/github").await;
    let cookie = res.set_cookies().into_iter().find(|c| c.starts_with("portolan_session=")).expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain-http portals cannot use Secure cookies: {cookie}");
}

async fn secure_cookie_when_public_url_is_https(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| {
        c.public_url = "https://portal.example.com".parse().unwrap();
    })
    .await;
    let res = app.get("/auth/github").await;
    let cookie = res.set_cookies().into_iter().find(|c| c.starts_with("portolan_session=")).expect("session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    let authorize = url::Url::parse(&res.location()).unwrap();
    let redirect = authorize.query_pairs().find(|(k, _)| k == "redirect_uri").unwrap().1.into_owned();
    assert_eq!(redirect, "https://portal.example.com/auth/github/callback");
}

async fn sessions_are_shared_between_replicas(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await;
    let mut other = app.replica().await;
    let me = other.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["login"], "octocat");
}

async fn teams_are_read_across_pages(b: Backend) {
    let fake = FakeGithubConfig { max_per_page: 1, ..FakeGithubConfig::default() };
    let mut app = TestApp::with(b, fake, |_| {}).await;
    app.login_as("octocat").await;
    let person = app.get("/api/v1/people/octocat").await.json();
    assert_eq!(person["teams"].as_array().unwrap().len(), 3, "{person}");
    assert_eq!(person["orgs"].as_array().unwrap().len(), 2, "{person}");
}

async fn local_admin_only_without_github_on_loopback(b: Backend) {
    // GitHub configured: the route does not exist.
    let mut app = TestApp::new(b).await;
    let res = app.post_form("/auth/local", "", &[]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    let login = app.get("/login").await;
    assert!(!login.body.contains("Continue as local admin"));
    assert!(login.body.contains("Sign in with GitHub"));

    // No GitHub app, but listening on every interface: still no local admin.
    let mut exposed = TestApp::with(b, FakeGithubConfig::default(), |c| {
        c.github_oauth = None;
        c.addr = "0.0.0.0:3000".parse().unwrap();
    })
    .await;
    let res = exposed.post_form("/auth/local", "", &[]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!exposed.get("/login").await.body.contains("Continue as local admin"));
}

async fn local_admin_is_offered_on_a_laptop_setup(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.github_oauth = None).await;
    let login = app.get("/login").await;
    assert!(login.body.contains("Continue as local admin"), "{}", login.body);
    assert!(!login.body.contains("Sign in with GitHub"));
    let res = app.post_form("/auth/local", "", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let me = app.get("/api/v1/me").await.json();
    assert_eq!(me["login"], "admin");
    assert_eq!(me["kind"], "local_admin");
    assert_eq!(me["is_admin"], true);
    // Without a GitHub app there is nothing to redirect to.
    assert_eq!(app.get("/auth/github").await.status, StatusCode::NOT_FOUND);
}

async fn bearer_token_authenticates_the_api(b: Backend) {
    let mut app = TestApp::new(b).await;
    let ok = app.get_with_token("/api/v1/me", API_TOKEN).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["kind"], "api_token");
    let bad = app.get_with_token("/api/v1/me", "not-the-token-at-all").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.json()["error"]["code"], "unauthorized");
    let anonymous = app.get("/api/v1/me").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let unknown = app.get_with_token("/api/v1/nothing-here", API_TOKEN).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
}

async fn cross_origin_mutations_are_refused(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await;
    let evil = app.post_form("/auth/logout", "", &[("origin", "https://evil.example")]).await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    let cross = app.post_form("/auth/logout", "", &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let theme = app.post_form("/fn/set_theme", "theme=dark", &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(theme.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::OK, "still signed in");
    let same = app
        .post_form("/auth/logout", "", &[("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(same.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn operations_endpoints_answer(b: Backend) {
    let mut app = TestApp::new(b).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    let expected = match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready.json()["database"], expected);
    app.get("/login").await;
    let metrics = app.get("/metrics").await;
    assert!(metrics.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert!(
        metrics.body.contains("portolan_http_requests_total{method=\"GET\",route=\"/login\",status=\"200\"} 1"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("portolan_http_request_duration_seconds_count{route=\"/healthz\"} 1"));
    assert!(metrics.body.contains(&format!("portolan_db_pool_connections{{backend=\"{expected}\",state=\"idle\"}}")));
    // Responses carry a request id, and keep one the client sent.
    assert!(health.headers.contains_key("x-request-id"));
    let req =
        http::Request::get("/healthz").header("x-request-id", "trace-me-42").body(axum::body::Body::empty()).unwrap();
    assert_eq!(app.send(req).await.headers["x-request-id"], "trace-me-42");

    // Readiness reflects the database.
    app.state.app.db.clone().close().await.unwrap();
    let down = app.get("/readyz").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
}

async fn pages_render_on_the_server_with_real_statuses(b: Backend) {
    let mut app = TestApp::new(b).await;
    let anonymous = app.get("/").await;
    assert_eq!(anonymous.status, StatusCode::FOUND);
    assert_eq!(anonymous.location(), "/login");

    app.login_as("octocat").await;
    let home = app.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("Welcome, <!>The Octocat") || home.body.contains("Welcome, The Octocat"),
        "{}",
        home.body
    );
    assert!(home.body.contains("acme/platform"));
    assert!(home.body.contains("action=\"/auth/logout\""), "sign-out works as a plain form");

    let person = app.get("/people/octocat").await;
    assert_eq!(person.status, StatusCode::OK);
    assert!(person.body.contains("Octo Team"));

    let nobody = app.get("/people/nobody-at-all").await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert!(nobody.body.contains("Nobody called"));

    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Not found"));

    // Once signed in, the login page sends people home.
    let login = app.get("/login").await;
    assert_eq!(login.status, StatusCode::FOUND);
    assert_eq!(login.location(), "/");
}

async fn theme_choice_is_remembered_without_javascript(b: Backend) {
    let mut app = TestApp::new(b).await;
    let res = app.post_form("/fn/set_theme", "theme=dark", &[("referer", "http://127.0.0.1:3000/login")]).await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    assert!(res.location().starts_with("http://127.0.0.1:3000/login"), "back to the page: {}", res.location());
    let cookie = res.set_cookies().into_iter().find(|c| c.starts_with("portolan_theme=")).expect("theme cookie");
    assert!(cookie.starts_with("portolan_theme=dark;"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"));
    let page = app.get("/login").await;
    assert!(page.body.contains("data-theme=\"dark\""), "{}", &page.body[..300.min(page.body.len())]);
    // Unknown values fall back to following the system.
    app.post_form("/fn/set_theme", "theme=%3Cscript%3E", &[("referer", "http://127.0.0.1:3000/login")]).await;
    assert!(app.get("/login").await.body.contains("data-theme=\"system\""));
}

async fn security_headers_are_set(b: Backend) {
    let mut app = TestApp::new(b).await;
    let page = app.get("/login").await;
    let csp = page.headers["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(page.body.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the nonce");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["referrer-policy"], "same-origin");
    let api = app.get("/api/v1/me").await;
    assert_eq!(api.headers["content-security-policy"], portolan_server::http::headers::DEFAULT_CSP);
    assert_eq!(api.headers["x-content-type-options"], "nosniff");
}

async fn migrations_run_twice_without_harm(b: Backend) {
    let app = TestApp::new(b).await;
    portolan_core::db::migrate(&app.state.app.db).await.expect("second run is a no-op");
    portolan_core::auth::ensure_local_admin(&app.state.app.db).await.unwrap();
    portolan_core::auth::ensure_local_admin(&app.state.app.db).await.unwrap();
}

async fn the_openapi_document_and_its_reference_page_are_public(b: Backend) {
    let mut app = TestApp::new(b).await;
    let doc = app.get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK, "{doc:?}");
    let v = doc.json();
    assert_eq!(v["openapi"], "3.1.0");
    assert!(v["components"]["securitySchemes"]["bearer"].is_object(), "{v}");
    // The live API answers what the document says: an error envelope on 401, typed lists on 200.
    let res = app.get("/api/v1/tokens").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(v["components"]["schemas"]["ErrorEnvelope"]["properties"]["error"].is_object());
    assert!(res.json()["error"]["code"].is_string());
    let page = app.get("/api/docs").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(page.body.contains("/api/v1/entities/by-ref/{kind}/{namespace}/{name}"), "{}", page.body);
    assert!(page.body.contains("id=\"schema-TokenView\""), "schemas are listed");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("style-src 'self'") && !csp.contains("script-src"), "{csp}");
    // Every page links to it from the footer.
    app.login_as("octocat").await;
    let home = app.get("/").await;
    assert!(home.body.contains("href=\"/api/docs\""), "{}", home.body);
}

#[path = "http/scaffold.rs"]
mod scaffold;
