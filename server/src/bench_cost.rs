//! `portolan bench cost`: the cost benchmark behind the README's figures.
//!
//! It imports a synthetic catalog (`--services` components owned by 50 teams), writes a gzipped AWS CUR file of
//! `--lines` lines with the seeded generator, and imports it with `portolan cost import` in a child process,
//! timing it and sampling the child's peak resident memory. Then it imports `--months` more months of daily data
//! (about `services × 3 environments × days` lines each), starts `portolan serve` and times a service's cost
//! section (`/api/v1/cost?component=…&group_by=day`, and by environment) and the organisation's cost page (the
//! month by component, team, environment, service and day) over loopback.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use portolan_core::cost::formats::Format;
use portolan_core::cost::generate;

use crate::bench::{BenchError, BenchOptions, PathFor, free_port, progress, rss_mib, scenario};
use crate::bench_deploys::{Work, prepare_catalog, start_server, step};

/// What `bench cost` runs.
#[derive(Debug, Clone)]
pub struct CostBenchOptions {
    /// Lines of the big CUR file.
    pub lines: usize,
    /// Components.
    pub services: usize,
    /// Months of daily data for the page scenarios (0 skips them).
    pub months: u32,
    /// A PostgreSQL server to create a fresh database on; a fresh SQLite file when `None`.
    pub postgres: Option<String>,
    /// Concurrent connections.
    pub connections: usize,
    /// How long each page scenario runs.
    pub duration: Duration,
}

const TEAMS: usize = 50;

fn spec(o: &CostBenchOptions, seed: u64, month: NaiveDate, lines: usize) -> generate::Spec {
    let (first, next) = portolan_core::cost::query::month_bounds(month);
    generate::Spec {
        seed,
        lines,
        period_start: first,
        days: u32::try_from((next - first).num_days()).unwrap_or(28),
        account: "111122223333".to_owned(),
        currency: "USD".to_owned(),
        components: (0..o.services).map(|c| (format!("service-{c}"), format!("group-{}", c % TEAMS))).collect(),
    }
}

fn write_gz(path: &Path, spec: &generate::Spec) -> Result<generate::Expected, BenchError> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let expected = generate::write(Format::Cur, spec, &mut gz)?;
    let mut inner = gz.finish()?;
    std::io::Write::flush(&mut inner)?;
    Ok(expected)
}

