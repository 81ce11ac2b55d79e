//! Scaffolder: templates registered from files, run as tasks against the fake GitHub, whose "create
//! repository" makes a real bare git repository that the push goes to; the test clones it and reads the files.
//! Retry after a failed push, cancel, dry-run, refusals before anything runs, and secrets kept out of records.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp};

db_tests!(
    a_template_renders_creates_the_repository_pushes_and_registers_it,
    bad_values_and_templates_that_cannot_run_are_refused_before_anything_runs,
    a_failed_push_is_retried_without_creating_the_repository_twice,
    a_cancelled_task_stops_before_its_next_step_and_can_resume,
    a_dry_run_renders_everything_and_changes_nothing,
    the_wizard_works_as_plain_forms_and_keeps_what_was_typed,
    the_template_editor_previews_a_pasted_template,
    a_template_in_a_github_repository_reads_its_skeleton_from_there,
);

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// Sends one wizard form, as the browser does.
async fn wizard(app: &mut TestApp, pairs: &[(&str, &str)]) -> crate::support::TestResponse {
    app.post_form("/create/wizard", &form(pairs), &[]).await
}

struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let p =
            std::env::temp_dir().join(format!("portolan-scaffold-{}-{:x}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'$', b'{', b'{', 0xff];

/// A template with two form steps, a skeleton (text, a binary file, an executable script, a file name with an
/// expression) and the publish and register steps. `host` is the fake GitHub's host.
fn template_dir(host: &str, name: &str, extra_step: Option<&str>) -> Dir {
    let dir = Dir::new();
    let extra = extra_step.unwrap_or("");
    let template = format!(
        r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: {name}
  title: Rust service
  description: A Rust service with CI
spec:
  owner: group:platform
  type: service
  parameters:
    - title: About the service
      required: [name, owner]
      properties:
        name:
          title: Name
          type: string
          pattern: '^[a-z][a-z0-9-]*$'
          maxLength: 40
        description:
          type: string
          default: A new service
        owner:
          type: string
          ui:field: OwnerPicker
          ui:options:
            catalogFilter:
              kind: Group
        deployToken:
          type: string
          ui:widget: password
    - title: Where it lives
      required: [repoUrl]
      properties:
        repoUrl:
          type: string
          ui:field: RepoUrlPicker
          ui:options:
            allowedHosts: ['{host}']
            allowedOwners: [acme]
        visibility:
          type: string
          enum: [private, public]
          default: private
  steps:
    - id: fetch
      name: Fetch skeleton
      action: fetch:template
      input:
        url: ./skeleton
        values:
          name: ${{{{ parameters.name }}}}
          description: ${{{{ parameters.description }}}}
          owner: ${{{{ parameters.owner }}}}
          creator: ${{{{ user.entity.metadata.name }}}}
{extra}    - id: log
      name: Log
      action: debug:log
      input:
        message: deploying with ${{{{ parameters.deployToken }}}}
    - id: publish
      name: Publish
      action: publish:github
      input:
        repoUrl: ${{{{ parameters.repoUrl }}}}
        description: ${{{{ parameters.description }}}}
        repoVisibility: ${{{{ parameters.visibility }}}}
        topics:
          - rust
          - ${{{{ parameters.name }}}}
    - id: register
      name: Register
      action: catalog:register
      input:
        repoContentsUrl: ${{{{ steps['publish'].output.repoContentsUrl }}}}
        catalogInfoPath: /catalog-info.yaml
  output:
    links:
      - title: Repository
        url: ${{{{ steps['publish'].output.remoteUrl }}}}
      - title: Open in catalog
        entityRef: ${{{{ steps['register'].output.entityRef }}}}
"#
    );
    dir.write("template.yaml", template.as_bytes());
    dir.write(
        "skeleton/catalog-info.yaml",
        b"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${{ values.name }}\n  description: ${{ values.description }}\nspec:\n  type: service\n  lifecycle: experimental\n  owner: ${{ values.owner }}\n",
    );
    dir.write("skeleton/README.md", b"# ${{ values.name }}\n\nStarted by ${{ values.creator }}.\n");
    dir.write("skeleton/src/${{ values.name }}.rs", b"pub const NAME: &str = \"${{ values.name }}\";\n");
    dir.write("skeleton/assets/logo.png", PNG);
    dir.write("skeleton/run.sh", b"#!/bin/sh\necho ${{ values.name }}\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.0.join("skeleton/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn host(app: &TestApp) -> String {
    app.github.url().trim_start_matches("http://").to_owned()
}

async fn setup(b: Backend, name: &str, extra_step: Option<&str>) -> (TestApp, Dir) {
    let mut app = TestApp::with_example_catalog(b).await;
    let dir = template_dir(&host(&app), name, extra_step);
    let res =
        app.post_json_with_token("/api/v1/locations", &json!({"target": dir.0.join("template.yaml")}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.json()["errors"], json!([]), "{res:?}");
    app.login_as("octocat").await;
    (app, dir)
}

fn values(app: &TestApp, repo: &str) -> Value {
    json!({
        "name": repo,
        "owner": "group:default/payments",
        "deployToken": "tok-very-secret-42",
        "repoUrl": format!("{}?owner=acme&repo={repo}", host(app)),
    })
}

async fn wait_for(app: &mut TestApp, id: &str, statuses: &[&str]) -> Value {
    for _ in 0..200 {
        let t = app.get_with_token(&format!("/api/scaffolder/v2/tasks/{id}"), API_TOKEN).await.json();
        if statuses.contains(&t["status"].as_str().unwrap_or_default()) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} never reached {statuses:?}");
}

fn clone(bare: &Path) -> Dir {
    let dir = Dir::new();
    let out =
        std::process::Command::new("git").args(["clone", "-q"]).arg(bare).arg(dir.0.join("work")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

async fn events(app: &mut TestApp, id: &str) -> Vec<Value> {
    app.get_with_token(&format!("/api/scaffolder/v2/tasks/{id}/events"), API_TOKEN)
        .await
        .json()
        .as_array()
        .unwrap()
        .clone()
}

async fn a_template_renders_creates_the_repository_pushes_and_registers_it(b: Backend) {
    let (mut app, _dir) = setup(b, "rust-service", None).await;

    let schema = app.get("/api/scaffolder/v2/templates/default/template/rust-service/parameter-schema").await;
    assert_eq!(schema.status, StatusCode::OK, "{schema:?}");
    let schema = schema.json();
    assert_eq!(schema["title"], "Rust service");
    assert_eq!(schema["steps"][1]["title"], "Where it lives");
    let actions = app.get("/api/scaffolder/v2/actions").await.json();
    let ids: Vec<&str> = actions.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["fetch:template", "fetch:plain", "publish:github", "catalog:register", "debug:log"]);

    let v = values(&app, "billing-api");
    let res = app
        .post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "template:default/rust-service", "values": v}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let task = wait_for(&mut app, &id, &["completed", "failed"]).await;
    assert_eq!(task["status"], "completed", "{task:#}");
    let statuses: Vec<&str> = task["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["completed", "completed", "completed", "completed"]);
    assert_eq!(task["createdBy"], "user:default/octocat");
    assert_eq!(task["spec"]["parameters"]["deployToken"], "***", "secret fields are not stored");
    assert_eq!(task["spec"]["parameters"]["description"], "A new service", "defaults are filled in");
    let web = format!("{}/acme/billing-api", app.github.url());
    assert_eq!(task["output"]["links"][0]["url"], web);
    assert_eq!(task["output"]["links"][1]["entityRef"], "component:default/billing-api");

    // The repository exists on the fake, with what the template asked for, and holds the rendered files.
    let created = app.github.created_repo("acme/billing-api").expect("the repository was created");
    assert_eq!(created.description.as_deref(), Some("A new service"));
    assert_eq!(created.visibility, "private");
    assert_eq!(created.topics, ["rust", "billing-api"]);
    let work = clone(&created.dir);
    let root = work.0.join("work");
    assert_eq!(std::fs::read_to_string(root.join("README.md")).unwrap(), "# billing-api\n\nStarted by octocat.\n");
    assert_eq!(
        std::fs::read_to_string(root.join("src/billing-api.rs")).unwrap(),
        "pub const NAME: &str = \"billing-api\";\n"
    );
    assert_eq!(std::fs::read(root.join("assets/logo.png")).unwrap(), PNG, "binary files are copied untouched");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("run.sh")).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "the script stays executable: {mode:o}");
    }
    let log = std::process::Command::new("git").args(["log", "--format=%an|%s"]).current_dir(&root).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout).trim(), "Portolan Scaffolder|initial commit");
    let head = std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(&root).output().unwrap();
    assert_eq!(task["steps"][2]["output"]["commitHash"], String::from_utf8_lossy(&head.stdout).trim());

    // The new service is in the catalog, owned as chosen.
    let entity = app.get("/api/v1/entities/by-ref/component/default/billing-api").await;
    assert_eq!(entity.status, StatusCode::OK, "{entity:?}");
    assert_eq!(entity.json()["summary"]["owner_ref"], "group:default/payments", "{}", entity.body);

    // The log: every step began and finished, the secret never appears, the completion comes last.
    let evs = events(&mut app, &id).await;
    let messages: Vec<&str> = evs.iter().map(|e| e["body"]["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"Beginning step Fetch skeleton"), "{messages:?}");
    assert!(messages.contains(&"deploying with ***"), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("Created the private repository acme/billing-api")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("Pushed 5 files to acme/billing-api")), "{messages:?}");
    assert_eq!(evs.last().unwrap()["type"], "completion");
    let everything = format!("{evs:?}{task}");
    assert!(!everything.contains("tok-very-secret-42"), "the secret leaked");
    let token = app.state.app.config.github_token.as_ref().unwrap().expose().to_owned();
    assert!(!everything.contains(&token), "the GitHub token leaked");
    use sea_orm::EntityTrait as _;
    let stored = portolan_core::scaffold::tasks::entity::tasks::Entity::find_by_id(id.clone())
        .one(&app.state.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{stored:?}").contains("tok-very-secret-42"), "the secret is not in the task row");

    // `after` gives only what is new; the event stream replays the log and ends with the completion.
    let last = evs[evs.len() - 2]["id"].as_i64().unwrap();
    let tail =
        app.get_with_token(&format!("/api/scaffolder/v2/tasks/{id}/events?after={last}"), API_TOKEN).await.json();
    assert_eq!(tail.as_array().unwrap().len(), 1);
    let stream = app.get_with_token(&format!("/api/scaffolder/v2/tasks/{id}/eventstream"), API_TOKEN).await;
    assert_eq!(stream.status, StatusCode::OK);
    assert!(stream.body.contains("event: log"), "{}", stream.body);
    assert!(stream.body.trim_end().contains("event: completion"), "{}", stream.body);
    assert_eq!(stream.body.matches("\nid: ").count() + usize::from(stream.body.starts_with("id: ")), evs.len());

    let list = app.get("/api/scaffolder/v2/tasks?createdBy=user:default/octocat").await.json();
    assert_eq!(list["totalTasks"], 1);
    assert_eq!(list["tasks"][0]["id"], id.as_str());
    let audit = portolan_core::audit::recent(&app.state.app.db, 50).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "scaffold.task.create" && e.actor == "octocat"), "{audit:?}");

    // Running it again with the same name: GitHub refuses, the task fails and says why, nothing is overwritten.
    let again = app.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "rust-service", "values": v})).await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    let id2 = again.json()["id"].as_str().unwrap().to_owned();
    let failed = wait_for(&mut app, &id2, &["completed", "failed"]).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("name already exists"), "{failed:#}");
    assert_eq!(failed["steps"][2]["status"], "failed");
    assert_eq!(failed["steps"][3]["status"], "open");
}

