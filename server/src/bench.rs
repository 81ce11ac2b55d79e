//! `portolan bench catalog`: the catalog benchmark behind the figures in the README.
//!
//! It writes a synthetic catalog (Components, Groups and Systems with owners, systems and dependencies between
//! them), imports it with `portolan catalog import` in a child process, starts `portolan serve` in another child,
//! drives it over loopback with concurrent connections (by-name lookups, filtered pages of 20, the catalog page),
//! and reads the server's resident memory from `/proc`. Everything runs on this machine against 127.0.0.1 and
//! stops by itself.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Components to generate.
    pub components: usize,
    /// Groups to generate.
    pub groups: usize,
    /// Systems to generate.
    pub systems: usize,
    /// A PostgreSQL server to create a fresh database on (`postgres://user@host/postgres`); a fresh SQLite file
    /// when `None`.
    pub postgres: Option<String>,
    /// Concurrent connections.
    pub connections: usize,
    /// How long each scenario runs.
    pub duration: Duration,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or process operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A step failed.
    #[error("{0}")]
    Step(String),
}

pub(crate) fn progress(message: &str) {
    eprintln!("[bench] {message}");
}

/// Whether group `g` of `groups` in [`write_catalog`]'s tree has sub-groups.
pub(crate) fn has_sub_groups(g: usize, groups: usize) -> bool {
    g * 10 + 1 < groups
}

/// Writes the synthetic catalog: one file per 100 components, one for groups, one for systems.
pub(crate) fn write_catalog(dir: &Path, o: &BenchOptions) -> Result<(), BenchError> {
    std::fs::create_dir_all(dir)?;
    let mut groups = String::new();
    for g in 0..o.groups {
        // A tree ten wide: group-0 is the organisation, groups with sub-groups are departments, the rest teams.
        let parent = if g == 0 { String::new() } else { format!("  parent: group-{}\n", (g - 1) / 10) };
        let kind = if g == 0 {
            "organization"
        } else if has_sub_groups(g, o.groups) {
            "department"
        } else {
            "team"
        };
        let _ = write!(
            groups,
            "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: group-{g}\n  title: Group {g}\nspec:\n  type: {kind}\n{parent}  children: []\n"
        );
    }
    std::fs::write(dir.join("groups.yaml"), groups)?;
    let mut systems = String::new();
    for s in 0..o.systems {
        let _ = write!(
            systems,
            "---\napiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: system-{s}\n  description: System number {s}\nspec:\n  owner: group-{}\n",
            s % o.groups.max(1)
        );
    }
    std::fs::write(dir.join("systems.yaml"), systems)?;
    let lifecycles = ["production", "experimental", "deprecated"];
    let mut file = String::new();
    for c in 0..o.components {
        let _ = write!(
            file,
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: service-{c}\n  title: Service {c}\n  annotations:\n    github.com/project-slug: bench/service-{c}\n  description: Handles part {c} of the business, with care.\n  tags: [tier-{}, team-{}]\nspec:\n  type: service\n  lifecycle: {}\n  owner: group-{}\n  system: system-{}\n  dependsOn: [component:service-{}, component:service-{}]\n",
            c % 3,
            c % o.groups.max(1),
            lifecycles[c % 3],
            c % o.groups.max(1),
            c % o.systems.max(1),
            (c + 1) % o.components.max(1),
            (c * 7 + 3) % o.components.max(1),
        );
        if c % 100 == 99 || c + 1 == o.components {
            std::fs::write(dir.join(format!("components-{:04}.yaml", c / 100)), &file)?;
            file.clear();
        }
    }
    Ok(())
}

pub(crate) fn free_port() -> Result<u16, BenchError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The API token a benchmark's server is started with. The server wants at least 16 characters; the process id is
/// padded so that a low one (as on a freshly booted machine) still gives enough.
pub(crate) fn bench_token() -> String {
    token_for(std::process::id())
}

fn token_for(pid: u32) -> String {
    format!("bench-token-{pid:010}")
}

