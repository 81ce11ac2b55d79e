//! Deploys: the CD API (create, update by external id, 422s naming the field, ownership), incidents, the
//! deployments list with its filters and cursor, and the DORA report computed from what was recorded, the same
//! whatever order the reports arrive in.

use http::StatusCode;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp, WEBHOOK_SECRET};

db_tests!(
    a_cd_tool_records_a_deployment_and_updates_it_by_external_id,
    bad_reports_get_422_with_the_field_named,
    only_the_owning_team_records_deployments_and_incidents,
    deployments_are_listed_with_filters_and_a_cursor,
    dora_figures_come_from_what_was_recorded,
    reports_in_any_order_and_repeated_give_the_same_figures,
    random_histories_ingested_one_by_one_match_a_full_recompute,
    github_deployments_and_statuses_arrive_by_webhook_in_any_order,
    deployment_workflow_runs_are_deployments,
    deploy_webhooks_are_refused_unless_signed_with_sha256_over_the_exact_body,
    a_sync_reads_deployments_and_their_commits_from_github,
    a_compare_longer_than_the_sync_reads_marks_the_changes_cut_short,
    a_sync_without_a_github_token_says_what_to_configure,
    pushes_and_merged_pull_requests_give_github_deployments_their_commits,
    a_batch_of_deliveries_ends_where_one_at_a_time_does,
    changing_which_environments_are_production_recomputes_where_changes_ship_first,
);

async fn deploy(app: &mut TestApp, body: Value) -> crate::support::TestResponse {
    app.post_json_with_token("/api/v1/deployments", &body, API_TOKEN).await
}

async fn a_cd_tool_records_a_deployment_and_updates_it_by_external_id(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    let body = json!({
        "component": "payments-api", "environment": "production", "status": "in_progress",
        "external_id": "argo-1", "version": "v1.4.0", "commit_sha": "abc1234",
        "started_at": "2026-11-02T10:00:00Z", "actor": "argocd", "url": "https://argo.example/app/1",
        "commits": [
            {"sha": "abc1234", "committed_at": "2026-11-02T09:00:00Z", "pr_number": 12,
             "pr_first_commit_at": "2026-11-01T09:00:00Z"},
            {"sha": "abc1000", "committed_at": "2026-11-01T12:00:00Z"}
        ]
    });
    let res = deploy(&mut app, body.clone()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let d = res.json();
    assert_eq!(d["component"], "component:default/payments-api");
    assert_eq!(d["status"], "in_progress");
    assert_eq!(d["production"], true);
    assert_eq!(d["first_deployment"], true);
    assert_eq!(d["change_count"], 2);
    let id = d["id"].as_i64().unwrap();

    // The same external id finishes it; a late `in_progress` never moves it back.
    let mut done = body.clone();
    done["status"] = json!("success");
    done["finished_at"] = json!("2026-11-02T10:05:00Z");
    let res = deploy(&mut app, done).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json()["id"], id, "updated, not duplicated");
    assert_eq!(res.json()["duration_seconds"], 300);
    let res = deploy(&mut app, body).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["status"], "success");

    let one = app.get_with_token(&format!("/api/v1/deployments/{id}"), API_TOKEN).await.json();
    let changes: Vec<&str> = one["changes"].as_array().unwrap().iter().map(|c| c["sha"].as_str().unwrap()).collect();
    assert_eq!(changes, ["abc1000", "abc1234"]);
    assert_eq!(one["changes"][1]["pr_number"], 12);
    let list = app.get_with_token("/api/v1/deployments?component=payments-api", API_TOKEN).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get_with_token("/api/v1/deployments/999999", API_TOKEN).await.status, StatusCode::NOT_FOUND);
}