async fn bad_values_and_templates_that_cannot_run_are_refused_before_anything_runs(b: Backend) {
    let (mut app, dir) = setup(b, "rust-service", None).await;
    let mut v = values(&app, "Bad Name");
    v["owner"] = json!("group:default/nobody");
    v["repoUrl"] = json!(format!("{}?owner=evil&repo=x", host(&app)));
    let res = app
        .post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "template:default/rust-service", "values": v}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
    let body = res.json();
    let fields: Vec<(String, String)> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().to_owned(), f["message"].as_str().unwrap().to_owned()))
        .collect();
    assert!(fields.contains(&("name".into(), "must match the pattern ^[a-z][a-z0-9-]*$".into())), "{fields:?}");
    assert!(fields.contains(&("owner".into(), "group:default/nobody is not in the catalog".into())), "{fields:?}");
    assert!(fields.contains(&("repoUrl".into(), "owner evil is not one of acme".into())), "{fields:?}");
    let missing =
        app.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "rust-service", "values": {}})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.json()["error"]["message"].as_str().unwrap().contains("Name is required"));
    let nowhere =
        app.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "template:default/nope", "values": {}})).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);

    // A template with an unknown action and a broken expression is refused whole, before any step runs.
    dir.write(
        "broken.yaml",
        b"apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: broken\nspec:\n  owner: group:platform\n  type: service\n  steps:\n    - id: a\n      action: fetch:template\n      input: {url: ./skeleton, values: {name: 'x'}}\n    - id: b\n      action: deploy:rocket\n    - id: c\n      action: debug:log\n      input: {message: '${{ parameters.name | }}'}\n",
    );
    let res =
        app.post_json_with_token("/api/v1/locations", &json!({"target": dir.0.join("broken.yaml")}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let res = app.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "broken", "values": {}})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("unknown action `deploy:rocket`"), "{message}");
    assert!(message.contains("step c"), "{message}");

    // A template limited to some runners refuses others with the action named.
    dir.write(
        "limited.yaml",
        b"apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: limited\n  annotations:\n    portolan.dev/allowed-runners: group:platform\nspec:\n  owner: group:platform\n  type: service\n  steps:\n    - id: a\n      action: debug:log\n      input: {message: hi}\n",
    );
    app.post_json_with_token("/api/v1/locations", &json!({"target": dir.0.join("limited.yaml")}), API_TOKEN).await;
    let mut hubot = app.replica().await;
    hubot.cookies.clear();
    hubot.login_as("hubot").await;
    let refused = hubot.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "limited", "values": {}})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert!(refused.json()["error"]["message"].as_str().unwrap().contains("scaffold.run"));

    let list = app.get("/api/scaffolder/v2/tasks").await.json();
    assert_eq!(list["totalTasks"], 0, "nothing was started: {list}");
    assert!(app.github.created_repo("acme/x").is_none());
}

