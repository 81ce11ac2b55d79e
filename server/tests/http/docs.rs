//! Docs pages through the JSON API: make, read (source and sanitized HTML), save revisions, conflicts that lose
//! nothing, history, and who may edit.

use http::StatusCode;
use portolan_testkit::FakeGithubConfig;
use serde_json::json;

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp};

db_tests!(
    a_page_is_made_read_and_saved_as_revisions,
    a_stale_save_is_a_conflict_that_loses_nothing,
    only_the_owning_team_edits_a_page,
    bad_pages_are_refused_with_the_field_named,
    pages_are_read_in_the_browser,
);

fn runbook() -> serde_json::Value {
    json!({
        "space": "payments",
        "title": "Restart the payments API",
        "kind": "runbook",
        "owner": "payments",
        "entities": ["component:default/payments-api"],
        "markdown": "# Restart\n\n1. Drain traffic\n2. Restart\n\n<script>alert(1)</script>\n",
    })
}

async fn a_page_is_made_read_and_saved_as_revisions(b: Backend) {
    let mut app = TestApp::new(b).await;
    let res = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let page = res.json();
    let id = page["id"].as_i64().unwrap();
    assert_eq!(page["slug"], "restart-the-payments-api");
    assert_eq!(page["owner_ref"], "group:default/payments");
    assert_eq!(page["entities"], json!(["component:default/payments-api"]));
    assert_eq!(page["revision_number"], 1);
    assert!(page["html"].as_str().unwrap().contains("<h1 id=\"md-restart\">Restart</h1>"), "{page}");
    assert!(!page["html"].as_str().unwrap().contains("<script"), "sanitized: {page}");
    assert_eq!(page["toc"][0]["id"], "md-restart");

    let update =
        json!({"base_revision": page["revision_id"], "markdown": "# Restart\n\nNew steps.\n", "summary": "shorter"});
    let res = app.send(put_json(&format!("/api/v1/pages/{id}"), &update)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json()["revision_number"], 2);
    let read = app.get_with_token(&format!("/api/v1/pages/{id}"), API_TOKEN).await.json();
    assert_eq!(read["markdown"], "# Restart\n\nNew steps.\n");
    assert_eq!(read["updated_by"], "api-token");
    let history = app.get_with_token(&format!("/api/v1/pages/{id}/revisions"), API_TOKEN).await.json();
    let (r1, r2) = (history[1]["id"].as_i64().unwrap(), history[0]["id"].as_i64().unwrap());
    // Either order: the diff goes from the older to the newer revision.
    let d = app.get_with_token(&format!("/api/v1/pages/{id}/diff?from={r2}&to={r1}"), API_TOKEN).await.json();
    assert_eq!((d["from"].as_i64(), d["to"].as_i64()), (Some(r1), Some(r2)), "{d}");
    assert!(d["diff"].as_str().unwrap().contains("+New steps.\n"), "{d}");
    assert!(d["diff"].as_str().unwrap().contains("-1. Drain traffic\n"), "{d}");
    assert_eq!((d["added"].as_u64(), d["removed"].as_u64()), (Some(1), Some(4)), "{d}");
    let other = app.get_with_token(&format!("/api/v1/pages/{id}/diff?from={r1}&to=999999"), API_TOKEN).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST, "{other:?}");
    let numbers: Vec<i64> = history.as_array().unwrap().iter().map(|r| r["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [2, 1]);
    assert_eq!(history[0]["summary"], "shorter");
    // A second page with the same title gets its own slug.
    let again = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    assert_eq!(again["slug"], "restart-the-payments-api-2");
    let listed = app.get_with_token("/api/v1/pages?space=payments", API_TOKEN).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(app.get_with_token("/api/v1/pages?space=other", API_TOKEN).await.json(), json!([]));
    assert_eq!(app.get_with_token("/api/v1/pages/99999", API_TOKEN).await.status, StatusCode::NOT_FOUND);
    let audit = portolan_core::audit::recent(&app.state.app.db, 10).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "docs.page.save"), "{audit:?}");
}