async fn bad_reports_get_422_with_the_field_named(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    let good = json!({"component": "payments-api", "environment": "production", "status": "success",
        "external_id": "x-1", "commit_sha": "abc1234"});
    for (field, value, expected) in [
        ("component", json!("no-such-service"), "component"),
        ("component", json!("system:checkout"), "component"),
        ("environment", json!("prod"), "environment"),
        ("status", json!("done"), "status"),
        ("external_id", json!("  "), "external_id"),
        ("commit_sha", json!("not a sha"), "commit_sha"),
        ("started_at", json!("yesterday"), "started_at"),
        ("url", json!("javascript:alert(1)"), "url"),
        ("commits", json!([{"sha": "zzz"}]), "commits"),
        ("rollback_of", json!("x-1"), "rollback_of"),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let res = deploy(&mut app, body).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {res:?}");
        assert_eq!(res.json()["error"]["field"], expected, "{field}: {}", res.body);
    }
    let mut late = good.clone();
    late["started_at"] = json!("2026-11-02T10:00:00Z");
    late["finished_at"] = json!("2026-11-02T09:00:00Z");
    assert_eq!(deploy(&mut app, late).await.json()["error"]["field"], "finished_at");
    // Not JSON of the right shape at all: 400.
    let res = deploy(&mut app, json!({"component": 1})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    // Nothing was stored by any of them.
    let list = app.get_with_token("/api/v1/deployments", API_TOKEN).await.json();
    assert_eq!(list["items"], json!([]));
    // An external id belongs to one component.
    assert_eq!(deploy(&mut app, good.clone()).await.status, StatusCode::CREATED);
    let mut other = good;
    other["component"] = json!("storefront");
    let res = deploy(&mut app, other).await;
    assert_eq!(res.json()["error"]["field"], "external_id", "{res:?}");
    let res = app
        .post_json_with_token(
            "/api/v1/incidents",
            &json!({"component": "payments-api", "environment": "production", "title": "Down",
                "severity": "sev1", "started_at": "2026-11-02T10:00:00Z", "external_id": "pd-1"}),
            API_TOKEN,
        )
        .await;
    assert_eq!(res.json()["error"]["field"], "severity", "{res:?}");
}

async fn only_the_owning_team_records_deployments_and_incidents(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    // octocat is in acme/payments (the fake GitHub's teams); payments owns payments-api, platform owns portolan.
    app.login_as("octocat").await;
    let res = app
        .post_json("/api/v1/tokens", &json!({"name": "ci", "scopes": ["deployments:write"], "team": "acme/payments"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let token = res.json()["token"].as_str().unwrap().to_owned();
    let body = |component: &str, id: &str| json!({"component": component, "environment": "staging", "status": "success", "external_id": id});
    let res = app.post_json_with_token("/api/v1/deployments", &body("payments-api", "t-1"), &token).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let res = app.post_json_with_token("/api/v1/deployments", &body("portolan", "t-2"), &token).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("deployments.write"), "{}", res.body);
    // The token has no incidents:write scope.
    let incident = json!({"component": "payments-api", "environment": "production", "title": "Errors",
        "severity": "high", "started_at": "2026-11-02T10:00:00Z", "external_id": "pd-9"});
    let res = app.post_json_with_token("/api/v1/incidents", &incident, &token).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    // Signed in, octocat may (member of the owner), and resolves it by posting it again.
    let res = app.post_json("/api/v1/incidents", &incident).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let mut resolved = incident.clone();
    resolved["resolved_at"] = json!("2026-11-02T11:00:00Z");
    let res = app.post_json("/api/v1/incidents", &resolved).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json()["resolved_at"], "2026-11-02T11:00:00Z");
    let list = app.get("/api/v1/incidents?entity=payments-api").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // Without credentials: 401.
    let mut anonymous = app.replica().await;
    anonymous.cookies.clear();
    assert_eq!(
        anonymous.post_json("/api/v1/deployments", &body("payments-api", "t-3")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn deployments_are_listed_with_filters_and_a_cursor(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    for i in 0..7 {
        let (component, env, status) = match i % 3 {
            0 => ("payments-api", "production", "success"),
            1 => ("storefront", "staging", "failure"),
            _ => ("portolan", "production", "success"),
        };
        let res = deploy(
            &mut app,
            json!({"component": component, "environment": env, "status": status, "external_id": format!("d-{i}"),
                "commit_sha": format!("aaaa{i:03}"), "finished_at": format!("2026-11-{:02}T10:00:00Z", 2 + i)}),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    }
    let ids = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|d| d["external_id"].as_str().unwrap().to_owned()).collect()
    };
    let all = app.get_with_token("/api/v1/deployments?limit=3", API_TOKEN).await.json();
    assert_eq!(ids(&all), ["d-6", "d-5", "d-4"], "newest first");
    let cursor = all["next_cursor"].as_str().unwrap();
    let next = app.get_with_token(&format!("/api/v1/deployments?limit=3&cursor={cursor}"), API_TOKEN).await.json();
    assert_eq!(ids(&next), ["d-3", "d-2", "d-1"]);
    let last = next["next_cursor"].as_str().unwrap();
    let end = app.get_with_token(&format!("/api/v1/deployments?limit=3&cursor={last}"), API_TOKEN).await.json();
    assert_eq!(ids(&end), ["d-0"]);
    assert!(end["next_cursor"].is_null());

    assert_eq!(ids(&q(&mut app, "environment=staging").await), ["d-4", "d-1"]);
    assert_eq!(ids(&q(&mut app, "status=failure").await), ["d-4", "d-1"]);
    assert_eq!(ids(&q(&mut app, "team=payments").await), ["d-6", "d-4", "d-3", "d-1", "d-0"]);
    assert_eq!(ids(&q(&mut app, "system=developer-platform").await), ["d-5", "d-2"]);
    assert_eq!(ids(&q(&mut app, "from=2026-11-04T00:00:00Z&to=2026-11-06T00:00:00Z").await), ["d-3", "d-2"]);
    let res = app.get_with_token("/api/v1/deployments?status=done", API_TOKEN).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.get_with_token("/api/v1/deployments?team=nobody", API_TOKEN).await;
    assert_eq!(res.json()["error"]["field"], "team", "{res:?}");
    let res = app.get_with_token("/api/v1/deployments?cursor=garbage", API_TOKEN).await;
    assert_eq!(res.json()["error"]["field"], "cursor", "{res:?}");
}

/// A small history for payments-api: staging then production promotions, a rollback and an incident.
fn history() -> Vec<Value> {
    let d = |id: &str, env: &str, sha: &str, status: &str, at: &str, commits: Value| {
        json!({"component": "payments-api", "environment": env, "status": status, "external_id": id,
            "commit_sha": sha, "started_at": format!("{at}:00Z").replace("T10", "T09"),
            "finished_at": format!("{at}:00Z"), "commits": commits})
    };
    let c = |sha: &str, at: &str| json!({"sha": sha, "committed_at": format!("{at}:00Z")});
    vec![
        d("s-1", "staging", "aaa001", "success", "2026-11-02T10:00", json!([c("aaa001", "2026-11-02T08:00")])),
        d("p-1", "production", "aaa001", "success", "2026-11-02T14:00", json!([])),
        d(
            "s-2",
            "staging",
            "aaa003",
            "success",
            "2026-11-03T10:00",
            json!([c("aaa002", "2026-11-03T06:00"), c("aaa003", "2026-11-03T08:00")]),
        ),
        d("p-2", "production", "aaa003", "failure", "2026-11-03T12:00", json!([])),
        d("p-3", "production", "aaa003", "success", "2026-11-03T14:00", json!([])),
        {
            let mut r = d("p-4", "production", "aaa001", "success", "2026-11-03T15:00", json!([]));
            r["rollback_of"] = json!("p-3");
            r
        },
    ]
}

async fn dora_figures_come_from_what_was_recorded(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    for body in history() {
        let res = deploy(&mut app, body).await;
        assert!(res.status.is_success(), "{res:?}");
    }
    let res = app
        .post_json_with_token(
            "/api/v1/incidents",
            &json!({"component": "payments-api", "environment": "production", "title": "5xx on checkout",
                "severity": "critical", "started_at": "2026-11-03T14:20:00Z", "resolved_at": "2026-11-03T16:00:00Z",
                "external_id": "pd-1"}),
            API_TOKEN,
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let report = app
        .get_with_token(
            "/api/v1/dora?scope=group:default/payments&from=2026-11-02T00:00:00Z&to=2026-11-09T00:00:00Z",
            API_TOKEN,
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{report:?}");
    let r = report.json();
    // Production successes: p-1 (aaa001), p-3 (aaa003), p-4 (aaa001 again, another day): three units in 7 days.
    assert_eq!(r["deployment_frequency"]["deployments"], 3, "{r}");
    assert_eq!(r["deployment_frequency"]["band"], "high");
    // Changes: aaa001 (08:00 -> 14:00 = 6 h), aaa002 (06:00 -> 14:00 next day... 3 Nov 06:00 -> 14:00 = 8 h),
    // aaa003 (08:00 -> 14:00 = 6 h). The rollback brings none.
    assert_eq!(r["lead_time"]["changes"], 3, "{r}");
    assert_eq!(r["lead_time"]["median_seconds"], 6 * 3600);
    assert_eq!(r["lead_time"]["p90_seconds"], 8 * 3600);
    assert_eq!(r["lead_time"]["band"], "elite");
    // p-3 failed (rolled back, and the incident started 20 min after it); 1 of 3.
    assert_eq!(r["change_failure_rate"]["failed"], 1);
    assert_eq!(r["change_failure_rate"]["total"], 3);
    assert!((r["change_failure_rate"]["ratio"].as_f64().unwrap() - 0.3333).abs() < 1e-3, "{r}");
    // Recovery: from p-3's end (14:00) to the rollback (15:00), before the incident was resolved.
    assert_eq!(r["recovery_time"]["count"], 1);
    assert_eq!(r["recovery_time"]["median_seconds"], 3600);
    assert_eq!(r["pipeline_failures"], 1, "p-2");
    assert_eq!(r["environments"], json!(["production"]));
    assert_eq!(r["time_zone"], "UTC");
    assert_eq!(r["weeks"][0]["week"], "2026-11-02");
    assert_eq!(r["data_quality"]["components_without_repository"], json!([]), "payments-api has a slug");
    // The promotion carried staging's changes: p-3 lists aaa002 and aaa003.
    let list = app.get_with_token("/api/v1/deployments?environment=production&changes=true", API_TOKEN).await.json();
    let p3 = list["items"].as_array().unwrap().iter().find(|d| d["external_id"] == "p-3").unwrap().clone();
    let shas: Vec<&str> = p3["changes"].as_array().unwrap().iter().map(|c| c["sha"].as_str().unwrap()).collect();
    assert_eq!(shas, ["aaa002", "aaa003"]);
    // The drill-down names what each figure counted.
    let details = app
        .get_with_token(
            "/api/v1/dora/details?scope=group:default/payments&from=2026-11-02T00:00:00Z&to=2026-11-09T00:00:00Z",
            API_TOKEN,
        )
        .await
        .json();
    let counted: Vec<&str> =
        details["deployments"].as_array().unwrap().iter().map(|d| d["external_id"].as_str().unwrap()).collect();
    assert_eq!(counted, ["p-4", "p-3", "p-1"]);
    assert_eq!(details["failed"], json!([p3["id"]]));
    assert_eq!(details["lead_times"].as_array().unwrap().len(), 3);
    // What runs where: staging runs aaa003, production was rolled back to aaa001; staging is 2 commits ahead.
    let m = app.get_with_token("/api/v1/runs-where?team=payments", API_TOKEN).await.json();
    assert_eq!(m["environments"], json!(["development", "staging", "production"]));
    let row = &m["rows"][0];
    assert_eq!(row["component"], "component:default/payments-api", "{m}");
    assert!(row["cells"][0].is_null());
    assert_eq!(row["cells"][1]["commit_sha"], "aaa003");
    assert_eq!(row["cells"][1]["ahead_of_production"], 2, "{m}");
    assert_eq!(row["cells"][2]["commit_sha"], "aaa001");
    // Another team's scope has nothing; an unknown scope is a 422.
    let other =
        app.get_with_token("/api/v1/dora?scope=group:default/platform&from=2026-11-02&to=2026-11-09", API_TOKEN).await;
    assert_eq!(other.json()["deployment_frequency"]["deployments"], 0, "{other:?}");
    let bad = app.get_with_token("/api/v1/dora?scope=group:default/nobody", API_TOKEN).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app.get_with_token("/api/v1/dora?year=1999", API_TOKEN).await;
    assert_eq!(bad.json()["error"]["field"], "year");
}

async fn reports_in_any_order_and_repeated_give_the_same_figures(b: Backend) {
    let mut in_order = TestApp::with_example_catalog(b).await;
    for body in history() {
        deploy(&mut in_order, body).await;
    }
    let path = "/api/v1/dora?scope=all&from=2026-11-02T00:00:00Z&to=2026-11-09T00:00:00Z";
    let expected = in_order.get_with_token(path, API_TOKEN).await.json();
    let expected_list = in_order.get_with_token("/api/v1/deployments?changes=true", API_TOKEN).await.json();
    let strip = |v: &Value| -> Vec<(String, i64, Vec<String>)> {
        let mut out: Vec<(String, i64, Vec<String>)> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["external_id"].as_str().unwrap().to_owned(),
                    d["change_count"].as_i64().unwrap(),
                    d["changes"].as_array().unwrap().iter().map(|c| c["sha"].as_str().unwrap().to_owned()).collect(),
                )
            })
            .collect();
        out.sort();
        out
    };
    for seed in 0..3u64 {
        let mut app = TestApp::with_example_catalog(b).await;
        let mut events = history();
        // Every report twice, in-progress versions too, shuffled.
        let mut extra: Vec<Value> = events
            .iter()
            .map(|e| {
                let mut early = e.clone();
                early["status"] = json!("in_progress");
                early.as_object_mut().unwrap().remove("finished_at");
                early
            })
            .collect();
        extra.extend(events.clone());
        events.extend(extra);
        events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        for body in events {
            let res = deploy(&mut app, body).await;
            assert!(res.status.is_success(), "{res:?}");
        }
        let got = app.get_with_token(path, API_TOKEN).await.json();
        assert_eq!(got, expected, "seed {seed}");
        let list = app.get_with_token("/api/v1/deployments?changes=true", API_TOKEN).await.json();
        assert_eq!(strip(&list), strip(&expected_list), "seed {seed}");
    }
}

/// A random history of two components: trunks that move forward, deployments to staging and production (some
/// failing, some rolled back, some reporting their commits, some not), and incidents.
fn random_history(seed: u64) -> (Vec<Value>, Vec<Value>) {
    use rand::Rng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let at =
        |minutes: i64| (base + chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut deployments = Vec::new();
    let mut incidents = Vec::new();
    for (ci, component) in ["payments-api", "storefront"].into_iter().enumerate() {
        let sha = |n: usize| format!("{ci:02x}{n:06x}");
        let mut head = 0usize;
        let mut deployed: Vec<(String, usize)> = Vec::new();
        let mut last_in_env: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let mut clock = 0i64;
        for k in 0..12 {
            clock += rng.gen_range(30..600);
            let environment = if rng.gen_bool(0.5) { "staging" } else { "production" };
            let id = format!("{component}-{k}");
            let rollback = !deployed.is_empty() && rng.gen_bool(0.15);
            let target = if rollback {
                deployed[rng.gen_range(0..deployed.len())].1
            } else {
                head += rng.gen_range(0..3);
                head
            };
            let status =
                ["success", "success", "success", "success", "failure", "error", "cancelled"][rng.gen_range(0..7)];
            let from = last_in_env.get(environment).copied().unwrap_or(0);
            let commits: Vec<Value> = if rng.gen_bool(0.6) && target > from {
                (from + 1..=target)
                    .filter(|_| rng.gen_bool(0.8))
                    .map(|n| json!({"sha": sha(n), "committed_at": at(n as i64 * 20 - 600)}))
                    .collect()
            } else {
                Vec::new()
            };
            let mut d = json!({"component": component, "environment": environment, "status": status,
                "external_id": id, "commit_sha": sha(target), "started_at": at(clock - 5),
                "finished_at": at(clock), "commits": commits});
            if rollback {
                d["rollback_of"] = json!(deployed.last().unwrap().0);
            }
            if status == "success" {
                last_in_env.insert(environment, target);
                deployed.push((id.clone(), target));
            }
            if environment == "production" && rng.gen_bool(0.25) {
                let mut incident = json!({"component": component, "environment": "production",
                    "title": format!("after {id}"), "severity": "high", "started_at": at(clock + rng.gen_range(1..240)),
                    "external_id": format!("inc-{id}")});
                if rng.gen_bool(0.7) {
                    incident["resolved_at"] = json!(at(clock + 300));
                }
                incidents.push(incident);
            }
            deployments.push(d);
        }
    }
    (deployments, incidents)
}

/// What the deployments list and the DORA report say, in a comparable form.
async fn figures(app: &mut TestApp) -> (Vec<Value>, Value) {
    let list = app.get_with_token("/api/v1/deployments?changes=true&limit=500", API_TOKEN).await.json();
    let mut items: Vec<Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let shas: Vec<&str> = d["changes"].as_array().unwrap().iter().map(|c| c["sha"].as_str().unwrap()).collect();
            json!([
                d["external_id"],
                d["status"],
                d["change_count"],
                d["first_deployment"],
                d["changes_truncated"],
                shas
            ])
        })
        .collect();
    items.sort_by_key(|v| v[0].as_str().unwrap().to_owned());
    let dora = app
        .get_with_token("/api/v1/dora?scope=all&from=2026-11-01T00:00:00Z&to=2026-11-05T00:00:00Z", API_TOKEN)
        .await
        .json();
    (items, dora)
}

async fn random_histories_ingested_one_by_one_match_a_full_recompute(b: Backend) {
    for seed in 0..4u64 {
        let (deployments, incidents) = random_history(seed);
        // In order, as a CD tool reports while it runs.
        let mut ordered = TestApp::with_example_catalog(b).await;
        for d in &deployments {
            let res = deploy(&mut ordered, d.clone()).await;
            assert!(res.status.is_success(), "{res:?}");
        }
        for i in &incidents {
            let res = ordered.post_json_with_token("/api/v1/incidents", i, API_TOKEN).await;
            assert!(res.status.is_success(), "{res:?}");
        }
        let expected = figures(&mut ordered).await;
        assert!(
            expected.1["deployment_frequency"]["deployments"].as_u64().unwrap() > 0,
            "seed {seed}: {:?}",
            expected.1
        );

        // One by one in a random order, with in-progress reports and repeats, then incidents in between.
        let mut shuffled = TestApp::with_example_catalog(b).await;
        let mut events: Vec<(bool, Value)> = deployments.iter().map(|d| (true, d.clone())).collect();
        events.extend(deployments.iter().map(|d| {
            let mut early = d.clone();
            early["status"] = json!("in_progress");
            early.as_object_mut().unwrap().remove("finished_at");
            (true, early)
        }));
        events.extend(deployments.iter().take(6).map(|d| (true, d.clone())));
        events.extend(incidents.iter().map(|i| (false, i.clone())));
        events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed + 100));
        for (is_deployment, body) in events {
            let path = if is_deployment { "/api/v1/deployments" } else { "/api/v1/incidents" };
            let res = shuffled.post_json_with_token(path, &body, API_TOKEN).await;
            assert!(res.status.is_success(), "{res:?}");
        }
        let got = figures(&mut shuffled).await;
        assert_eq!(got, expected, "seed {seed}: shuffled ingestion differs from in-order ingestion");

        // A full recompute from scratch changes nothing the incremental updates concluded.
        for component in ["component:default/payments-api", "component:default/storefront"] {
            let state = &shuffled.state.app;
            portolan_core::deploys::recompute_changes(&state.db, &state.config, component).await.unwrap();
        }
        assert_eq!(figures(&mut shuffled).await, expected, "seed {seed}: a full recompute differs");
    }
}

