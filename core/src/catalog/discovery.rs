//! GitHub discovery: every repository of the configured organisations is a candidate location
//! `url:<github>/<owner>/<repo>/blob/<default branch>/<catalog path>`. Repositories without the file are not
//! registered; a repository whose file disappears orphans what it declared. A scheduled refresh reads every
//! location again (conditional requests make unchanged GitHub files free), and a push webhook refreshes the
//! pushed repository at once.

use std::collections::HashSet;

use serde_json::Value;

use super::{ImportError, refresh_target, store};
use crate::AppState;
use crate::github::GithubSyncError;

/// The actor recorded for scheduled discovery.
pub const DISCOVERY_ACTOR: &str = "github-discovery";

/// The actor recorded for refreshes caused by a push webhook.
pub const PUSH_ACTOR: &str = "github-push";

/// What a discovery or refresh run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    /// Repositories looked at.
    pub repositories: usize,
    /// Locations read (discovered or registered).
    pub locations: usize,
    /// Entities added, updated, orphaned and removed across them.
    pub added: usize,
    /// See `added`.
    pub updated: usize,
    /// See `added`.
    pub orphaned: usize,
    /// See `added`.
    pub removed: usize,
    /// Problems, each naming the organisation, repository or location.
    pub errors: Vec<String>,
    /// Targets read in this run.
    pub targets: HashSet<String>,
}

impl std::fmt::Display for RefreshReport {
    /// The counts, as the CLI and the push webhook's delivery log show them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} locations read, {} added, {} updated, {} removed, {} orphaned, {} errors",
            self.locations,
            self.added,
            self.updated,
            self.removed,
            self.orphaned,
            self.errors.len()
        )
    }
}

impl RefreshReport {
    fn add(&mut self, target: &str, s: &super::ImportSummary) {
        self.locations += 1;
        self.added += s.added;
        self.updated += s.updated;
        self.orphaned += s.orphaned;
        self.removed += s.removed;
        self.errors.extend(s.errors.iter().cloned());
        self.targets.insert(target.to_owned());
    }
}

/// Looks for the catalog file in every repository of every configured organisation.
pub async fn discover(state: &AppState) -> Result<RefreshReport, ImportError> {
    let mut report = RefreshReport::default();
    let path = &state.config.github_catalog_path;
    for org in &state.config.github_discovery_orgs {
        let repos = match state.github_sync.org_repositories(org).await {
            Ok(r) => r,
            Err(e @ GithubSyncError::RateLimited { .. }) => {
                report.errors.push(format!("organisation {org}: {e}"));
                break;
            }
            Err(GithubSyncError::Db(e)) => return Err(ImportError::Db(e)),
            Err(e) => {
                report.errors.push(format!("organisation {org}: {e}"));
                continue;
            }
        };
        for repo in repos.iter().filter(|r| !r.archived && !r.disabled) {
            report.repositories += 1;
            let branch = repo.default_branch.as_deref().unwrap_or("main");
            let target = format!("url:{}", state.github_sync.blob_url(&repo.full_name, branch, path));
            if let Some(summary) = refresh_target(state, &target, DISCOVERY_ACTOR, false).await? {
                report.add(&target, &summary);
            }
        }
    }
    Ok(report)
}

/// The scheduled job: discovery, then every other registered location.
pub async fn refresh_everything(state: &AppState) -> Result<RefreshReport, ImportError> {
    let mut report = discover(state).await?;
    for location in store::list_locations(&state.db).await? {
        if report.targets.contains(&location.target) {
            continue;
        }
        if let Some(summary) = refresh_target(state, &location.target, DISCOVERY_ACTOR, true).await? {
            report.add(&location.target, &summary);
        }
    }
    Ok(report)
}

/// A `push` delivery: when it is to the repository's default branch, every location in that repository is read
/// again, and a repository of a discovery organisation that has no location yet is looked at.
pub async fn on_push(state: &AppState, payload: &Value) -> Result<String, ImportError> {
    let repo = payload.pointer("/repository/full_name").and_then(Value::as_str).unwrap_or_default();
    let owner = payload.pointer("/repository/owner/login").and_then(Value::as_str).unwrap_or_default();
    let branch = payload.pointer("/repository/default_branch").and_then(Value::as_str).unwrap_or("main");
    let pushed = payload.get("ref").and_then(Value::as_str).unwrap_or_default();
    if repo.is_empty() {
        return Ok("ignored: no repository in the payload".to_owned());
    }
    if pushed != format!("refs/heads/{branch}") {
        return Ok(format!("ignored: {pushed} is not the default branch of {repo}"));
    }
    let prefix = format!("url:{}", state.github_sync.blob_url(repo, branch, ""));
    let mut report = RefreshReport::default();
    for location in store::list_locations(&state.db).await? {
        if location.target.starts_with(&prefix)
            && let Some(summary) = refresh_target(state, &location.target, PUSH_ACTOR, true).await?
        {
            report.add(&location.target, &summary);
        }
    }
    if report.locations == 0 && state.config.github_discovery_orgs.iter().any(|o| o.eq_ignore_ascii_case(owner)) {
        let target = format!("url:{}", state.github_sync.blob_url(repo, branch, &state.config.github_catalog_path));
        if let Some(summary) = refresh_target(state, &target, PUSH_ACTOR, false).await? {
            report.add(&target, &summary);
        }
    }
    Ok(format!("{repo}: {report}"))
}
