//! `portolan bench deploys` and `portolan bench webhooks`: the deploy benchmarks behind the README's figures.
//!
//! `deploys` imports a synthetic catalog (teams owning components), writes a million deployments spread over two
//! years (with their changes and incidents) straight into a fresh database, starts `portolan serve` and times
//! the 90-day DORA report of a team and a team's deployments page over loopback.
//!
//! `webhooks` starts `portolan serve` on a fresh SQLite database and sends it signed GitHub `deployment`
//! deliveries from concurrent connections, timing each acknowledgement. Halfway it kills the server with
//! SIGKILL, starts it again and keeps sending; at the end it waits for the queue to drain and checks that every
//! acknowledged delivery was processed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait};

use crate::bench::{
    BenchError, BenchOptions, PathFor, ServerChild, create_pg_database, free_port, progress, rss_mib, scenario,
    write_catalog,
};

/// What `bench deploys` runs.
#[derive(Debug, Clone)]
pub struct DeploysBenchOptions {
    /// Deployments to write.
    pub deployments: usize,
    /// Components (spread over the teams).
    pub components: usize,
    /// Teams.
    pub teams: usize,
    /// A PostgreSQL server to create a fresh database on; a fresh SQLite file when `None`.
    pub postgres: Option<String>,
    /// Concurrent connections.
    pub connections: usize,
    /// How long each scenario runs.
    pub duration: Duration,
}

pub(crate) struct Work {
    pub(crate) dir: PathBuf,
    pub(crate) database_url: String,
    pg: Option<(String, String, String)>,
}

impl Work {
    pub(crate) async fn new(postgres: Option<&str>, tag: &str) -> Result<Work, BenchError> {
        let dir = std::env::temp_dir().join(format!("portolan-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let pg = match postgres {
            Some(admin) => Some(create_pg_database(admin).await?),
            None => None,
        };
        let database_url = pg
            .as_ref()
            .map(|(_, url, _)| url.clone())
            .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
        Ok(Work { dir, database_url, pg })
    }

    pub(crate) fn backend(&self) -> &'static str {
        if self.database_url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" }
    }

    pub(crate) fn command(&self, exe: &Path) -> Command {
        let mut cmd = Command::new(exe);
        cmd.env("PORTOLAN_DATABASE_URL", &self.database_url)
            .env("PORTOLAN_DATA_DIR", &self.dir)
            .env("PORTOLAN_LOG", "warn")
            .env_remove("PORTOLAN_DEMO");
        cmd
    }

