//! `portolan bench docs`: the docs benchmark behind the README's figures.
//!
//! It migrates a fresh database (SQLite file, or a new PostgreSQL database), writes 2,000 pages of about 5 KB
//! (headings, lists, a table, a code block, wiki links) and one page with 1,000 revisions through the same core
//! functions the API uses, starts `portolan serve` in a child process and drives it over loopback: reading
//! rendered pages, saving revisions (each connection edits its own page, so saves do not conflict), searching,
//! diffing and loading the long history. The diff of two 5 KB revisions is also timed in-process, without HTTP.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portolan_types::docs::{NewPage, PageUpdate};

use crate::bench::{BenchError, BenchOptions, Figures, PathFor, free_port, load, progress, rss_mib};

/// What to run.
#[derive(Debug, Clone)]
pub struct DocsBenchOptions {
    /// Pages to write.
    pub pages: usize,
    /// Revisions of the page whose history is loaded.
    pub revisions: usize,
    /// A PostgreSQL server to create a fresh database on; a fresh SQLite file when `None`.
    pub postgres: Option<String>,
    /// Concurrent connections.
    pub connections: usize,
    /// How long each scenario runs.
    pub duration: Duration,
    /// Saves a second from all editors together in the steady-load save scenario.
    pub save_rate: f64,
}

const WORDS: [&str; 48] = [
    "deploy",
    "rollback",
    "payments",
    "database",
    "replica",
    "primary",
    "restart",
    "drain",
    "traffic",
    "alert",
    "latency",
    "queue",
    "worker",
    "cache",
    "certificate",
    "rotate",
    "secret",
    "vault",
    "kubernetes",
    "pod",
    "node",
    "region",
    "failover",
    "backup",
    "restore",
    "snapshot",
    "incident",
    "pager",
    "dashboard",
    "metrics",
    "logs",
    "timeout",
    "retry",
    "circuit",
    "breaker",
    "checkout",
    "ledger",
    "invoice",
    "refund",
    "settlement",
    "gateway",
    "ingress",
    "canary",
    "release",
    "migration",
    "schema",
    "index",
    "vacuum",
];

/// A small deterministic generator, so every run writes the same pages.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).unwrap_or(0)
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.next() % WORDS.len()]
    }

    fn sentence(&mut self, words: usize) -> String {
        let mut s: Vec<&str> = (0..words).map(|_| self.word()).collect();
        s.dedup();
        let mut text = s.join(" ");
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        text.push('.');
        text
    }
}

/// About 5 KB of runbook Markdown.
fn page_markdown(rng: &mut Lcg, n: usize) -> String {
    let mut md = format!("# Runbook {n}\n\n{}\n\n", rng.sentence(30));
    let mut section = 0;
    while md.len() < 5_000 {
        section += 1;
        let _ = write!(md, "## Step {section}: {} the {}\n\n", rng.word(), rng.word());
        for _ in 0..3 {
            let _ = writeln!(md, "- {}", rng.sentence(10));
        }
        let _ = write!(md, "\n{} See [[Runbook {}]].\n\n", rng.sentence(25), rng.next() % 2_000);
        if section % 3 == 0 {
            md.push_str("| host | role | region |\n|---|---|---|\n");
            for r in 0..4 {
                let _ = writeln!(md, "| {}-{r} | {} | eu-{} |", rng.word(), rng.word(), r % 3);
            }
            md.push('\n');
        }
        if section % 4 == 0 {
            let _ = write!(md, "```sh\nkubectl -n {} rollout restart deploy/{}\n```\n\n", rng.word(), rng.word());
        }
    }
    md
}