fn put_json(path: &str, body: &serde_json::Value) -> http::Request<axum::body::Body> {
    http::Request::put(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .header("cookie", "")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

async fn a_stale_save_is_a_conflict_that_loses_nothing(b: Backend) {
    let mut app = TestApp::new(b).await;
    let page = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    let (id, base) = (page["id"].as_i64().unwrap(), page["revision_id"].clone());
    // Two people open revision 1; the first saves.
    let first = json!({"base_revision": base, "markdown": "# Restart\n\n1. Drain traffic slowly\n2. Restart\n"});
    assert_eq!(app.send(put_json(&format!("/api/v1/pages/{id}"), &first)).await.status, StatusCode::OK);
    // The second save is refused with the page as it is now and what changed, and nothing is written.
    let second = json!({"base_revision": base, "markdown": "# Restart\n\nMy version\n"});
    let res = app.send(put_json(&format!("/api/v1/pages/{id}"), &second)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{res:?}");
    let conflict = res.json();
    assert_eq!(conflict["error"], "conflict");
    assert_eq!(conflict["current"]["revision_number"], 2);
    let diff = conflict["diff"].as_str().unwrap();
    assert!(diff.contains("-1. Drain traffic\n") && diff.contains("+1. Drain traffic slowly\n"), "{diff}");
    let now = app.get_with_token(&format!("/api/v1/pages/{id}"), API_TOKEN).await.json();
    assert_eq!(now["revision_number"], 2, "the stale save wrote nothing");
    // Merged and sent again on the current revision, it goes through.
    let merged = json!({"base_revision": now["revision_id"], "markdown": "# Restart\n\nMy version, slowly\n"});
    let res = app.send(put_json(&format!("/api/v1/pages/{id}"), &merged)).await;
    assert_eq!(res.json()["revision_number"], 3, "{res:?}");

    // Two replicas saving from the same base at the same moment: exactly one wins.
    let base = res.json()["revision_id"].clone();
    let mut other = app.replica().await;
    let a = json!({"base_revision": base, "markdown": "A\n"});
    let b_ = json!({"base_revision": base, "markdown": "B\n"});
    let path = format!("/api/v1/pages/{id}");
    let (ra, rb) = tokio::join!(app.send(put_json(&path, &a)), other.send(put_json(&path, &b_)));
    let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{ra:?} {rb:?}");
    let history = app.get_with_token(&format!("/api/v1/pages/{id}/revisions"), API_TOKEN).await.json();
    assert_eq!(history.as_array().unwrap().len(), 4);
}

async fn only_the_owning_team_edits_a_page(b: Backend) {
    // octocat is in acme/payments (so group:default/payments) and, here, no administrator.
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.admin_teams.clear()).await;
    app.login_as("octocat").await;
    let res = app.post_json("/api/v1/pages", &runbook()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let page = res.json();
    let mut hubot = TestApp { cookies: Default::default(), ..app.replica().await };
    hubot.login_as("hubot").await;
    let res = hubot.post_json("/api/v1/pages", &runbook()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("docs.edit refused"), "{}", res.body);
    let update = json!({"base_revision": page["revision_id"], "markdown": "vandalised"});
    let req = http::Request::put(format!("/api/v1/pages/{}", page["id"]))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(update.to_string()))
        .unwrap();
    let res = hubot.send(req).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    // Reading is for everyone signed in.
    let read = hubot.get(&format!("/api/v1/pages/{}", page["id"])).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json()["revision_number"], 1);
    // Editors of every page are a rule on kind `page`.
    let rule = json!({"subject": "user:hubot", "action": "docs.edit", "scope_type": "kind", "scope_value": "page"});
    let res = app.post_json_with_token("/api/v1/access/rules", &rule, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let update = json!({"base_revision": page["revision_id"], "markdown": "# Restart\n\nReviewed.\n"});
    let req = http::Request::put(format!("/api/v1/pages/{}", page["id"]))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(update.to_string()))
        .unwrap();
    let res = hubot.send(req).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json()["updated_by"], "hubot");
}

async fn bad_pages_are_refused_with_the_field_named(b: Backend) {
    let mut app = TestApp::new(b).await;
    for (field, value, says) in [
        ("space", json!("Payments Team"), "space"),
        ("space", json!("../etc"), "space"),
        ("title", json!(""), "title"),
        ("kind", json!("poem"), "kind"),
        ("owner", json!("group:"), "owner"),
    ] {
        let mut body = runbook();
        body[field] = value;
        let res = app.post_json_with_token("/api/v1/pages", &body, API_TOKEN).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}: {res:?}");
        assert!(res.json()["error"]["message"].as_str().unwrap().contains(says), "{}", res.body);
    }
    let page = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    let wrong_base = json!({"base_revision": 424242, "markdown": "x"});
    let res = app.send(put_json(&format!("/api/v1/pages/{}", page["id"]), &wrong_base)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
}

async fn pages_are_read_in_the_browser(b: Backend) {
    let mut app = TestApp::new(b).await;
    let mut body = runbook();
    body["markdown"] =
        json!("# Restart\n\n## Drain\n\n| step | who |\n|---|---|\n| drain | on-call |\n\n<script>alert(1)</script>\n");
    assert_eq!(app.post_json_with_token("/api/v1/pages", &body, API_TOKEN).await.status, StatusCode::CREATED);
    app.login_as("hubot").await;
    let list = app.get("/docs").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("href=\"/docs/payments/restart-the-payments-api\""), "{}", list.body);
    let page = app.get("/docs/payments/restart-the-payments-api").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(page.body.contains("<h2 id=\"md-drain\">Drain</h2>"), "{}", page.body);
    assert!(page.body.contains("<td>drain</td>"), "the table renders");
    assert!(page.body.contains("href=\"#md-drain\""), "the contents link to the headings");
    assert!(page.body.contains("Revision 1 by api-token"), "{}", page.body);
    assert!(page.body.contains("href=\"/catalog/default/component/payments-api\""), "linked entity");
    assert!(!page.body.contains("<script>alert"), "sanitized");
    let missing = app.get("/docs/payments/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
