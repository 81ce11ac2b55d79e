//! GitHub discovery, URL locations and the webhook receiver, against the in-process fake GitHub.

use http::StatusCode;
use portolan_core::catalog::discovery;
use serde_json::json;

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp};

db_tests!(
    discovery_finds_catalog_files_and_a_second_run_costs_no_rate_limit,
    a_configured_catalog_path_is_discovered_then_refreshed_on_schedule,
    a_glob_catalog_path_discovers_every_file_it_matches,
    a_push_to_the_default_branch_refreshes_its_repository,
    webhooks_must_be_signed_and_are_stored_once,
    url_locations_are_registered_through_the_api,
    url_globs_are_expanded_from_the_repository_tree,
    the_webhook_worker_processes_what_the_receiver_queued,
    docs_kept_in_a_repository_become_read_only_pages_kept_in_sync,
);

async fn discovering(b: Backend) -> TestApp {
    TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.github_discovery_orgs = vec!["acme".to_owned()];
    })
    .await
}

async fn entity(app: &mut TestApp, path: &str) -> serde_json::Value {
    let res = app.get_with_token(&format!("/api/v1/entities/by-ref/{path}"), API_TOKEN).await;
    if res.status == StatusCode::NOT_FOUND {
        return serde_json::Value::Null;
    }
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    res.json()
}

async fn discovery_finds_catalog_files_and_a_second_run_costs_no_rate_limit(b: Backend) {
    let mut app = discovering(b).await;
    let report = discovery::discover(&app.state.app).await.expect("discovery");
    // checkout-service, inventory and scratch; the archived repository is skipped.
    assert_eq!(report.repositories, 3, "{report:?}");
    assert_eq!(report.locations, 2, "{report:?}");
    assert!(report.errors.is_empty(), "{report:?}");
    // checkout-service, its Location, the API its Location points at (relative to the repository), inventory.
    assert_eq!(report.added, 4, "{report:?}");

    let base = app.github.url();
    let checkout = entity(&mut app, "component/default/checkout-service").await;
    assert_eq!(
        checkout["annotations"]["backstage.io/managed-by-location"].as_str().unwrap_or_default(),
        format!("url:{base}/acme/checkout-service/blob/main/catalog-info.yaml"),
        "{checkout}"
    );
    let api = entity(&mut app, "api/default/checkout-api").await;
    assert!(api.is_object(), "the API behind the repository's Location target was read");
    let inventory = entity(&mut app, "component/default/inventory").await;
    assert!(inventory.is_object(), "a repository with another default branch is read from that branch");
    // The repository without a catalog file is not registered as a location.
    let locations = app.get_with_token("/api/v1/locations", API_TOKEN).await.json();
    let targets: Vec<&str> = locations.as_array().unwrap().iter().filter_map(|l| l["target"].as_str()).collect();
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(!targets.iter().any(|t| t.contains("scratch") || t.contains("legacy")), "{targets:?}");

    // The second run sends the same requests conditionally: every one is answered 304 and nothing changes.
    let (full_before, _) = app.github.repo_requests();
    let again = discovery::discover(&app.state.app).await.expect("second discovery");
    let (full_after, not_modified) = app.github.repo_requests();
    assert_eq!(full_after, full_before, "an unchanged organisation costs no full answers");
    assert!(not_modified >= 4, "{not_modified} answers were 304");
    assert_eq!((again.added, again.updated, again.orphaned), (0, 0, 0), "{again:?}");

    // A deleted catalog file orphans what it declared, and only that.
    app.github.remove_file("acme/inventory", "catalog-info.yaml");
    let third = discovery::refresh_everything(&app.state.app).await.expect("refresh");
    assert_eq!(third.orphaned, 1, "{third:?}");
    let inventory = entity(&mut app, "component/default/inventory").await;
    assert_eq!(inventory["summary"]["orphan"], true, "{inventory}");
    let checkout = entity(&mut app, "component/default/checkout-service").await;
    assert_eq!(checkout["summary"]["orphan"], false);
}