async fn q(app: &mut TestApp, query: &str) -> Value {
    app.get_with_token(&format!("/api/v1/deployments?{query}"), API_TOKEN).await.json()
}

async fn github_app(b: Backend) -> TestApp {
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.deploy_workflows = vec![("deploy.yml".to_owned(), "production".to_owned())];
    })
    .await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    app
}

fn deployment_payload(id: i64, repo: &str, env: &str, sha: &str) -> Value {
    json!({
        "action": "created",
        "deployment": {"id": id, "sha": sha, "ref": "main", "environment": env, "task": "deploy",
            "created_at": "2026-11-02T10:00:00Z", "updated_at": "2026-11-02T10:00:00Z",
            "creator": {"login": "octocat", "id": 1}, "payload": {}},
        "repository": {"id": 7, "full_name": repo, "name": repo.split('/').nth(1).unwrap()},
        "sender": {"login": "octocat"}
    })
}

fn status_payload(id: i64, state: &str, at: &str) -> Value {
    let mut p = deployment_payload(id, "acme/payments-api", "production", "abc0001");
    p["action"] = json!("created");
    p["deployment_status"] = json!({"id": id * 10, "state": state, "created_at": at,
        "log_url": format!("https://github.example/acme/payments-api/actions/runs/{id}"), "environment": "production"});
    p
}