fn latency_figures(mut all: Vec<f64>, errors: usize, first_error: Option<String>, duration: Duration) -> Figures {
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all.get(((all.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
    Figures {
        requests: all.len() + errors,
        errors,
        first_error,
        per_second: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: pct(0.50),
        p95_ms: pct(0.95),
        p99_ms: pct(0.99),
        max_ms: all.last().copied().unwrap_or(0.0),
    }
}

/// Each connection saves revisions of its own page, based on the revision its last save answered. With `pace`
/// `None` each saves again as soon as its last save is answered (the database at full load: the figures are mostly
/// the queue); with `Some(period)` each saves on a fixed schedule, once a period, spread over the period across
/// connections, and a save's time counts from when it was due, so a save that waits behind a slow one is not left
/// out (no coordinated omission).
async fn save_load(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    o: &DocsBenchOptions,
    ids: &[i64],
    pace: Option<Duration>,
) -> Figures {
    let deadline = Instant::now() + o.duration;
    let editors = ids.len().min(o.connections).max(1);
    let mut tasks = Vec::new();
    for (c, id) in ids.iter().copied().enumerate().take(o.connections) {
        let (client, base, token) = (client.clone(), base.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(c as u64 + 7);
            let url = format!("{base}/api/v1/pages/{id}");
            let mut latencies = Vec::new();
            let (mut errors, mut first_error) = (0, None);
            let current: Option<serde_json::Value> = match client.get(&url).bearer_auth(&token).send().await {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
            let Some(mut current) = current else { return (latencies, 1, Some("could not read the page".to_owned())) };
            let mut due = pace.map(|p| Instant::now() + p.mul_f64(c as f64 / editors as f64));
            while Instant::now() < deadline {
                if let (Some(at), Some(period)) = (due.as_mut(), pace) {
                    tokio::time::sleep_until((*at).into()).await;
                    if *at >= deadline {
                        break;
                    }
                    // Due times stay on the schedule whatever the last save took.
                    *at += period;
                }
                let (from, to) = (rng.word(), rng.word());
                let markdown = current["markdown"].as_str().unwrap_or("").replacen(from, to, 1);
                let body = PageUpdate {
                    base_revision: current["revision_id"].as_i64().unwrap_or(0),
                    markdown,
                    title: None,
                    summary: Some("bench".to_owned()),
                };
                let started = due.zip(pace).map_or_else(Instant::now, |(next, period)| next - period);
                match client.put(&url).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status().is_success() => match r.json::<serde_json::Value>().await {
                        Ok(v) => {
                            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                            current = v;
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e.to_string());
                        }
                    },
                    Ok(r) => {
                        errors += 1;
                        first_error.get_or_insert(format!("HTTP {}", r.status()));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let (mut all, mut errors, mut first_error) = (Vec::new(), 0, None);
    for t in tasks {
        if let Ok((l, e, why)) = t.await {
            all.extend(l);
            errors += e;
            first_error = first_error.or(why);
        }
    }
    latency_figures(all, errors, first_error, o.duration)
}

/// Runs the docs benchmark and prints the figures; returns them as Markdown table rows.
pub async fn docs(o: DocsBenchOptions) -> Result<String, BenchError> {
    let exe = std::env::current_exe()?;
    let work: PathBuf = std::env::temp_dir().join(format!("portolan-bench-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let fresh_pg = match &o.postgres {
        Some(admin) => Some(crate::bench::create_pg_database(admin).await?),
        None => None,
    };
    let database_url = fresh_pg
        .as_ref()
        .map(|(_, url, _)| url.clone())
        .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", work.display()));
    let backend = if database_url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" };
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

    let db = portolan_core::db::connect(&database_url).await.map_err(|e| BenchError::Step(e.to_string()))?;
    let step = |e: portolan_core::docs::pages::DocsError| BenchError::Step(e.to_string());
    let mut rng = Lcg(42);
    let bar = crate::progress::bar("writing pages".to_owned(), "pages");
    let started = Instant::now();
    let mut ids = Vec::with_capacity(o.pages);
    let mut bytes = 0usize;
    for n in 0..o.pages {
        let markdown = page_markdown(&mut rng, n);
        bytes += markdown.len();
        let page = NewPage {
            space: format!("space-{}", n % 20),
            title: format!("Runbook {n}"),
            markdown,
            kind: Some("runbook".to_owned()),
            owner: Some(format!("group-{}", n % 50)),
            entities: vec![format!("component:default/service-{n}")],
            summary: None,
            review_days: None,
            parent: None,
        };
        ids.push(portolan_core::docs::pages::create(&db, "bench", &page).await.map_err(step)?.id);
        if let Some(bar) = &bar {
            bar(n + 1, o.pages);
        }
    }
    progress(&format!(
        "wrote {} pages ({:.1} KB each on average) in {:.1} s",
        o.pages,
        bytes as f64 / o.pages.max(1) as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    ));
    let long = *ids.last().ok_or_else(|| BenchError::Step("no pages".into()))?;
    let bar = crate::progress::bar("writing revisions".to_owned(), "revisions");
    let mut base = portolan_core::docs::pages::current(&db, long)
        .await
        .map_err(|e| BenchError::Step(e.to_string()))?
        .map(|(_, r)| (r.id, r.markdown))
        .ok_or_else(|| BenchError::Step("the long page vanished".into()))?;
    for r in 1..o.revisions {
        let (from, to) = (rng.word(), rng.word());
        let markdown = base.1.replacen(from, to, 1) + &format!("\nRevision {r}.\n");
        let update = PageUpdate { base_revision: base.0, markdown, title: None, summary: Some(format!("edit {r}")) };
        let saved = portolan_core::docs::pages::save(&db, "bench", long, &update).await.map_err(step)?;
        base = (saved.revision_id, saved.markdown);
        if let Some(bar) = &bar {
            bar(r + 1, o.revisions);
        }
    }
    progress(&format!("page {long} has {} revisions", o.revisions));
    crate::bench::settle(&database_url).await?;

    // The diff of two 5 KB revisions, in-process.
    let a = page_markdown(&mut Lcg(1), 1);
    let b = {
        let mut r = Lcg(2);
        a.lines()
            .map(|l| if r.next().is_multiple_of(10) { format!("{l} {}", r.word()) } else { l.to_owned() })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut diff_times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let rows = portolan_core::docs::diff::rows(&a, &b);
        let unified = portolan_core::docs::diff::unified(&a, &b, "a", "b");
        std::hint::black_box((rows, unified));
        diff_times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let diff = latency_figures(diff_times, 0, None, Duration::from_secs(1));
    progress(&format!("diff of two {} byte revisions: p50 {:.2} ms, p99 {:.2} ms", a.len(), diff.p50_ms, diff.p99_ms));

    let port = free_port()?;
    let token = crate::bench::bench_token();
    let mut serve = Command::new(&exe);
    env(&mut serve);
    let (server, base_url) = crate::bench::start_serving(serve, &work, port, &token, Duration::from_secs(30)).await?;
    let pid = server.0.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.connections)
        .build()
        .map_err(|e| BenchError::Step(e.to_string()))?;

    let load_options = BenchOptions {
        components: 0,
        groups: 0,
        systems: 0,
        postgres: None,
        connections: o.connections,
        duration: o.duration,
    };
    let (first, count) = (ids[0], ids.len());
    let all_ids = Arc::new(ids.clone());
    let history_from = {
        let revs: serde_json::Value = client
            .get(format!("{base_url}/api/v1/pages/{long}/revisions"))
            .bearer_auth(&token)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| BenchError::Step(e.to_string()))?
            .json()
            .await
            .map_err(|e| BenchError::Step(e.to_string()))?;
        let ids: Vec<i64> =
            revs.as_array().map(|a| a.iter().filter_map(|r| r["id"].as_i64()).collect()).unwrap_or_default();
        Arc::new(ids)
    };
    let scenarios: Vec<(&str, PathFor)> = vec![
        ("read a rendered page (`GET /api/v1/pages/{id}`)", {
            let ids = all_ids.clone();
            Arc::new(move |i| format!("/api/v1/pages/{}", ids[(i * 7919) % ids.len()]))
        }),
        ("search (`GET /api/v1/search?q=…`, two words)", {
            Arc::new(move |i| {
                let partial = WORDS[(i * 7) % WORDS.len()];
                format!("/api/v1/search?q={}+{}", WORDS[i % WORDS.len()], &partial[..partial.len().min(4)])
            })
        }),
        (
            "history of a page with 1,000 revisions (`GET /api/v1/pages/{id}/revisions`)",
            Arc::new(move |_| format!("/api/v1/pages/{long}/revisions")),
        ),
        ("diff of two revisions (`GET /api/v1/pages/{id}/diff`)", {
            let revs = history_from.clone();
            Arc::new(move |i| {
                let n = revs.len().max(2);
                let a = revs.get(i % (n - 1)).copied().unwrap_or(0);
                let b = revs.get(i % (n - 1) + 1).copied().unwrap_or(0);
                format!("/api/v1/pages/{long}/diff?from={b}&to={a}")
            })
        }),
    ];
    let mut report = String::new();
    let _ = writeln!(
        report,
        "| {backend}: diff of two 5 KB revisions, in-process | p50 {:.2} ms, p99 {:.2} ms |",
        diff.p50_ms, diff.p99_ms
    );
    let row = |report: &mut String, name: &str, f: &Figures| {
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
    };
    for (name, path_for) in scenarios {
        progress(&format!("{name}: {} connections for {:?}", o.connections, o.duration));
        let warm = BenchOptions { duration: Duration::from_millis(500), ..load_options.clone() };
        load(&client, &base_url, &token, &warm, path_for.clone()).await;
        let f = load(&client, &base_url, &token, &load_options, path_for).await;
        row(&mut report, name, &f);
    }
    progress(&format!(
        "save a revision (`PUT /api/v1/pages/{{id}}`): {} connections for {:?}",
        o.connections, o.duration
    ));
    let save_ids: Vec<i64> = (0..o.connections).map(|c| first + i64::try_from(c % count).unwrap_or(0)).collect();
    let f = save_load(&client, &base_url, &token, &o, &save_ids, None).await;
    row(&mut report, &format!("save a revision (`PUT /api/v1/pages/{{id}}`), {} editors at once", o.connections), &f);
    // The same editors at a steady rate well below what the database takes at full load: the time of a save as
    // people meet it on a busy day, not the length of a queue the benchmark builds itself.
    let period = Duration::from_secs_f64(o.connections as f64 / o.save_rate);
    progress(&format!(
        "save a revision at a steady {} saves a second: {} editors for {:?}",
        o.save_rate, o.connections, o.duration
    ));
    let f = save_load(&client, &base_url, &token, &o, &save_ids, Some(period)).await;
    row(
        &mut report,
        &format!("save a revision, {} editors at a steady {} saves a second in all", o.connections, o.save_rate),
        &f,
    );
    // The same with one editor: what a save costs when it does not queue behind others (SQLite takes one writer
    // at a time, so with many the figure above is mostly the queue).
    progress(&format!("save a revision, one editor: 1 connection for {:?}", o.duration));
    let one = DocsBenchOptions { connections: 1, ..o.clone() };
    let f = save_load(&client, &base_url, &token, &one, &save_ids[..1], None).await;
    row(&mut report, "save a revision, one editor at a time", &f);
    if let Some((now, peak)) = rss_mib(pid) {
        let _ = writeln!(report, "| {backend}: server memory (RSS) | {now:.1} MiB after load, peak {peak:.1} MiB |");
    }
    drop(server);
    db.close().await.ok();
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
