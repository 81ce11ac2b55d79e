//! `portolan`: the developer portal in one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: under 16 connections the catalog's lists, search and pages answered 20-50 %
/// more requests a second with lower tail latency (measured with `portolan bench catalog`; server/BENCHMARKS.md), as
/// glibc's arenas contend between the async workers and SQLite's connection threads. The crate's `override`
/// feature (server/Cargo.toml) makes mimalloc `malloc` itself, so SQLite's C allocations use it too: the filtered
/// pages and the catalog page answered another 5-10 % more requests a second.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Portolan, the internal developer portal.
#[derive(Debug, Parser)]
#[command(name = "portolan", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the portal (the default): migrate the database, then serve on PORTOLAN_ADDR (127.0.0.1:3000).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Work with the software catalog.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Work with cost data.
    Cost {
        #[command(subcommand)]
        command: CostCommand,
    },
    /// Benchmarks that produce the README's figures (they run against 127.0.0.1 only).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
        /// What sends the load: `wrk` (Debian's package) or `builtin` (the benchmark's own HTTP client). Default:
        /// wrk when it is installed.
        #[arg(long, global = true)]
        load: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Import a synthetic catalog, then load-test lookups, filtered pages and the catalog page.
    Catalog {
        /// Components to generate.
        #[arg(long, default_value_t = 10_000)]
        components: usize,
        /// Groups to generate.
        #[arg(long, default_value_t = 200)]
        groups: usize,
        /// Systems to generate.
        #[arg(long, default_value_t = 50)]
        systems: usize,
        /// Run on a fresh database on this PostgreSQL server (e.g. postgres://postgres@127.0.0.1/postgres)
        /// instead of SQLite.
        #[arg(long)]
        postgres: Option<String>,
        /// Concurrent connections.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Write 2,000 pages of ~5 KB and a page with 1,000 revisions, then load-test reading, saving, searching,
    /// diffing and history.
    Docs {
        /// Pages to write.
        #[arg(long, default_value_t = 2_000)]
        pages: usize,
        /// Revisions of the page whose history is loaded.
        #[arg(long, default_value_t = 1_000)]
        revisions: usize,
        /// Run on a fresh database on this PostgreSQL server instead of SQLite.
        #[arg(long)]
        postgres: Option<String>,
        /// Concurrent connections.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Saves a second, from all editors together, in the steady-load save scenario.
        #[arg(long, default_value_t = 80.0)]
        save_rate: f64,
    },
    /// Write a million deployments for teams' components, then load-test the 90-day DORA report of a team and a
    /// team's deployments page.
    Deploys {
        /// Deployments to write.
        #[arg(long, default_value_t = 1_000_000)]
        deployments: usize,
        /// Components.
        #[arg(long, default_value_t = 1_000)]
        components: usize,
        /// Teams owning them.
        #[arg(long, default_value_t = 50)]
        teams: usize,
        /// Run on a fresh database on this PostgreSQL server instead of SQLite.
        #[arg(long)]
        postgres: Option<String>,
        /// Concurrent connections.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Probe 5,000 checks at 30 s against loopback targets and report the share of slots run, start delays, CPU,
    /// memory and storage growth; then load-test the health grid and a service's health.
    Health {
        /// Checks to probe.
        #[arg(long, default_value_t = 5000)]
        checks: usize,
        /// Services they belong to.
        #[arg(long, default_value_t = 1000)]
        components: usize,
        /// Probe interval in seconds.
        #[arg(long, default_value_t = 30)]
        interval: u64,
        /// Minutes of probing before the figures are read.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Run on a fresh database on this PostgreSQL server instead of SQLite.
        #[arg(long)]
        postgres: Option<String>,
        /// Concurrent connections for the page scenarios.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Seconds per page scenario.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Read and render a 200-file skeleton as a template run does (a dry-run), many times, and report the time.
    Scaffold {
        /// Files in the skeleton.
        #[arg(long, default_value_t = 200)]
        files: usize,
        /// Runs measured.
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
    /// Import a generated 1,000,000-line AWS CUR .csv.gz (time and peak memory of `portolan cost import`), then a
    /// year of daily data for 1,000 services, and load-test a service's cost and the organisation's cost page.
    Cost {
        /// Lines of the big file.
        #[arg(long, default_value_t = 1_000_000)]
        lines: usize,
        /// Services (components).
        #[arg(long, default_value_t = 1_000)]
        services: usize,
        /// Months of daily data for the page scenarios (0: import only).
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// Run on a fresh database on this PostgreSQL server instead of SQLite.
        #[arg(long)]
        postgres: Option<String>,
        /// Concurrent connections.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Seconds per page scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Send signed GitHub webhook deliveries as fast as they are acknowledged, kill -9 the server halfway, restart
    /// it, and check every acknowledged delivery is processed (SQLite).
    Webhooks {
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds of sending before the kill, and again after the restart.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[derive(Debug, Subcommand)]
enum CostCommand {
    /// Import billing files (FOCUS 1.0-1.3, AWS CUR or CUR 2.0: CSV, plain, gzip or zipped, or Parquet). Every
    /// billing period in them replaces what was imported before for the same account, in one transaction; a
    /// malformed file is refused with its line (a Parquet file: its row) and column, and nothing changes. Exits
    /// with 1 when refused.
    Import {
        /// Files.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Write a seeded synthetic billing file (reservations, savings plans, credits, refunds, tax, untagged lines
    /// and real-world noise) and print the totals its import must show, as JSON. `.gz` names are gzipped.
    Generate {
        /// `focus`, `cur` or `cur2`.
        #[arg(long, default_value = "cur")]
        format: String,
        /// Usage lines.
        #[arg(long, default_value_t = 10_000)]
        lines: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Billing month, `YYYY-MM`.
        #[arg(long, default_value = "2026-10")]
        month: String,
        /// Components (`name:team`), comma-separated; tags name them.
        #[arg(long, default_value = "payments-api:payments,storefront:payments,fraud-scorer:platform")]
        components: String,
        /// Output file.
        out: String,
    },
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Import catalog-info.yaml files: files, directories (every *.yaml/*.yml under them), http(s) URLs (files on
    /// the configured GitHub are read through its API) and the Location entities they contain. Prints a summary; exits with 1 when any document had an error.
    Import {
        /// Files, directories or URLs.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Run GitHub discovery (PORTOLAN_GITHUB_DISCOVERY_ORGS) and read every registered location again, once, as
    /// the schedule does. Exits with 1 when anything had an error.
    Refresh,
}

fn main() -> ExitCode {
    // mimalloc asks for transparent huge pages on the memory it reserves; on kernels that grant them on request
    // (`madvise`, Debian's default) a few small allocations then hold 2 MiB each: 18 MiB more at idle, measured.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = Cli::parse();
    let config = match portolan_core::config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("portolan: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    portolan_server::telemetry::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portolan: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Bench { load, .. }) = &cli.command
        && let Err(e) = portolan_server::bench::choose_load_generator(load.as_deref())
    {
        eprintln!("portolan bench: {e}");
        return ExitCode::from(2);
    }
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => portolan_server::serve(config).await.map(|()| true),
            Command::Migrate => portolan_server::migrate_only(&config).await.map(|()| true),
            Command::Catalog { command: CatalogCommand::Import { paths } } => {
                portolan_server::catalog_import(&config, &paths).await
            }
            Command::Cost { command: CostCommand::Import { files } } => {
                portolan_server::cost_import(&config, &files).await
            }
            Command::Cost { command: CostCommand::Generate { format, lines, seed, month, components, out } } => {
                match portolan_server::cost_generate(&format, lines, seed, &month, &components, &out) {
                    Ok(()) => Ok(true),
                    Err(e) => {
                        eprintln!("portolan cost generate: {e}");
                        Ok(false)
                    }
                }
            }
            Command::Catalog { command: CatalogCommand::Refresh } => portolan_server::catalog_refresh(&config).await,
            Command::Bench {
                load: _,
                command: BenchCommand::Catalog { components, groups, systems, postgres, connections, seconds },
            } => {
                let options = portolan_server::bench::BenchOptions {
                    components,
                    groups,
                    systems,
                    postgres,
                    connections,
                    duration: std::time::Duration::from_secs(seconds),
                };
                match portolan_server::bench::catalog(options).await {
                    Ok(_) => Ok(true),
                    Err(e) => {
                        eprintln!("portolan bench: {e}");
                        Ok(false)
                    }
                }
            }
            Command::Bench {
                load: _,
                command: BenchCommand::Docs { pages, revisions, postgres, connections, seconds, save_rate },
            } => {
                let options = portolan_server::bench_docs::DocsBenchOptions {
                    pages: pages.max(1),
                    revisions: revisions.max(1),
                    postgres,
                    connections: connections.max(1),
                    duration: std::time::Duration::from_secs(seconds),
                    save_rate: if save_rate.is_finite() { save_rate.clamp(0.1, 10_000.0) } else { 80.0 },
                };
                match portolan_server::bench_docs::docs(options).await {
                    Ok(_) => Ok(true),
                    Err(e) => {
                        eprintln!("portolan bench: {e}");
                        Ok(false)
                    }
                }
            }
            Command::Bench {
                load: _,
                command: BenchCommand::Deploys { deployments, components, teams, postgres, connections, seconds },
            } => {
                let options = portolan_server::bench_deploys::DeploysBenchOptions {
                    deployments: deployments.max(1),
                    components: components.max(1),
                    teams: teams.max(1),
                    postgres,
                    connections: connections.max(1),
                    duration: std::time::Duration::from_secs(seconds),
                };
                match portolan_server::bench_deploys::deploys(options).await {
                    Ok(_) => Ok(true),
                    Err(e) => {
                        eprintln!("portolan bench: {e}");
                        Ok(false)
                    }
                }
            }
            Command::Bench {
                load: _,
                command: BenchCommand::Health { checks, components, interval, minutes, postgres, connections, seconds },
            } => {
                let options = portolan_server::bench_health::HealthBenchOptions {
                    checks: checks.max(1),
                    components: components.max(1),
                    interval_seconds: interval.max(1),
                    probe_minutes: minutes.max(0.5),
                    postgres,
                    connections: connections.max(1),
                    seconds: seconds.max(1),
                };
                match portolan_server::bench_health::health(options).await {
                    Ok(_) => Ok(true),
                    Err(e) => {
                        eprintln!("portolan bench: {e}");
                        Ok(false)
                    }
                }
            }
            Command::Bench {
                load: _,
                command: BenchCommand::Cost { lines, services, months, postgres, connections, seconds },
            } => {
                let options = portolan_server::bench_cost::CostBenchOptions {
                    lines: lines.max(1),
                    services: services.max(1),
                    months,
                    postgres,
                    connections: connections.max(1),
                    duration: std::time::Duration::from_secs(seconds.max(1)),
                };
                match portolan_server::bench_cost::cost(options).await {
                    Ok(_) => Ok(true),
                    Err(e) => {
                        eprintln!("portolan bench: {e}");
                        Ok(false)
                    }
                }
            }
            Command::Bench { load: _, command: BenchCommand::Scaffold { files, runs } } => {
                let options =
                    portolan_server::bench_scaffold::ScaffoldBenchOptions { files: files.max(1), runs: runs.max(1) };
                match portolan_server::bench_scaffold::scaffold(options).await {
                    Ok(_) => Ok(true),
                    Err(e) => {
                        eprintln!("portolan bench: {e}");
                        Ok(false)
                    }
                }
            }
            Command::Bench { load: _, command: BenchCommand::Webhooks { connections, seconds } } => {
                let options = portolan_server::bench_deploys::WebhooksBenchOptions {
                    connections: connections.max(1),
                    seconds: seconds.max(1),
                };
                match portolan_server::bench_deploys::webhooks(options).await {
                    Ok(_) => Ok(true),
                    Err(e) => {
                        eprintln!("portolan bench: {e}");
                        Ok(false)
                    }
                }
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            tracing::error!(error = %e, "portolan stopped");
            eprintln!("portolan: {e}");
            ExitCode::FAILURE
        }
    }
}