async fn process(app: &TestApp) {
    portolan_core::webhooks::process_queue(&app.state.app).await.unwrap();
}

async fn outcome(app: &TestApp, delivery: &str) -> (String, String) {
    let d = portolan_core::webhooks::find(&app.state.app.db, "github", delivery).await.unwrap().unwrap();
    (d.status, d.last_error.unwrap_or_default())
}

async fn github_deployments_and_statuses_arrive_by_webhook_in_any_order(b: Backend) {
    let mut app = github_app(b).await;
    let res = app
        .post_webhook("deployment", "g-1", &deployment_payload(901, "acme/payments-api", "production", "abc0001"), None)
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{res:?}");
    process(&app).await;
    let list = app.get_with_token("/api/v1/deployments?component=payments-api", API_TOKEN).await.json();
    assert_eq!(list["items"][0]["external_id"], "github-deployment-901", "{list}");
    assert_eq!(list["items"][0]["status"], "queued");
    assert_eq!(list["items"][0]["source"], "github");
    assert_eq!(list["items"][0]["actor"], "octocat");

    app.post_webhook("deployment_status", "g-2", &status_payload(901, "in_progress", "2026-11-02T10:01:00Z"), None)
        .await;
    app.post_webhook("deployment_status", "g-3", &status_payload(901, "success", "2026-11-02T10:04:00Z"), None).await;
    process(&app).await;
    let d = &app.get_with_token("/api/v1/deployments?component=payments-api", API_TOKEN).await.json()["items"][0];
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["finished_at"], "2026-11-02T10:04:00Z");
    assert_eq!(d["duration_seconds"], 240);
    assert!(d["url"].as_str().unwrap().ends_with("/runs/901"));

    // A status that overtakes its deployment records it; the late `deployment` delivery does not undo it.
    app.post_webhook("deployment_status", "g-4", &status_payload(902, "failure", "2026-11-03T10:04:00Z"), None).await;
    process(&app).await;
    app.post_webhook("deployment", "g-5", &deployment_payload(902, "acme/payments-api", "production", "abc0001"), None)
        .await;
    process(&app).await;
    let list = app.get_with_token("/api/v1/deployments?component=payments-api&status=failure", API_TOKEN).await.json();
    assert_eq!(list["items"][0]["external_id"], "github-deployment-902", "{list}");
    // `inactive` (superseded) changes nothing.
    app.post_webhook("deployment_status", "g-6", &status_payload(901, "inactive", "2026-11-04T10:00:00Z"), None).await;
    process(&app).await;
    assert_eq!(outcome(&app, "g-6").await.0, "ignored");

    // A repository no component uses, or an environment that is not configured, is kept and explained.
    app.post_webhook("deployment", "g-7", &deployment_payload(903, "acme/unknown", "production", "abc0001"), None)
        .await;
    app.post_webhook(
        "deployment",
        "g-8",
        &deployment_payload(904, "acme/payments-api", "github-pages", "abc0001"),
        None,
    )
    .await;
    process(&app).await;
    let (status, why) = outcome(&app, "g-7").await;
    assert_eq!(status, "ignored");
    assert!(why.contains("no component has github.com/project-slug: acme/unknown"), "{why}");
    let (status, why) = outcome(&app, "g-8").await;
    assert_eq!(status, "ignored");
    assert!(why.contains("github-pages"), "{why}");
    assert_eq!(app.get_with_token("/api/v1/deployments", API_TOKEN).await.json()["items"].as_array().unwrap().len(), 2);
}

