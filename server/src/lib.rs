//! The portolan server: wires configuration, the database, authentication, the JSON API and the Leptos
//! application into one axum router, and runs it.

pub mod access;
pub mod api;
pub mod attachments;
pub mod auth;
pub mod bench;
pub mod bench_cost;
pub mod bench_deploys;
pub mod bench_docs;
pub mod bench_health;
pub mod bench_scaffold;
pub mod catalog;
pub mod cost;
pub mod deploys;
pub mod docs;
pub mod health;
pub mod http;
pub mod jobs;
pub mod openapi;
pub mod progress;
pub mod scaffold;
pub mod search;
pub mod telemetry;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use portolan_app::{App, OUTPUT_NAME, shell};
use portolan_core::auth::session_store::DbSessionStore;
use portolan_core::{AppState, Config};

/// The example catalog imported with the demo data, relative to the working directory.
pub const DEMO_CATALOG: &str = "examples/catalog";

/// The example scaffolder template, imported with the demo data (the file, not its directory: the skeleton next to
/// it holds a `catalog-info.yaml` with expressions that is not an entity).
pub const DEMO_TEMPLATE: &str = "examples/templates/rust-service/template.yaml";

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "portolan_session";

/// What every handler can reach: the domain state, the Leptos options, an HTTP client and the metrics ([`Shared`]).
/// One reference count to clone: axum clones the state for every middleware and extractor of every request, and
/// cloning the fields one by one (the options' strings, the GitHub clients) took a tenth of a by-name lookup's
/// CPU.
#[derive(Clone)]
pub struct ServerState(Arc<Shared>);

