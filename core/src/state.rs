//! The state shared by every request handler and server function.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::github::GithubApi;
use crate::config::Config;

/// Cheap to clone: everything inside is reference-counted.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The configuration read at start-up.
    pub config: Arc<Config>,
    /// GitHub's REST API (a fake in tests).
    pub github: Arc<dyn GithubApi>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish_non_exhaustive()
    }
}
