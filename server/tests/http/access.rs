//! Access: API tokens (scopes, hashing, revocation, expiry, team tokens), granted rules and decisions, and
//! refusals that name the action.

use http::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp};

db_tests!(
    tokens_are_shown_once_stored_hashed_used_and_revoked,
    expired_tokens_are_refused,
    a_token_never_exceeds_its_scopes_or_its_owner,
    team_tokens_act_for_their_team_only,
    administrators_grant_rules_and_decisions_explain_them,
    the_tokens_page_makes_and_revokes_tokens_without_javascript,
    a_form_posted_by_someone_who_may_not_gets_403,
    a_templates_allow_list_decides_who_may_run_it,
);

async fn new_token(app: &mut TestApp, body: serde_json::Value) -> crate::support::TestResponse {
    app.post_json("/api/v1/tokens", &body).await
}

async fn tokens_are_shown_once_stored_hashed_used_and_revoked(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await;
    let res = new_token(&mut app, json!({"name": "laptop", "scopes": ["read", "catalog:write"]})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let created = res.json();
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ptl_") && secret.len() > 40, "{secret}");
    let id = created["id"].as_i64().unwrap();

    // Stored only as a hash; listed without the secret.
    let rows = app
        .state
        .app
        .db
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT token_hash FROM api_tokens".to_owned()))
        .await
        .unwrap();
    let stored: String = rows[0].try_get("", "token_hash").unwrap();
    assert_ne!(stored, secret);
    assert!(!stored.contains(&secret[4..]));
    let list = app.get("/api/v1/tokens").await;
    assert!(!list.body.contains(&secret), "{}", list.body);
    assert_eq!(list.json()[0]["name"], "laptop");
    assert!(list.json()[0]["last_used_at"].is_null());

    // The token acts as its owner, narrowed to its scopes, and its use is recorded.
    let me = app.get_with_token("/api/v1/me", &secret).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json()["login"], "octocat");
    assert_eq!(me.json()["kind"], "api_token");
    assert_eq!(me.json()["scopes"], json!(["read", "catalog:write"]));
    let list = app.get("/api/v1/tokens").await.json();
    assert!(list[0]["last_used_at"].is_string(), "{list}");

    // Another person cannot see or revoke it.
    let mut other = app.replica().await;
    other.cookies.clear();
    other.login_as("hubot").await;
    assert_eq!(other.get("/api/v1/tokens").await.json(), json!([]));
    let req = http::Request::delete(format!("/api/v1/tokens/{id}")).body(axum::body::Body::empty()).unwrap();
    assert_eq!(other.send(req).await.status, StatusCode::NOT_FOUND);

    // Revoked: refused at once.
    let req = http::Request::delete(format!("/api/v1/tokens/{id}")).body(axum::body::Body::empty()).unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::NO_CONTENT);
    let res = app.get_with_token("/api/v1/me", &secret).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("revoked"), "{}", res.body);

    // Bad requests are named.
    let res = new_token(&mut app, json!({"name": "x", "scopes": ["write-everything"]})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("write-everything"), "{}", res.body);
    let res = new_token(&mut app, json!({"name": "x", "scopes": []})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = new_token(&mut app, json!({"name": "x", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("expires_at"), "{}", res.body);
}

async fn expired_tokens_are_refused(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await;
    let res =
        new_token(&mut app, json!({"name": "ci", "scopes": ["read"], "expires_at": "2099-01-01T00:00:00Z"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let secret = res.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_with_token("/api/v1/me", &secret).await.status, StatusCode::OK);
    let backend = app.state.app.db.get_database_backend();
    let past = match backend {
        DbBackend::Postgres => "UPDATE api_tokens SET expires_at = now() - interval '1 minute'",
        _ => "UPDATE api_tokens SET expires_at = '2020-01-01 00:00:00+00:00'",
    };
    app.state.app.db.execute_raw(Statement::from_string(backend, past.to_owned())).await.unwrap();
    let res = app.get_with_token("/api/v1/me", &secret).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("expired"), "{}", res.body);
}

async fn a_token_never_exceeds_its_scopes_or_its_owner(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await; // an administrator (acme/platform)
    let read = new_token(&mut app, json!({"name": "r", "scopes": ["read"]})).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let write = new_token(&mut app, json!({"name": "w", "scopes": ["catalog:write"]})).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = json!({"target": std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")});
    let res = app.post_json_with_token("/api/v1/locations", &target, &read).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("catalog.location.create refused"), "{}", res.body);
    assert!(res.body.contains("catalog:write"), "{}", res.body);
    let res = app.post_json_with_token("/api/v1/locations", &target, &write).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    // A narrower token cannot mint a wider one.
    let res = app.post_json_with_token("/api/v1/tokens", &json!({"name": "wider", "scopes": ["admin"]}), &write).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");

    // hubot is no administrator: no admin scope, and a write token still cannot register locations.
    let mut hubot = app.replica().await;
    hubot.cookies.clear();
    hubot.login_as("hubot").await;
    let res = new_token(&mut hubot, json!({"name": "root", "scopes": ["admin"]})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    let token = new_token(&mut hubot, json!({"name": "w", "scopes": ["catalog:write"]})).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = hubot.post_json_with_token("/api/v1/locations", &target, &token).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("only administrators"), "{}", res.body);

    // The bootstrap token owns no person: it may make team tokens only.
    let res = app.post_json_with_token("/api/v1/tokens", &json!({"name": "p", "scopes": ["read"]}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
}

async fn team_tokens_act_for_their_team_only(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("hubot").await;
    let res =
        new_token(&mut app, json!({"name": "deploys", "scopes": ["deployments:write"], "team": "acme/payments"})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "hubot is not in acme/payments: {res:?}");

    let mut octocat = app.replica().await;
    octocat.cookies.clear();
    octocat.login_as("octocat").await;
    let res =
        new_token(&mut octocat, json!({"name": "deploys", "scopes": ["deployments:write"], "team": "acme/payments"}))
            .await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let secret = res.json()["token"].as_str().unwrap().to_owned();
    let me = octocat.get_with_token("/api/v1/me", &secret).await.json();
    assert_eq!(me["login"], "team:acme/payments");
    assert_eq!(me["is_admin"], false, "a team token is never an administrator");
    let res = new_token(&mut octocat, json!({"name": "x", "scopes": ["admin"], "team": "acme/payments"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    // It may record deployments of what payments owns, and nothing else, whatever octocat may do.
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    let res = octocat.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let decision = |v: &serde_json::Value, action: &str| {
        v["decisions"].as_array().unwrap().iter().find(|d| d["action"] == action).cloned().unwrap()
    };
    let own = octocat.get_with_token("/api/v1/access/decisions?entity=component:default/payments-api", &secret).await;
    assert_eq!(own.status, StatusCode::OK, "{own:?}");
    let own = own.json();
    let deploy = decision(&own, "deployments.write");
    assert_eq!(deploy["allowed"], true, "{deploy}");
    assert!(deploy["reason"].as_str().unwrap().contains("member of the owner group:default/payments"), "{deploy}");
    // Outside its scope even on its own team's component.
    assert_eq!(decision(&own, "catalog.entity.edit")["allowed"], false, "{own}");
    let other = octocat.get_with_token("/api/v1/access/decisions?entity=component:default/portolan", &secret).await;
    let other = decision(&other.json(), "deployments.write");
    assert_eq!(other["allowed"], false, "the platform team's component: {other}");
}

async fn administrators_grant_rules_and_decisions_explain_them(b: Backend) {
    let mut app = TestApp::new(b).await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    app.login_as("hubot").await;
    hubot_has_no_admin_routes(&mut app).await;
    app.get_with_token("/api/v1/me", API_TOKEN).await;

    let explain = "/api/v1/access/decisions?login=hubot&entity=component:default/payments-api";
    let before = app.get_with_token(explain, API_TOKEN).await;
    assert_eq!(before.status, StatusCode::OK, "{before:?}");
    let edit = |v: &serde_json::Value| {
        v["decisions"].as_array().unwrap().iter().find(|d| d["action"] == "docs.edit").cloned().unwrap()
    };
    assert_eq!(edit(&before.json())["allowed"], false, "{}", before.body);

    let rule =
        json!({"subject": "user:hubot", "action": "docs.edit", "scope_type": "kind", "scope_value": "component"});
    let res = app.post_json_with_token("/api/v1/access/rules", &rule, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let rule_id = res.json()["id"].as_i64().unwrap();
    let after = app.get_with_token(explain, API_TOKEN).await.json();
    let d = edit(&after);
    assert_eq!(d["allowed"], true, "{after}");
    assert!(d["reason"].as_str().unwrap().contains(&format!("rule #{rule_id}")), "{d}");
    let bad = json!({"subject": "user:hubot", "action": "docs.fly", "scope_type": "all"});
    assert_eq!(app.post_json_with_token("/api/v1/access/rules", &bad, API_TOKEN).await.status, StatusCode::BAD_REQUEST);

    // hubot's own view of their rights needs no administrator.
    let mine = app.get("/api/v1/access/decisions?entity=component:default/payments-api").await;
    assert_eq!(mine.status, StatusCode::OK, "{mine:?}");
    assert_eq!(edit(&mine.json())["allowed"], true);
}

async fn hubot_has_no_admin_routes(app: &mut TestApp) {
    let res = app.get("/api/v1/access/rules").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("access.admin refused"), "{}", res.body);
    let res = app.get("/api/v1/access/decisions?login=octocat").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
}

/// The tokens page's forms post like a browser without JavaScript: checkboxes named `scopes[i]`.
async fn the_tokens_page_makes_and_revokes_tokens_without_javascript(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("octocat").await;
    let page = app.get("/settings/tokens").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(page.body.contains("Create token"), "{}", page.body);
    let res = app
        .post_form(
            "/fn/tokens_create",
            "name=pipeline&scopes%5B0%5D=read&scopes%5B4%5D=health%3Awrite&expires_in_days=30&team=",
            &[("accept", "application/json")],
        )
        .await;
    assert!(res.status.is_success() || res.status.is_redirection(), "{res:?}");
    let list = app.get("/api/v1/tokens").await.json();
    assert_eq!(list[0]["name"], "pipeline", "{list}");
    assert_eq!(list[0]["scopes"], json!(["read", "health:write"]), "{list}");
    assert!(list[0]["expires_at"].is_string());
    let page = app.get("/settings/tokens").await;
    assert!(page.body.contains("Revoke pipeline"), "{}", page.body);
    let id = list[0]["id"].as_i64().unwrap();
    app.post_form("/fn/tokens_revoke", &format!("id={id}"), &[("accept", "application/json")]).await;
    let list = app.get("/api/v1/tokens").await.json();
    assert!(list[0]["revoked_at"].is_string(), "{list}");
}

/// The page shows hubot no rule controls; posting the form anyway is refused with 403, for a browser without
/// JavaScript (a plain page naming the action) and for a script (the error as JSON), and nothing is granted.
async fn a_form_posted_by_someone_who_may_not_gets_403(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("hubot").await;
    let page = app.get("/settings/access").await;
    assert!(!page.body.contains("Grant"), "no grant form for hubot");
    let form = "subject=user%3Ahubot&action=%2A&scope_type=all&scope_value=";
    let res = app.post_form("/fn/access_grant", form, &[("referer", "http://127.0.0.1:3000/settings/access")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("access.admin"), "{}", res.body);
    assert!(res.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let script = || {
        http::Request::post("/fn/access_grant")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(axum::body::Body::from(form))
            .unwrap()
    };
    let res = app.send(script()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.json()["Forbidden"].as_str().unwrap().contains("access.admin"), "{}", res.body);
    // Signed out: 401.
    let mut anonymous = TestApp::new(b).await;
    let res = anonymous.send(script()).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{res:?}");
    let rules = app.get_with_token("/api/v1/access/rules", API_TOKEN).await.json();
    assert_eq!(rules, json!([]), "nothing was granted");
}

/// `portolan.dev/allowed-runners` on a Template narrows `scaffold.run` to those users and groups.
async fn a_templates_allow_list_decides_who_may_run_it(b: Backend) {
    let mut app = TestApp::new(b).await;
    let template = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: payments-service\n\
                    \n  annotations:\n    portolan.dev/allowed-runners: payments, user:default/ada\n\
                    spec:\n  type: service\n  owner: group:default/payments\n  steps: []\n";
    let open = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: docs-site\n\
                spec:\n  type: website\n  owner: group:default/platform\n  steps: []\n";
    let dir = crate::catalog::temp_catalog("templates", &[("a.yaml", template), ("b.yaml", open)]);
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": dir}), API_TOKEN).await;
    assert_eq!(res.json()["added"], 2, "{}", res.body);
    let run = |v: &serde_json::Value| {
        v["decisions"].as_array().unwrap().iter().find(|d| d["action"] == "scaffold.run").cloned().unwrap()
    };
    app.login_as("hubot").await;
    let refused = app.get("/api/v1/access/decisions?entity=template:default/payments-service").await.json();
    let d = run(&refused);
    assert_eq!(d["allowed"], false, "{d}");
    assert!(d["reason"].as_str().unwrap().contains("group:default/payments, user:default/ada"), "{d}");
    let anyone = app.get("/api/v1/access/decisions?entity=template:default/docs-site").await.json();
    assert_eq!(run(&anyone)["allowed"], true, "no allow list: everyone signed in");
    // octocat is in the GitHub team acme/payments, so in group:default/payments; ask as an administrator would
    // about a non-administrator: octocat's own decision is decided by membership, not by being an admin.
    let mut member = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| c.admin_teams.clear()).await;
    let res = member.post_json_with_token("/api/v1/locations", &json!({"target": dir}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED);
    member.login_as("octocat").await;
    let allowed = member.get("/api/v1/access/decisions?entity=template:default/payments-service").await.json();
    let d = run(&allowed);
    assert_eq!(d["allowed"], true, "{d}");
    assert!(d["reason"].as_str().unwrap().contains("allowed runners"), "{d}");
}