/// Starts `portolan serve` through `serve` (a command carrying the database settings) on 127.0.0.1:`port` with API
/// token `token`, its log (stderr) in `dir/serve.log`, and waits until it answers `/readyz`; gives the running
/// server and its base URL. A server that exits first, or is not ready `within`, is an error that quotes the last
/// lines of its log.
pub(crate) async fn start_serving(
    mut serve: Command,
    dir: &Path,
    port: u16,
    token: &str,
    within: Duration,
) -> Result<(ServerChild, String), BenchError> {
    let log = dir.join("serve.log");
    serve
        .arg("serve")
        .env("PORTOLAN_ADDR", format!("127.0.0.1:{port}"))
        .env("PORTOLAN_API_TOKEN", token)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    let mut child = ServerChild(serve.spawn()?);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready_by = Instant::now() + within;
    let last_lines = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    };
    loop {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok((child, base));
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            return Err(BenchError::Step(format!(
                "the server exited ({status}) before it was ready:\n{}",
                last_lines()
            )));
        }
        if Instant::now() > ready_by {
            return Err(BenchError::Step(format!(
                "the server did not become ready in {} s:\n{}",
                within.as_secs(),
                last_lines()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) struct ServerChild(pub(crate) Child);

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident memory of a process: (current, peak) in MiB.
pub(crate) fn rss_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// What sends a scenario's requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadGenerator {
    /// `wrk` (Debian's package): a C event loop, little CPU taken from the server on a small machine.
    Wrk,
    /// The benchmark's own reqwest client: no install needed, but it takes more of the CPU it shares.
    Builtin,
}

static LOAD_GENERATOR: OnceLock<LoadGenerator> = OnceLock::new();

/// Chooses the load generator for this run: `wrk`, `builtin`, or (`None`) wrk when it is installed.
pub fn choose_load_generator(choice: Option<&str>) -> Result<LoadGenerator, BenchError> {
    let wrk_installed = || Command::new("wrk").arg("--version").output().is_ok();
    let chosen = match choice {
        Some("wrk") if wrk_installed() => LoadGenerator::Wrk,
        Some("wrk") => return Err(BenchError::Step("wrk is not installed (apt-get install wrk)".into())),
        Some("builtin") => LoadGenerator::Builtin,
        Some(other) => return Err(BenchError::Step(format!("--load {other}: wrk or builtin"))),
        None if wrk_installed() => LoadGenerator::Wrk,
        None => LoadGenerator::Builtin,
    };
    let _ = LOAD_GENERATOR.set(chosen);
    progress(&format!("load generator: {}", load_generator_name()));
    Ok(chosen)
}

/// The load generator's name for reports.
pub(crate) fn load_generator_name() -> &'static str {
    match LOAD_GENERATOR.get() {
        Some(LoadGenerator::Wrk) => "wrk 4.1 (2 threads)",
        _ => "the built-in reqwest client",
    }
}

/// Builds the request path for the n-th request of a scenario.
pub(crate) type PathFor = Arc<dyn Fn(usize) -> String + Send + Sync>;

/// Latency figures of one scenario.
pub(crate) struct Figures {
    pub(crate) requests: usize,
    pub(crate) errors: usize,
    /// Why the first failed request failed (`HTTP 429`, a connection error).
    pub(crate) first_error: Option<String>,
    pub(crate) per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

/// One load-test scenario as the deploy and cost benchmarks run it: a second of warm-up, then `o.duration` of
/// load, with progress lines on stderr.
pub(crate) async fn scenario(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    o: &BenchOptions,
    name: &str,
    path_for: PathFor,
) -> Figures {
    progress(&format!("{name}: {} connections for {:?}", o.connections, o.duration));
    let warm = BenchOptions { duration: Duration::from_millis(1000), ..o.clone() };
    load(client, base, token, &warm, path_for.clone()).await;
    let f = load(client, base, token, o, path_for).await;
    progress(&format!(
        "  {} requests, {} errors, {:.1} req/s, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        f.requests, f.errors, f.per_second, f.p50_ms, f.p95_ms, f.p99_ms
    ));
    if let Some(why) = &f.first_error {
        progress(&format!("  WARNING: {} requests failed; the first because of {why}", f.errors));
    }
    f
}

pub(crate) async fn load(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    o: &BenchOptions,
    path_for: PathFor,
) -> Figures {
    // wrk counts whole seconds; warm-ups shorter than that use the built-in client.
    if LOAD_GENERATOR.get() == Some(&LoadGenerator::Wrk) && o.duration >= Duration::from_secs(1) {
        let (base, token, o) = (base.to_owned(), token.to_owned(), o.clone());
        let run = tokio::task::spawn_blocking(move || wrk(&base, &token, &o, &path_for)).await;
        return match run {
            Ok(Ok(figures)) => figures,
            Ok(Err(e)) => failed_run(e.to_string()),
            Err(e) => failed_run(e.to_string()),
        };
    }
    builtin_load(client, base, token, o, path_for).await
}

fn failed_run(why: String) -> Figures {
    Figures {
        requests: 0,
        errors: 1,
        first_error: Some(why),
        per_second: 0.0,
        p50_ms: 0.0,
        p95_ms: 0.0,
        p99_ms: 0.0,
        max_ms: 0.0,
    }
}

/// Lua text of a string (double-quoted, escaped).
fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\{:03}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs wrk for `o.duration` over `o.connections` connections: each thread walks the scenario's paths (the first
/// 20,000 of them, in order, from its own starting point) with the bearer token, and the script's `done` prints
/// the figures in one line this reads back. Latencies are wrk's, over every response.
fn wrk(base: &str, token: &str, o: &BenchOptions, path_for: &PathFor) -> Result<Figures, BenchError> {
    let count = 20_000;
    let mut script = String::from("local paths = {\n");
    for i in 0..count {
        let _ = writeln!(script, "{},", lua_string(&path_for(i)));
    }
    let _ = write!(
        script,
        r#"}}
local headers = {{ ["Authorization"] = {auth} }}
local threads = 0
function setup(thread)
  thread:set("first", threads * 7919)
  threads = threads + 1
end
function init(args)
  n = first or 0
end
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("PORTOLAN-WRK %d %d %d %d %d %d\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
  io.write(string.format("PORTOLAN-WRK-MAX %d\n", latency.max))
end
"#,
        auth = lua_string(&format!("Bearer {token}"))
    );
    let path = std::env::temp_dir().join(format!("portolan-bench-wrk-{}.lua", std::process::id()));
    std::fs::write(&path, script)?;
    let connections = o.connections.max(1);
    let out = Command::new("wrk")
        .arg(format!("-t{}", connections.min(2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", o.duration.as_secs().max(1)))
        .args(["--timeout", "10s", "-s"])
        .arg(&path)
        .arg(base)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    let numbers = |tag: &str| -> Option<Vec<f64>> {
        let line = text.lines().find(|l| l.split_whitespace().next() == Some(tag))?;
        line.split_whitespace().skip(1).map(|n| n.parse().ok()).collect()
    };
    let (Some(main), Some(max)) = (numbers("PORTOLAN-WRK"), numbers("PORTOLAN-WRK-MAX")) else {
        return Err(BenchError::Step(format!(
            "wrk printed no figures: {}{}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    };
    let [requests, errors, micros, p50, p95, p99] = main[..] else {
        return Err(BenchError::Step(format!("wrk's figures do not parse: {main:?}")));
    };
    Ok(Figures {
        requests: requests as usize,
        errors: errors as usize,
        first_error: (errors > 0.0).then(|| "see the warm-up's first failure".to_owned()),
        per_second: (requests - errors) / (micros / 1e6).max(1e-9),
        p50_ms: p50 / 1000.0,
        p95_ms: p95 / 1000.0,
        p99_ms: p99 / 1000.0,
        max_ms: max.first().copied().unwrap_or(0.0) / 1000.0,
    })
}

/// The built-in load: `o.connections` tasks sending requests one after another until the time is up.
async fn builtin_load(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    o: &BenchOptions,
    path_for: PathFor,
) -> Figures {
    let counter = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + o.duration;
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let client = client.clone();
        let counter = counter.clone();
        let path_for = path_for.clone();
        let base = base.to_owned();
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut first_error = None;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let failure = match client.get(format!("{base}{}", path_for(n))).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.err().map(|e| e.to_string()),
                    Ok(r) => Some(format!("HTTP {}", r.status())),
                    Err(e) => Some(e.to_string()),
                };
                // Latencies are of answered requests only: fast refusals would flatter the figures.
                match failure {
                    None => latencies.push(started.elapsed().as_secs_f64() * 1000.0),
                    Some(why) => {
                        errors += 1;
                        first_error.get_or_insert(why);
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        if let Ok((l, e, why)) = t.await {
            all.extend(l);
            errors += e;
            first_error = first_error.or(why);
        }
    }
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all.get(((all.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
    Figures {
        requests: all.len() + errors,
        errors,
        first_error,
        per_second: all.len() as f64 / o.duration.as_secs_f64(),
        p50_ms: pct(0.50),
        p95_ms: pct(0.95),
        p99_ms: pct(0.99),
        max_ms: all.last().copied().unwrap_or(0.0),
    }
}

/// Creates an empty database for the run: (admin URL, database URL, name).
pub(crate) async fn create_pg_database(admin: &str) -> Result<(String, String, String), BenchError> {
    use sea_orm::ConnectionTrait;
    let name = format!("portolan_bench_{}", std::process::id());
    let db =
        sea_orm::Database::connect(admin).await.map_err(|e| BenchError::Step(format!("PostgreSQL at {admin}: {e}")))?;
    db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .map_err(|e| BenchError::Step(e.to_string()))?;
    db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.map_err(|e| BenchError::Step(e.to_string()))?;
    let url = sibling_database(admin, &name);
    Ok((admin.to_owned(), url, name))
}

/// On PostgreSQL, vacuums and analyzes the benchmark's database after its bulk writes, as autovacuum would within
/// a minute or two: the figures are of the steady state, not of autovacuum's first pass over tables that were just
/// filled (which shares the two cores with the server while it runs), nor of plans made before any statistics.
/// SQLite has no such background work; nothing is done there.
pub(crate) async fn settle(database_url: &str) -> Result<(), BenchError> {
    use sea_orm::ConnectionTrait;
    if !database_url.starts_with("postgres") {
        return Ok(());
    }
    progress("vacuuming and analyzing (what autovacuum would do next)");
    let db = sea_orm::Database::connect(database_url)
        .await
        .map_err(|e| BenchError::Step(format!("PostgreSQL at {database_url}: {e}")))?;
    db.execute_unprepared("VACUUM (ANALYZE)").await.map_err(|e| BenchError::Step(format!("VACUUM: {e}")))?;
    db.close().await.ok();
    Ok(())
}

/// The URL of database `name` on the server of `admin`, with the same options (`?sslmode=disable`, …).
fn sibling_database(admin: &str, name: &str) -> String {
    let (path, options) = admin.split_once('?').map_or((admin, None), |(p, o)| (p, Some(o)));
    let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
    match options {
        Some(o) => format!("{base}/{name}?{o}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs the catalog benchmark and prints the figures; returns the report as Markdown table rows.
pub async fn catalog(o: BenchOptions) -> Result<String, BenchError> {
    let exe = std::env::current_exe()?;
    let work: PathBuf = std::env::temp_dir().join(format!("portolan-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let catalog_dir = work.join("catalog");
    let fresh_pg = match &o.postgres {
        Some(admin) => Some(create_pg_database(admin).await?),
        None => None,
    };
    let database_url = fresh_pg
        .as_ref()
        .map(|(_, url, _)| url.clone())
        .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", work.display()));
    let backend = if database_url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" };
    progress(&format!("writing {} components, {} groups, {} systems", o.components, o.groups, o.systems));
    write_catalog(&catalog_dir, &o)?;

    let env = |cmd: &mut Command| {
        cmd.env("PORTOLAN_DATABASE_URL", &database_url)
            .env("PORTOLAN_DATA_DIR", &work)
            .env("PORTOLAN_LOG", "warn")
            .env_remove("PORTOLAN_DEMO");
    };
    progress("migrating");
    let mut migrate = Command::new(&exe);
    migrate.arg("migrate").stdout(Stdio::null());
    env(&mut migrate);
    if !migrate.status()?.success() {
        return Err(BenchError::Step("portolan migrate failed".into()));
    }
    progress("importing (portolan catalog import)");
    let mut import = Command::new(&exe);
    import.args(["catalog", "import"]).arg(&catalog_dir).stdout(Stdio::piped());
    env(&mut import);
    let started = Instant::now();
    let out = import.output()?;
    let import_seconds = started.elapsed().as_secs_f64();
    let summary = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() {
        return Err(BenchError::Step(format!("import failed: {summary}")));
    }
    progress(&format!("imported in {import_seconds:.2} s: {summary}"));
    settle(&database_url).await?;

    let port = free_port()?;
    let token = bench_token();
    let mut serve = Command::new(&exe);
    env(&mut serve);
    let (server, base) = start_serving(serve, &work, port, &token, Duration::from_secs(30)).await?;
    let pid = server.0.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.connections)
        .build()
        .map_err(|e| BenchError::Step(e.to_string()))?;
    let rss_idle = rss_mib(pid);

    let n = o.components.max(1);
    let groups = o.groups.max(1);
    let scenarios: Vec<(&str, PathFor)> = vec![
        (
            "by-name lookup (`/api/catalog/entities/by-name/…`)",
            Arc::new(move |i| format!("/api/catalog/entities/by-name/component/default/service-{}", (i * 7919) % n)),
        ),
        (
            "filtered page of 20 (`/api/v1/entities?kind=component&owner=…&lifecycle=production`)",
            Arc::new(move |i| {
                format!("/api/v1/entities?kind=component&owner=group-{}&lifecycle=production&limit=20", i % groups)
            }),
        ),
        (
            "Backstage by-query page of 20 (`/api/catalog/entities/by-query?filter=kind=component,spec.owner=…`)",
            Arc::new(move |i| {
                format!(
                    "/api/catalog/entities/by-query?filter=kind=component,spec.owner=group-{},\
                     spec.lifecycle=production&limit=20",
                    i % groups
                )
            }),
        ),
        (
            "search page of 20 (`/api/v1/entities?q=…`)",
            Arc::new(move |i| format!("/api/v1/entities?q=service-{}&limit=20", (i * 31) % n)),
        ),
        ("catalog page, HTML (`/catalog?kind=component`)", Arc::new(|_| "/catalog?kind=component".to_owned())),
    ];
    let mut report = String::new();
    let _ = writeln!(
        report,
        "| {backend}: import {} entities | {import_seconds:.2} s |",
        o.components + o.groups + o.systems
    );
    for (name, path_for) in scenarios {
        progress(&format!("{name}: {} connections for {:?}", o.connections, o.duration));
        // A warm-up over the same paths (4 s walks every one of them, even at the rate of a cold PostgreSQL), so
        // that the measured run sees the steady state: the pool open, the database's pages and the by-name cache
        // filled.
        let warm = BenchOptions { duration: Duration::from_secs(4), ..o.clone() };
        load(&client, &base, &token, &warm, path_for.clone()).await;
        let f = load(&client, &base, &token, &o, path_for).await;
        progress(&format!(
            "  {} requests, {} errors, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            f.requests, f.errors, f.per_second, f.p50_ms, f.p99_ms, f.max_ms
        ));
        if let Some(why) = &f.first_error {
            progress(&format!("  WARNING: {} requests failed; the first because of {why}", f.errors));
        }
        let _ = writeln!(
            report,
            "| {backend}: {name} | p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s{} |",
            f.p50_ms,
            f.p99_ms,
            f.per_second,
            if f.errors > 0 { format!(", {} errors", f.errors) } else { String::new() }
        );
    }
    if let (Some((idle, _)), Some((now, peak))) = (rss_idle, rss_mib(pid)) {
        progress(&format!("server RSS: {idle:.1} MiB idle, {now:.1} MiB after load, peak {peak:.1} MiB"));
        let _ = writeln!(report, "| {backend}: server memory (RSS) | {now:.1} MiB after load, peak {peak:.1} MiB |");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&work);
    if let Some((admin, _, name)) = fresh_pg {
        use sea_orm::ConnectionTrait;
        if let Ok(db) = sea_orm::Database::connect(&admin).await {
            let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
    println!("{report}");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::{sibling_database, token_for};

    #[test]
    fn the_benchmark_token_is_long_enough_for_the_server_whatever_the_process_id() {
        // The server refuses an API token shorter than 16 characters and would not start: a benchmark run as
        // process 591 once failed that way.
        for pid in [1, 591, 99_999, u32::MAX] {
            assert!(token_for(pid).len() >= 16, "{}", token_for(pid));
        }
        assert_ne!(token_for(591), token_for(592));
    }

    #[test]
    fn the_benchmark_database_keeps_the_servers_address_and_options() {
        assert_eq!(
            sibling_database("postgres://postgres@127.0.0.1:5432/postgres", "b1"),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            sibling_database("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "b1"),
            "postgres://postgres@127.0.0.1:5432/b1?sslmode=disable"
        );
    }
}