fn sha_n(n: u32) -> String {
    format!("{n:040x}")
}

fn push_payload(before: u32, after: u32, commits: &[(u32, &str)]) -> Value {
    json!({
        "ref": "refs/heads/main", "before": sha_n(before), "after": sha_n(after),
        "repository": {"id": 7, "full_name": "acme/payments-api", "name": "payments-api", "default_branch": "main"},
        "pusher": {"name": "octocat"},
        "commits": commits.iter().map(|(n, at)| json!({"id": sha_n(*n), "timestamp": at, "message": "work",
            "added": [], "removed": [], "modified": ["src/lib.rs"]})).collect::<Vec<_>>(),
        "head_commit": {"id": sha_n(after)}
    })
}

fn github_deploy(id: i64, sha: u32, created: &str, done: &str) -> (Value, Value) {
    let mut d = deployment_payload(id, "acme/payments-api", "production", &sha_n(sha));
    d["deployment"]["created_at"] = json!(created);
    let mut s = d.clone();
    s["deployment_status"] =
        json!({"id": id * 10, "state": "success", "created_at": done, "environment": "production"});
    (d, s)
}

async fn pushes_and_merged_pull_requests_give_github_deployments_their_commits(b: Backend) {
    let mut app = github_app(b).await;
    let changes = |list: &Value, id: &str| -> Vec<(String, Value)> {
        let d = list["items"].as_array().unwrap().iter().find(|d| d["external_id"] == id).unwrap().clone();
        d["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["sha"].as_str().unwrap().to_owned(), c["pr_number"].clone()))
            .collect()
    };
    // Two pushes before the first deployment: both count, not only the last.
    app.post_webhook(
        "push",
        "p-1",
        &push_payload(100, 2, &[(1, "2026-11-01T04:00:00-05:00"), (2, "2026-11-01T09:30:00Z")]),
        None,
    )
    .await;
    app.post_webhook("push", "p-2", &push_payload(2, 3, &[(3, "2026-11-01T10:00:00Z")]), None).await;
    process(&app).await;
    let (d, s) = github_deploy(1001, 3, "2026-11-02T10:00:00Z", "2026-11-02T10:05:00Z");
    app.post_webhook("deployment", "d-1", &d, None).await;
    app.post_webhook("deployment_status", "s-1", &s, None).await;
    process(&app).await;
    let list = q(&mut app, "component=payments-api&changes=true").await;
    let first = changes(&list, "github-deployment-1001");
    assert_eq!(first.iter().map(|c| c.0.clone()).collect::<Vec<_>>(), [sha_n(1), sha_n(2), sha_n(3)], "{list}");
    assert_eq!(list["items"][0]["changes"][0]["committed_at"], "2026-11-01T09:00:00Z", "offsets are read: {list}");

    // The next deployment arrives before the push that brought its commits; the push fills it in.
    let (d, s) = github_deploy(1002, 5, "2026-11-03T10:00:00Z", "2026-11-03T10:05:00Z");
    app.post_webhook("deployment_status", "s-2", &s, None).await;
    app.post_webhook("deployment", "d-2", &d, None).await;
    process(&app).await;
    assert!(changes(&q(&mut app, "component=payments-api&changes=true").await, "github-deployment-1002").is_empty());
    app.post_webhook(
        "push",
        "p-3",
        &push_payload(3, 5, &[(4, "2026-11-02T12:00:00Z"), (5, "2026-11-02T13:00:00Z")]),
        None,
    )
    .await;
    // The same push delivered again under another id changes nothing.
    app.post_webhook(
        "push",
        "p-3-again",
        &push_payload(3, 5, &[(4, "2026-11-02T12:00:00Z"), (5, "2026-11-02T13:00:00Z")]),
        None,
    )
    .await;
    process(&app).await;
    let list = q(&mut app, "component=payments-api&changes=true").await;
    assert_eq!(
        changes(&list, "github-deployment-1002").iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
        [sha_n(4), sha_n(5)],
        "{list}"
    );
    assert_eq!(changes(&list, "github-deployment-1001").len(), 3, "the first deployment keeps its own: {list}");
    assert_eq!(outcome(&app, "p-3").await.0, "done");

    // A merged pull request marks its merge commit; closed without merging, nothing.
    let pr = |action: &str, merged: bool| {
        json!({"action": action, "number": 42, "repository": {"id": 7, "full_name": "acme/payments-api", "name": "payments-api"},
            "pull_request": {"number": 42, "merged": merged, "merge_commit_sha": sha_n(5),
                "created_at": "2026-10-30T08:00:00Z", "merged_at": "2026-11-02T13:00:00Z"}})
    };
    app.post_webhook("pull_request", "pr-closed", &pr("closed", false), None).await;
    app.post_webhook("pull_request", "pr-merged", &pr("closed", true), None).await;
    process(&app).await;
    assert_eq!(outcome(&app, "pr-closed").await.0, "ignored");
    assert_eq!(outcome(&app, "pr-merged").await.0, "done");
    let list = q(&mut app, "component=payments-api&changes=true").await;
    let second = changes(&list, "github-deployment-1002");
    assert_eq!(second[1], (sha_n(5), json!(42)), "{list}");
    assert_eq!(second[0].1, Value::Null);
    // The DORA figures count the pushed commits: 5 changes over the two deployments.
    let dora = app
        .get_with_token(
            "/api/v1/dora?scope=component:default/payments-api&from=2026-11-01T00:00:00Z&to=2026-11-04T00:00:00Z",
            API_TOKEN,
        )
        .await
        .json();
    assert_eq!(dora["lead_time"]["changes"], 5, "{dora}");
    assert_eq!(list["items"][0]["changes_truncated"], false, "{list}");

    // GitHub lists at most 2,048 commits in a push: a deployment that relies on a full one says its changes may be
    // incomplete.
    let many: Vec<(u32, &str)> = (10..2058).map(|n| (n, "2026-11-05T09:00:00Z")).collect();
    app.post_webhook("push", "p-4", &push_payload(5, 2057, &many), None).await;
    let (d, s) = github_deploy(1003, 2057, "2026-11-06T10:00:00Z", "2026-11-06T10:05:00Z");
    app.post_webhook("deployment", "d-3", &d, None).await;
    app.post_webhook("deployment_status", "s-3", &s, None).await;
    process(&app).await;
    let list = q(&mut app, "component=payments-api&changes=true").await;
    let third = list["items"].as_array().unwrap().iter().find(|d| d["external_id"] == "github-deployment-1003");
    assert_eq!(third.unwrap()["changes_truncated"], true, "{list}");
    assert_eq!(third.unwrap()["change_count"], 2048, "{list}");
}

fn run_payload(id: i64, path: &str, status: &str, conclusion: Option<&str>) -> Value {
    json!({
        "action": if status == "completed" { "completed" } else { "in_progress" },
        "workflow_run": {"id": id, "name": "Deploy", "path": path, "head_branch": "main", "head_sha": "abc0002",
            "status": status, "conclusion": conclusion, "run_started_at": "2026-11-05T09:00:00Z",
            "updated_at": "2026-11-05T09:07:00Z", "html_url": format!("https://github.example/runs/{id}"),
            "actor": {"login": "hubot"}},
        "repository": {"id": 7, "full_name": "acme/payments-api", "name": "payments-api"}
    })
}

async fn deployment_workflow_runs_are_deployments(b: Backend) {
    let mut app = github_app(b).await;
    app.post_webhook(
        "workflow_run",
        "w-1",
        &run_payload(55, ".github/workflows/deploy.yml", "in_progress", None),
        None,
    )
    .await;
    app.post_webhook(
        "workflow_run",
        "w-2",
        &run_payload(55, ".github/workflows/deploy.yml", "completed", Some("success")),
        None,
    )
    .await;
    app.post_webhook(
        "workflow_run",
        "w-3",
        &run_payload(56, ".github/workflows/ci.yml", "completed", Some("success")),
        None,
    )
    .await;
    app.post_webhook(
        "workflow_run",
        "w-4",
        &run_payload(57, ".github/workflows/deploy.yml", "completed", Some("timed_out")),
        None,
    )
    .await;
    process(&app).await;
    let list = app.get_with_token("/api/v1/deployments?component=payments-api", API_TOKEN).await.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "ci.yml is not a deployment workflow: {list}");
    let run = items.iter().find(|d| d["external_id"] == "github-run-55").unwrap();
    assert_eq!((run["environment"].as_str(), run["status"].as_str()), (Some("production"), Some("success")));
    assert_eq!(run["duration_seconds"], 420);
    assert_eq!(run["actor"], "hubot");
    let timed_out = items.iter().find(|d| d["external_id"] == "github-run-57").unwrap();
    assert_eq!(timed_out["status"], "error", "a timed-out run is a pipeline failure");
    assert!(outcome(&app, "w-3").await.1.contains("not a deployment workflow"));
}

