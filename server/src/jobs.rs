//! Background jobs of `portolan serve`: the webhook worker, the catalog refresh schedule (GitHub discovery, then
//! every registered location) and the sync of docs kept in repositories.

use std::sync::Arc;
use std::time::Duration;

use portolan_core::AppState;
use portolan_core::catalog::discovery;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::ServerState;

/// How long the webhook worker sleeps when nothing wakes it (it retries failed deliveries then).
const WEBHOOK_POLL: Duration = Duration::from_secs(30);

/// Starts every background job.
pub fn spawn_all(state: &ServerState) {
    spawn_webhook_worker(state.app.clone(), state.webhook_wakeup.clone());
    spawn_catalog_refresh(state.app.clone());
    spawn_docs_sync(state.app.clone());
    spawn_deploy_sync(state.app.clone());
    spawn_health_engine(state);
    spawn_opencost_pull(state.app.clone());
    spawn_scaffold_recovery(state.app.clone());
    spawn_entity_cache_poll(state.app.clone());
}

/// Every second, reads `catalog_generation`, so the by-name read cache forgets what other processes changed.
pub fn spawn_entity_cache_poll(app: AppState) -> Option<JoinHandle<()>> {
    if app.config.catalog_cache_mb == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(portolan_core::catalog::cache::POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match app.entity_cache.poll(&app.db).await {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "reading catalog_generation failed; the entity cache is off until it works");
                }
                Err(_) => {}
            }
        }
    }))
}

/// Every minute, marks scaffolder tasks whose runner stopped beating (its process ended) as failed, so the page
/// says so and they can be retried.
pub fn spawn_scaffold_recovery(app: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match portolan_core::scaffold::tasks::recover_stale(&app.db).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(tasks = n, "scaffolder tasks whose runner stopped were marked failed"),
                Err(e) => tracing::warn!(error = %e, "checking scaffolder tasks failed"),
            }
        }
    })
}

/// Pulls OpenCost (`PORTOLAN_OPENCOST_URL`) on its period, 30 s after start-up first. Each pull replaces the months
/// it covers, so replicas pulling the same day agree.
pub fn spawn_opencost_pull(app: AppState) -> Option<JoinHandle<()>> {
    let every = app.config.cost.opencost_sync_seconds;
    if every == 0 || app.config.cost.opencost_url.is_none() {
        return None;
    }
    Some(tokio::spawn(async move {
        let http = crate::cost::opencost_client();
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(30), Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let today = chrono::Utc::now().date_naive();
            match portolan_core::cost::opencost::pull(&app.db, &app.config, &http, today, "system").await {
                Ok(s) => {
                    tracing::info!(rows = s.rows, periods = ?s.periods, "OpenCost pulled");
                    portolan_core::cost::budgets::notify(&app.db, &app.config).await;
                }
                Err(e) => tracing::warn!(error = %e, "OpenCost pull failed"),
            }
        }
    }))
}

/// Runs the health probe engine (unless `PORTOLAN_HEALTH_PROBES=false`).
pub fn spawn_health_engine(state: &ServerState) -> Option<JoinHandle<()>> {
    if !state.app.config.health.probes {
        return None;
    }
    let engine = portolan_core::health::engine::Engine::new(
        state.app.db.clone(),
        state.app.config.clone(),
        state.health_metrics.clone(),
    );
    Some(tokio::spawn(Arc::new(engine).run()))
}

/// Reads deployments, runs and their commits from GitHub for every component with a repository, on the
/// configured period (two minutes after start-up first). Needs `PORTOLAN_GITHUB_TOKEN`. When GitHub asks to wait
/// (a rate limit), the next round waits that long.
pub fn spawn_deploy_sync(app: AppState) -> Option<JoinHandle<()>> {
    let every = app.config.deploy_sync_seconds;
    if every == 0 || app.config.github_token.is_none() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut wait = Duration::from_secs(120);
        loop {
            tokio::time::sleep(wait).await;
            wait = Duration::from_secs(every);
            match portolan_core::deploys::github::sync_all(&app).await {
                Ok(reports) => {
                    let recorded: usize = reports.iter().map(|r| r.deployments + r.workflow_runs).sum();
                    tracing::info!(components = reports.len(), deployments = recorded, "deploy sync finished");
                }
                Err(portolan_core::deploys::github::SyncError::Github(
                    portolan_core::github::GithubSyncError::RateLimited { retry_after_secs, .. },
                )) => {
                    tracing::warn!(retry_after_secs, "deploy sync paused by GitHub's rate limit");
                    wait = Duration::from_secs(retry_after_secs.max(1));
                }
                Err(e) => tracing::warn!(error = %e, "deploy sync failed"),
            }
        }
    }))
}

/// Syncs docs kept in repositories on the configured period (a minute after start-up first, so the catalog's
/// first refresh can land).
pub fn spawn_docs_sync(app: AppState) -> Option<JoinHandle<()>> {
    let every = app.config.docs_sync_seconds;
    if every == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let period = Duration::from_secs(every);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(60), period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match portolan_core::docs::techdocs::sync_all(&app, None).await {
                Ok(reports) => {
                    let changed: usize = reports.iter().map(|r| r.created + r.updated + r.removed).sum();
                    tracing::info!(entities = reports.len(), pages_changed = changed, "docs sync finished");
                }
                Err(e) => tracing::warn!(error = %e, "docs sync failed"),
            }
        }
    }))
}

/// Processes queued webhook deliveries whenever the receiver signals one, and every 30 s.
pub fn spawn_webhook_worker(app: AppState, wakeup: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        match portolan_core::webhooks::requeue_interrupted(&app.db).await {
            Ok(n) if n > 0 => tracing::info!(deliveries = n, "interrupted webhook deliveries queued again"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "requeueing interrupted webhook deliveries failed"),
        }
        loop {
            if let Err(e) = portolan_core::webhooks::process_queue(&app).await {
                tracing::warn!(error = %e, "processing webhook deliveries failed");
            }
            tokio::select! {
                () = wakeup.notified() => {}
                () = tokio::time::sleep(WEBHOOK_POLL) => {}
            }
        }
    })
}

/// Runs GitHub discovery at start-up, then discovery and a refresh of every location on the configured period.
pub fn spawn_catalog_refresh(app: AppState) -> Option<JoinHandle<()>> {
    let every = app.config.catalog_refresh_seconds;
    let discovering = !app.config.github_discovery_orgs.is_empty();
    if every == 0 && !discovering {
        return None;
    }
    Some(tokio::spawn(async move {
        if discovering {
            log_report("GitHub discovery", discovery::discover(&app).await);
        }
        if every == 0 {
            return;
        }
        let period = Duration::from_secs(every);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            log_report("catalog refresh", discovery::refresh_everything(&app).await);
        }
    }))
}

fn log_report(what: &str, result: Result<discovery::RefreshReport, portolan_core::catalog::ImportError>) {
    match result {
        Ok(r) => tracing::info!(
            repositories = r.repositories,
            locations = r.locations,
            added = r.added,
            updated = r.updated,
            orphaned = r.orphaned,
            removed = r.removed,
            errors = r.errors.len(),
            "{what} finished"
        ),
        Err(e) => tracing::warn!(error = %e, "{what} failed"),
    }
}