/// Waits up to ten seconds for `check` to hold of the entity at `path` (`Null` when there is none).
async fn eventually(app: &mut TestApp, path: &str, check: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    for _ in 0..100 {
        let e = entity(app, path).await;
        if check(&e) {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} never got there: {}", entity(app, path).await);
}

async fn a_configured_catalog_path_is_discovered_then_refreshed_on_schedule(b: Backend) {
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.github_discovery_orgs = vec!["acme".to_owned()];
        c.github_catalog_path = ".backstage/catalog.yaml".to_owned();
        c.catalog_refresh_seconds = 1;
    })
    .await;
    let described = |d: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: scratchpad\n  description: {d}\n\
             spec:\n  type: service\n  lifecycle: experimental\n  owner: group:platform\n"
        )
    };
    app.github.set_file("acme/scratch", ".backstage/catalog.yaml", &described("first"));
    // The schedule discovers at start, then reads every location again each second.
    let job = portolan_server::jobs::spawn_catalog_refresh(app.state.app.clone()).expect("a schedule");
    let path = "component/default/scratchpad";
    let first = eventually(&mut app, path, |e| e.is_object()).await;
    assert_eq!(first["summary"]["description"], "first");
    assert!(
        entity(&mut app, "component/default/checkout-service").await.is_null(),
        "catalog-info.yaml at the default path is not what this portal was told to read"
    );
    app.github.set_file("acme/scratch", ".backstage/catalog.yaml", &described("second"));
    eventually(&mut app, path, |e| e["summary"]["description"] == "second").await;
    job.abort();
}

async fn a_glob_catalog_path_discovers_every_file_it_matches(b: Backend) {
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.github_discovery_orgs = vec!["acme".to_owned()];
        c.github_catalog_path = "**/catalog-info.yaml".to_owned();
    })
    .await;
    app.github.set_file("acme/scratch", "services/a/catalog-info.yaml", &component("svc-a", "production"));
    app.github.set_file("acme/scratch", "services/b/catalog-info.yaml", &component("svc-b", "production"));
    let report = discovery::discover(&app.state.app).await.expect("discovery");
    assert!(report.errors.is_empty(), "{report:?}");
    // checkout-service (with its Location and the API it names), inventory on `trunk`, and scratch's two.
    assert_eq!((report.repositories, report.locations, report.added), (3, 3, 6), "{report:?}");
    let base = app.github.url();
    let a = entity(&mut app, "component/default/svc-a").await;
    assert_eq!(
        a["annotations"]["backstage.io/managed-by-origin-location"],
        format!("url:{base}/acme/scratch/blob/main/**/catalog-info.yaml")
    );
    assert!(entity(&mut app, "component/default/inventory").await.is_object(), "read on its default branch");

    app.github.remove_file("acme/scratch", "services/b/catalog-info.yaml");
    let report = discovery::discover(&app.state.app).await.expect("discovery");
    assert_eq!((report.orphaned, report.added), (1, 0), "{report:?}");
    assert_eq!(entity(&mut app, "component/default/svc-b").await["summary"]["orphan"], true);
}

fn push(repo: &str, branch: &str, default_branch: &str) -> serde_json::Value {
    let (owner, _) = repo.split_once('/').unwrap();
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "0000000000000000000000000000000000000001",
        "repository": {
            "id": 1296269, "full_name": repo, "name": repo.split('/').nth(1),
            "owner": {"login": owner, "name": owner},
            "default_branch": default_branch, "master_branch": default_branch
        },
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "commits": [{"id": "0000000000000000000000000000000000000001", "message": "Describe the service",
                     "modified": ["catalog-info.yaml"], "added": [], "removed": []}],
        "head_commit": {"id": "0000000000000000000000000000000000000001"}
    })
}

async fn a_push_to_the_default_branch_refreshes_its_repository(b: Backend) {
    let mut app = discovering(b).await;
    discovery::discover(&app.state.app).await.expect("discovery");
    let changed = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: inventory\n  description: Counts the boxes\nspec:\n  type: service\n  lifecycle: production\n  owner: group:platform\n";
    app.github.set_file("acme/inventory", "catalog-info.yaml", changed);

    // A push to another branch changes nothing.
    let res = app.post_webhook("push", "d-feature", &push("acme/inventory", "feature", "trunk"), None).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{res:?}");
    portolan_core::webhooks::process_queue(&app.state.app).await.unwrap();
    let delivery = portolan_core::webhooks::find(&app.state.app.db, "github", "d-feature").await.unwrap().unwrap();
    assert_eq!(delivery.status, "done");
    assert!(delivery.last_error.unwrap().contains("not the default branch"));
    assert_eq!(entity(&mut app, "component/default/inventory").await["summary"]["lifecycle"], "experimental");

    // A push to the default branch is read at once.
    let res = app.post_webhook("push", "d-trunk", &push("acme/inventory", "trunk", "trunk"), None).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{res:?}");
    assert_eq!(portolan_core::webhooks::process_queue(&app.state.app).await.unwrap(), 1);
    let inventory = entity(&mut app, "component/default/inventory").await;
    assert_eq!(inventory["summary"]["lifecycle"], "production", "{inventory}");
    assert_eq!(inventory["summary"]["description"], "Counts the boxes");

    // A new repository of a discovery organisation is found by its first push.
    let text = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: scratchpad\nspec:\n  type: library\n  lifecycle: experimental\n  owner: group:platform\n";
    app.github.set_file("acme/scratch", "catalog-info.yaml", text);
    app.post_webhook("push", "d-scratch", &push("acme/scratch", "main", "main"), None).await;
    portolan_core::webhooks::process_queue(&app.state.app).await.unwrap();
    assert!(entity(&mut app, "component/default/scratchpad").await.is_object());
}