async fn deploy_webhooks_are_refused_unless_signed_with_sha256_over_the_exact_body(b: Backend) {
    use hmac::Mac;
    let mut app = github_app(b).await;
    let body = deployment_payload(990, "acme/payments-api", "production", "abc0009");
    let send = |sig_header: Option<(&'static str, String)>, text: String, delivery: &'static str| {
        let mut req = http::Request::post("/api/v1/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", "deployment")
            .header("x-github-delivery", delivery);
        if let Some((name, value)) = sig_header {
            req = req.header(name, value);
        }
        req.body(axum::body::Body::from(text)).unwrap()
    };
    // No signature at all.
    let res = app.send(send(None, body.to_string(), "s-1")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // Only the legacy SHA-1 header, correctly computed.
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body.to_string().as_bytes());
    let sha1 = format!("sha1={}", hex::encode(mac.finalize().into_bytes()));
    let res = app.send(send(Some(("x-hub-signature", sha1)), body.to_string(), "s-2")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "SHA-1 is not accepted");
    // Signed with another secret; a tampered body under a valid signature.
    let wrong = portolan_core::github::sign("another-secret-0123456789", body.to_string().as_bytes());
    let res = app.send(send(Some(("x-hub-signature-256", wrong)), body.to_string(), "s-3")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let good = portolan_core::github::sign(WEBHOOK_SECRET, body.to_string().as_bytes());
    let tampered = body.to_string().replace("abc0009", "abc0666");
    let res = app.send(send(Some(("x-hub-signature-256", good.clone())), tampered, "s-4")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    process(&app).await;
    assert_eq!(app.get_with_token("/api/v1/deployments", API_TOKEN).await.json()["items"], json!([]));
    // Correct, then replayed: stored and processed once.
    let res = app.send(send(Some(("x-hub-signature-256", good.clone())), body.to_string(), "s-5")).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{res:?}");
    let res = app.send(send(Some(("x-hub-signature-256", good)), body.to_string(), "s-5")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["status"], "duplicate");
    process(&app).await;
    assert_eq!(app.get_with_token("/api/v1/deployments", API_TOKEN).await.json()["items"].as_array().unwrap().len(), 1);
}

/// A real git repository with fixed commit dates (UTC): main `c1`, a pull request branch `p1`, `p2` squashed as
/// `s`, then `c3`, `c3b`, `c4`. Returns the directory and the shas by name.
fn git_fixture() -> (tempdir::Dir, std::collections::HashMap<&'static str, String>) {
    let dir = tempdir::Dir::new();
    let git = |args: &[&str], date: Option<&str>| {
        let mut cmd = std::process::Command::new("git");
        cmd.arg("-C").arg(dir.path()).args(args);
        cmd.env("GIT_AUTHOR_NAME", "Mona").env("GIT_AUTHOR_EMAIL", "mona@example.com");
        cmd.env("GIT_COMMITTER_NAME", "Mona").env("GIT_COMMITTER_EMAIL", "mona@example.com");
        cmd.env("TZ", "UTC").env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_CONFIG_NOSYSTEM", "1");
        if let Some(d) = date {
            cmd.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
        }
        let out = cmd.output().expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "main"], None);
    let mut shas = std::collections::HashMap::new();
    let mut commit = |name: &'static str, date: &str| {
        std::fs::write(dir.path().join(format!("{name}.txt")), name).unwrap();
        git(&["add", "."], None);
        git(&["commit", "-q", "-m", name], Some(date));
        shas.insert(name, git(&["rev-parse", "HEAD"], None));
    };
    commit("c1", "2026-11-01T09:00:00+00:00");
    git(&["checkout", "-q", "-b", "feature"], None);
    commit("p1", "2026-11-01T10:00:00+00:00");
    commit("p2", "2026-11-01T11:00:00+00:00");
    git(&["checkout", "-q", "main"], None);
    commit("s", "2026-11-02T09:00:00+00:00");
    commit("c3", "2026-11-03T09:00:00+00:00");
    commit("c3b", "2026-11-03T15:00:00+00:00");
    commit("c4", "2026-11-04T09:00:00+00:00");
    (dir, shas)
}

/// A temporary directory removed on drop.
mod tempdir {
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!("portolan-git-{}-{}", std::process::id(), rand::random::<u64>()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn a_sync_without_a_github_token_says_what_to_configure(b: Backend) {
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| c.github_token = None).await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    let sync = "/api/v1/entities/by-ref/component/default/payments-api/deployments/sync";
    let res = app.post_json_with_token(sync, &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{res:?}");
    assert_eq!(res.json()["error"]["code"], "not_configured");
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("PORTOLAN_GITHUB_TOKEN"));
    // The same for docs-as-code, and nothing was recorded meanwhile.
    let docs = app
        .post_json_with_token("/api/v1/entities/by-ref/component/default/payments-api/docs/sync", &json!({}), API_TOKEN)
        .await;
    assert_eq!(docs.status, StatusCode::CONFLICT, "{docs:?}");
    let list = app.get_with_token("/api/v1/deployments?component=payments-api", API_TOKEN).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
}

async fn a_sync_reads_deployments_and_their_commits_from_github(b: Backend) {
    use portolan_testkit::deploys::{FakeDeployment, FakePull};
    let fake = portolan_testkit::FakeGithubConfig { max_per_page: 2, ..Default::default() };
    let mut app = TestApp::with(b, fake, |_| {}).await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    let (dir, sha) = git_fixture();
    let repo = "acme/payments-api";
    app.github.set_git_repo(repo, dir.path());
    app.github.add_pull(
        repo,
        FakePull { number: 5, commits: vec![sha["p1"].clone(), sha["p2"].clone()], merge_commit: sha["s"].clone() },
    );
    let deployment = |id: i64, name: &str, env: &str, created: &str, statuses: &[(&str, &str)]| FakeDeployment {
        id,
        sha: sha[name].clone(),
        environment: env.to_owned(),
        created_at: created.to_owned(),
        statuses: statuses.iter().map(|(s, t)| ((*s).to_owned(), (*t).to_owned())).collect(),
    };
    app.github.add_deployment(
        repo,
        deployment(
            1,
            "c1",
            "production",
            "2026-11-01T10:00:00Z",
            &[("in_progress", "2026-11-01T10:00:00Z"), ("success", "2026-11-01T10:05:00Z")],
        ),
    );
    app.github.add_deployment(
        repo,
        deployment(2, "s", "production", "2026-11-02T12:00:00Z", &[("success", "2026-11-02T12:10:00Z")]),
    );
    app.github.add_deployment(
        repo,
        deployment(3, "c4", "production", "2026-11-04T12:00:00Z", &[("success", "2026-11-04T12:10:00Z")]),
    );
    app.github.add_deployment(
        repo,
        deployment(4, "c3", "production", "2026-11-04T13:00:00Z", &[("success", "2026-11-04T13:05:00Z")]),
    );
    app.github.add_deployment(
        repo,
        deployment(5, "c4", "staging", "2026-11-04T10:00:00Z", &[("failure", "2026-11-04T10:03:00Z")]),
    );
    app.github.add_deployment(
        repo,
        deployment(6, "c4", "github-pages", "2026-11-04T10:00:00Z", &[("success", "2026-11-04T10:03:00Z")]),
    );

    let sync = "/api/v1/entities/by-ref/component/default/payments-api/deployments/sync";
    let res = app.post_json_with_token(sync, &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let report = res.json();
    assert_eq!(report["deployments"], 5, "{report}");
    assert_eq!(report["deployments_with_commits"], 4, "{report}");
    assert!(report["skipped"][0].as_str().unwrap().contains("github-pages"), "{report}");

    let list =
        app.get_with_token("/api/v1/deployments?component=payments-api&changes=true&limit=10", API_TOKEN).await.json();
    let by_id = |id: &str| -> Value {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["external_id"] == format!("github-deployment-{id}"))
            .cloned()
            .unwrap()
    };
    let shas = |d: &Value| -> Vec<String> {
        d["changes"].as_array().unwrap().iter().map(|c| c["sha"].as_str().unwrap().to_owned()).collect()
    };
    // The first deployment reads back its window; then compare between successive production shas, past a page.
    assert_eq!(shas(&by_id("1")), [sha["c1"].clone()]);
    assert_eq!(by_id("1")["first_deployment"], true);
    assert_eq!(shas(&by_id("2")), [sha["s"].clone()]);
    assert_eq!(by_id("2")["changes"][0]["pr_number"], 5);
    assert_eq!(
        by_id("2")["changes"][0]["pr_first_commit_at"],
        "2026-11-01T10:00:00Z",
        "the squashed PR's first commit"
    );
    assert_eq!(shas(&by_id("3")), [sha["c3"].clone(), sha["c3b"].clone(), sha["c4"].clone()]);
    assert!(shas(&by_id("4")).is_empty(), "a rollback (behind) brings nothing");
    assert_eq!(by_id("5")["status"], "failure");
    assert_eq!(by_id("1")["duration_seconds"], 300);

    // Lead time of the squash merge starts at its pull request's first commit: 26 h 10 min.
    let dora = app
        .get_with_token("/api/v1/dora/details?scope=component:default/payments-api&from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z", API_TOKEN)
        .await
        .json();
    assert_eq!(dora["lead_times"][0]["seconds"], 26 * 3600 + 600, "{dora}");

    // A second sync of an unchanged repository is answered from the cache: nothing new is downloaded.
    let (full_before, _) = app.github.repo_requests();
    let res = app.post_json_with_token(sync, &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let (full_after, not_modified) = app.github.repo_requests();
    assert_eq!(full_after, full_before, "every request was conditional and unchanged");
    assert!(not_modified > 10, "{not_modified}");

    // GitHub's rate limit stops the sync and says when to come back.
    app.github.rate_limit_next(1, 30);
    let res = app.post_json_with_token(sync, &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    assert!(res.body.contains("30 s"), "{}", res.body);
    let res = app.post_json_with_token(sync, &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}

async fn a_compare_longer_than_the_sync_reads_marks_the_changes_cut_short(b: Backend) {
    use portolan_testkit::deploys::FakeDeployment;
    // One commit per page: the 32 commits between the two deployments need more pages than a sync reads (30).
    let fake = portolan_testkit::FakeGithubConfig { max_per_page: 1, ..Default::default() };
    let mut app = TestApp::with(b, fake, |_| {}).await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    let dir = tempdir::Dir::new();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "Mona")
            .env("GIT_AUTHOR_EMAIL", "mona@example.com")
            .env("GIT_COMMITTER_NAME", "Mona")
            .env("GIT_COMMITTER_EMAIL", "mona@example.com")
            .env("GIT_AUTHOR_DATE", "2026-11-01T09:00:00+00:00")
            .env("GIT_COMMITTER_DATE", "2026-11-01T09:00:00+00:00")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["commit", "-q", "--allow-empty", "-m", "first"]);
    let first = git(&["rev-parse", "HEAD"]);
    for n in 0..32 {
        git(&["commit", "-q", "--allow-empty", "-m", &format!("change {n}")]);
    }
    let last = git(&["rev-parse", "HEAD"]);
    let repo = "acme/payments-api";
    app.github.set_git_repo(repo, dir.path());
    for (id, sha, at) in [(1, &first, "2026-11-02T10:00:00Z"), (2, &last, "2026-11-03T10:00:00Z")] {
        app.github.add_deployment(
            repo,
            FakeDeployment {
                id,
                sha: sha.clone(),
                environment: "production".to_owned(),
                created_at: at.to_owned(),
                statuses: vec![("success".to_owned(), at.to_owned())],
            },
        );
    }
    let sync = "/api/v1/entities/by-ref/component/default/payments-api/deployments/sync";
    let res = app.post_json_with_token(sync, &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let list = app.get_with_token("/api/v1/deployments?component=payments-api&limit=10", API_TOKEN).await.json();
    let by_id = |id: &str| -> Value {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["external_id"] == format!("github-deployment-{id}"))
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id("2")["change_count"], 30, "{list}");
    assert_eq!(by_id("2")["changes_truncated"], true, "{list}");
    assert_eq!(by_id("1")["changes_truncated"], false, "{list}");
}

/// The webhook worker handles deliveries in batches and recomputes each component once per batch; whatever order
/// the deliveries of a batch come in, it must end where handling them one at a time ends.
async fn a_batch_of_deliveries_ends_where_one_at_a_time_does(b: Backend) {
    let staged = |id: i64, sha: u32, created: &str, done: &str| {
        let (mut d, mut s) = github_deploy(id, sha, created, done);
        d["deployment"]["environment"] = json!("staging");
        s["deployment"]["environment"] = json!("staging");
        s["deployment_status"]["environment"] = json!("staging");
        (d, s)
    };
    let merged = json!({"action": "closed", "number": 7,
        "repository": {"id": 7, "full_name": "acme/payments-api", "name": "payments-api"},
        "pull_request": {"number": 7, "merged": true, "merge_commit_sha": sha_n(5),
            "created_at": "2026-10-31T08:00:00Z", "merged_at": "2026-11-02T13:00:00Z"}});
    let mut deliveries: Vec<(&str, String, Value)> = vec![
        ("push", "b-p1".into(), push_payload(100, 2, &[(1, "2026-11-01T04:00:00Z"), (2, "2026-11-01T09:30:00Z")])),
        ("push", "b-p2".into(), push_payload(2, 3, &[(3, "2026-11-01T10:00:00Z")])),
        ("push", "b-p3".into(), push_payload(3, 5, &[(4, "2026-11-02T12:00:00Z"), (5, "2026-11-02T13:00:00Z")])),
        ("pull_request", "b-pr".into(), merged),
    ];
    for (id, sha, created, done) in [
        (3001, 3, "2026-11-01T11:00:00Z", "2026-11-01T11:05:00Z"),
        (3002, 5, "2026-11-02T14:00:00Z", "2026-11-02T14:06:00Z"),
        (3003, 3, "2026-11-03T09:00:00Z", "2026-11-03T09:04:00Z"),
    ] {
        let (d, s) = github_deploy(id, sha, created, done);
        deliveries.push(("deployment", format!("b-d{id}"), d));
        deliveries.push(("deployment_status", format!("b-s{id}"), s));
    }
    let (d, s) = staged(3101, 5, "2026-11-02T13:30:00Z", "2026-11-02T13:35:00Z");
    deliveries.push(("deployment", "b-d3101".into(), d));
    deliveries.push(("deployment_status", "b-s3101".into(), s));

    let mut one_by_one = github_app(b).await;
    for (event, id, body) in &deliveries {
        let res = one_by_one.post_webhook(event, id, body, None).await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{res:?}");
        process(&one_by_one).await;
    }
    let expected = figures(&mut one_by_one).await;
    let production: Vec<&Value> = expected.0.iter().filter(|d| d[0] != "github-deployment-3101").collect();
    assert_eq!(production.len(), 3, "{expected:?}");
    assert!(expected.0.iter().any(|d| d[2] == 2), "the pushes gave a deployment its commits: {expected:?}");

    for seed in 0..3u64 {
        let mut batched = github_app(b).await;
        let mut shuffled = deliveries.clone();
        shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        for (event, id, body) in &shuffled {
            let res = batched.post_webhook(event, id, body, None).await;
            assert_eq!(res.status, StatusCode::ACCEPTED, "{res:?}");
        }
        let handled = portolan_core::webhooks::process_queue(&batched.state.app).await.unwrap();
        assert_eq!(handled, deliveries.len(), "one call handles the whole batch");
        for (_, id, _) in &deliveries {
            let (status, note) = outcome(&batched, id).await;
            assert!(status == "done" || status == "ignored", "seed {seed}: {id} is {status}: {note}");
        }
        assert_eq!(figures(&mut batched).await, expected, "seed {seed}: a batch ends elsewhere");
    }
}

/// Which deployment a change's lead time ends at is stored with the change; when the configured production
/// environments change, the next start recomputes it.
async fn changing_which_environments_are_production_recomputes_where_changes_ship_first(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    for (env, id, at) in [("staging", "s-1", "2026-11-02T09:00:00Z"), ("production", "p-1", "2026-11-02T12:00:00Z")] {
        let res = deploy(
            &mut app,
            json!({"component": "payments-api", "environment": env, "status": "success", "external_id": id,
                "commit_sha": "aaa0001", "started_at": at, "finished_at": at,
                "commits": [{"sha": "aaa0001", "committed_at": "2026-11-02T08:00:00Z"}]}),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    }
    let state = &app.state.app;
    let request = portolan_core::deploys::DoraRequest {
        scope: "all",
        environment: "production",
        from: portolan_core::deploys::parse_time("from", "2026-11-01T00:00:00Z").unwrap(),
        to: portolan_core::deploys::parse_time("to", "2026-11-05T00:00:00Z").unwrap(),
        bands_year: None,
        details: false,
    };
    let hidden = Default::default();
    let (report, _) = portolan_core::deploys::dora_report(&state.db, &state.config, &request, &hidden).await.unwrap();
    assert_eq!((report.lead_time.changes, report.lead_time.median_seconds), (1, Some(4 * 3600)), "{report:?}");

    // Staging becomes a production environment too: the change now ships first there, an hour after its commit.
    let mut config = (*state.config).clone();
    for e in &mut config.environments {
        if e.name == "staging" {
            e.production = true;
        }
    }
    portolan_core::deploys::sync_environments(&state.db, &config).await.unwrap();
    let (report, _) = portolan_core::deploys::dora_report(&state.db, &config, &request, &hidden).await.unwrap();
    assert_eq!((report.lead_time.changes, report.lead_time.median_seconds), (1, Some(3600)), "{report:?}");
    assert_eq!(report.deployment_frequency.deployments, 1, "one sha on one day counts once: {report:?}");

    // And back.
    portolan_core::deploys::sync_environments(&state.db, &state.config).await.unwrap();
    let (report, _) = portolan_core::deploys::dora_report(&state.db, &state.config, &request, &hidden).await.unwrap();
    assert_eq!(report.lead_time.median_seconds, Some(4 * 3600), "{report:?}");
}