    pub(crate) async fn finish(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, _, name)) = self.pg
            && let Ok(db) = sea_orm::Database::connect(&admin).await
        {
            let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

pub(crate) fn step(e: impl std::fmt::Display) -> BenchError {
    BenchError::Step(e.to_string())
}

/// Migrates and imports a synthetic catalog through child processes.
pub(crate) fn prepare_catalog(work: &Work, exe: &Path, components: usize, teams: usize) -> Result<(), BenchError> {
    let catalog_dir = work.dir.join("catalog");
    let o = BenchOptions {
        components,
        groups: teams,
        systems: (teams / 2).max(1),
        postgres: None,
        connections: 1,
        duration: Duration::ZERO,
    };
    write_catalog(&catalog_dir, &o)?;
    let mut migrate = work.command(exe);
    migrate.arg("migrate").stdout(Stdio::null());
    if !migrate.status()?.success() {
        return Err(step("portolan migrate failed"));
    }
    let mut import = work.command(exe);
    import.args(["catalog", "import"]).arg(&catalog_dir).stdout(Stdio::null());
    if !import.status()?.success() {
        return Err(step("portolan catalog import failed"));
    }
    Ok(())
}

pub(crate) struct Server {
    pub(crate) child: ServerChild,
    pub(crate) base: String,
}

pub(crate) async fn start_server(
    work: &Work,
    exe: &Path,
    port: u16,
    token: &str,
    extra: &[(&str, &str)],
) -> Result<Server, BenchError> {
    let mut serve = work.command(exe);
    for (k, v) in extra {
        serve.env(k, v);
    }
    let (child, base) = crate::bench::start_serving(serve, &work.dir, port, token, Duration::from_secs(60)).await?;
    Ok(Server { child, base })
}

/// Writes `n` deployments of `components` components over the last two years, 70% to production, with one to
/// three changes each and an incident after one production deployment in fifty.
async fn write_deployments(db: &DatabaseConnection, n: usize, components: usize) -> Result<(), BenchError> {
    use portolan_core::deploys::{deployment_changes, deployments, incidents};
    let now = Utc::now();
    let span = chrono::Duration::days(730).num_seconds();
    let bar = crate::progress::bar("writing deployments".to_owned(), "deployments");
    const CHUNK: usize = 400;
    let mut written = 0;
    while written < n {
        let end = (written + CHUNK).min(n);
        let mut deps = Vec::with_capacity(CHUNK);
        let mut changes = Vec::with_capacity(CHUNK * 2);
        let mut incs = Vec::new();
        for i in written..end {
            let id = i as i64 + 1;
            // Deterministic spread: time grows with i; component, environment and outcome vary with it.
            let at = now - chrono::Duration::seconds(span - (i as i64 * span) / n as i64);
            let component = format!("component:default/service-{}", (i * 7919) % components);
            let production = i % 10 < 7;
            let status = match i % 40 {
                0 => "failure",
                1 => "error",
                _ => "success",
            };
            let change_count = if status == "success" { 1 + (i % 3) } else { 0 };
            deps.push(deployments::ActiveModel {
                id: Set(id),
                component_ref: Set(component.clone()),
                environment: Set(if production { "production" } else { "staging" }.to_owned()),
                version: Set(Some(format!("v{}.{}", i / 1000, i % 1000))),
                commit_sha: Set(Some(format!("{:040x}", i as u128 * 2_654_435_761))),
                status: Set(status.to_owned()),
                started_at: Set(Some(at - chrono::Duration::minutes(5))),
                finished_at: Set(Some(at)),
                at: Set(at),
                url: Set(None),
                actor: Set(Some("bench".to_owned())),
                source: Set("api".to_owned()),
                external_id: Set(format!("bench-{i}")),
                rollback_of: Set(None),
                fixes: Set(None),
                first_deployment: Set(false),
                changes_truncated: Set(false),
                commits_cut_short: Set(false),
                change_count: Set(change_count as i32),
                created_at: Set(at),
                updated_at: Set(at),
            });
            for c in 0..change_count {
                let committed = at - chrono::Duration::minutes(30 + 97 * (c as i64 + 1) + (i as i64 % 300));
                changes.push(deployment_changes::ActiveModel {
                    deployment_id: Set(id),
                    component_ref: Set(component.clone()),
                    sha: Set(format!("{:040x}", (i as u128) << 4 | c as u128)),
                    committed_at: Set(Some(committed)),
                    pr_number: Set(Some((i % 100_000) as i32)),
                    pr_first_commit_at: Set(Some(committed - chrono::Duration::hours(3))),
                    // Every change sha is this deployment's own: a production success ships it first.
                    first_in_production: Set(production),
                    deployed_at: Set(Some(at)),
                    ..Default::default()
                });
            }
            if production && i % 50 == 7 {
                incs.push(incidents::ActiveModel {
                    component_ref: Set(component),
                    environment: Set("production".to_owned()),
                    title: Set("Error rate".to_owned()),
                    severity: Set("high".to_owned()),
                    started_at: Set(at + chrono::Duration::minutes(20)),
                    resolved_at: Set(Some(at + chrono::Duration::minutes(95))),
                    external_id: Set(format!("bench-incident-{i}")),
                    deployment: Set(None),
                    source: Set("api".to_owned()),
                    created_at: Set(at),
                    updated_at: Set(at),
                    ..Default::default()
                });
            }
        }
        deployments::Entity::insert_many(deps).exec_without_returning(db).await.map_err(step)?;
        deployment_changes::Entity::insert_many(changes).exec_without_returning(db).await.map_err(step)?;
        if !incs.is_empty() {
            incidents::Entity::insert_many(incs).exec_without_returning(db).await.map_err(step)?;
        }
        written = end;
        if let Some(b) = &bar {
            b(written, n);
        }
        if bar.is_none() && written % 100_000 == 0 {
            progress(&format!("{written} deployments written"));
        }
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('deployments', 'id'), (SELECT max(id) FROM deployments))",
        )
        .await
        .map_err(step)?;
        db.execute_unprepared("ANALYZE").await.map_err(step)?;
    } else {
        db.execute_unprepared("ANALYZE").await.map_err(step)?;
    }
    Ok(())
}

