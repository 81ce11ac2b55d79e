//! Health: checks declared in annotations and added in the API, probed against a local HTTP target the test
//! switches between healthy, 503, slow and hanging; state changes, incidents opened and closed, uptime exactly as
//! scripted, maintenance windows, several replicas probing each slot once, and retention.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound, Utc};
use http::StatusCode;
use portolan_core::health::engine::{Engine, Metrics};
use portolan_core::health::{checks, sync};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp};

db_tests!(
    a_scripted_outage_gives_exact_uptime_state_changes_and_an_incident,
    slow_answers_are_degraded_and_hanging_ones_time_out,
    maintenance_pauses_incidents_and_is_left_out_of_uptime,
    checks_added_in_the_portal_are_edited_there_and_declared_ones_are_not,
    several_replicas_probe_each_slot_once,
    retention_trims_raw_results_and_keeps_the_long_figures,
    a_real_prometheus_and_alertmanager_drive_panels_alerts_and_incidents,
    state_changes_reach_live_pages,
    the_alertmanager_receiver_needs_a_token_with_health_rights,
    state_changes_and_budget_burn_are_notified_once,
    the_running_engine_finds_declared_checks_and_keeps_to_its_schedule,
    the_grid_filters_components_and_resources_by_owner_system_and_owner_of_the_viewer,
);

const HEALTHY: u8 = 0;
const FAILING: u8 = 1;
const SLOW: u8 = 2;
const HANGING: u8 = 3;

/// A local HTTP service whose behaviour the test switches.
struct Target {
    mode: Arc<AtomicU8>,
    url: String,
}

