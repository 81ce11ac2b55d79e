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
    an_old_revision_is_read_and_restored_as_a_new_one,
    the_editor_saves_and_a_plain_form_conflict_comes_back_with_the_draft,
    the_editor_is_only_for_those_who_may_edit,
    history_compares_revisions_side_by_side,
    wiki_links_resolve_show_backlinks_and_break_visibly,
    search_finds_pages_and_entities_and_follows_every_change,
    search_ranks_title_matches_first_when_most_pages_match,
    overdue_runbooks_are_flagged_until_reviewed,
    moved_pages_keep_their_old_addresses,
    onboarding_guides_track_each_persons_steps_across_edits,
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
    let none = app.get_with_token("/api/v1/pages/999999/revisions", API_TOKEN).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "the history of no page: {none:?}");
    // The history just read is kept; the next save shows in it at once, on this server and on a second one
    // (which read it before the save too).
    let mut other = app.replica().await;
    let history_of = |history: serde_json::Value| -> Vec<(i64, String)> {
        let rows = history.as_array().unwrap().iter();
        rows.map(|r| (r["number"].as_i64().unwrap(), r["summary"].as_str().unwrap().to_owned())).collect()
    };
    let before = other.get_with_token(&format!("/api/v1/pages/{id}/revisions"), API_TOKEN).await.json();
    assert_eq!(history_of(before.clone()), history_of(history.clone()));
    let third = json!({"base_revision": r2, "markdown": "# Restart\n\nThird.\n", "summary": "third"});
    assert_eq!(app.send(put_json(&format!("/api/v1/pages/{id}"), &third)).await.status, StatusCode::OK);
    for server in [&mut app, &mut other] {
        let after = server.get_with_token(&format!("/api/v1/pages/{id}/revisions"), API_TOKEN).await.json();
        let expected = [(3, "third".to_owned()), (2, "shorter".to_owned()), (1, "Created".to_owned())];
        assert_eq!(history_of(after), expected);
    }
    // A second page with the same title gets its own slug.
    let again = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    assert_eq!(again["slug"], "restart-the-payments-api-2");
    let listed = app.get_with_token("/api/v1/pages?space=payments", API_TOKEN).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(app.get_with_token("/api/v1/pages?space=other", API_TOKEN).await.json(), json!([]));
    assert_eq!(app.get_with_token("/api/v1/pages/99999", API_TOKEN).await.status, StatusCode::NOT_FOUND);
    let audit = portolan_core::audit::recent(&app.state.app.db, 10).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "docs.page.save"), "{audit:?}");

    // On PostgreSQL a history is listed from its index alone, never from the revisions' rows with their Markdown.
    // After a vacuum (which marks the table's pages all-visible, as autovacuum does) and with plain and bitmap
    // scans of the table off, the planner picks among the ways the indexes allow; only an index holding every
    // listed column, the id included, allows an index-only scan.
    if matches!(b, Backend::Postgres) {
        use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, TransactionTrait};
        let db = app.state.app.db.clone();
        db.execute_unprepared("VACUUM (ANALYZE) doc_revisions").await.unwrap();
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.unwrap();
        txn.execute_unprepared("SET LOCAL enable_bitmapscan = off").await.unwrap();
        let listing = portolan_core::docs::pages::history_rows(id, i64::MAX).build(DbBackend::Postgres);
        let plan = plan_of(&txn, listing).await;
        assert!(plan.contains("Index Only Scan using ix_doc_revisions_history"), "{plan}");
        txn.rollback().await.unwrap();
    }
}