/// Runs `bench deploys` and prints the figures; returns them as Markdown table rows.
pub async fn deploys(o: DeploysBenchOptions) -> Result<String, BenchError> {
    let exe = std::env::current_exe()?;
    let work = Work::new(o.postgres.as_deref(), "deploys").await?;
    let backend = work.backend();
    progress(&format!("importing {} components owned by {} teams", o.components, o.teams));
    prepare_catalog(&work, &exe, o.components, o.teams)?;
    let db = portolan_core::db::open(&work.database_url).await.map_err(step)?;
    let started = Instant::now();
    write_deployments(&db, o.deployments, o.components).await?;
    let write_seconds = started.elapsed().as_secs_f64();
    progress(&format!("{} deployments written in {write_seconds:.1} s", o.deployments));
    db.close().await.map_err(step)?;

    let port = free_port()?;
    let token = crate::bench::bench_token();
    let server = start_server(&work, &exe, port, &token, &[]).await?;
    let pid = server.child.0.id();
    let client = reqwest::Client::builder().pool_max_idle_per_host(o.connections).build().map_err(step)?;
    // The catalog is a tree: group-0 the organisation, departments above teams (see `write_catalog`).
    let teams: Arc<Vec<usize>> =
        Arc::new((0..o.teams.max(1)).filter(|g| *g > 0 && !crate::bench::has_sub_groups(*g, o.teams)).collect());
    let departments: Arc<Vec<usize>> =
        Arc::new((1..o.teams).filter(|g| crate::bench::has_sub_groups(*g, o.teams)).collect());
    let mut scenarios: Vec<(String, PathFor)> = Vec::new();
    if !teams.is_empty() {
        let per_team = o.components / o.teams.max(1);
        let t = teams.clone();
        scenarios.push((
            format!("90-day DORA report of a team ({per_team} components; `/api/v1/dora?scope=group:…`)"),
            Arc::new(move |i| format!("/api/v1/dora?scope=group:default/group-{}", t[(i * 13) % t.len()])),
        ));
    }
    if !departments.is_empty() {
        let d = departments.clone();
        scenarios.push((
            "90-day DORA report of a department (about ten teams)".to_owned(),
            Arc::new(move |i| format!("/api/v1/dora?scope=group:default/group-{}", d[i % d.len()])),
        ));
    }
    scenarios.push((
        "90-day DORA report of the whole organisation (`scope=all`)".to_owned(),
        Arc::new(|_| "/api/v1/dora?scope=all".to_owned()),
    ));
    let t = teams.clone();
    scenarios.push((
        "a team's deployments, page of 50 (`/api/v1/deployments?team=…`)".to_owned(),
        Arc::new(move |i| {
            format!("/api/v1/deployments?team=group-{}&limit=50", t.get((i * 7) % t.len().max(1)).unwrap_or(&0))
        }),
    ));
    let bench_options = BenchOptions {
        components: o.components,
        groups: o.teams,
        systems: 1,
        postgres: None,
        connections: o.connections,
        duration: o.duration,
    };
    let mut report = String::new();
    let _ = writeln!(report, "| {backend}: write {} deployments | {write_seconds:.1} s |", o.deployments);
    for (name, path_for) in scenarios {
        let f = scenario(&client, &server.base, &token, &bench_options, &name, path_for).await;
        let _ = writeln!(
            report,
            "| {backend}: {name} | p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, {:.1} req/s{} |",
            f.p50_ms,
            f.p95_ms,
            f.p99_ms,
            f.per_second,
            if f.errors > 0 { format!(", {} errors", f.errors) } else { String::new() }
        );
    }
    if let Some((now, peak)) = rss_mib(pid) {
        let _ = writeln!(report, "| {backend}: server memory (RSS) | {now:.1} MiB after load, peak {peak:.1} MiB |");
    }
    drop(server);
    work.finish().await;
    println!("{report}");
    Ok(report)
}

