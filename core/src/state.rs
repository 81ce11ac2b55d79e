//! The state shared by every request handler and server function.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::github::{GithubApi, OctocrabGithub};
use crate::catalog::fetch::HttpUrlReader;
use crate::config::Config;
use crate::github::{GithubSync, GithubSyncError};

/// Cheap to clone: everything inside is reference-counted.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The configuration read at start-up.
    pub config: Arc<Config>,
    /// GitHub's REST API as the signed-in person (a fake in tests).
    pub github: Arc<dyn GithubApi>,
    /// GitHub's REST API with the portal's own token: discovery, URL locations, sync.
    pub github_sync: Arc<GithubSync>,
    /// Reads URL locations.
    pub urls: Arc<HttpUrlReader>,
    /// The health grid's settled sums.
    pub grid_cache: Arc<crate::health::query::GridCache>,
    /// Backstage's entity JSON by reference (`PORTOLAN_CATALOG_CACHE_MB`).
    pub entity_cache: Arc<crate::catalog::cache::EntityCache>,
    /// What search reads of page revisions, and page histories (`PORTOLAN_DOCS_CACHE_MB`).
    pub docs_cache: Arc<crate::docs::cache::DocsCache>,
}

impl AppState {
    /// The state for a configuration and an open database.
    pub fn new(db: DatabaseConnection, config: Arc<Config>) -> Result<AppState, GithubSyncError> {
        let github_sync =
            GithubSync::new(db.clone(), &config.github_api_url, &config.github_url, config.github_token.as_ref())?;
        crate::docs::cache::set_render_budget(config.docs_cache_mb);
        Ok(AppState {
            github: Arc::new(OctocrabGithub::new(&config.github_api_url)),
            urls: Arc::new(HttpUrlReader::new(github_sync.clone())),
            github_sync: Arc::new(github_sync),
            grid_cache: Arc::default(),
            entity_cache: Arc::new(crate::catalog::cache::EntityCache::with_megabytes(config.catalog_cache_mb)),
            docs_cache: Arc::new(crate::docs::cache::DocsCache::with_megabytes(config.docs_cache_mb)),
            db,
            config,
        })
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish_non_exhaustive()
    }
}
