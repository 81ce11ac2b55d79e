//! `portolan bench health`: the health benchmark behind the README's figures.
//!
//! It imports a synthetic catalog of 1,000 services, adds 5,000 HTTP checks at a 30 s interval (each service in
//! development, staging and production, plus two more in production and staging) against loopback targets served
//! by this process, seeds 48 hours of hourly and 90 days of daily buckets, then starts `portolan serve` in a child
//! process and lets its engine probe for the chosen minutes while sampling its CPU time and memory from `/proc`.
//! Afterwards it counts the slots that ran against those due, reads the start-delay histogram from `/metrics`,
//! reports storage growth per day, load-tests the grid and a service's health over loopback, and times uptime
//! windows of one check in-process.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use portolan_core::health::maths::{Histogram, floor_day, floor_hour};
use portolan_core::health::spec::{CheckSpec, Expect, Target};
use portolan_core::health::{SOURCE_PORTAL, buckets, checks, results, sync};

use crate::bench::{BenchError, BenchOptions, PathFor, free_port, load, progress, rss_mib};
use crate::bench_deploys::{Work, prepare_catalog, start_server, step};

/// What to run.
#[derive(Debug, Clone)]
pub struct HealthBenchOptions {
    /// Checks to probe.
    pub checks: usize,
    /// Services they belong to.
    pub components: usize,
    /// Probe interval in seconds.
    pub interval_seconds: u64,
    /// How long the engine probes before the figures are read.
    pub probe_minutes: f64,
    /// A PostgreSQL server to create a fresh database on; a fresh SQLite file when `None`.
    pub postgres: Option<String>,
    /// Concurrent connections for the page scenarios.
    pub connections: usize,
    /// Seconds per page scenario.
    pub seconds: u64,
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat` (clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Bytes the data takes: SQLite's pages in use (the WAL is a transient copy), or `pg_database_size`.
async fn db_bytes(db: &sea_orm::DatabaseConnection, work: &Work) -> u64 {
    if work.database_url.starts_with("sqlite:") {
        let pragma = |name: &'static str| async move {
            db.query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, format!("PRAGMA {name}")))
                .await
                .ok()
                .flatten()
                .and_then(|r| r.try_get_by_index::<i64>(0).ok())
                .unwrap_or(0)
        };
        let (pages, free, size) =
            (pragma("page_count").await, pragma("freelist_count").await, pragma("page_size").await);
        ((pages - free).max(0) * size) as u64
    } else {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_database_size(current_database())::bigint AS size",
            ))
            .await
            .ok()
            .flatten();
        row.and_then(|r| r.try_get::<i64>("", "size").ok()).unwrap_or(0) as u64
    }
}

/// A loopback target answering `200 ok` at once.
async fn start_targets(n: usize) -> Result<Vec<String>, BenchError> {
    let mut urls = Vec::new();
    for _ in 0..n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        urls.push(format!("http://{addr}/health"));
    }
    Ok(urls)
}

async fn add_checks(
    db: &sea_orm::DatabaseConnection,
    o: &HealthBenchOptions,
    targets: &[String],
) -> Result<Vec<i64>, BenchError> {
    let envs = ["development", "staging", "production"];
    let now = Utc::now();
    let mut rows = Vec::with_capacity(o.checks);
    for i in 0..o.checks {
        let component = i % o.components;
        let round = i / o.components;
        let environment = if round < 3 { envs[round] } else { envs[1 + round % 2] };
        let spec = CheckSpec {
            environment: environment.to_owned(),
            name: format!("check-{round}"),
            target: Target::parse(&targets[i % targets.len()]).map_err(step)?,
            interval: Duration::from_secs(o.interval_seconds),
            expect: Expect::default(),
            objective: 99.9,
        };
        rows.push(sync::new_check(&format!("component:default/service-{component}"), SOURCE_PORTAL, &spec, true, now));
    }
    for chunk in rows.chunks(500) {
        checks::Entity::insert_many(chunk.to_vec()).exec(db).await.map_err(step)?;
    }
    let ids: Vec<i64> = checks::Entity::find().all(db).await.map_err(step)?.into_iter().map(|c| c.id).collect();
    Ok(ids)
}

/// 48 hours of hourly buckets and 90 days of daily ones for every check, mostly up with a few outages.
async fn seed_history(
    db: &sea_orm::DatabaseConnection,
    ids: &[i64],
    interval_seconds: u64,
) -> Result<usize, BenchError> {
    let now = Utc::now();
    let per_hour = (3600 / interval_seconds.max(1)) as i32;
    let mut hist = Histogram::default();
    for ms in [3u32, 4, 5, 6, 8, 12, 20, 45] {
        hist.record(ms);
    }
    let mut rows = Vec::new();
    let mut written = 0;
    for (n, id) in ids.iter().enumerate() {
        for h in 1..=48 {
            let down = i32::from((n + h) % 97 == 0) * per_hour / 4;
            rows.push(buckets::ActiveModel {
                check_id: sea_orm::Set(*id),
                period: sea_orm::Set("h".into()),
                start: sea_orm::Set(floor_hour(now) - ChronoDuration::hours(h as i64)),
                up: sea_orm::Set(per_hour - down),
                degraded: sea_orm::Set(0),
                down: sea_orm::Set(down),
                maintenance: sea_orm::Set(0),
                unknown: sea_orm::Set(0),
                latency: sea_orm::Set(hist.encode()),
            });
        }
        for d in 1..=90 {
            let down = i32::from((n + d) % 89 == 0) * per_hour;
            rows.push(buckets::ActiveModel {
                check_id: sea_orm::Set(*id),
                period: sea_orm::Set("d".into()),
                start: sea_orm::Set(floor_day(now) - ChronoDuration::days(d as i64)),
                up: sea_orm::Set(per_hour * 24 - down),
                degraded: sea_orm::Set(0),
                down: sea_orm::Set(down),
                maintenance: sea_orm::Set(0),
                unknown: sea_orm::Set(0),
                latency: sea_orm::Set(hist.encode()),
            });
        }
        if rows.len() >= 2000 {
            written += rows.len();
            let txn = portolan_core::db::begin_write(db).await.map_err(step)?;
            for chunk in rows.chunks(250) {
                buckets::Entity::insert_many(chunk.to_vec()).exec(&txn).await.map_err(step)?;
            }
            txn.commit().await.map_err(step)?;
            rows.clear();
        }
    }
    written += rows.len();
    for chunk in rows.chunks(250) {
        buckets::Entity::insert_many(chunk.to_vec()).exec(db).await.map_err(step)?;
    }
    Ok(written)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn drift_buckets(text: &str) -> Vec<(f64, f64)> {
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("portolan_health_start_drift_seconds_bucket{le=\""))
        .filter_map(|l| {
            let (le, rest) = l.split_once("\"} ")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, rest.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The quantile of the start delays counted between two scrapes (a bucket's upper bound), in ms.
fn drift_quantile(before: &str, after: &str, q: f64) -> Option<f64> {
    let b0 = drift_buckets(before);
    let delta: Vec<(f64, f64)> = drift_buckets(after)
        .into_iter()
        .map(|(le, c)| (le, c - b0.iter().find(|(l, _)| *l == le).map_or(0.0, |x| x.1)))
        .collect();
    let total = delta.last()?.1;
    delta.iter().find(|(_, c)| *c >= q * total).map(|(le, _)| le * 1000.0)
}

/// Runs the benchmark and prints a Markdown table.
pub async fn health(o: HealthBenchOptions) -> Result<String, BenchError> {
    let exe = std::env::current_exe()?;
    let work = Work::new(o.postgres.as_deref(), "health").await?;
    let backend = work.backend();
    progress(&format!("importing {} services", o.components));
    prepare_catalog(&work, &exe, o.components, 50)?;
    let db = portolan_core::db::open(&work.database_url).await.map_err(step)?;
    let targets = start_targets(8).await?;
    let ids = add_checks(&db, &o, &targets).await?;
    progress(&format!("{} checks at {} s against {} loopback targets", ids.len(), o.interval_seconds, targets.len()));
    let seeded = seed_history(&db, &ids, o.interval_seconds).await?;
    progress(&format!("{seeded} hourly and daily buckets seeded"));

    let port = free_port()?;
    let token = crate::bench::bench_token();
    let server = start_server(&work, &exe, port, &token, &[("PORTOLAN_HEALTH_PROBES", "true")]).await?;
    let pid = server.child.0.id();
    let started = Instant::now();
    let bytes_before = db_bytes(&db, &work).await;
    let probe_for = Duration::from_secs_f64(o.probe_minutes * 60.0);
    // The first minute is the ramp (every check's first, overdue slot); measure after it.
    let warmup = Duration::from_secs(60.min(probe_for.as_secs() / 3));
    tokio::time::sleep(warmup).await;
    let window_start = Utc::now();
    let cpu_start = cpu_seconds(pid).unwrap_or(0.0);
    let metrics_client = reqwest::Client::new();
    let metrics_url = format!("{}/metrics", server.base);
    let m0 = metrics_client.get(&metrics_url).send().await.map_err(step)?.text().await.map_err(step)?;
    let mut peak_rss = 0.0f64;
    while started.elapsed() < probe_for {
        tokio::time::sleep(Duration::from_secs(10)).await;
        if let Some((rss, _)) = rss_mib(pid) {
            peak_rss = peak_rss.max(rss);
        }
        progress(&format!(
            "probing: {:.0} s of {:.0} s, RSS {:.0} MiB",
            started.elapsed().as_secs_f64(),
            probe_for.as_secs_f64(),
            rss_mib(pid).map_or(0.0, |r| r.0)
        ));
    }
    let window_end = Utc::now();
    let cpu_used = cpu_seconds(pid).unwrap_or(0.0) - cpu_start;
    let measured = (window_end - window_start).num_milliseconds() as f64 / 1000.0;
    let m1 = metrics_client.get(&metrics_url).send().await.map_err(step)?.text().await.map_err(step)?;
    let bytes_after = db_bytes(&db, &work).await;
    let ran = results::Entity::find()
        .filter(results::Column::Counted.is_not_null())
        .filter(results::Column::At.gte(window_start.timestamp_millis()))
        .filter(
            results::Column::At
                .lt((window_end - ChronoDuration::seconds(o.interval_seconds as i64)).timestamp_millis()),
        )
        .count(&db)
        .await
        .map_err(step)?;
    let due = ids.len() as f64 * (measured - o.interval_seconds as f64) / o.interval_seconds as f64;
    let late = metric(&m1, "portolan_health_late_slots_total") - metric(&m0, "portolan_health_late_slots_total");
    let p99_drift = drift_quantile(&m0, &m1, 0.99);
    let max_drift = metric(&m1, "portolan_health_start_drift_seconds_max") * 1000.0;
    let growth_per_day = (bytes_after.saturating_sub(bytes_before)) as f64 / started.elapsed().as_secs_f64() * 86_400.0;

    let mut report = String::new();
    let _ = writeln!(
        report,
        "| {backend}: {} checks every {} s, {measured:.0} s measured | |",
        ids.len(),
        o.interval_seconds
    );
    let _ = writeln!(
        report,
        "| scheduled probes run | {:.2}% ({ran} of {due:.0} due) |",
        100.0 * ran as f64 / due.max(1.0)
    );
    let _ = writeln!(
        report,
        "| start delay p99 (measured window) / max (whole run) | {} / {max_drift:.0} ms ({late:.0} slots over 1 s) |",
        p99_drift.map_or("n/a".to_owned(), |d| format!("≤ {d:.0} ms"))
    );
    let _ = writeln!(report, "| portal CPU | {:.2} cores |", cpu_used / measured);
    let _ = writeln!(report, "| portal RSS peak | {peak_rss:.0} MiB |");
    let _ = writeln!(
        report,
        "| storage growth | {:.0} MB per day ({:.1} MB to {:.1} MB in {:.0} s) |",
        growth_per_day / 1e6,
        bytes_before as f64 / 1e6,
        bytes_after as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // Page scenarios while the engine keeps probing.
    let client = reqwest::Client::builder().pool_max_idle_per_host(o.connections).build().map_err(step)?;
    let bench_options = BenchOptions {
        components: o.components,
        groups: 50,
        systems: 1,
        postgres: None,
        connections: o.connections,
        duration: Duration::from_secs(o.seconds),
    };
    let components = o.components;
    let scenarios: Vec<(String, PathFor)> = vec![
        (
            format!("grid of {components} services x 3 environments, 24 h (`/api/v1/health`)"),
            Arc::new(|_| "/api/v1/health".to_owned()),
        ),
        ("the grid over 30 days (`?window=30d`)".to_owned(), Arc::new(|_| "/api/v1/health?window=30d".to_owned())),
        (
            "a service's health (`/api/v1/health/component/default/service-N`)".to_owned(),
            Arc::new(move |i| format!("/api/v1/health/component/default/service-{}", (i * 37) % components)),
        ),
    ];
    for (name, path_for) in scenarios {
        progress(&format!("{name}: {} connections for {} s", o.connections, o.seconds));
        let warm = BenchOptions { duration: Duration::from_millis(1000), ..bench_options.clone() };
        load(&client, &server.base, &token, &warm, path_for.clone()).await;
        let f = load(&client, &server.base, &token, &bench_options, path_for).await;
        progress(&format!(
            "  {} requests, {} errors, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms{}",
            f.requests,
            f.errors,
            f.p50_ms,
            f.p95_ms,
            f.p99_ms,
            f.first_error.as_deref().map(|e| format!(" (first error: {e})")).unwrap_or_default()
        ));
        let _ = writeln!(
            report,
            "| {name} | p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({} errors) |",
            f.p50_ms, f.p95_ms, f.p99_ms, f.errors
        );
    }

    // Uptime of one check over each standard window, in-process (no HTTP).
    let config = portolan_core::Config::for_database(&work.database_url);
    let mut times = Vec::new();
    let now = Utc::now();
    for i in 0..400 {
        let id = ids[(i * 131) % ids.len()];
        let span =
            [ChronoDuration::hours(24), ChronoDuration::days(7), ChronoDuration::days(30), ChronoDuration::days(90)]
                [i % 4];
        let t = Instant::now();
        portolan_core::health::query::window(&db, &config, &[id], now - span, now, now).await.map_err(step)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let _ = writeln!(
        report,
        "| uptime of one check over 24 h / 7 d / 30 d / 90 d (in-process) | p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms |",
        pct(0.5),
        pct(0.95),
        pct(0.99)
    );
    if let Some((rss, peak)) = rss_mib(pid) {
        let _ = writeln!(report, "| portal RSS after the page scenarios | {rss:.0} MiB (peak {peak:.0} MiB) |");
    }
    drop(server);
    db.close().await.map_err(step)?;
    work.finish().await;
    println!("{report}");
    let _ = Path::new(".");
    Ok(report)
}