/// What `bench webhooks` runs.
#[derive(Debug, Clone)]
pub struct WebhooksBenchOptions {
    /// Concurrent connections.
    pub connections: usize,
    /// Seconds of sending before the kill, and again after the restart.
    pub seconds: u64,
}

const SECRET: &str = "bench-webhook-secret-0123456789";

fn delivery_body(n: usize, components: usize) -> String {
    serde_json::json!({
        "action": "created",
        "deployment": {"id": n as i64 + 1, "sha": format!("{:040x}", n as u128 * 2_654_435_761), "ref": "main",
            "environment": if n.is_multiple_of(3) { "staging" } else { "production" },
            "created_at": now_text(), "creator": {"login": "bench"}, "payload": {}},
        "repository": {"full_name": format!("bench/service-{}", n % components), "name": format!("service-{}", n % components)}
    })
    .to_string()
}

fn now_text() -> String {
    portolan_core::deploys::rfc3339(Utc::now())
}

/// One phase of sending: acknowledged delivery ids and acknowledgement latencies.
async fn send_deliveries(
    client: &reqwest::Client,
    base: &str,
    connections: usize,
    duration: Duration,
    counter: Arc<AtomicUsize>,
    components: usize,
) -> (Vec<String>, Vec<f64>, usize) {
    let deadline = Instant::now() + duration;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let base = base.to_owned();
        let counter = counter.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = delivery_body(n, components);
                let signature = portolan_core::github::sign(SECRET, body.as_bytes());
                let id = format!("bench-delivery-{n}");
                let started = Instant::now();
                let res = client
                    .post(format!("{base}/api/v1/webhooks/github"))
                    .header("content-type", "application/json")
                    .header("x-github-event", "deployment")
                    .header("x-github-delivery", &id)
                    .header("x-hub-signature-256", signature)
                    .body(body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().as_u16() == 202 => {
                        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                        acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(id);
                    }
                    _ => {
                        failed += 1;
                        // The server is gone (killed): do not spin.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (latencies, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        if let Ok((l, f)) = t.await {
            all.extend(l);
            failed += f;
        }
    }
    let ids = std::mem::take(&mut *acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    (ids, all, failed)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
}

/// Runs `bench webhooks` and prints the figures; returns them as Markdown table rows.
pub async fn webhooks(o: WebhooksBenchOptions) -> Result<String, BenchError> {
    let exe = std::env::current_exe()?;
    let work = Work::new(None, "webhooks").await?;
    let components = 100;
    progress(&format!("importing {components} components"));
    prepare_catalog(&work, &exe, components, 10)?;
    let port = free_port()?;
    let token = crate::bench::bench_token();
    let env = [("PORTOLAN_GITHUB_WEBHOOK_SECRET", SECRET), ("PORTOLAN_RATE_LIMIT_WEBHOOKS", "0")];
    let server = start_server(&work, &exe, port, &token, &env).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(o.connections).build().map_err(step)?;
    let counter = Arc::new(AtomicUsize::new(0));
    let phase = Duration::from_secs(o.seconds);

    progress(&format!("sending signed deliveries from {} connections for {} s", o.connections, o.seconds));
    let (mut acked, mut latencies, _) =
        send_deliveries(&client, &server.base, o.connections, phase, counter.clone(), components).await;
    let first_phase = acked.len();
    latencies.sort_by(f64::total_cmp);
    let per_second = first_phase as f64 / phase.as_secs_f64();
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    progress(&format!("  {first_phase} acknowledged, {per_second:.0}/s, p50 {p50:.1} ms, p99 {p99:.1} ms"));

    // Kill -9 while deliveries are still arriving and being processed, then start again.
    progress("killing the server with SIGKILL mid-run");
    let sender = {
        let client = client.clone();
        let base = server.base.clone();
        let counter = counter.clone();
        tokio::spawn(async move {
            send_deliveries(&client, &base, 4, Duration::from_millis(1500), counter, components).await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(server);
    let (during, _, _) = sender.await.map_err(step)?;
    acked.extend(during);
    let server = start_server(&work, &exe, port, &token, &env).await?;
    progress("restarted; sending again");
    let (after, _, _) = send_deliveries(&client, &server.base, o.connections, phase, counter, components).await;
    acked.extend(after);

    progress(&format!("waiting for {} acknowledged deliveries to be processed", acked.len()));
    let db = portolan_core::db::connect(&work.database_url).await.map_err(step)?;
    let started = Instant::now();
    let bar = crate::progress::bar("processing deliveries".to_owned(), "deliveries");
    let drain = loop {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT delivery_id, status FROM webhook_deliveries".to_owned(),
            ))
            .await
            .map_err(step)?;
        let mut statuses = std::collections::HashMap::new();
        for r in rows {
            let id: String = r.try_get("", "delivery_id").map_err(step)?;
            let status: String = r.try_get("", "status").map_err(step)?;
            statuses.insert(id, status);
        }
        let drain = Drain::of(&acked, &statuses);
        if let Some(b) = &bar {
            b(drain.processed, acked.len());
        }
        if drain.waiting == 0 || started.elapsed() > Duration::from_secs(DRAIN_LIMIT_SECONDS) {
            break drain;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let drain_seconds = started.elapsed().as_secs_f64();
    let Drain { processed, waiting, failed, lost } = drain;
    if failed > 0 {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT DISTINCT last_error FROM webhook_deliveries WHERE status = 'failed' LIMIT 3".to_owned(),
            ))
            .await
            .map_err(step)?;
        for r in rows {
            let why: Option<String> = r.try_get("", "last_error").map_err(step)?;
            progress(&format!("  a failed delivery: {}", why.unwrap_or_default()));
        }
    }
    progress(&format!(
        "{processed} processed in {drain_seconds:.0} s ({:.0}/s), {waiting} still queued, {failed} failed, {lost} acknowledged but lost",
        processed as f64 / drain_seconds.max(0.001)
    ));
    drop(server);
    work.finish().await;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "| SQLite: signed webhook deliveries acknowledged ({} connections) | {per_second:.0}/s, p50 {p50:.1} ms, p99 {p99:.1} ms |",
        o.connections
    );
    let _ = writeln!(
        report,
        "| SQLite: after `kill -9` mid-run and a restart | {} acknowledged: {processed} processed in {drain_seconds:.0} s, {waiting} still queued, {failed} failed, {lost} lost |",
        acked.len(),
    );
    println!("{report}");
    if lost > 0 || failed > 0 || waiting > 0 {
        return Err(step(format!(
            "{lost} acknowledged deliveries are missing, {failed} failed and {waiting} were not processed within {DRAIN_LIMIT_SECONDS} s"
        )));
    }
    Ok(report)
}

/// How long `bench webhooks` waits for the queue to drain.
const DRAIN_LIMIT_SECONDS: u64 = 900;

/// Where the acknowledged deliveries stand.
#[derive(Debug, PartialEq, Eq)]
struct Drain {
    /// Done or ignored.
    processed: usize,
    /// Stored, still queued or being processed.
    waiting: usize,
    /// Stored and given up on.
    failed: usize,
    /// Acknowledged but not stored at all: the durability promise broken.
    lost: usize,
}

impl Drain {
    fn of(acked: &[String], statuses: &std::collections::HashMap<String, String>) -> Drain {
        let mut d = Drain { processed: 0, waiting: 0, failed: 0, lost: 0 };
        for id in acked {
            match statuses.get(id).map(String::as_str) {
                Some("done" | "ignored") => d.processed += 1,
                Some("failed") => d.failed += 1,
                Some(_) => d.waiting += 1,
                None => d.lost += 1,
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_tells_queued_from_lost() {
        let acked: Vec<String> = ["a", "b", "c", "d", "e"].map(str::to_owned).to_vec();
        let statuses = [("a", "done"), ("b", "ignored"), ("c", "queued"), ("d", "failed"), ("z", "processing")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into_iter()
            .collect();
        assert_eq!(Drain::of(&acked, &statuses), Drain { processed: 2, waiting: 1, failed: 1, lost: 1 });
    }
}