async fn webhooks_must_be_signed_and_are_stored_once(b: Backend) {
    let mut app = TestApp::new(b).await;
    let ping = json!({"zen": "Design for failure.", "hook_id": 1, "hook": {"type": "Organization"}});

    let unsigned = app.post_webhook("ping", "d-1", &ping, Some("")).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED, "{unsigned:?}");
    let forged = portolan_core::github::sign("not-the-secret-at-all", ping.to_string().as_bytes());
    let wrong = app.post_webhook("ping", "d-1", &ping, Some(&forged)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
    assert!(portolan_core::webhooks::find(&app.state.app.db, "github", "d-1").await.unwrap().is_none());

    let first = app.post_webhook("ping", "d-1", &ping, None).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{first:?}");
    assert_eq!(first.json()["status"], "queued");
    let again = app.post_webhook("ping", "d-1", &ping, None).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(again.json()["status"], "duplicate");
    assert_eq!(portolan_core::webhooks::process_queue(&app.state.app).await.unwrap(), 1);
    let stored = portolan_core::webhooks::find(&app.state.app.db, "github", "d-1").await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.attempts), ("done", 1));
    assert!(stored.last_error.unwrap().contains("Design for failure."));

    // An event nothing consumes yet is kept and marked as such.
    app.post_webhook("star", "d-2", &json!({"action": "created"}), None).await;
    portolan_core::webhooks::process_queue(&app.state.app).await.unwrap();
    let star = portolan_core::webhooks::find(&app.state.app.db, "github", "d-2").await.unwrap().unwrap();
    assert_eq!(star.status, "ignored");

    // Without a configured secret nothing is accepted.
    let mut open =
        TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| c.github_webhook_secret = None).await;
    let res = open.post_webhook("ping", "d-3", &ping, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

async fn url_locations_are_registered_through_the_api(b: Backend) {
    let mut app = TestApp::new(b).await;
    let base = app.github.url();
    let url = format!("{base}/acme/checkout-service/blob/main/catalog-info.yaml");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": url}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let report = res.json();
    assert_eq!(report["target"], format!("url:{url}"));
    assert_eq!(report["added"], 3, "{report}");
    assert!(entity(&mut app, "api/default/checkout-api").await.is_object());

    // A URL that does not exist is reported, named, and registers a failed location.
    let missing = format!("{base}/acme/checkout-service/blob/main/nope.yaml");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": missing}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let errors = res.json()["errors"].clone();
    assert!(errors[0].as_str().unwrap().contains("nope.yaml: not found"), "{errors}");

    // A server that cannot be reached is a failed refresh that orphans nothing.
    let res = app
        .post_json_with_token(
            "/api/v1/locations",
            &json!({"target": "http://127.0.0.1:9/catalog-info.yaml"}),
            API_TOKEN,
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.json()["errors"].as_array().unwrap().len(), 1);
}

async fn register(app: &mut TestApp, target: String) -> serde_json::Value {
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": target}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    res.json()
}

fn component(name: &str, lifecycle: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: {lifecycle}\n  owner: group:payments\n"
    )
}