fn put_json(path: &str, body: &serde_json::Value) -> http::Request<axum::body::Body> {
    http::Request::put(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .header("cookie", "")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

/// PostgreSQL's plan for `statement` (its `EXPLAIN`), one line per node.
async fn plan_of<C: sea_orm::ConnectionTrait>(conn: &C, statement: sea_orm::Statement) -> String {
    let explain = sea_orm::Statement { sql: format!("EXPLAIN {}", statement.sql), ..statement };
    let lines: Vec<String> =
        conn.query_all_raw(explain).await.unwrap().iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect();
    lines.join("\n")
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

fn form(fields: &[(&str, &str)]) -> String {
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        f.append_pair(k, v);
    }
    f.finish()
}

async fn an_old_revision_is_read_and_restored_as_a_new_one(b: Backend) {
    let mut app = TestApp::new(b).await;
    let page = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    let id = page["id"].as_i64().unwrap();
    let first = page["revision_id"].as_i64().unwrap();
    let update = json!({"base_revision": first, "markdown": "# Restart\n\nWrong steps.\n", "title": "Restart it"});
    let second = app.send(put_json(&format!("/api/v1/pages/{id}"), &update)).await.json();
    let old = app.get_with_token(&format!("/api/v1/pages/{id}/revisions/1"), API_TOKEN).await;
    assert_eq!(old.status, StatusCode::OK, "{old:?}");
    let old = old.json();
    assert_eq!(old["revision"]["id"].as_i64(), Some(first));
    assert_eq!(old["current"], false);
    assert!(old["markdown"].as_str().unwrap().contains("1. Drain traffic"), "{old}");
    assert!(
        old["html"].as_str().unwrap().contains("<li>Drain traffic</li>")
            && !old["html"].as_str().unwrap().contains("<script")
    );
    let none = app.get_with_token(&format!("/api/v1/pages/{id}/revisions/9"), API_TOKEN).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);

    // Restoring from a stale view of the page is a conflict and writes nothing.
    let stale = json!({"revision": first, "base_revision": first});
    let res = app.post_json_with_token(&format!("/api/v1/pages/{id}/restore"), &stale, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{res:?}");
    assert!(!res.json()["rows"].as_array().unwrap().is_empty(), "the conflict carries side-by-side rows");
    let restore = json!({"revision": first, "base_revision": second["revision_id"]});
    let res = app.post_json_with_token(&format!("/api/v1/pages/{id}/restore"), &restore, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let restored = res.json();
    assert_eq!(restored["revision_number"], 3, "a restore is a new revision");
    assert_eq!(restored["title"], "Restart the payments API", "the title comes back too");
    assert_eq!(restored["markdown"], runbook()["markdown"]);
    let history = app.get_with_token(&format!("/api/v1/pages/{id}/revisions"), API_TOKEN).await.json();
    assert_eq!(history.as_array().unwrap().len(), 3, "nothing is rewritten");
    assert_eq!(history[0]["summary"], "Restored revision 1");
    assert_eq!(history[1]["title"], "Restart it");
    let foreign = json!({"revision": 987654, "base_revision": restored["revision_id"]});
    let res = app.post_json_with_token(&format!("/api/v1/pages/{id}/restore"), &foreign, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let audit = portolan_core::audit::recent(&app.state.app.db, 10).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "docs.page.save").count(), 2, "{audit:?}");
}

async fn the_editor_saves_and_a_plain_form_conflict_comes_back_with_the_draft(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.admin_teams.clear()).await;
    let page = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    let (id, first) = (page["id"].as_i64().unwrap().to_string(), page["revision_id"].as_i64().unwrap().to_string());
    // octocat is in acme/payments, the owning team.
    app.login_as("octocat").await;
    let view = app.get("/docs/payments/restart-the-payments-api").await;
    assert!(view.body.contains("href=\"/docs/payments/restart-the-payments-api/edit\""), "members see Edit");
    let editor = app.get("/docs/payments/restart-the-payments-api/edit").await;
    assert_eq!(editor.status, StatusCode::OK, "{editor:?}");
    assert!(editor.body.contains("1. Drain traffic"), "the source is in the editor: {}", editor.body);
    assert!(editor.body.contains(&format!("name=\"base_revision\" value=\"{first}\"")), "{}", editor.body);

    // A plain-form save (no JavaScript) goes to the page.
    let body = form(&[
        ("page_id", &id),
        ("base_revision", &first),
        ("title", "Restart the payments API"),
        ("markdown", "# Restart\r\n\r\n1. Drain traffic gently\r\n"),
        ("summary", "gentler"),
    ]);
    let res = app.post_form("/fn/docs_save", &body, &[]).await;
    assert!(res.status.is_redirection(), "{res:?}");
    assert_eq!(res.location(), "/docs/payments/restart-the-payments-api");
    let now = app.get_with_token(&format!("/api/v1/pages/{id}"), API_TOKEN).await.json();
    assert_eq!(now["markdown"], "# Restart\n\n1. Drain traffic gently\n", "line breaks are kept as LF");
    assert_eq!(now["updated_by"], "octocat");

    // Another save from revision 1 is refused; the browser comes back to the editor with its text and the diff.
    let body = form(&[
        ("page_id", &id),
        ("base_revision", &first),
        ("title", "Restart the payments API"),
        ("markdown", "# Restart\n\nMy own draft line\n"),
        ("summary", "mine"),
    ]);
    let res = app.post_form("/fn/docs_save", &body, &[("referer", "http://127.0.0.1:3000/x")]).await;
    assert!(res.status.is_redirection(), "{res:?}");
    assert_eq!(res.location(), "/docs/payments/restart-the-payments-api/edit");
    let back = app.get("/docs/payments/restart-the-payments-api/edit").await;
    assert!(back.body.contains("someone else saved first"), "{}", back.body);
    assert!(back.body.contains("My own draft line"), "the draft is back in the editor");
    assert!(back.body.contains("<mark>gently</mark>"), "their change is shown with words marked: {}", back.body);
    let current = now["revision_id"].as_i64().unwrap();
    assert!(back.body.contains(&format!("name=\"base_revision\" value=\"{current}\"")), "merges go on top of theirs");
    let again = app.get("/docs/payments/restart-the-payments-api/edit").await;
    assert!(again.body.contains("My own draft line"), "a reload keeps the draft");
    let res = app
        .post_form(
            "/fn/docs_discard_draft",
            &form(&[("page_id", &id), ("path", "/docs/payments/restart-the-payments-api/edit")]),
            &[],
        )
        .await;
    assert_eq!(res.location(), "/docs/payments/restart-the-payments-api/edit", "{res:?}");
    let again = app.get("/docs/payments/restart-the-payments-api/edit").await;
    assert!(!again.body.contains("My own draft line"), "discarded");
    let unchanged = app.get_with_token(&format!("/api/v1/pages/{id}"), API_TOKEN).await.json();
    assert_eq!(unchanged["revision_number"], 2, "the refused save wrote nothing");

    // With JavaScript, the answer is the conflict itself (the text stays in the browser).
    let req = http::Request::post("/fn/docs_save")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let answer = res.json();
    assert_eq!(answer["Conflict"]["revision_id"].as_i64(), Some(current), "{answer}");
    assert!(answer["Conflict"]["draft"].is_null());
}

async fn the_editor_is_only_for_those_who_may_edit(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.admin_teams.clear()).await;
    let page = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    app.login_as("hubot").await;
    let view = app.get("/docs/payments/restart-the-payments-api").await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(!view.body.contains("/edit\""), "no Edit button for readers");
    let editor = app.get("/docs/payments/restart-the-payments-api/edit").await;
    assert_eq!(editor.status, StatusCode::FORBIDDEN, "{editor:?}");
    assert!(!editor.body.contains("name=\"markdown\""));
    let body = form(&[
        ("page_id", &page["id"].to_string()),
        ("base_revision", &page["revision_id"].to_string()),
        ("title", "x"),
        ("markdown", "vandalised"),
        ("summary", ""),
    ]);
    let res = app.post_form("/fn/docs_save", &body, &[("accept", "application/json")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    let restore = form(&[
        ("page_id", &page["id"].to_string()),
        ("revision", &page["revision_id"].to_string()),
        ("base_revision", &page["revision_id"].to_string()),
    ]);
    let res = app.post_form("/fn/docs_restore", &restore, &[("accept", "application/json")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    let res = app
        .post_form(
            "/fn/docs_create",
            &form(&[
                ("space", "payments"),
                ("title", "Mine"),
                ("kind", "guide"),
                ("owner", "payments"),
                ("entities", ""),
                ("markdown", "x"),
            ]),
            &[("accept", "application/json")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    let unchanged = app.get_with_token(&format!("/api/v1/pages/{}", page["id"]), API_TOKEN).await.json();
    assert_eq!(unchanged["revision_number"], 1);
}

async fn history_compares_revisions_side_by_side(b: Backend) {
    let mut app = TestApp::new(b).await;
    let page = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    let id = page["id"].as_i64().unwrap();
    let update = json!({"base_revision": page["revision_id"], "markdown": "# Restart\n\n1. Drain traffic first\n2. Restart\n", "summary": "clearer"});
    assert_eq!(app.send(put_json(&format!("/api/v1/pages/{id}"), &update)).await.status, StatusCode::OK);
    app.login_as("octocat").await;
    let history = app.get("/docs/payments/restart-the-payments-api/history?from=1&to=2").await;
    assert_eq!(history.status, StatusCode::OK, "{history:?}");
    assert!(history.body.contains("Revision 1 → 2"), "{}", history.body);
    assert!(history.body.contains("<mark>first</mark>"), "the added word is marked: {}", history.body);
    assert!(
        history.body.contains("clearer")
            && history.body.contains("href=\"/docs/payments/restart-the-payments-api/revisions/1\"")
    );
    let old = app.get("/docs/payments/restart-the-payments-api/revisions/1").await;
    assert_eq!(old.status, StatusCode::OK);
    assert!(old.body.contains("Restore this revision"), "octocat may restore: {}", old.body);
    assert!(old.body.contains("<li>Drain traffic</li>"));
    let missing = app.get("/docs/payments/restart-the-payments-api/revisions/7").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // A new page from the browser, linked to an entity, shows on that entity's list.
    let body = form(&[
        ("space", "payments"),
        ("title", "Payments on-call guide"),
        ("kind", "guide"),
        ("owner", "group:default/payments"),
        ("entities", "component:default/payments-api"),
        ("markdown", "Welcome\r\n"),
    ]);
    let res = app.post_form("/fn/docs_create", &body, &[]).await;
    assert!(res.status.is_redirection(), "{res:?}");
    assert_eq!(res.location(), "/docs/payments/payments-on-call-guide");
    let listed =
        portolan_core::docs::pages::for_entity(&app.state.app.db, "component:default/payments-api").await.unwrap();
    let titles: Vec<&str> = listed.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["Restart the payments API", "Payments on-call guide"], "runbooks first");
}

async fn wiki_links_resolve_show_backlinks_and_break_visibly(b: Backend) {
    let mut app = TestApp::new(b).await;
    let target = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    let mut linking = runbook();
    linking["title"] = json!("Payments on-call");
    linking["entities"] = json!([]);
    linking["markdown"] = json!(
        "See [[Restart the payments API]], [[payments/restart-the-payments-api|the restart]], \
         [[component:checkout]] and [[Missing page]].\n"
    );
    let page = app.post_json_with_token("/api/v1/pages", &linking, API_TOKEN).await.json();
    let html = page["html"].as_str().unwrap();
    assert!(html.contains("<a href=\"/docs/payments/restart-the-payments-api\" rel=\"noopener noreferrer nofollow\">Restart the payments API</a>"), "{html}");
    assert!(html.contains(">the restart</a>"), "{html}");
    assert!(html.contains("<span class=\"wikilink-missing\">Missing page</span>"), "{html}");
    assert_eq!(page["broken_links"], json!(["component:checkout", "Missing page"]));

    // The target shows where it is linked from; an entity's page lists the pages that link to it.
    app.login_as("octocat").await;
    let shown = app.get("/docs/payments/restart-the-payments-api").await;
    assert!(shown.body.contains("Linked from"), "{}", shown.body);
    assert!(shown.body.contains("href=\"/docs/payments/payments-on-call\""), "{}", shown.body);
    let linking_page = app.get("/docs/payments/payments-on-call").await;
    assert!(linking_page.body.contains("Broken links: "), "editors see broken links: {}", linking_page.body);
    let about = portolan_core::docs::pages::for_entity(&app.state.app.db, "component:default/checkout").await.unwrap();
    assert_eq!(about.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["Payments on-call"]);

    // Renaming the target breaks the link by title, not the one by slug; backlinks follow the slug.
    let rename =
        json!({"base_revision": target["revision_id"], "markdown": runbook()["markdown"], "title": "Restart the API"});
    assert_eq!(app.send(put_json(&format!("/api/v1/pages/{}", target["id"]), &rename)).await.status, StatusCode::OK);
    let again = app.get_with_token(&format!("/api/v1/pages/{}", page["id"]), API_TOKEN).await.json();
    assert_eq!(again["broken_links"], json!(["Restart the payments API", "component:checkout", "Missing page"]));
    assert!(again["html"].as_str().unwrap().contains(">the restart</a>"));
    let shown = app.get("/docs/payments/restart-the-payments-api").await;
    assert!(shown.body.contains("href=\"/docs/payments/payments-on-call\""), "still linked by slug");

    // A missing page that is written later is linked at once, and broken again once deleted: a page renders anew
    // whenever where its links lead changes, however often it was read before.
    let mut missing = runbook();
    missing["title"] = json!("Missing page");
    missing["space"] = json!("elsewhere");
    missing["entities"] = json!([]);
    let missing = app.post_json_with_token("/api/v1/pages", &missing, API_TOKEN).await.json();
    let read = app.get_with_token(&format!("/api/v1/pages/{}", page["id"]), API_TOKEN).await.json();
    assert_eq!(read["broken_links"], json!(["Restart the payments API", "component:checkout"]));
    assert!(read["html"].as_str().unwrap().contains("href=\"/docs/elsewhere/missing-page\""), "{read}");
    assert_eq!(app.send(delete(&format!("/api/v1/pages/{}", missing["id"]))).await.status, StatusCode::NO_CONTENT);
    let read = app.get_with_token(&format!("/api/v1/pages/{}", page["id"]), API_TOKEN).await.json();
    assert_eq!(read, again, "the same source and link targets render as before");

    // An edit that keeps the links keeps the backlinks; one that changes them moves them.
    let linked_from = |app: &TestApp, entity: &'static str| {
        let db = app.state.app.db.clone();
        async move {
            let pages = portolan_core::docs::pages::for_entity(&db, entity).await.unwrap();
            pages.into_iter().map(|p| p.title).collect::<Vec<_>>()
        }
    };
    let path = format!("/api/v1/pages/{}", page["id"]);
    let longer = format!("{}\nOne more line.\n", linking["markdown"].as_str().unwrap());
    let kept = app.send(put_json(&path, &json!({"base_revision": page["revision_id"], "markdown": longer}))).await;
    assert_eq!(kept.status, StatusCode::OK, "{kept:?}");
    assert_eq!(linked_from(&app, "component:default/checkout").await, ["Payments on-call"]);
    let moved = json!({"base_revision": kept.json()["revision_id"], "markdown": "Only [[component:billing]] now.\n"});
    assert_eq!(app.send(put_json(&path, &moved)).await.status, StatusCode::OK);
    assert!(linked_from(&app, "component:default/checkout").await.is_empty());
    assert_eq!(linked_from(&app, "component:default/billing").await, ["Payments on-call"]);
    let shown = app.get("/docs/payments/restart-the-payments-api").await;
    assert!(!shown.body.contains("href=\"/docs/payments/payments-on-call\""), "no longer linked: {}", shown.body);

    // On PostgreSQL, links by title are looked up in the btree index on lower(title), never in the trigram index
    // (which answers `=` too, and once made every page view recheck every page). With sequential scans off, the
    // plan is the planner's choice among the indexes it may use.
    if matches!(b, Backend::Postgres) {
        use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, TransactionTrait};
        let db = &app.state.app.db;
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.unwrap();
        let lookup = portolan_core::docs::pages::titled(DbBackend::Postgres, &["runbook 5", "restart the api"])
            .build(DbBackend::Postgres);
        let plan = plan_of(&txn, lookup).await;
        assert!(plan.contains("ix_doc_pages_lower_title_c"), "{plan}");
        let found: Vec<(i64, String, String, String)> =
            portolan_core::docs::pages::titled(DbBackend::Postgres, &["restart the api"])
                .into_tuple()
                .all(&txn)
                .await
                .unwrap();
        assert_eq!(found.iter().map(|f| f.3.as_str()).collect::<Vec<_>>(), ["Restart the API"]);
        txn.rollback().await.unwrap();
    }
}

fn delete(path: &str) -> http::Request<axum::body::Body> {
    http::Request::delete(path)
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .body(axum::body::Body::empty())
        .unwrap()
}

async fn search_finds_pages_and_entities_and_follows_every_change(b: Backend) {
    let mut app = TestApp::new(b).await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let page = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    let id = page["id"].as_i64().unwrap();
    let mut guide = runbook();
    guide["title"] = json!("Onboarding for the payments team");
    guide["kind"] = json!("guide");
    guide["space"] = json!("onboarding");
    guide["markdown"] = json!("Welcome. Ask in #payments-oncall before you restart anything.\n");
    app.post_json_with_token("/api/v1/pages", &guide, API_TOKEN).await;
    let search = |q: &str| format!("/api/v1/search?q={}", portolan_types::encode_query_value(q));

    // Partial words; the title match ranks first; the entity is found by its description too.
    let r = app.get_with_token(&search("payme"), API_TOKEN).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = r.json();
    let titles: Vec<&str> = r["hits"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"Restart the payments API") && titles.contains(&"Payments API"), "{titles:?}");
    let entity = r["hits"].as_array().unwrap().iter().find(|h| h["kind"] == "entity").unwrap();
    assert_eq!(entity["path"], "/catalog/default/component/payments-api");

    // A word only in a page's text: found, with the words marked in the snippet.
    let r = app.get_with_token(&search("oncall restart"), API_TOKEN).await.json();
    assert_eq!(r["hits"].as_array().unwrap().len(), 1, "{r}");
    let hit = &r["hits"][0];
    assert_eq!(hit["path"], "/docs/onboarding/onboarding-for-the-payments-team");
    assert_eq!(hit["detail"], "onboarding · guide");
    let marked: Vec<&str> = hit["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["hit"] == true)
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(marked, ["oncall", "restart"], "{hit}");

    // Filters: space and kind.
    let r = app.get_with_token(&format!("{}&space=payments", search("restart")), API_TOKEN).await.json();
    assert_eq!(r["hits"].as_array().unwrap().len(), 1, "{r}");
    let r = app.get_with_token(&format!("{}&kind=component", search("pay")), API_TOKEN).await.json();
    assert!(r["hits"].as_array().unwrap().iter().all(|h| h["kind"] == "entity"), "{r}");

    // Edits, renames, restores and deletions are searchable at once.
    let edit = json!({"base_revision": page["revision_id"], "markdown": "Use the blue-green switch.\n", "title": "Switch payments traffic"});
    let saved = app.send(put_json(&format!("/api/v1/pages/{id}"), &edit)).await.json();
    let found = |r: &serde_json::Value, path: &str| r["hits"].as_array().unwrap().iter().any(|h| h["path"] == path);
    let path = "/docs/payments/restart-the-payments-api";
    let r = app.get_with_token(&search("blue-green"), API_TOKEN).await.json();
    assert!(found(&r, path));
    let snippet = |r: &serde_json::Value| -> String {
        r["hits"][0]["snippet"].as_array().unwrap().iter().map(|s| s["text"].as_str().unwrap()).collect()
    };
    assert_eq!(snippet(&r), "Use the blue-green switch.", "the snippet is cut from the new revision");
    assert!(!found(&app.get_with_token(&search("drain traffic"), API_TOKEN).await.json(), path), "old text is gone");
    assert!(found(&app.get_with_token(&search("switch payments"), API_TOKEN).await.json(), path), "new title");
    let restore = json!({"revision": page["revision_id"], "base_revision": saved["revision_id"]});
    let restored = app.post_json_with_token(&format!("/api/v1/pages/{id}/restore"), &restore, API_TOKEN).await;
    assert_eq!(restored.status, StatusCode::OK);
    let restored = restored.json()["revision_id"].as_i64().unwrap();
    let r = app.get_with_token(&search("drain traffic"), API_TOKEN).await.json();
    assert!(found(&r, path), "restored text");
    assert!(snippet(&r).starts_with("Restart 1. Drain traffic"), "{r}");
    assert!(!found(&app.get_with_token(&search("blue-green"), API_TOKEN).await.json(), path));
    // A second replica sees the same index.
    let mut other = app.replica().await;
    assert!(found(&other.get_with_token(&search("drain"), API_TOKEN).await.json(), path));
    assert_eq!(app.send(delete(&format!("/api/v1/pages/{id}"))).await.status, StatusCode::NO_CONTENT);
    assert!(!found(&other.get_with_token(&search("drain"), API_TOKEN).await.json(), path), "deleted");
    assert_eq!(app.get_with_token(&format!("/api/v1/pages/{id}"), API_TOKEN).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.send(delete(&format!("/api/v1/pages/{id}"))).await.status, StatusCode::NOT_FOUND);
    // Search keeps what it read of a revision by its id, so an id is never given again, not even that of the
    // newest revision once its page is deleted (SQLite would reuse it without AUTOINCREMENT).
    let mut fresh = runbook();
    fresh["markdown"] = json!("Page the zebrafish rota.\n");
    let fresh = app.post_json_with_token("/api/v1/pages", &fresh, API_TOKEN).await.json();
    assert!(fresh["revision_id"].as_i64().unwrap() > restored, "{fresh}");
    let r = app.get_with_token(&search("zebrafish rota"), API_TOKEN).await.json();
    assert_eq!(snippet(&r), "Page the zebrafish rota.", "{r}");

    // The search page, server-rendered.
    app.login_as("octocat").await;
    let page = app.get("/search?q=oncall").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<mark>oncall</mark>"), "{}", page.body);
    assert!(app.get_with_token("/api/v1/search?q=", API_TOKEN).await.json()["hits"].as_array().unwrap().is_empty());
}

/// More pages hold the words than search reads before ranking: the pages whose title holds them still come
/// first, and only pages holding every word are hits.
async fn search_ranks_title_matches_first_when_most_pages_match(b: Backend) {
    let mut app = TestApp::new(b).await;
    let create = |title: String, markdown: &str| {
        let mut body = runbook();
        body["title"] = json!(title);
        body["entities"] = json!([]);
        body["markdown"] = json!(markdown);
        body
    };
    let mut last_note = serde_json::Value::Null;
    for n in 0..90 {
        let page =
            create(format!("Note {n}"), "Before the failover, rehearse the rollback. The rollback plan is here.\n");
        let res = app.post_json_with_token("/api/v1/pages", &page, API_TOKEN).await;
        assert_eq!(res.status, StatusCode::CREATED);
        last_note = res.json();
    }
    let only_one_word = create("Failover drill".to_owned(), "Nothing else here.\n");
    app.post_json_with_token("/api/v1/pages", &only_one_word, API_TOKEN).await;
    let titled = create("Rollback checklist".to_owned(), "Check the failover first.\n");
    app.post_json_with_token("/api/v1/pages", &titled, API_TOKEN).await;

    let r = app.get_with_token("/api/v1/search?q=rollback+failover&limit=20", API_TOKEN).await.json();
    let titles: Vec<&str> = r["hits"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), 20, "{titles:?}");
    assert_eq!(titles[0], "Rollback checklist", "{titles:?}");
    assert!(!titles.contains(&"Failover drill"), "a page without every word is no hit: {titles:?}");
    assert!(titles[1..].iter().all(|t| t.starts_with("Note ")), "{titles:?}");
    // One word, in a title and in ninety bodies.
    let r = app.get_with_token("/api/v1/search?q=failov", API_TOKEN).await.json();
    assert_eq!(r["hits"][0]["title"], "Failover drill", "{r}");
    // A renamed page is found by its new title at once (the last note is past the body index's first matches).
    let id = last_note["id"].as_i64().unwrap();
    let rename = json!({"base_revision": last_note["revision_id"], "markdown": last_note["markdown"], "title": "Rollback and failover"});
    assert_eq!(app.send(put_json(&format!("/api/v1/pages/{id}"), &rename)).await.status, StatusCode::OK);
    let r = app.get_with_token("/api/v1/search?q=rollback+failover&limit=20", API_TOKEN).await.json();
    let titles: Vec<&str> = r["hits"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap()).collect();
    assert_eq!(titles[..2], ["Rollback and failover", "Rollback checklist"], "{titles:?}");
    // Words shorter than the title index's three characters still find titles.
    let r = app.get_with_token("/api/v1/search?q=ro+fa&limit=20", API_TOKEN).await.json();
    assert_eq!(r["hits"][0]["title"], "Rollback and failover", "{r}");

    // On PostgreSQL, the search text that every search reads is stored uncompressed (migration 28), and the
    // migration rewrites the pages saved compressed before it.
    if matches!(b, Backend::Postgres) {
        use portolan_migrations::{Migrator, MigratorTrait};
        use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
        let db = app.state.app.db.clone();
        let db = &db;
        let compressed = || async {
            let sql = "SELECT count(*) FROM doc_pages WHERE pg_column_compression(search_text) IS NOT NULL";
            let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        };
        // Long enough to be compressed under the old setting.
        let long = create("Long page".to_owned(), &"Restart the failover runbook. ".repeat(200));
        assert_eq!(app.post_json_with_token("/api/v1/pages", &long, API_TOKEN).await.status, StatusCode::CREATED);
        let storage = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'doc_pages'::regclass AND attname = 'search_text'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<String>(0)
            .unwrap();
        assert_eq!(storage, "e", "stored out of line, uncompressed");
        assert_eq!(compressed().await, 0);
        // Back to before migration 28 (and 29 and 30, which came after it).
        Migrator::down(db, Some(3)).await.unwrap();
        db.execute_unprepared("UPDATE doc_pages SET search_text = search_text || ''").await.unwrap();
        assert_eq!(compressed().await, 1, "the old setting compresses the long page");
        Migrator::up(db, None).await.unwrap();
        assert_eq!(compressed().await, 0);
        let r = app.get_with_token("/api/v1/search?q=failover+runbook", API_TOKEN).await.json();
        assert_eq!(r["hits"][0]["title"], "Long page", "{r}");

        // The plan PostgreSQL shares between runs of a prepared statement still finds title candidates in the
        // title index (with 2,000 pages, where scanning every title costs milliseconds): the statements carry
        // their limit in their text. With a bound limit the shared plan scanned the table.
        db.execute_unprepared(
            "INSERT INTO doc_pages (space, slug, title, kind, entity_refs, created_by, created_at, updated_at, \
             search_text) SELECT 'bulk', 'p-' || g, 'Runbook ' || g, 'runbook', '', 'test', now(), now(), \
             'runbook ' || g || ' restart the failover' FROM generate_series(1, 2000) g",
        )
        .await
        .unwrap();
        db.execute_unprepared("VACUUM (ANALYZE) doc_pages").await.unwrap();
        let words = ["backup".to_owned(), "chec".to_owned()];
        let (by_title, by_body) =
            portolan_core::search::candidate_statements(db.get_database_backend(), &words, None, None, None).unwrap();
        for (statement, index) in [(by_title, "ix_doc_pages_title_trgm"), (by_body, "ix_doc_pages_search_trgm")] {
            let values: Vec<String> = statement
                .values
                .iter()
                .flat_map(|v| v.0.iter())
                .map(|v| match v {
                    sea_orm::Value::String(Some(s)) => format!("'{}'", s.replace('\'', "''")),
                    sea_orm::Value::BigUnsigned(Some(n)) => n.to_string(),
                    sea_orm::Value::BigInt(Some(n)) => n.to_string(),
                    other => panic!("a value this check does not write out: {other:?}"),
                })
                .collect();
            let generic = db.begin().await.unwrap();
            generic.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan").await.unwrap();
            generic.execute_unprepared(&format!("PREPARE candidates AS {}", statement.sql)).await.unwrap();
            let execute = format!("EXECUTE candidates({})", values.join(", "));
            let plan = plan_of(&generic, Statement::from_string(db.get_database_backend(), execute)).await;
            assert!(plan.contains(index), "{}\n{plan}", statement.sql);
            generic.execute_unprepared("DEALLOCATE candidates").await.unwrap();
            generic.rollback().await.unwrap();
        }
    }
}

async fn overdue_runbooks_are_flagged_until_reviewed(b: Backend) {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.admin_teams.clear()).await;
    let mut body = runbook();
    body["review_days"] = json!(30);
    let page = app.post_json_with_token("/api/v1/pages", &body, API_TOKEN).await.json();
    let id = page["id"].as_i64().unwrap();
    assert_eq!(page["review"]["interval_days"], 30);
    assert_eq!(page["review"]["stale"], false, "{page}");
    assert!(app.get_with_token("/api/v1/pages?stale=true", API_TOKEN).await.json().as_array().unwrap().is_empty());

    // Written 45 days ago and never reviewed: overdue.
    use portolan_core::docs::pages::page_rows;
    page_rows::Entity::update_many()
        .col_expr(page_rows::Column::CreatedAt, Expr::value(chrono::Utc::now() - chrono::Duration::days(45)))
        .filter(page_rows::Column::Id.eq(id))
        .exec(&app.state.app.db)
        .await
        .unwrap();
    let read = app.get_with_token(&format!("/api/v1/pages/{id}"), API_TOKEN).await.json();
    assert_eq!(read["review"]["stale"], true, "{read}");
    let stale = app.get_with_token("/api/v1/pages?stale=true", API_TOKEN).await.json();
    assert_eq!(stale.as_array().unwrap().len(), 1, "{stale}");
    assert_eq!(stale[0]["stale"], true);
    let team = portolan_core::docs::pages::for_entity(&app.state.app.db, "group:default/payments").await.unwrap();
    assert!(team.first().is_some_and(|p| p.stale), "the owning team's page lists it first, flagged: {team:?}");

    // On the page, and in the docs list; a member of the team marks it reviewed.
    app.login_as("octocat").await;
    let shown = app.get("/docs/payments/restart-the-payments-api").await;
    assert!(shown.body.contains("Review overdue since"), "{}", shown.body);
    assert!(shown.body.contains("Mark reviewed"), "octocat is on the payments team");
    assert!(app.get("/docs").await.body.contains("Runbooks due for review"));
    let res =
        app.post_form("/fn/docs_review", &form(&[("page_id", &id.to_string()), ("interval_days", "60")]), &[]).await;
    assert_eq!(res.location(), "/docs/payments/restart-the-payments-api", "{res:?}");
    let read = app.get_with_token(&format!("/api/v1/pages/{id}"), API_TOKEN).await.json();
    assert_eq!(read["review"]["stale"], false, "{read}");
    assert_eq!(read["review"]["reviewed_by"], "octocat");
    assert_eq!(read["review"]["interval_days"], 60);
    assert!(!app.get("/docs").await.body.contains("Runbooks due for review"));

    // The API: a bad interval is refused; someone outside the team may not.
    let res =
        app.post_json_with_token(&format!("/api/v1/pages/{id}/review"), &json!({"interval_days": 0}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let res = app.post_json_with_token(&format!("/api/v1/pages/{id}/review"), &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let mut hubot = TestApp { cookies: Default::default(), ..app.replica().await };
    hubot.login_as("hubot").await;
    let res = hubot
        .post_form("/fn/docs_review", &form(&[("page_id", &id.to_string())]), &[("accept", "application/json")])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    let audit = portolan_core::audit::recent(&app.state.app.db, 10).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "docs.page.review").count(), 2, "{audit:?}");
}

async fn moved_pages_keep_their_old_addresses(b: Backend) {
    let mut app = TestApp::new(b).await;
    let page = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();
    let id = page["id"].as_i64().unwrap();
    let mut linking = runbook();
    linking["title"] = json!("On-call");
    linking["markdown"] = json!("See [[payments/restart-the-payments-api]].\n");
    let other = app.post_json_with_token("/api/v1/pages", &linking, API_TOKEN).await.json();

    let res = app
        .post_json_with_token(
            &format!("/api/v1/pages/{id}/move"),
            &json!({"space": "platform", "slug": "Restart API"}),
            API_TOKEN,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!((res.json()["space"].as_str(), res.json()["slug"].as_str()), (Some("platform"), Some("restart-api")));

    // The old address redirects; links to it still lead there; backlinks follow.
    app.login_as("octocat").await;
    let old = app.get("/docs/payments/restart-the-payments-api").await;
    assert!(old.status.is_redirection(), "{old:?}");
    assert_eq!(old.location(), "/docs/platform/restart-api");
    let new = app.get("/docs/platform/restart-api").await;
    assert_eq!(new.status, StatusCode::OK);
    assert!(new.body.contains("href=\"/docs/payments/on-call\""), "linked from, by its old address: {}", new.body);
    let linked = app.get_with_token(&format!("/api/v1/pages/{}", other["id"]), API_TOKEN).await.json();
    assert!(linked["html"].as_str().unwrap().contains("href=\"/docs/platform/restart-api\""), "{linked}");
    assert_eq!(linked["broken_links"], json!([]));

    // Another page's address is refused; moving back takes the old address over again.
    let res = app
        .post_json_with_token(
            &format!("/api/v1/pages/{id}/move"),
            &json!({"space": "payments", "slug": "on-call"}),
            API_TOKEN,
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let res = app
        .post_form(
            "/fn/docs_move",
            &form(&[("page_id", &id.to_string()), ("space", "payments"), ("slug", "restart-the-payments-api")]),
            &[],
        )
        .await;
    assert_eq!(res.location(), "/docs/payments/restart-the-payments-api", "{res:?}");
    assert_eq!(app.get("/docs/payments/restart-the-payments-api").await.status, StatusCode::OK);
    let old = app.get("/docs/platform/restart-api").await;
    assert_eq!(old.location(), "/docs/payments/restart-the-payments-api", "{old:?}");
    let audit = portolan_core::audit::recent(&app.state.app.db, 10).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "docs.page.move").count(), 2, "{audit:?}");
}

async fn onboarding_guides_track_each_persons_steps_across_edits(b: Backend) {
    let mut app = TestApp::new(b).await;
    let body = json!({
        "space": "onboarding", "title": "Payments onboarding", "kind": "guide", "owner": "payments",
        "entities": ["group:default/payments"],
        "markdown": "# Welcome\n\n## Get access\n\nAsk in #access.\n\n## Read the runbook\n\nSee [[Restart the payments API]].\n",
    });
    let page = app.post_json_with_token("/api/v1/pages", &body, API_TOKEN).await.json();
    let id = page["id"].as_i64().unwrap();
    let plain = app.post_json_with_token("/api/v1/pages", &runbook(), API_TOKEN).await.json();

    // octocat is on acme/payments: the guide is theirs.
    app.login_as("octocat").await;
    let mine = app.get("/api/v1/guides").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["assigned"], true);
    let keys: Vec<&str> = mine[0]["steps"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["md-get-access", "md-read-the-runbook"]);
    let res = app.post_json(&format!("/api/v1/guides/{id}/steps/md-get-access"), &json!({"done": true})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json()["done"], 1);
    let res = app.post_json(&format!("/api/v1/guides/{id}/steps/md-nope"), &json!({"done": true})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let res = app.post_json(&format!("/api/v1/guides/{}/steps/md-restart", plain["id"]), &json!({"done": true})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "not a guide: {res:?}");
    // Ticking twice is still one tick; the page shows the progress.
    app.post_form(
        "/fn/guide_step",
        &form(&[("page_id", &id.to_string()), ("key", "md-get-access"), ("done", "true")]),
        &[],
    )
    .await;
    let shown = app.get("/docs/onboarding/payments-onboarding").await;
    assert!(shown.body.contains("1 of 2 steps done"), "{}", shown.body);

    // An edit renames one step and adds another: the tick on the step that stayed is kept.
    let edit = json!({"base_revision": page["revision_id"], "markdown": "## Get access\n\nAsk in #access-requests.\n\n## Read the on-call runbook\n\n## Pair with someone\n"});
    assert_eq!(app.send(put_json(&format!("/api/v1/pages/{id}"), &edit)).await.status, StatusCode::OK);
    let g = app.get(&format!("/api/v1/guides/{id}")).await.json();
    assert_eq!((g["done"].as_u64(), g["steps"].as_array().unwrap().len()), (Some(1), 3), "{g}");
    assert_eq!(g["steps"][0]["done"], true);

    // The team's page shows its members' progress.
    let team = app.get_with_token("/api/v1/team-guides?group=payments", API_TOKEN).await.json();
    let octocat = team[0]["members"].as_array().unwrap().iter().find(|m| m["login"] == "octocat").cloned().unwrap();
    assert_eq!((octocat["done"].as_u64(), octocat["total"].as_u64()), (Some(1), Some(3)), "{team}");

    // hubot is on no team: nothing assigned, but may pick the guide.
    let mut hubot = TestApp { cookies: Default::default(), ..app.replica().await };
    hubot.login_as("hubot").await;
    assert!(hubot.get("/api/v1/guides").await.json().as_array().unwrap().is_empty());
    hubot.post_form("/fn/guide_pick", &form(&[("page_id", &id.to_string()), ("picked", "true")]), &[]).await;
    let picked = hubot.get("/api/v1/guides").await.json();
    assert_eq!((picked[0]["picked"].as_bool(), picked[0]["assigned"].as_bool()), (Some(true), Some(false)), "{picked}");
    assert_eq!(picked[0]["done"], 0, "progress is each person's own");
}