async fn a_failed_push_is_retried_without_creating_the_repository_twice(b: Backend) {
    let (mut app, _dir) = setup(b, "rust-service", None).await;
    app.github.refuse_next_pushes(1);
    let v = values(&app, "ledger");
    let res = app.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "rust-service", "values": v})).await;
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let failed = wait_for(&mut app, &id, &["completed", "failed"]).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert!(failed["error"].as_str().unwrap().contains("git push failed"), "{failed:#}");
    assert!(app.github.created_repo("acme/ledger").is_some(), "the repository was created before the push failed");
    assert_eq!(app.get("/api/v1/entities/by-ref/component/default/ledger").await.status, StatusCode::NOT_FOUND);

    // Someone else may not retry it.
    let mut monalisa = app.replica().await;
    monalisa.cookies.clear();
    monalisa.login_as("monalisa").await;
    let refused = monalisa.post_json(&format!("/api/scaffolder/v2/tasks/{id}/retry"), &json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");

    let retry = app.post_json(&format!("/api/scaffolder/v2/tasks/{id}/retry"), &json!({})).await;
    assert_eq!(retry.status, StatusCode::CREATED, "{retry:?}");
    let done = wait_for(&mut app, &id, &["completed", "failed"]).await;
    assert_eq!(done["status"], "completed", "{done:#}");
    let messages: Vec<String> =
        events(&mut app, &id).await.iter().map(|e| e["body"]["message"].as_str().unwrap().to_owned()).collect();
    assert!(
        messages.iter().any(|m| m.contains("was created by an earlier try; not creating it again")),
        "{messages:?}"
    );
    assert_eq!(messages.iter().filter(|m| m.starts_with("Created the private repository")).count(), 1, "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("Retried by octocat, from step Publish")), "{messages:?}");
    let work = clone(&app.github.created_repo("acme/ledger").unwrap().dir);
    assert!(work.0.join("work/catalog-info.yaml").exists());
    assert_eq!(app.get("/api/v1/entities/by-ref/component/default/ledger").await.status, StatusCode::OK);
    // A completed task is not retried.
    let again = app.post_json(&format!("/api/scaffolder/v2/tasks/{id}/retry"), &json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let audit = portolan_core::audit::recent(&app.state.app.db, 50).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "scaffold.task.retry"), "{audit:?}");
}