/// Runs `portolan cost import` on `files`, sampling its peak memory: (seconds, peak MiB).
fn import(work: &Work, exe: &Path, files: &[&Path]) -> Result<(f64, f64), BenchError> {
    let mut cmd = work.command(exe);
    cmd.args(["cost", "import"]).args(files).stdout(Stdio::piped()).stderr(Stdio::null());
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let mut peak = 0.0f64;
    loop {
        if let Some((_, hwm)) = rss_mib(pid) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait()? {
            let seconds = started.elapsed().as_secs_f64();
            let mut out = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = std::io::Read::read_to_string(&mut o, &mut out);
            }
            if !status.success() {
                return Err(step(format!("portolan cost import failed: {out}")));
            }
            for line in out.lines().filter(|l| l.contains("rows") || l.contains("USD")) {
                progress(&format!("  {}", line.trim()));
            }
            return Ok((seconds, peak));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the benchmark and prints the README's table rows.
pub async fn cost(o: CostBenchOptions) -> Result<String, BenchError> {
    let exe = std::env::current_exe()?;
    let work = Work::new(o.postgres.as_deref(), "cost").await?;
    let backend = work.backend();
    progress(&format!("importing {} components owned by {TEAMS} teams", o.services));
    prepare_catalog(&work, &exe, o.services, TEAMS)?;
    let mut report = String::new();

    let big = work.dir.join("cur-big.csv.gz");
    let month = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default();
    let started = Instant::now();
    let expected = write_gz(&big, &spec(&o, 1, month, o.lines))?;
    let size = std::fs::metadata(&big)?.len() as f64 / 1_048_576.0;
    progress(&format!(
        "wrote {} lines ({size:.0} MiB gzipped) in {:.1} s",
        expected.lines,
        started.elapsed().as_secs_f64()
    ));
    let (seconds, peak) = import(&work, &exe, &[&big])?;
    progress(&format!("imported in {seconds:.1} s, peak memory {peak:.0} MiB"));
    let _ = writeln!(
        report,
        "| {backend}: import a {}-line CUR .csv.gz ({size:.0} MiB), {} services | {seconds:.1} s ({:.0} lines/s), peak RSS {peak:.0} MiB |",
        expected.lines,
        o.services,
        expected.lines as f64 / seconds
    );
    std::fs::remove_file(&big)?;

    if o.months > 0 {
        // A year (by default) of daily data: the months before October 2026, about one line per service,
        // environment and day.
        let mut files = Vec::new();
        let mut m = month;
        let mut lines = 0u64;
        for i in 0..o.months {
            m = portolan_core::cost::query::month_bounds(m.pred_opt().unwrap_or(m)).0;
            let path = work.dir.join(format!("cur-{}.csv.gz", m.format("%Y-%m")));
            let e = write_gz(&path, &spec(&o, 100 + u64::from(i), m, o.services * 3 * 31))?;
            lines += e.lines;
            files.push(path);
        }
        progress(&format!("importing {} months of daily data ({lines} lines)", o.months));
        let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let (seconds, peak) = import(&work, &exe, &paths)?;
        let _ = writeln!(
            report,
            "| {backend}: import {} monthly files, {lines} lines in all | {seconds:.1} s, peak RSS {peak:.0} MiB |",
            o.months
        );
        for f in &files {
            let _ = std::fs::remove_file(f);
        }

        let port = free_port()?;
        let token = crate::bench::bench_token();
        let server = start_server(&work, &exe, port, &token, &[]).await?;
        let client = reqwest::Client::builder().pool_max_idle_per_host(o.connections).build().map_err(step)?;
        let services = o.services.max(1);
        let last_month = portolan_core::cost::query::month_bounds(month.pred_opt().unwrap_or(month)).0;
        let (from, to) = portolan_core::cost::query::month_bounds(last_month);
        let window = format!("from={}&to={}", to - chrono::Duration::days(30), to);
        let month_range = format!("from={from}&to={to}");
        let mut scenarios: Vec<(String, PathFor)> = Vec::new();
        let w = window.clone();
        scenarios.push((
            "a service's cost section: 30 days by day (`/api/v1/cost?component=…&group_by=day`)".to_owned(),
            Arc::new(move |i| format!("/api/v1/cost?group_by=day&component=service-{}&{w}", (i * 7919) % services)),
        ));
        let w = window.clone();
        scenarios.push((
            "a service's cost by environment".to_owned(),
            Arc::new(move |i| {
                format!("/api/v1/cost?group_by=environment&component=service-{}&{w}", (i * 7919) % services)
            }),
        ));
        let m = from.format("%Y-%m").to_string();
        scenarios.push((
            "the organisation's cost page, server-rendered (`/cost?month=…`: six reports)".to_owned(),
            Arc::new(move |_| format!("/cost?month={m}")),
        ));
        for group_by in ["component", "team", "environment", "service", "day"] {
            let r = month_range.clone();
            scenarios.push((
                format!("the organisation's month by {group_by}"),
                Arc::new(move |_| format!("/api/v1/cost?group_by={group_by}&{r}")),
            ));
        }
        let bench_options = BenchOptions {
            components: o.services,
            groups: TEAMS,
            systems: 1,
            postgres: None,
            connections: o.connections,
            duration: o.duration,
        };
        for (name, path_for) in scenarios {
            let f = scenario(&client, &server.base, &token, &bench_options, &name, path_for).await;
            let _ = writeln!(
                report,
                "| {backend}: {name} | p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms{} |",
                f.p50_ms,
                f.p95_ms,
                f.p99_ms,
                if f.errors > 0 { format!(", {} errors", f.errors) } else { String::new() }
            );
        }
        drop(server);
    }
    work.finish().await;
    println!("{report}");
    Ok(report)
}