impl Target {
    async fn start() -> Target {
        let mode = Arc::new(AtomicU8::new(HEALTHY));
        let m = mode.clone();
        let app = axum::Router::new().route(
            "/health",
            axum::routing::get(move || {
                let m = m.clone();
                async move {
                    match m.load(Ordering::SeqCst) {
                        FAILING => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
                        SLOW => {
                            tokio::time::sleep(StdDuration::from_millis(400)).await;
                            (StatusCode::OK, "ok")
                        }
                        HANGING => {
                            tokio::time::sleep(StdDuration::from_secs(30)).await;
                            (StatusCode::OK, "ok")
                        }
                        _ => (StatusCode::OK, "ok"),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Target { mode, url: format!("http://{addr}/health") }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// A portal whose catalog holds `payments-api` with the given health annotations.
async fn with_service(b: Backend, annotations: Value) -> (TestApp, tempfile_dir::Dir) {
    let mut app = TestApp::new(b).await;
    let dir = tempfile_dir::Dir::new();
    let mut doc = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "payments-api", "annotations": annotations},
        "spec": {"type": "service", "lifecycle": "production", "owner": "group:default/payments"}
    });
    if doc["metadata"]["annotations"].as_object().is_some_and(|a| a.is_empty()) {
        doc["metadata"].as_object_mut().unwrap().remove("annotations");
    }
    std::fs::write(dir.path().join("catalog-info.yaml"), serde_json::to_string(&doc).unwrap()).unwrap();
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": dir.path()}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    (app, dir)
}

/// Minimal temporary directory (removed on drop).
mod tempfile_dir {
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p =
                std::env::temp_dir().join(format!("portolan-health-{}-{}", std::process::id(), rand::random::<u64>()));
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

fn engine(app: &TestApp) -> Engine {
    Engine::new(app.state.app.db.clone(), app.state.app.config.clone(), Arc::new(Metrics::default()))
}

/// Moves every check's next slot to the first check's first slot on its grid after `rough`, so the test drives
/// time; answers that slot.
async fn start_at(app: &TestApp, rough: DateTime<Utc>) -> DateTime<Utc> {
    let first = checks::Entity::find().one(&app.state.app.db).await.unwrap().expect("a check");
    let at = portolan_core::health::state::next_slot(first.id, Duration::milliseconds(first.interval_ms), rough);
    checks::Entity::update_many()
        .col_expr(checks::Column::NextDueAt, Expr::value(at))
        .exec(&app.state.app.db)
        .await
        .unwrap();
    at
}

/// A start two hours back, on a whole minute, so all slots are in the past and inside the 24 h window.
fn two_hours_ago() -> DateTime<Utc> {
    (Utc::now() - Duration::hours(2)).duration_trunc(Duration::minutes(1)).unwrap()
}

/// Runs one slot per step, setting the target's mode first; answers the time after the last step.
async fn play(
    app: &TestApp,
    e: &Engine,
    target: &Target,
    start: DateTime<Utc>,
    step: Duration,
    script: &[(u8, usize)],
) -> DateTime<Utc> {
    let mut t = start;
    for (mode, n) in script {
        target.set(*mode);
        for _ in 0..*n {
            let ran = e.run_due(t).await.unwrap();
            assert!(ran >= 1, "a slot was due at {t}");
            t += step;
        }
    }
    let _ = app;
    t
}

async fn a_scripted_outage_gives_exact_uptime_state_changes_and_an_incident(b: Backend) {
    let target = Target::start().await;
    let (mut app, _dir) = with_service(
        b,
        json!({"portolan.dev/health-url": target.url, "portolan.dev/health-interval": "30s", "portolan.dev/slo": "99"}),
    )
    .await;
    let report = sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    assert_eq!(report.added, 1, "{report:?}");
    assert!(report.problems.is_empty(), "{report:?}");
    let start = start_at(&app, two_hours_ago()).await;
    let e = engine(&app);
    // 30 healthy slots, 10 failing, 40 healthy.
    play(&app, &e, &target, start, Duration::seconds(30), &[(HEALTHY, 30), (FAILING, 10), (HEALTHY, 40)]).await;

    let h = app.get_with_token("/api/v1/health/component/default/payments-api", API_TOKEN).await;
    assert_eq!(h.status, StatusCode::OK, "{h:?}");
    let h = h.json();
    assert_eq!(h["entity_ref"], "component:default/payments-api");
    let prod = h["environments"].as_array().unwrap().iter().find(|e| e["environment"] == "production").unwrap().clone();
    assert_eq!(prod["state"], "unknown", "its last probe was over an hour ago: the portal has not probed since");
    assert_eq!(prod["uptime"]["24h"], 0.875, "70 of 80 slots up: {prod}");
    assert_eq!(prod["uptime"]["90d"], 0.875);
    assert_eq!(prod["slo"]["objective"], 0.99);
    assert_eq!(prod["slo"]["window_days"], 30);
    // 12.5% errors against 1% allowed: the budget is gone.
    assert_eq!(prod["slo"]["error_budget_remaining"], 0.0);
    assert_eq!(prod["slo"]["overspent"], true);
    assert!(prod["latency_ms"]["p50"].as_f64().unwrap() < 1000.0, "{prod}");
    let check = &prod["checks"][0];
    assert_eq!(check["source"], "annotation");
    assert_eq!(check["target"], target.url);
    assert_eq!(check["interval_seconds"], 30.0);

    // Every state change is kept.
    let hist = app
        .get_with_token("/api/v1/health/component/default/payments-api/history?environment=production", API_TOKEN)
        .await
        .json();
    let changes: Vec<(String, String)> = hist["state_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["from"].as_str().unwrap().to_owned(), c["to"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(changes, [("unknown".into(), "up".into()), ("up".into(), "down".into()), ("down".into(), "up".into())]);
    assert_eq!(hist["uptime"], 0.875);
    let down_at = DateTime::parse_from_rfc3339(hist["state_changes"][1]["at"].as_str().unwrap()).unwrap();
    let first_failing = (start + Duration::seconds(30 * 30)).duration_trunc(Duration::seconds(1)).unwrap();
    assert_eq!(down_at.with_timezone(&Utc), first_failing, "the first failing slot (times in whole seconds)");

    // The production outage opened an incident and the recovery closed it.
    let incidents = app.get_with_token("/api/v1/incidents?entity=payments-api", API_TOKEN).await.json();
    let incidents = incidents.as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["source"], "health");
    assert_eq!(incidents[0]["environment"], "production");
    let started = DateTime::parse_from_rfc3339(incidents[0]["started_at"].as_str().unwrap()).unwrap();
    let resolved = DateTime::parse_from_rfc3339(incidents[0]["resolved_at"].as_str().unwrap()).unwrap();
    assert_eq!((resolved - started).num_seconds(), 300, "10 slots of 30 s");
    assert!(incidents[0]["title"].as_str().unwrap().contains("status 503"), "{:?}", incidents[0]);

    // The grid and the badge say the same.
    let grid = app.get_with_token("/api/v1/health", API_TOKEN).await.json();
    let row = &grid["rows"][0];
    assert_eq!(row["entity_ref"], "component:default/payments-api");
    assert_eq!(row["owner"], "group:default/payments");
    assert_eq!(row["cells"][0]["environment"], "production");
    assert_eq!(row["cells"][0]["uptime"], 0.875);
    // Slots in the open hour count at once, next to the settled hours the grid keeps added up.
    let recent = start_at(&app, Utc::now() - Duration::minutes(2)).await;
    play(&app, &e, &target, recent, Duration::seconds(30), &[(HEALTHY, 4)]).await;
    let grid = app.get_with_token("/api/v1/health", API_TOKEN).await.json();
    let page = app.get_with_token("/api/v1/health/component/default/payments-api", API_TOKEN).await.json();
    let exact = page["environments"].as_array().unwrap().iter().find(|e| e["environment"] == "production").unwrap()
        ["uptime"]["24h"]
        .clone();
    assert_eq!(grid["rows"][0]["cells"][0]["uptime"], exact, "74 of 84 slots up");
    assert!((exact.as_f64().unwrap() - 74.0 / 84.0).abs() < 1e-4, "{exact}");
    assert_eq!(grid["rows"][0]["cells"][0]["state"], "up", "probed a minute ago");
    let badge = app.get_with_token("/api/v1/health/component/default/payments-api/badge.svg", API_TOKEN).await;
    assert_eq!(badge.status, StatusCode::OK);
    assert!(badge.headers["content-type"].to_str().unwrap().starts_with("image/svg+xml"));
    assert!(badge.body.contains("88.10%"), "{}", badge.body);
    let bad = app.get_with_token("/api/v1/health?window=1y", API_TOKEN).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app.get("/api/v1/health").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn slow_answers_are_degraded_and_hanging_ones_time_out(b: Backend) {
    let target = Target::start().await;
    let (mut app, _dir) = with_service(
        b,
        json!({"portolan.dev/health-url.staging": target.url, "portolan.dev/health-interval": "2s",
               "portolan.dev/health-expect": "200-299; body=ok; latency<200ms"}),
    )
    .await;
    sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    let start = start_at(&app, two_hours_ago()).await;
    let e = engine(&app);
    let t = play(&app, &e, &target, start, Duration::seconds(2), &[(HEALTHY, 1), (SLOW, 2)]).await;
    let c = checks::Entity::find().one(&app.state.app.db).await.unwrap().unwrap();
    assert_eq!(c.state, "degraded", "{c:?}");
    assert!(c.last_error.as_deref().unwrap().contains("above the 200 ms limit"), "{c:?}");
    target.set(HANGING);
    let began = std::time::Instant::now();
    e.run_due(t).await.unwrap();
    assert!(began.elapsed() < StdDuration::from_secs(5), "the timeout stays below the interval: {:?}", began.elapsed());
    let c = checks::Entity::find().one(&app.state.app.db).await.unwrap().unwrap();
    assert_eq!(c.state, "down", "{c:?}");
    assert!(c.last_error.as_deref().unwrap().contains("no answer within"), "{c:?}");
    // Staging is not production: no incident.
    let incidents = app.get_with_token("/api/v1/incidents", API_TOKEN).await.json();
    assert_eq!(incidents.as_array().unwrap().len(), 0);
    // Degraded counts as available; the down slot does not.
    let h = app.get_with_token("/api/v1/health/component/default/payments-api", API_TOKEN).await.json();
    assert_eq!(h["environments"][0]["environment"], "staging");
    assert_eq!(h["environments"][0]["uptime"]["24h"], 0.75);
}

async fn maintenance_pauses_incidents_and_is_left_out_of_uptime(b: Backend) {
    let target = Target::start().await;
    let (mut app, _dir) =
        with_service(b, json!({"portolan.dev/health-url": target.url, "portolan.dev/health-interval": "1m"})).await;
    sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    let start = start_at(&app, two_hours_ago()).await;
    // Maintenance from the 10th slot until well after now.
    let window = json!({
        "entity": "payments-api", "environment": "production", "reason": "database upgrade",
        "starts_at": (start + Duration::minutes(10)).to_rfc3339(), "ends_at": (Utc::now() + Duration::hours(1)).to_rfc3339()
    });
    let res = app.post_json_with_token("/api/v1/health/maintenance", &window, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let mut bad = window.clone();
    bad["ends_at"] = json!(start.to_rfc3339());
    let res = app.post_json_with_token("/api/v1/health/maintenance", &bad, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["error"]["field"], "ends_at");

    let e = engine(&app);
    play(&app, &e, &target, start, Duration::minutes(1), &[(HEALTHY, 10), (FAILING, 10)]).await;
    let incidents = app.get_with_token("/api/v1/incidents", API_TOKEN).await.json();
    assert_eq!(incidents.as_array().unwrap().len(), 0, "no incident during maintenance: {incidents}");
    let h = app.get_with_token("/api/v1/health/component/default/payments-api", API_TOKEN).await.json();
    let prod = &h["environments"][0];
    assert_eq!(prod["state"], "maintenance");
    assert_eq!(prod["uptime"]["24h"], 1.0, "maintenance slots count neither way: {prod}");
    assert_eq!(prod["maintenance"][0]["reason"], "database upgrade");
}

async fn checks_added_in_the_portal_are_edited_there_and_declared_ones_are_not(b: Backend) {
    let target = Target::start().await;
    let (mut app, _dir) = with_service(b, json!({"portolan.dev/health-url.staging": target.url})).await;
    sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    let body = json!({"entity": "payments-api", "environment": "production", "name": "db",
                      "target": "tcp://127.0.0.1:5432", "interval": "30s"});
    let res = app.post_json_with_token("/api/v1/health/checks", &body, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let id = res.json()["id"].as_i64().unwrap();
    assert_eq!(res.json()["source"], "portal");
    let again = app.post_json_with_token("/api/v1/health/checks", &body, API_TOKEN).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "same name twice");

    for (field, value) in [
        ("target", json!("gopher://x")),
        ("environment", json!("qa")),
        ("interval", json!("10ms")),
        ("name", json!("no spaces please")),
        ("entity", json!("component:default/nope")),
    ] {
        let mut b2 = body.clone();
        b2[field] = value;
        b2["name"] = if field == "name" { b2["name"].clone() } else { json!("other") };
        let res = app.post_json_with_token("/api/v1/health/checks", &b2, API_TOKEN).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {res:?}");
        assert_eq!(res.json()["error"]["field"], field, "{res:?}");
    }

    // The TCP check probes for real (PostgreSQL listens there).
    let e = engine(&app);
    e.run_due(Utc::now()).await.unwrap();
    let listed = app.get_with_token("/api/v1/health/checks?entity=payments-api", API_TOKEN).await.json();
    let db_check = listed.as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(db_check["state"], "up", "{db_check}");

    let mut changed = body.clone();
    changed["interval"] = json!("1m");
    let put = http::Request::put(format!("/api/v1/health/checks/{id}"))
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .header("content-type", "application/json")
        .header("cookie", "")
        .body(axum::body::Body::from(changed.to_string()))
        .unwrap();
    let res = app.send(put).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json()["interval_seconds"], 60.0);

    let declared = listed.as_array().unwrap().iter().find(|c| c["source"] == "annotation").unwrap()["id"].clone();
    let del = http::Request::delete(format!("/api/v1/health/checks/{declared}"))
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .header("cookie", "")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.send(del).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{res:?}");
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("edit it in the repository"));

    // Someone outside the owning team may read but not add.
    let mut reader = app.replica().await;
    reader.login_as("hubot").await;
    let res = reader
        .post_json(
            "/api/v1/health/checks",
            &json!({"entity": "payments-api", "environment": "production",
        "name": "mine", "target": target.url}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert_eq!(reader.get("/api/v1/health/checks").await.status, StatusCode::OK);

    let del = http::Request::delete(format!("/api/v1/health/checks/{id}"))
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .header("cookie", "")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(del).await.status, StatusCode::NO_CONTENT);
    assert_eq!(checks::Entity::find().count(&app.state.app.db).await.unwrap(), 1);

    // Removing the annotation removes the declared check.
    std::fs::write(
        _dir.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-api\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n",
    )
    .unwrap();
    portolan_core::catalog::discovery::refresh_everything(&app.state.app).await.unwrap();
    let r = sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    assert_eq!(r.removed, 1, "{r:?}");
    assert_eq!(checks::Entity::find().count(&app.state.app.db).await.unwrap(), 0);
}

async fn several_replicas_probe_each_slot_once(b: Backend) {
    let target = Target::start().await;
    let (app, _dir) = with_service(
        b,
        json!({"portolan.dev/health-url": target.url, "portolan.dev/health-url.staging": target.url,
               "portolan.dev/health-url.development": target.url, "portolan.dev/health-interval": "10s"}),
    )
    .await;
    sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    let other = app.replica().await;
    let start = start_at(&app, two_hours_ago()).await;
    let (e1, e2) = (engine(&app), engine(&other));
    let mut t = start;
    let mut ran = 0;
    for _ in 0..10 {
        let (a, b2) = tokio::join!(e1.run_due(t), e2.run_due(t));
        ran += a.unwrap() + b2.unwrap();
        t += Duration::seconds(10);
    }
    assert_eq!(ran, 30, "3 checks x 10 slots, whichever replica ran them");
    use portolan_core::health::results;
    let slots =
        results::Entity::find().filter(results::Column::Counted.is_not_null()).count(&app.state.app.db).await.unwrap();
    assert_eq!(slots, 30);
}

async fn retention_trims_raw_results_and_keeps_the_long_figures(b: Backend) {
    let target = Target::start().await;
    let (mut app, _dir) =
        with_service(b, json!({"portolan.dev/health-url": target.url, "portolan.dev/health-interval": "1h"})).await;
    sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    // Ten whole days of hourly slots and today's hours so far: seven days healthy, then failing. (Today's hours
    // keep failing slots inside the last 24 whole hours at any time of day.)
    let start = start_at(&app, (Utc::now() - Duration::days(10)).duration_trunc(Duration::days(1)).unwrap()).await;
    let today =
        usize::try_from((Utc::now() - Utc::now().duration_trunc(Duration::days(1)).unwrap()).num_hours()).unwrap();
    let e = engine(&app);
    play(&app, &e, &target, start, Duration::hours(1), &[(HEALTHY, 24 * 7), (FAILING, 24 * 3 + today)]).await;
    let before = app.get_with_token("/api/v1/health/component/default/payments-api", API_TOKEN).await.json();
    let trimmed =
        portolan_core::health::engine::trim(&app.state.app.db, &app.state.app.config, Utc::now()).await.unwrap();
    assert!(trimmed.results > 0, "raw results older than 7 days go");
    assert_eq!(trimmed.hourly, 0, "hourly buckets stay 400 days");
    let after = app.get_with_token("/api/v1/health/component/default/payments-api", API_TOKEN).await.json();
    assert_eq!(before["environments"][0]["uptime"]["90d"], after["environments"][0]["uptime"]["90d"]);
    let ninety = after["environments"][0]["uptime"]["90d"].as_f64().unwrap();
    let want = (24.0 * 7.0) / (24.0 * 10.0 + today as f64);
    assert!((ninety - want).abs() < 1e-4, "90-day uptime {ninety}, want {want}");
    assert_eq!(after["environments"][0]["uptime"]["24h"], 0.0);
    let hist = app
        .get_with_token(
            &format!("/api/v1/health/component/default/payments-api/history?from={}", urlencode(&start.to_rfc3339())),
            API_TOKEN,
        )
        .await
        .json();
    assert_eq!(hist["step"], "day");
    assert_eq!(hist["points"][0]["uptime"], 1.0);
    assert_eq!(hist["points"][9]["uptime"], 0.0);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// A child process killed when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(binary: &'static str, args: &[String], log: &std::path::Path) -> Running {
    let path = format!("/usr/bin/{binary}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is needed for this test (apt-get install prometheus prometheus-alertmanager; `./dev test` installs it)"
    );
    let out = std::fs::File::create(log).unwrap();
    let child = std::process::Command::new(path)
        .args(args)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
    Running(child)
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + StdDuration::from_secs(90);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(StdDuration::from_millis(500)).await;
    }
}

async fn a_real_prometheus_and_alertmanager_drive_panels_alerts_and_incidents(b: Backend) {
    // A local exporter whose `payments_up` the test switches.
    let up = Arc::new(AtomicU8::new(1));
    let u = up.clone();
    let exporter = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let u = u.clone();
            async move { format!("# TYPE payments_up gauge\npayments_up {}\n", u.load(Ordering::SeqCst)) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let exporter_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, exporter).await.ok() });

    let (prom_port, am_port) = (free_port(), free_port());
    let portal_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let portal_addr = portal_listener.local_addr().unwrap();
    let dir = tempfile_dir::Dir::new();
    let d = dir.path();
    std::fs::write(
        d.join("am.yml"),
        format!(
            "route:\n  receiver: portal\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: portal\n    webhook_configs:\n      - url: http://{portal_addr}/api/v1/health/alertmanager\n        send_resolved: true\n        http_config:\n          authorization:\n            type: Bearer\n            credentials: {API_TOKEN}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("rules.yml"),
        "groups:\n  - name: payments\n    rules:\n      - alert: PaymentsDown\n        expr: payments_up == 0\n        labels:\n          severity: critical\n          service: payments-api\n        annotations:\n          summary: Payments API is down\n          runbook_url: http://127.0.0.1:3000/docs/runbooks/payments-api-down\n",
    )
    .unwrap();
    std::fs::write(
        d.join("prom.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{rules}]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\nscrape_configs:\n  - job_name: payments\n    static_configs:\n      - targets: ['{exporter_addr}']\n",
            rules = d.join("rules.yml").display()
        ),
    )
    .unwrap();
    let _am = start(
        "prometheus-alertmanager",
        &[
            format!("--config.file={}", d.join("am.yml").display()),
            format!("--storage.path={}", d.join("am-data").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".to_owned(),
        ],
        &d.join("am.log"),
    );
    let _prom = start(
        "prometheus",
        &[
            format!("--config.file={}", d.join("prom.yml").display()),
            format!("--storage.tsdb.path={}", d.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
            "--storage.tsdb.retention.time=15d".to_owned(),
        ],
        &d.join("prom.log"),
    );

    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.health.prometheus_url = Some(format!("http://127.0.0.1:{prom_port}/").parse().unwrap());
        c.health.alertmanager_url = Some(format!("http://127.0.0.1:{am_port}/").parse().unwrap());
    })
    .await;
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(portal_listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.ok()
    });
    let cat = tempfile_dir::Dir::new();
    std::fs::write(
        cat.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-api\n  annotations:\n    prometheus.io/rule: payments_up|instance, sum(rate(nope[\n    portolan.dev/slo-error-query: sum(count_over_time(payments_up[{{window}}])) - sum(sum_over_time(payments_up[{{window}}]))\n    portolan.dev/slo-total-query: sum(count_over_time(payments_up[{{window}}]))\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n",
    )
    .unwrap();
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": cat.path()}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let page =
        json!({"space": "runbooks", "title": "Payments API down", "markdown": "# Steps\n1. Look", "kind": "runbook"});
    let res = app.post_json_with_token("/api/v1/pages", &page, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.json()["slug"], "payments-api-down");

    let path = "/api/v1/health/component/default/payments-api";
    // The panel draws once Prometheus has scraped; the broken query shows Prometheus's own words.
    let h = eventually("the panel's data", async || {
        let h = app.get_with_token(path, API_TOKEN).await.json();
        (h["panels"][0]["series"].as_array().is_some_and(|s| !s.is_empty())).then_some(h)
    })
    .await;
    assert_eq!(h["panels"][0]["query"], "payments_up");
    assert_eq!(h["panels"][0]["series"][0]["label"], exporter_addr.to_string(), "legend from the instance label");
    assert!(h["panels"][1]["error"].as_str().unwrap().contains("bad_data"), "{}", h["panels"][1]);
    let notices = h["notices"].to_string();
    assert!(notices.contains("Prometheus keeps 15 days"), "{notices}");
    let prod = &h["environments"][0];
    assert_eq!(prod["environment"], "production");
    assert_eq!(prod["slo"]["source"], "prometheus");
    assert_eq!(prod["slo"]["uptime"], 1.0, "{prod}");

    // The service goes down: Prometheus fires, the page shows the alert with its runbook, and Alertmanager's
    // webhook opens an incident.
    up.store(0, Ordering::SeqCst);
    let alert = eventually("a firing alert on the page", async || {
        let h = app.get_with_token(path, API_TOKEN).await.json();
        h["environments"][0]["alerts"].as_array().and_then(|a| a.iter().find(|a| a["state"] == "firing").cloned())
    })
    .await;
    assert_eq!(alert["name"], "PaymentsDown");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["runbook_url"], "http://127.0.0.1:3000/docs/runbooks/payments-api-down");
    assert_eq!(alert["runbook_title"], "Payments API down", "a runbook hosted here shows its title");
    let incident = eventually("an incident from Alertmanager", async || {
        let list = app.get_with_token("/api/v1/incidents?entity=payments-api", API_TOKEN).await.json();
        list.as_array().and_then(|l| l.iter().find(|i| i["source"] == "alertmanager").cloned())
    })
    .await;
    assert_eq!(incident["environment"], "production");
    assert!(incident["title"].as_str().unwrap().starts_with("PaymentsDown: Payments API is down"));
    // A runbook's live state: the same state and alert, without the uptime and panel figures. Alertmanager has
    // the alert by now (its webhook opened the incident), so both servers report it and it must show once.
    let entity = portolan_core::catalog::store::find(
        &app.state.app.db,
        &portolan_core::catalog::model::EntityRef::parse("payments-api", Some("component"), "default").unwrap(),
    )
    .await
    .unwrap()
    .expect("the entity");
    let live =
        portolan_core::health::query::live_states(&app.state.app.db, &app.state.app.config, &[entity], Utc::now())
            .await
            .unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].entity_ref, "component:default/payments-api");
    let prod_live = &live[0].environments[0];
    assert_eq!((prod_live.environment.as_str(), prod_live.production), ("production", true), "{live:?}");
    let firing: Vec<_> = prod_live.alerts.iter().filter(|a| a.name == "PaymentsDown").collect();
    assert_eq!(firing.len(), 1, "each alert once, though both servers report it: {live:?}");
    assert_eq!(firing[0].runbook_title.as_deref(), Some("Payments API down"));

    // It recovers: the resolved alert arrives by webhook, closes the incident and stays as history.
    up.store(1, Ordering::SeqCst);
    eventually("the incident resolved", async || {
        let list = app.get_with_token("/api/v1/incidents?entity=payments-api", API_TOKEN).await.json();
        list.as_array()
            .and_then(|l| l.iter().find(|i| i["source"] == "alertmanager" && !i["resolved_at"].is_null()).cloned())
    })
    .await;
    let kept =
        portolan_core::health::alerting::history(&app.state.app.db, "component:default/payments-api").await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].status, "resolved");
    assert!(kept[0].ends_at.is_some());
    let h = app.get_with_token(path, API_TOKEN).await.json();
    assert_eq!(h["alert_history"][0]["state"], "resolved", "{h}");
    assert_eq!(h["alert_history"][0]["runbook_title"], "Payments API down");
    let _ = prod;
}

async fn state_changes_reach_live_pages(b: Backend) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let target = Target::start().await;
    let (app, _dir) = with_service(b, json!({"portolan.dev/health-url": target.url})).await;
    sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    let req = http::Request::get("/api/v1/health/events")
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut body = res.into_body();
    // Let the poller note where the table ends, then change a state.
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    engine(&app).run_due(Utc::now()).await.unwrap();
    let mut seen = String::new();
    let got = tokio::time::timeout(StdDuration::from_secs(10), async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
                if seen.contains("event: state") && seen.contains("\n\n") {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert!(got.unwrap_or(false) || seen.contains("event: state"), "no event within 10 s: {seen:?}");
    let data = seen.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let v: Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["entity_ref"], "component:default/payments-api");
    assert_eq!(v["environment"], "production");
    assert_eq!((v["from"].as_str(), v["to"].as_str()), (Some("unknown"), Some("up")));
}

async fn the_alertmanager_receiver_needs_a_token_with_health_rights(b: Backend) {
    let (mut app, _dir) = with_service(b, json!({})).await;
    let payload = json!({"version": "4", "status": "firing", "alerts": [{"status": "firing",
        "labels": {"alertname": "PaymentsDown", "service": "payments-api", "env": "prod"},
        "annotations": {"summary": "down"}, "startsAt": "2026-12-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "f00d"}]});
    let anonymous = app.post_json("/api/v1/health/alertmanager", &payload).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let mut reader = app.replica().await;
    reader.login_as("hubot").await;
    assert_eq!(reader.post_json("/api/v1/health/alertmanager", &payload).await.status, StatusCode::FORBIDDEN);
    let bad = app.post_json_with_token("/api/v1/health/alertmanager", &json!({"hello": 1}), API_TOKEN).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let ok = app.post_json_with_token("/api/v1/health/alertmanager", &payload, API_TOKEN).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_eq!(ok.json()["incidents_opened"], 1);
    // The same delivery again (Alertmanager repeats) opens nothing more.
    let again = app.post_json_with_token("/api/v1/health/alertmanager", &payload, API_TOKEN).await;
    assert_eq!(again.json()["incidents_opened"], 0);
    // With no Alertmanager to ask, the service's page shows what the receiver was told is firing.
    let path = "/api/v1/health/component/default/payments-api";
    let h = app.get_with_token(path, API_TOKEN).await.json();
    let firing = &h["environments"][0];
    assert_eq!(firing["environment"], "production", "{h}");
    assert_eq!(firing["alerts"][0]["name"], "PaymentsDown");
    assert_eq!(firing["alerts"][0]["state"], "firing");
    assert_eq!(firing["alerts"][0]["source"], "webhook");
    let mut resolved = payload.clone();
    resolved["alerts"][0]["status"] = json!("resolved");
    resolved["alerts"][0]["endsAt"] = json!("2026-12-01T10:20:00Z");
    let res = app.post_json_with_token("/api/v1/health/alertmanager", &resolved, API_TOKEN).await.json();
    assert_eq!(res["incidents_resolved"], 1);
    let list = app.get_with_token("/api/v1/incidents?entity=payments-api", API_TOKEN).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["environment"], "production", "`env: prod` reads as production");
    assert_eq!(list[0]["resolved_at"], "2026-12-01T10:20:00Z");
    // Resolved, it leaves the live list and stays in the history.
    let h = app.get_with_token(path, API_TOKEN).await.json();
    assert!(h["environments"].as_array().unwrap().iter().all(|e| e["alerts"].as_array().unwrap().is_empty()), "{h}");
    assert_eq!(h["alert_history"][0]["name"], "PaymentsDown");
    assert_eq!(h["alert_history"][0]["state"], "resolved");
    assert_eq!(h["alert_history"][0]["since"], "2026-12-01T10:00:00Z");
    assert_eq!(h["alert_history"][0]["ended_at"], "2026-12-01T10:20:00Z");
}

async fn state_changes_and_budget_burn_are_notified_once(b: Backend) {
    // A Slack-like receiver recording what it was sent, per path.
    let (hooks_addr, got) = crate::support::webhook_receiver().await;

    let target = Target::start().await;
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.health.webhook_url = Some(portolan_core::Secret::new(format!("http://{hooks_addr}/global?token=s3cret")));
        c.health.team_webhooks = vec![(
            "group:default/payments".to_owned(),
            portolan_core::Secret::new(format!("http://{hooks_addr}/payments")),
        )];
    })
    .await;
    let dir = tempfile_dir::Dir::new();
    std::fs::write(
        dir.path().join("catalog-info.yaml"),
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-api\n  annotations:\n    portolan.dev/health-url: {}\n    portolan.dev/health-interval: 30s\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n", target.url),
    )
    .unwrap();
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": dir.path()}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    // Ten healthy minutes, then failing until now.
    let start = start_at(&app, Utc::now() - Duration::minutes(20)).await;
    let e = engine(&app);
    play(&app, &e, &target, start, Duration::seconds(30), &[(HEALTHY, 20), (FAILING, 19)]).await;

    let http = reqwest::Client::new();
    e.notify(&http).await;
    let sent = got.lock().unwrap().clone();
    let texts = |path: &str| -> Vec<String> {
        sent.iter().filter(|(p, _)| p == path).map(|(_, v)| v["text"].as_str().unwrap().to_owned()).collect()
    };
    let global = texts("global");
    assert_eq!(
        global.len(),
        2,
        "the outage and the budget burn (the first probe's unknown→up stays quiet): {global:?}"
    );
    assert!(global[0].contains("payments-api|payments-api> is down in production"), "{global:?}");
    assert!(global[0].contains("status 503"), "{global:?}");
    assert!(global[1].starts_with(":fire:") && global[1].contains("page"), "{global:?}");
    assert_eq!(texts("payments"), global, "the owning team's webhook gets the same");

    // Asked again (another replica, say): nothing is sent twice.
    engine(&app).notify(&http).await;
    assert_eq!(got.lock().unwrap().len(), 4);
}

async fn the_running_engine_finds_declared_checks_and_keeps_to_its_schedule(b: Backend) {
    let target = Target::start().await;
    let (app, _dir) =
        with_service(b, json!({"portolan.dev/health-url": target.url, "portolan.dev/health-interval": "1s"})).await;
    let metrics = Arc::new(Metrics::default());
    let engine = Engine::new(app.state.app.db.clone(), app.state.app.config.clone(), metrics.clone());
    let task = tokio::spawn(Arc::new(engine).run());
    tokio::time::sleep(StdDuration::from_millis(5500)).await;
    task.abort();
    use portolan_core::health::results;
    let slots =
        results::Entity::find().filter(results::Column::Counted.is_not_null()).count(&app.state.app.db).await.unwrap();
    assert!((4..=7).contains(&slots), "a slot a second once the check is found: {slots}");
    let c = checks::Entity::find().one(&app.state.app.db).await.unwrap().unwrap();
    assert_eq!(c.state, "up");
    let max_drift = metrics.max_drift_micros.load(Ordering::Relaxed);
    assert!(max_drift < 1_000_000, "slots start on time (max drift {max_drift} us)");
    assert_eq!(metrics.late_slots.load(Ordering::Relaxed), 0);
    let mut text = String::new();
    metrics.render(&mut text);
    assert!(text.contains("portolan_health_probes_total{outcome=\"up\"}"), "{text}");
}

async fn the_grid_filters_components_and_resources_by_owner_system_and_owner_of_the_viewer(b: Backend) {
    let mut app = TestApp::new(b).await;
    let dir = tempfile_dir::Dir::new();
    let docs = [
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": "payments"},
            "spec": {"type": "team", "children": []}}),
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User", "metadata": {"name": "alice"},
            "spec": {"memberOf": ["payments"]}}),
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User", "metadata": {"name": "bob"},
            "spec": {"memberOf": []}}),
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "System", "metadata": {"name": "pay"},
            "spec": {"owner": "payments"}}),
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "payments-api", "annotations": {"portolan.dev/health-url": "http://127.0.0.1:9/"}},
            "spec": {"type": "service", "lifecycle": "production", "owner": "payments", "system": "pay"}}),
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Resource",
            "metadata": {"name": "payments-db", "annotations": {"portolan.dev/health-url": "tcp://127.0.0.1:9"}},
            "spec": {"type": "database", "owner": "payments", "system": "pay"}}),
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "storefront", "annotations": {"portolan.dev/health-url": "http://127.0.0.1:9/"}},
            "spec": {"type": "website", "lifecycle": "production", "owner": "user:bob"}}),
    ];
    let yaml: Vec<String> = docs.iter().map(|d| serde_json::to_string(d).unwrap()).collect();
    std::fs::write(dir.path().join("catalog-info.yaml"), yaml.join("\n---\n")).unwrap();
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": dir.path()}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    sync::sync_declared(&app.state.app.db, &app.state.app.config).await.unwrap();
    let rows = |grid: &Value| -> Vec<String> {
        grid["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{grid}"))
            .iter()
            .map(|r| r["entity_ref"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app.get_with_token("/api/v1/health", API_TOKEN).await.json();
    assert_eq!(rows(&all).len(), 3, "{all}");
    // A team's Resources are its services too: the database stays in when filtering by owner or system.
    let ours = ["component:default/payments-api".to_owned(), "resource:default/payments-db".to_owned()];
    let by_owner = app.get_with_token("/api/v1/health?owner=payments", API_TOKEN).await.json();
    assert_eq!(rows(&by_owner), ours, "{by_owner}");
    let by_system = app.get_with_token("/api/v1/health?system=pay&window=7d", API_TOKEN).await.json();
    assert_eq!(rows(&by_system), ours, "{by_system}");
    let none = app.get_with_token("/api/v1/health?owner=user:bob&system=pay", API_TOKEN).await.json();
    assert!(rows(&none).is_empty(), "{none}");
    let bad = app.get_with_token("/api/v1/health?owner=nobody", API_TOKEN).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    assert!(bad.body.contains("owner"), "{}", bad.body);
    // "Mine": what a person's user and teams own.
    let db = &app.state.app.db;
    let scope = portolan_core::health::query::grid_scope;
    let alice = scope(db, None, None, Some("alice")).await.unwrap().unwrap();
    assert_eq!(alice, ours.iter().cloned().collect(), "alice is in payments");
    let bob = scope(db, None, None, Some("bob")).await.unwrap().unwrap();
    assert_eq!(bob, ["component:default/storefront".to_owned()].into_iter().collect(), "bob owns the storefront");
    let both = scope(db, Some("payments"), None, Some("bob")).await.unwrap().unwrap();
    assert!(both.is_empty(), "filters narrow each other: {both:?}");

    // Grids asked for at once share readings of the changing rows; each grid asked for after a change sees it.
    use portolan_core::health::query::{GridFilter, grid};
    let state = app.state.app.clone();
    let (db, config, cache) = (&state.db, &state.config, &state.grid_cache);
    let filter = GridFilter::default();
    let one = || grid(db, config, cache, "24h", Duration::hours(24), &filter, Utc::now());
    let before = cache.reads();
    // Every pooled connection is taken until all four have arrived, so the first reading is still under way when
    // the other three arrive (with a free pool, a SQLite reading can finish within its first poll, before the
    // others are even asked for, and then each of them rightly reads again).
    let max = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => db.get_sqlite_connection_pool().options().get_max_connections(),
        _ => db.get_postgres_connection_pool().options().get_max_connections(),
    };
    let mut held = Vec::new();
    for _ in 0..max {
        held.push(sea_orm::TransactionTrait::begin(db).await.unwrap());
    }
    let release = async move {
        tokio::task::yield_now().await;
        drop(held);
    };
    let (a, b, c, d, ()) = tokio::join!(one(), one(), one(), one(), release);
    for g in [a, b, c, d] {
        assert_eq!(g.unwrap().rows.len(), 3);
    }
    assert_eq!(cache.reads() - before, 2, "the first reads alone, the three that arrived meanwhile share one");
    let storefront_state = |g: &portolan_types::health::HealthGrid| {
        let row = g.rows.iter().find(|r| r.entity_ref == "component:default/storefront").unwrap();
        row.cells.iter().map(|c| c.state.clone()).collect::<Vec<_>>()
    };
    assert_eq!(storefront_state(&one().await.unwrap()), ["unknown"], "never probed");
    checks::Entity::update_many()
        .col_expr(checks::Column::State, Expr::value("down"))
        .col_expr(checks::Column::LastCheckedAt, Expr::value(Utc::now()))
        .filter(checks::Column::ComponentRef.eq("component:default/storefront"))
        .exec(db)
        .await
        .unwrap();
    let before = cache.reads();
    assert_eq!(storefront_state(&one().await.unwrap()), ["down"], "read after the change");
    let api = app.get_with_token("/api/v1/health", API_TOKEN).await.json();
    assert!(api["totals"].as_array().unwrap().iter().any(|t| t[0] == "down" && t[1] == 1), "{api}");
    assert_eq!(cache.reads() - before, 2, "one after the other, each grid reads");
}