async fn a_cancelled_task_stops_before_its_next_step_and_can_resume(b: Backend) {
    let (mut app, _dir) = setup(b, "rust-service", None).await;
    app.github.slow_pushes(1500);
    let v = values(&app, "payroll");
    let res = app.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "rust-service", "values": v})).await;
    let id = res.json()["id"].as_str().unwrap().to_owned();
    // Wait until the publish step runs, then cancel: the push finishes, registration never starts.
    for _ in 0..100 {
        let t = app.get(&format!("/api/scaffolder/v2/tasks/{id}")).await.json();
        if t["steps"][2]["status"] == "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancel = app.post_json(&format!("/api/scaffolder/v2/tasks/{id}/cancel"), &json!({})).await;
    assert_eq!(cancel.status, StatusCode::OK, "{cancel:?}");
    assert_eq!(cancel.json()["cancelRequested"], true);
    let t = wait_for(&mut app, &id, &["cancelled", "completed", "failed"]).await;
    assert_eq!(t["status"], "cancelled", "{t:#}");
    assert_eq!(t["steps"][2]["status"], "completed");
    assert_eq!(t["steps"][3]["status"], "cancelled");
    assert_eq!(app.get("/api/v1/entities/by-ref/component/default/payroll").await.status, StatusCode::NOT_FOUND);
    let again = app.post_json(&format!("/api/scaffolder/v2/tasks/{id}/cancel"), &json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "a finished task cannot be cancelled");

    app.github.slow_pushes(0);
    let retry = app.post_json(&format!("/api/scaffolder/v2/tasks/{id}/retry"), &json!({})).await;
    assert_eq!(retry.status, StatusCode::CREATED, "{retry:?}");
    let done = wait_for(&mut app, &id, &["completed", "failed"]).await;
    assert_eq!(done["status"], "completed", "{done:#}");
    let messages: Vec<String> =
        events(&mut app, &id).await.iter().map(|e| e["body"]["message"].as_str().unwrap().to_owned()).collect();
    assert!(messages.contains(&"Skipping Publish: it completed in an earlier try".to_owned()), "{messages:?}");
    assert_eq!(app.get("/api/v1/entities/by-ref/component/default/payroll").await.status, StatusCode::OK);
}