async fn url_globs_are_expanded_from_the_repository_tree(b: Backend) {
    let mut app = TestApp::new(b).await;
    let base = app.github.url();
    let repo = "acme/checkout-service";
    app.github.set_file(repo, "services/pay/catalog-info.yaml", &component("pay", "production"));
    app.github.set_file(repo, "services/ship/catalog-info.yaml", &component("ship", "production"));
    app.github.set_file(repo, "services/ship/deploy/k8s.yaml", "apiVersion: apps/v1\nkind: Deployment\n");
    app.github.set_file(repo, "services/ship/openapi.yaml", "openapi: 3.0.0\npaths: {}\n");
    let glob = format!("{base}/{repo}/blob/main/services/**/*.yaml");
    let report = register(&mut app, glob.clone()).await;
    assert_eq!(report["added"], 2, "{report}");
    assert_eq!(report["errors"], json!([]), "YAML that declares no entity is passed over: {report}");
    let pay = entity(&mut app, "component/default/pay").await;
    assert_eq!(
        pay["annotations"]["backstage.io/managed-by-location"],
        format!("url:{base}/{repo}/blob/main/services/pay/catalog-info.yaml"),
        "each file found is its entities' location, as in Backstage"
    );
    assert_eq!(pay["annotations"]["backstage.io/managed-by-origin-location"], format!("url:{glob}"));

    // An unchanged repository costs no rate limit: its tree and files are answered 304 from the cache.
    let (_, not_modified) = app.github.repo_requests();
    let report = register(&mut app, glob.clone()).await;
    assert_eq!((report["unchanged"].as_u64(), report["added"].as_u64()), (Some(2), Some(0)), "{report}");
    assert_eq!(app.github.repo_requests().1, not_modified + 5, "the tree and the four YAML files");

    // A file deleted from the repository: its entity is orphaned; a new one is found.
    app.github.remove_file(repo, "services/ship/catalog-info.yaml");
    app.github.set_file(repo, "services/deep/down/catalog-info.yaml", &component("deep", "experimental"));
    let report = register(&mut app, glob.clone()).await;
    assert_eq!((report["added"].as_u64(), report["orphaned"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(entity(&mut app, "component/default/ship").await["summary"]["orphan"], true);

    // A listing GitHub cuts short is a failed refresh: nothing under the glob is orphaned or changed.
    app.github.truncate_trees_over(3);
    app.github.remove_file(repo, "services/pay/catalog-info.yaml");
    let report = register(&mut app, glob.clone()).await;
    assert_eq!(report["orphaned"], 0, "{report}");
    let error = report["errors"][0].as_str().unwrap_or_default();
    assert!(error.starts_with(&glob) && error.contains("cut the listing"), "{report}");
    assert_eq!(entity(&mut app, "component/default/pay").await["summary"]["orphan"], false);
    app.github.truncate_trees_over(100_000);

    // A Location in a file that names a glob relative to itself, and a glob on a server that cannot be listed.
    let location = "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: tools\nspec:\n  targets:\n    - ./tools/*/catalog-info.yaml\n    - http://127.0.0.1:9/elsewhere/*.yaml\n";
    app.github.set_file(repo, "all.yaml", location);
    app.github.set_file(repo, "tools/lint/catalog-info.yaml", &component("lint", "production"));
    app.github.set_file(repo, "tools/lint/sub/catalog-info.yaml", &component("too-deep", "production"));
    let report = register(&mut app, format!("{base}/{repo}/blob/main/all.yaml")).await;
    assert_eq!(report["added"], 2, "the Location and `lint`: {report}");
    assert!(entity(&mut app, "component/default/lint").await.is_object());
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{report}");
    assert!(errors[0].as_str().unwrap_or_default().contains("only for files on the configured GitHub"), "{report}");

    // A glob over a repository that does not exist.
    let report = register(&mut app, format!("{base}/acme/nowhere/blob/main/*.yaml")).await;
    assert!(report["errors"][0].as_str().unwrap_or_default().ends_with("*.yaml: not found"), "{report}");
}

async fn the_webhook_worker_processes_what_the_receiver_queued(b: Backend) {
    let mut app = discovering(b).await;
    discovery::discover(&app.state.app).await.expect("discovery");
    let worker = portolan_server::jobs::spawn_webhook_worker(app.state.app.clone(), app.state.webhook_wakeup.clone());
    let changed = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: inventory\nspec:\n  type: service\n  lifecycle: deprecated\n  owner: group:platform\n";
    app.github.set_file("acme/inventory", "catalog-info.yaml", changed);
    let res = app.post_webhook("push", "d-live", &push("acme/inventory", "trunk", "trunk"), None).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let mut lifecycle = serde_json::Value::Null;
    for _ in 0..100 {
        lifecycle = entity(&mut app, "component/default/inventory").await["summary"]["lifecycle"].clone();
        if lifecycle == "deprecated" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.abort();
    assert_eq!(lifecycle, "deprecated", "the worker woke up and refreshed the repository");
}

async fn docs_kept_in_a_repository_become_read_only_pages_kept_in_sync(b: Backend) {
    let mut app = discovering(b).await;
    let catalog = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout-service\n  annotations:\n    backstage.io/techdocs-ref: dir:.\nspec:\n  type: service\n  lifecycle: production\n  owner: group:payments\n";
    app.github.set_file("acme/checkout-service", "catalog-info.yaml", catalog);
    app.github.set_file(
        "acme/checkout-service",
        "docs/index.md",
        "# Checkout service\n\nStart with the [restart runbook](runbooks/restart.md).\n",
    );
    app.github.set_file(
        "acme/checkout-service",
        "docs/runbooks/restart.md",
        "# Restart checkout\n\n1. Drain\n2. Restart\n\nBack to [the start](../index.md#top).\n",
    );
    discovery::discover(&app.state.app).await.expect("discovery");

    let sync = "/api/v1/entities/by-ref/component/default/checkout-service/docs/sync";
    let res = app.post_json_with_token(sync, &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let report = res.json();
    assert_eq!((report["created"].as_u64(), report["space"].as_str()), (Some(2), Some("checkout-service")), "{report}");

    let list = app.get_with_token("/api/v1/pages?space=checkout-service", API_TOKEN).await.json();
    let find = |slug: &str| {
        list.as_array().unwrap().iter().find(|p| p["slug"] == slug).cloned().unwrap_or_else(|| panic!("{slug}: {list}"))
    };
    let (index, restart) = (find("index"), find("runbooks-restart"));
    assert_eq!(restart["parent_id"], index["id"], "a file nests under the index above it");
    let page = app.get_with_token(&format!("/api/v1/pages/{}", restart["id"]), API_TOKEN).await.json();
    let base = app.github.url();
    assert_eq!(page["source"]["path"], "docs/runbooks/restart.md", "{page}");
    assert_eq!(page["source"]["edit_url"], format!("{base}/acme/checkout-service/edit/main/docs/runbooks/restart.md"));
    assert_eq!(page["owner_ref"], "group:default/payments");
    assert_eq!(page["entities"][0], "component:default/checkout-service");
    assert!(page["markdown"].as_str().unwrap().contains("](/docs/checkout-service/index#top)"), "{page}");

    // Read-only in the portal, through the API and in the browser.
    let edit = json!({"base_revision": page["revision_id"], "markdown": "# Mine now\n"});
    let put = http::Request::put(format!("/api/v1/pages/{}", restart["id"]))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .body(axum::body::Body::from(edit.to_string()))
        .unwrap();
    let res = app.send(put).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("edit it there"), "{}", res.body);
    app.login_as("octocat").await;
    let shown = app.get("/docs/checkout-service/runbooks-restart").await;
    assert!(shown.body.contains("Edit in repository") && shown.body.contains("Kept in sync from"), "{}", shown.body);
    assert!(!shown.body.contains("/docs/checkout-service/runbooks-restart/edit"), "no portal editor for it");
    let entity_docs = app.get("/catalog/default/component/checkout-service").await;
    assert!(entity_docs.body.contains("Restart checkout"), "the entity page lists its docs");

    // Nothing changed: nothing is read beyond the listings, no revision is added.
    let again = app.post_json_with_token(sync, &json!({}), API_TOKEN).await.json();
    assert_eq!((again["unchanged"].as_u64(), again["updated"].as_u64()), (Some(2), Some(0)), "{again}");

    // A push that edits one file and removes the other: a new revision, and the removed page is gone.
    app.github.set_file(
        "acme/checkout-service",
        "docs/runbooks/restart.md",
        "# Restart checkout\n\n1. Drain slowly\n2. Restart\n",
    );
    app.github.remove_file("acme/checkout-service", "docs/index.md");
    app.post_webhook("push", "d-docs", &push("acme/checkout-service", "main", "main"), None).await;
    portolan_core::webhooks::process_queue(&app.state.app).await.unwrap();
    let delivery = portolan_core::webhooks::find(&app.state.app.db, "github", "d-docs").await.unwrap().unwrap();
    assert_eq!(delivery.status, "done", "{delivery:?}");
    let page = app.get_with_token(&format!("/api/v1/pages/{}", restart["id"]), API_TOKEN).await.json();
    assert_eq!(page["revision_number"], 2, "{page}");
    assert!(page["markdown"].as_str().unwrap().contains("Drain slowly"));
    assert!(page["breadcrumbs"].as_array().unwrap().is_empty(), "its index is gone: {page}");
    let history = app.get_with_token(&format!("/api/v1/pages/{}/revisions", restart["id"]), API_TOKEN).await.json();
    assert!(history[0]["summary"].as_str().unwrap().starts_with("Synced from docs/runbooks/restart.md@"), "{history}");
    assert_eq!(history[0]["author"], "docs-sync");
    let gone = app.get_with_token(&format!("/api/v1/pages/{}", index["id"]), API_TOKEN).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // An entity without the annotation says so.
    let res = app
        .post_json_with_token("/api/v1/entities/by-ref/component/default/inventory/docs/sync", &json!({}), API_TOKEN)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert!(res.body.contains("no backstage.io/techdocs-ref"), "{}", res.body);
}