impl std::ops::Deref for ServerState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The contents of [`ServerState`].
pub struct Shared {
    /// Database, configuration and external clients.
    pub app: AppState,
    /// Where the compiled site lives.
    pub leptos: LeptosOptions,
    /// Outbound HTTP client (OAuth token exchange); never follows redirects.
    pub http: reqwest::Client,
    /// Request and pool metrics.
    pub metrics: Arc<http::metrics::Metrics>,
    /// The session store, for the expiry sweeper.
    pub sessions: DbSessionStore,
    /// Wakes the webhook worker when a delivery was queued.
    pub webhook_wakeup: Arc<tokio::sync::Notify>,
    /// Rate-limit buckets.
    pub limiter: Arc<http::limits::Limiter>,
    /// Probe figures of this process's health engine.
    pub health_metrics: Arc<portolan_core::health::engine::Metrics>,
    /// State changes for the live pages (server-sent events).
    pub health_events: Arc<health::HealthEvents>,
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(state: &ServerState) -> Self {
        state.leptos.clone()
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The listener could not be bound.
    #[error("cannot listen on PORTOLAN_ADDR {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
    /// The GitHub client could not be built.
    #[error("{0}")]
    Github(#[from] portolan_core::github::GithubSyncError),
}

/// Opens and migrates the database named in the configuration.
pub async fn open_database(config: &Config) -> Result<sea_orm::DatabaseConnection, ServeError> {
    let db = portolan_core::db::open_with(config.database_url.expose(), config.database_max_connections).await?;
    portolan_core::deploys::sync_environments(&db, config).await?;
    tracing::info!(db.backend = portolan_core::db::backend_name(&db), "database ready");
    Ok(db)
}

/// `portolan migrate`.
pub async fn migrate_only(config: &Config) -> Result<(), ServeError> {
    open_database(config).await?;
    println!("migrations applied");
    Ok(())
}

/// The database and the domain state, for one-shot commands.
async fn open_state(config: &Config) -> Result<AppState, ServeError> {
    let db = open_database(config).await?;
    Ok(AppState::new(db, Arc::new(config.clone()))?)
}

/// `portolan catalog import PATH...`: reads each location and prints what changed. Returns `false` when any
/// document had an error (the valid ones are imported all the same).
pub async fn catalog_import(config: &Config, paths: &[String]) -> Result<bool, ServeError> {
    let state = open_state(config).await?;
    let mut clean = true;
    for path in paths {
        let bar = progress::bar(format!("reading {path}"), "files");
        match portolan_core::catalog::import_with_progress(&state, path, "cli", bar).await {
            Ok((target, s)) => {
                let report = s.report(target);
                println!("{report}");
                for e in &report.errors {
                    println!("  error: {e}");
                }
                clean &= report.errors.is_empty();
            }
            Err(e) => {
                println!("{path}: {e}");
                clean = false;
            }
        }
    }
    Ok(clean)
}

/// `portolan cost import`: reads every file (a progress bar on a terminal), then replaces the billing periods they
/// hold in one transaction, and prints the summary. Returns `false` when a file was refused (nothing changed).
pub async fn cost_import(config: &Config, paths: &[String]) -> Result<bool, ServeError> {
    let state = open_state(config).await?;
    let sources = match portolan_core::cost::import::expand_manifests(paths) {
        Ok(s) => s,
        Err(e) => {
            println!("refused, nothing changed: {e}");
            return Ok(false);
        }
    };
    let bar = progress::bar("importing".to_owned(), "MiB");
    let progress: Option<portolan_core::cost::import::Progress> = bar.map(|bar| {
        std::sync::Arc::new(move |done: u64, total: u64| {
            let mib = |b: u64| usize::try_from(b.div_ceil(1 << 20)).unwrap_or(usize::MAX);
            bar(mib(done), mib(total));
        }) as portolan_core::cost::import::Progress
    });
    let started = std::time::Instant::now();
    match portolan_core::cost::import::import(&state.db, &state.config, sources, "cli", progress).await {
        Ok(s) => {
            let peak = bench::rss_mib(std::process::id()).map(|(_, peak)| format!(", peak memory {peak:.0} MiB"));
            println!("took {:.1} s{}", started.elapsed().as_secs_f64(), peak.unwrap_or_default());
            portolan_core::cost::budgets::notify(&state.db, &state.config).await;
            println!(
                "{} file(s), {} rows, {} billing period(s): {}",
                s.files.len(),
                s.rows,
                s.periods.len(),
                s.periods.join(", ")
            );
            for t in &s.totals {
                println!(
                    "  {}: billed {}, effective {}; allocated {} ({}%), shared {}, unallocated {}",
                    t.currency,
                    t.billed.to_cents_text(),
                    t.effective.to_cents_text(),
                    t.allocated.to_cents_text(),
                    t.allocated_percent.as_deref().unwrap_or("-"),
                    t.shared.to_cents_text(),
                    t.unallocated.to_cents_text(),
                );
            }
            Ok(true)
        }
        Err(e) => {
            println!("refused, nothing changed: {e}");
            Ok(false)
        }
    }
}

/// `portolan cost generate`: a seeded billing file and, on stdout, the totals its import must show (JSON).
pub fn cost_generate(
    format: &str,
    lines: usize,
    seed: u64,
    month: &str,
    components: &str,
    out: &str,
) -> Result<(), String> {
    use portolan_core::cost::formats::Format;
    use portolan_core::cost::generate;
    let format = match format {
        "focus" => Format::Focus,
        "cur" => Format::Cur,
        "cur2" => Format::Cur2,
        other => return Err(format!("unknown format `{other}` (focus, cur or cur2)")),
    };
    let period_start = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| format!("`{month}` is not a month (YYYY-MM)"))?;
    let components: Vec<(String, String)> = components
        .split(',')
        .filter(|c| !c.trim().is_empty())
        .map(|c| {
            let (name, team) = c.split_once(':').unwrap_or((c, "platform"));
            (name.trim().to_owned(), team.trim().to_owned())
        })
        .collect();
    let days = {
        let (first, next) = portolan_core::cost::query::month_bounds(period_start);
        u32::try_from((next - first).num_days()).unwrap_or(28)
    };
    let spec = generate::Spec {
        seed,
        lines,
        period_start,
        days,
        account: "111122223333".to_owned(),
        currency: "USD".to_owned(),
        components,
    };
    let file = std::fs::File::create(out).map_err(|e| format!("{out}: {e}"))?;
    let buffered = std::io::BufWriter::new(file);
    let expected = if out.ends_with(".gz") {
        let mut gz = flate2::write::GzEncoder::new(buffered, flate2::Compression::fast());
        let e = generate::write(format, &spec, &mut gz).map_err(|e| format!("{out}: {e}"))?;
        gz.finish().and_then(|mut w| std::io::Write::flush(&mut w)).map_err(|e| format!("{out}: {e}"))?;
        e
    } else {
        let mut w = buffered;
        let e = generate::write(format, &spec, &mut w).map_err(|e| format!("{out}: {e}"))?;
        std::io::Write::flush(&mut w).map_err(|e| format!("{out}: {e}"))?;
        e
    };
    println!("{}", generate::expected_json(&expected));
    Ok(())
}

/// `portolan catalog refresh`: GitHub discovery and a refresh of every location, once. Returns `false` when
/// anything had an error.
pub async fn catalog_refresh(config: &Config) -> Result<bool, ServeError> {
    let state = open_state(config).await?;
    match portolan_core::catalog::discovery::refresh_everything(&state).await {
        Ok(r) => {
            println!("{} repositories, {r}", r.repositories);
            for e in &r.errors {
                println!("  error: {e}");
            }
            Ok(r.errors.is_empty())
        }
        Err(e) => {
            println!("refresh failed: {e}");
            Ok(false)
        }
    }
}

/// Builds the whole application state from a configuration and an open database.
pub fn build_state(config: Config, db: sea_orm::DatabaseConnection) -> Result<ServerState, ServeError> {
    let leptos = LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .user_agent(concat!("portolan/", env!("CARGO_PKG_VERSION")))
        .build()?;
    Ok(ServerState(Arc::new(Shared {
        sessions: DbSessionStore::new(db.clone()),
        app: AppState::new(db, Arc::new(config))?,
        leptos,
        http,
        metrics: Arc::default(),
        webhook_wakeup: Arc::default(),
        limiter: Arc::default(),
        health_metrics: Arc::default(),
        health_events: Arc::default(),
    })))
}

/// The complete router: operations endpoints, JSON API, authentication, the Leptos pages and static files,
/// wrapped in request ids, tracing, metrics, security headers, CSRF checks, sessions and viewer resolution.
pub fn router(state: ServerState) -> Router {
    let config = state.app.config.clone();
    let app_state = state.app.clone();
    let context = move || provide_context(app_state.clone());
    let leptos = state.leptos.clone();
    let routes = generate_route_list(App);

    let sessions = SessionManagerLayer::new(state.sessions.clone())
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies())
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(i64::from(config.session_days))));

    Router::new()
        .merge(api::router())
        .merge(catalog::router())
        .merge(webhooks::router())
        .merge(access::router())
        .merge(openapi::router())
        .merge(docs::router())
        .merge(deploys::router())
        .merge(cost::router())
        .merge(health::router())
        .merge(attachments::router())
        .merge(search::router())
        .merge(scaffold::router())
        .merge(auth::router(&config))
        .leptos_routes_with_context(&state, routes, context.clone(), move || shell(leptos.clone()))
        .fallback(file_and_error_handler_with_context::<ServerState, _>(context, shell))
        .layer(axum::middleware::from_fn(http::fn_status::refusal_status))
        .layer(axum::middleware::from_fn_with_state(state.clone(), http::limits::limit_api))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::resolve_viewer))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(state.clone(), http::limits::guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), http::limits::limit_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), http::csrf::check_origin))
        .layer(axum::middleware::from_fn_with_state(state.clone(), http::headers::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), http::metrics::record))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(telemetry::trace_layer())
        .layer(SetRequestIdLayer::x_request_id(telemetry::MakeRequestId))
        .with_state(state)
}