async fn a_dry_run_renders_everything_and_changes_nothing(b: Backend) {
    let (mut app, dir) = setup(b, "rust-service", None).await;
    use base64::Engine as _;
    let enc = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let template = std::fs::read_to_string(dir.0.join("template.yaml")).unwrap();
    let mut contents = Vec::new();
    for rel in [
        "skeleton/catalog-info.yaml",
        "skeleton/README.md",
        "skeleton/src/${{ values.name }}.rs",
        "skeleton/assets/logo.png",
    ] {
        contents.push(json!({"path": rel, "base64Content": enc(&std::fs::read(dir.0.join(rel)).unwrap())}));
    }
    let body = json!({"template": template, "values": values(&app, "preview-svc"), "directoryContents": contents});
    let res = app.post_json("/api/scaffolder/v2/dry-run", &body).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let r = res.json();
    assert_eq!(r["error"], Value::Null, "{r:#}");
    let files: Vec<&str> =
        r["directoryContents"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(files, ["README.md", "assets/logo.png", "catalog-info.yaml", "src/preview-svc.rs"]);
    let readme = &r["directoryContents"][0]["base64Content"];
    assert_eq!(readme, &json!(enc(b"# preview-svc\n\nStarted by octocat.\n")));
    assert_eq!(r["directoryContents"][1]["base64Content"], enc(PNG));
    let log: Vec<&str> = r["log"].as_array().unwrap().iter().map(|l| l["body"]["message"].as_str().unwrap()).collect();
    assert!(log.iter().any(|l| l.starts_with("Would create the private repository acme/preview-svc")), "{log:?}");
    assert!(log.iter().any(|l| l.starts_with("Would register")), "{log:?}");
    assert!(log.contains(&"deploying with ***"), "{log:?}");
    assert!(app.github.created_repo("acme/preview-svc").is_none(), "a dry-run creates nothing");
    assert_eq!(app.get("/api/scaffolder/v2/tasks").await.json()["totalTasks"], 0);

    // Paths that leave the workspace are refused, whether sent or rendered.
    let bad = json!({"template": template, "values": values(&app, "x"), "directoryContents": [{"path": "../etc/passwd", "base64Content": ""}]});
    let res = app.post_json("/api/scaffolder/v2/dry-run", &bad).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
    let sneaky = json!({
        "template": {"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template", "metadata": {"name": "t"},
            "spec": {"steps": [{"id": "f", "action": "fetch:template", "input": {"url": ".", "values": {"p": "${{ parameters.p }}"}}}]}},
        "values": {"p": "../../outside"},
        "directoryContents": [{"path": "${{ values.p }}.txt", "base64Content": enc(b"x")}]
    });
    let r = app.post_json("/api/scaffolder/v2/dry-run", &sneaky).await.json();
    assert!(r["error"].as_str().unwrap().contains("leaves the workspace"), "{r:#}");
    assert_eq!(r["directoryContents"], json!([]));
}

async fn the_wizard_works_as_plain_forms_and_keeps_what_was_typed(b: Backend) {
    let (mut app, _dir) = setup(b, "rust-service", None).await;
    let fake_host = host(&app);
    let base = "/create/templates/default/rust-service";
    let page = app.get(&format!("{base}?step=0")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("About the service"), "{}", page.body);
    assert!(page.body.contains("pattern=\"^[a-z][a-z0-9-]*$\""), "the browser checks the anchored pattern too");

    // A bad name comes back to the same step with the server's objection next to the field.
    let t = "template:default/rust-service";
    let res = wizard(
        &mut app,
        &[
            ("__template", t),
            ("__step", "0"),
            ("__nav", "next"),
            ("name", "Bad Name"),
            ("owner", "group:default/payments"),
            ("deployToken", "tok-wizard-secret"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    assert_eq!(res.location(), format!("{base}?step=0"));
    let page = app.get(&res.location()).await;
    assert!(page.body.contains("must match the pattern"), "{}", page.body);
    assert!(page.body.contains("value=\"Bad Name\""), "what was typed is kept");
    assert!(!page.body.contains("tok-wizard-secret"), "a password is never sent back");

    let res = wizard(
        &mut app,
        &[
            ("__template", t),
            ("__step", "0"),
            ("__nav", "next"),
            ("name", "orders"),
            ("owner", "group:default/payments"),
        ],
    )
    .await;
    assert_eq!(res.location(), format!("{base}?step=1"));
    // Back keeps step 1's values too.
    let res = wizard(
        &mut app,
        &[
            ("__template", t),
            ("__step", "1"),
            ("__nav", "back"),
            ("repoUrl.host", &fake_host),
            ("repoUrl.owner", "acme"),
            ("repoUrl.repo", "orders"),
        ],
    )
    .await;
    assert_eq!(res.location(), format!("{base}?step=0"));
    assert!(app.get(&res.location()).await.body.contains("value=\"orders\""));
    let step1 = app.get(&format!("{base}?step=1")).await;
    assert!(step1.body.contains("name=\"repoUrl.repo\"") && step1.body.contains("value=\"orders\""), "{}", step1.body);
    let res = wizard(
        &mut app,
        &[
            ("__template", t),
            ("__step", "1"),
            ("__nav", "next"),
            ("repoUrl.host", &fake_host),
            ("repoUrl.owner", "acme"),
            ("repoUrl.repo", "orders"),
            ("visibility", "public"),
        ],
    )
    .await;
    assert_eq!(res.location(), format!("{base}?step=review"));
    let review = app.get(&res.location()).await;
    assert!(review.body.contains("owner=acme&amp;repo=orders"), "{}", review.body);
    assert!(review.body.contains("••••••••"), "the password entered at the first try is kept, masked");

    // Dry-run on the review, then create.
    let res = wizard(&mut app, &[("__template", t), ("__step", "2"), ("__nav", "dry-run")]).await;
    assert_eq!(res.location(), format!("{base}?step=review&dry=1"));
    let dry = app.get(&res.location()).await;
    assert!(dry.body.contains("Would create the public repository acme/orders"), "{}", dry.body);
    assert!(dry.body.contains("src/orders.rs"));
    assert!(app.github.created_repo("acme/orders").is_none());
    let res = wizard(&mut app, &[("__template", t), ("__step", "2"), ("__nav", "create")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let id = res.location().strip_prefix("/create/tasks/").expect("the task page").to_owned();
    let task = wait_for(&mut app, &id, &["completed", "failed"]).await;
    assert_eq!(task["status"], "completed", "{task:#}");
    let evs = events(&mut app, &id).await;
    assert!(evs.iter().any(|e| e["body"]["message"] == "deploying with ***"), "{evs:?}");
    assert!(!format!("{evs:?}").contains("tok-wizard-secret"));
    let page = app.get(&format!("/create/tasks/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Pushed 5 files to acme/orders"), "{}", page.body);
    assert!(page.body.contains("href=\"/catalog/default/component/orders\""), "{}", page.body);
    // The draft is gone: the wizard starts empty again.
    assert!(!app.get(&format!("{base}?step=0")).await.body.contains("value=\"orders\""));
    // Someone else sees the task but gets no buttons, and the forms refuse them.
    let mut monalisa = app.replica().await;
    monalisa.cookies.clear();
    monalisa.login_as("monalisa").await;
    let res = monalisa.post_form(&format!("/create/tasks/{id}/retry"), "", &[]).await;
    assert!(res.location().contains("error="), "{res:?}");
}

async fn the_template_editor_previews_a_pasted_template(b: Backend) {
    let (mut app, _dir) = setup(b, "rust-service", None).await;
    let page = app.get("/create/edit").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("=== skeleton/README.md"), "a sample to start from");
    let template = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: t\nspec:\n  parameters:\n    - required: [name]\n      properties:\n        name: {type: string}\n  steps:\n    - id: f\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{ parameters.name }}\n";
    let files = "=== skeleton/README.md\n# ${{ values.name }}\n=== skeleton/${{ values.name }}.txt\nhello\n";
    let res = app
        .post_form("/create/edit", &form(&[("template", template), ("files", files), ("values", "name: ledger")]), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    let page = app.get("/create/edit").await;
    assert!(page.body.contains("id=\"editor-result\""), "{}", page.body);
    assert!(page.body.contains("ledger.txt"), "{}", page.body);
    assert!(page.body.contains("# ledger"), "{}", page.body);
    // Problems are named and nothing runs.
    let res = app
        .post_form(
            "/create/edit",
            &form(&[("template", template), ("files", "=== ../escape\nx\n"), ("values", "{}")]),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = app.get("/create/edit").await;
    assert!(page.body.contains("leaves the workspace"), "{}", page.body);
    let res =
        app.post_form("/create/edit", &form(&[("template", template), ("files", files), ("values", "{}")]), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(app.get("/create/edit").await.body.contains("Values: name: name is required"));
}

async fn a_template_in_a_github_repository_reads_its_skeleton_from_there(b: Backend) {
    // The same template and text skeleton, kept in a repository of the (fake) GitHub instead of on disk.
    let local = template_dir("placeholder", "repo-service", None);
    let mut files = Vec::new();
    for rel in
        ["template.yaml", "skeleton/catalog-info.yaml", "skeleton/README.md", "skeleton/src/${{ values.name }}.rs"]
    {
        files.push((format!("templates/rust/{rel}"), std::fs::read_to_string(local.0.join(rel)).unwrap()));
    }
    let mut fake = portolan_testkit::FakeGithubConfig::default();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    fake.repos.push(portolan_testkit::FakeRepo::new("acme", "service-templates", &borrowed));
    let mut app = TestApp::with(b, fake, |_| {}).await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    // The template allows the fake's host; the placeholder above only stood in while reading the files.
    let target = format!("{}/acme/service-templates/blob/main/templates/rust/template.yaml", app.github.url());
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": target}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.json()["errors"], json!([]), "{res:?}");
    app.login_as("octocat").await;

    let mut v = values(&app, "from-repo");
    v["repoUrl"] = json!(format!("{}?owner=acme&repo=from-repo", host(&app)));
    let res = app.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "repo-service", "values": v})).await;
    // The template names `allowedHosts: [placeholder]`, so the fake's host is refused: the check is real.
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
    assert!(res.body.contains("repoUrl"), "{}", res.body);

    // With the host allowed (a second revision of the template in the repository), the run reads the skeleton
    // from the repository, renders it and pushes it.
    let fixed = files[0].1.replace("allowedHosts: ['placeholder']", &format!("allowedHosts: ['{}']", host(&app)));
    app.github.set_file("acme/service-templates", "templates/rust/template.yaml", &fixed);
    let refresh = app.post_json_with_token("/api/v1/locations", &json!({"target": target}), API_TOKEN).await;
    assert!(refresh.status.is_success(), "{refresh:?}");
    let res = app.post_json("/api/scaffolder/v2/tasks", &json!({"templateRef": "repo-service", "values": v})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let task = wait_for(&mut app, &id, &["completed", "failed"]).await;
    assert_eq!(task["status"], "completed", "{task:#}");
    let created = app.github.created_repo("acme/from-repo").expect("the repository was created");
    let work = clone(&created.dir);
    let root = work.0.join("work");
    assert_eq!(std::fs::read_to_string(root.join("README.md")).unwrap(), "# from-repo\n\nStarted by octocat.\n");
    assert_eq!(
        std::fs::read_to_string(root.join("src/from-repo.rs")).unwrap(),
        "pub const NAME: &str = \"from-repo\";\n"
    );
    let messages: Vec<String> =
        events(&mut app, &id).await.iter().map(|e| e["body"]["message"].as_str().unwrap().to_owned()).collect();
    assert!(messages.iter().any(|m| m.starts_with("Pushed 3 files to acme/from-repo")), "{messages:?}");
}