/// `portolan serve`: opens the database, starts background jobs and serves until SIGTERM or Ctrl-C, finishing
/// in-flight requests first.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let db = open_database(&config).await?;
    let addr = config.addr;
    let public_url = config.public_url.clone();
    let demo = config.demo;
    let state = build_state(config, db)?;
    if demo {
        portolan_core::demo::seed(&state.app.db).await?;
        if std::path::Path::new(DEMO_CATALOG).is_dir() {
            match portolan_core::catalog::import(&state.app, DEMO_CATALOG, "demo").await {
                Ok((_, s)) => tracing::info!(added = s.added, errors = s.errors.len(), "demo catalog imported"),
                Err(e) => tracing::warn!(error = %e, "demo catalog import failed"),
            }
        }
        if std::path::Path::new(DEMO_TEMPLATE).is_file()
            && let Err(e) = portolan_core::catalog::import(&state.app, DEMO_TEMPLATE, "demo").await
        {
            tracing::warn!(error = %e, "demo templates import failed");
        }
        if let Err(e) = portolan_core::demo::seed_deploys(&state.app.db, &state.app.config).await {
            tracing::warn!(error = %e, "demo deployments could not be loaded");
        }
        if let Err(e) = portolan_core::demo::seed_cost(&state.app.db, &state.app.config).await {
            tracing::warn!(error = %e, "demo cost could not be loaded");
        }
        tracing::info!("demo data loaded");
    }
    spawn_session_sweeper(state.sessions.clone());
    jobs::spawn_all(&state);
    let listener = listen(addr).map_err(|source| ServeError::Bind { addr, source })?;
    tracing::info!(%addr, %public_url, "portolan listening on http://{addr}");
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("portolan stopped");
    Ok(())
}

/// Listens on `addr` with Nagle's algorithm off (`TCP_NODELAY`, which accepted connections inherit): a response
/// written in several pieces (a page streamed as it renders, an event stream) leaves at once, instead of its later
/// pieces waiting for the client to acknowledge the first.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    // As `TcpListener::bind` does: a restarted server can listen again at once.
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn spawn_session_sweeper(store: DbSessionStore) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match store.delete_expired().await {
                Ok(n) if n > 0 => tracing::info!(sessions.deleted = n, "expired sessions deleted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deleting expired sessions failed"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn accepted_connections_do_not_wait_to_send_small_pieces() {
        let listener = super::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted, client) = tokio::join!(listener.accept(), tokio::net::TcpStream::connect(addr));
        let (io, peer) = accepted.unwrap();
        assert_eq!(peer, client.unwrap().local_addr().unwrap());
        assert!(io.nodelay().unwrap(), "Nagle's algorithm is off on the server's side of the connection");
    }
}
