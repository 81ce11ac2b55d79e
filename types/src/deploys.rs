//! Deploys wire types: environments, deployments, incidents and the DORA four keys. Times are RFC 3339 strings
//! in UTC.

use serde::{Deserialize, Serialize};

/// One environment of the shared list (deploys, health and cost use the same one).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Its name (`production`, `prod-eu`).
    pub name: String,
    /// Where it sorts in tables (lower first).
    pub display_order: i32,
    /// Whether it counts as production (DORA figures, incidents).
    pub production: bool,
}

/// The statuses a deployment can have.
pub const DEPLOYMENT_STATUSES: [&str; 6] = ["queued", "in_progress", "success", "failure", "error", "cancelled"];

/// A commit a deployment carries, as a CD tool reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInput {
    /// The commit's sha.
    pub sha: String,
    /// When it was committed (RFC 3339).
    #[serde(default)]
    pub committed_at: Option<String>,
    /// The pull request it was merged with.
    #[serde(default)]
    pub pr_number: Option<i32>,
    /// When the first commit of that pull request was made: where a squash-merged change really started.
    #[serde(default)]
    pub pr_first_commit_at: Option<String>,
}

/// `POST /api/v1/deployments` body. The same `external_id` again updates the deployment, never duplicates it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentInput {
    /// The component (`component:default/payments-api`, or a bare name).
    pub component: String,
    /// One of the configured environments.
    pub environment: String,
    /// `queued`, `in_progress`, `success`, `failure`, `error` or `cancelled`.
    pub status: String,
    /// The deployment's key in the sending tool.
    pub external_id: String,
    /// The version deployed (a tag, an image digest).
    #[serde(default)]
    pub version: Option<String>,
    /// The commit deployed.
    #[serde(default)]
    pub commit_sha: Option<String>,
    /// When it started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// When it finished (RFC 3339).
    #[serde(default)]
    pub finished_at: Option<String>,
    /// A link to the pipeline run or its log.
    #[serde(default)]
    pub url: Option<String>,
    /// Who or what deployed it.
    #[serde(default)]
    pub actor: Option<String>,
    /// The commits it carries, when the tool knows them.
    #[serde(default)]
    pub commits: Option<Vec<CommitInput>>,
    /// The external id of the deployment this one rolls back.
    #[serde(default)]
    pub rollback_of: Option<String>,
    /// The external id of the deployment this one repairs.
    #[serde(default)]
    pub fixes: Option<String>,
}

/// A change a deployment brought: a commit, with where the change started.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeView {
    /// The commit.
    pub sha: String,
    /// When it was committed.
    pub committed_at: Option<String>,
    /// Its pull request.
    pub pr_number: Option<i32>,
    /// When its pull request's first commit was made.
    pub pr_first_commit_at: Option<String>,
}

/// A deployment as the portal knows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentView {
    /// Row id.
    pub id: i64,
    /// The component (`component:default/payments-api`).
    pub component: String,
    /// The environment.
    pub environment: String,
    /// Whether that environment is production.
    pub production: bool,
    /// Version deployed.
    pub version: Option<String>,
    /// Commit deployed.
    pub commit_sha: Option<String>,
    /// Status.
    pub status: String,
    /// Start.
    pub started_at: Option<String>,
    /// End.
    pub finished_at: Option<String>,
    /// The time it is ordered by (end, else start, else when it was reported).
    pub at: String,
    /// Duration in seconds, when both ends are known.
    pub duration_seconds: Option<i64>,
    /// Link to the pipeline run.
    pub url: Option<String>,
    /// Who deployed.
    pub actor: Option<String>,
    /// `api` or `github`.
    pub source: String,
    /// The sender's key.
    pub external_id: String,
    /// The deployment this one rolls back.
    pub rollback_of: Option<String>,
    /// The deployment this one repairs.
    pub fixes: Option<String>,
    /// The component's first deployment to this environment: its changes look back a bounded window only.
    pub first_deployment: bool,
    /// Some of its changes were left out (the first-deployment window, or a compare that stopped short).
    pub changes_truncated: bool,
    /// How many changes it brought.
    pub change_count: i32,
    /// The changes (only when one deployment is asked for, or `?changes=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<ChangeView>>,
}

/// A page of deployments, newest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPage {
    /// The deployments.
    pub items: Vec<DeploymentView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/incidents` body. The same `external_id` again updates the incident (to resolve it, say).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentInput {
    /// The component (`component:default/payments-api`, or a bare name).
    pub component: String,
    /// One of the configured environments.
    pub environment: String,
    /// What happened.
    pub title: String,
    /// `critical`, `high`, `medium`, `low` or `info`.
    pub severity: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it was resolved; absent while open.
    #[serde(default)]
    pub resolved_at: Option<String>,
    /// The incident's key in the sending tool.
    pub external_id: String,
    /// The external id of the deployment that caused it.
    #[serde(default)]
    pub deployment: Option<String>,
}

/// The severities an incident can have.
pub const INCIDENT_SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// An incident.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentView {
    /// Row id.
    pub id: i64,
    /// The component.
    pub component: String,
    /// The environment.
    pub environment: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: String,
    /// Start.
    pub started_at: String,
    /// Resolution, absent while open.
    pub resolved_at: Option<String>,
    /// The sender's key.
    pub external_id: String,
    /// The deployment that caused it, when known.
    pub deployment: Option<String>,
    /// Where it came from (`api`, `health`, `alertmanager`).
    pub source: String,
}

/// Deployment frequency.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentFrequency {
    /// Successful production deployments, counting a sha once per component and day across production
    /// environments.
    pub deployments: u64,
    /// Per day of the period.
    pub per_day: f64,
    /// Per week of the period.
    pub per_week: f64,
    /// `elite`, `high`, `medium` or `low`.
    pub band: String,
}

/// Lead time for changes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeadTime {
    /// Changes first deployed to production in the period.
    pub changes: u64,
    /// Median, in seconds; absent without changes.
    pub median_seconds: Option<i64>,
    /// 90th percentile, in seconds.
    pub p90_seconds: Option<i64>,
    /// Band; absent without changes.
    pub band: Option<String>,
}

/// Change failure rate.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeFailureRate {
    /// Successful production deployments that caused a failure.
    pub failed: u64,
    /// Successful production deployments.
    pub total: u64,
    /// `failed / total`, between 0 and 1; absent without deployments.
    pub ratio: Option<f64>,
    /// Band; absent without deployments.
    pub band: Option<String>,
}

/// Failed deployment recovery time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecoveryTime {
    /// Failures that were recovered from.
    pub count: u64,
    /// Median, in seconds; absent without recoveries.
    pub median_seconds: Option<i64>,
    /// Band; absent without recoveries.
    pub band: Option<String>,
}

/// One week of the trend.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoraWeek {
    /// The first day of the week (`2026-11-23`), in the configured zone.
    pub week: String,
    /// Deployments counted for frequency.
    pub deployments: u64,
    /// Median lead time of the week's changes, in seconds.
    pub lead_time_median_seconds: Option<i64>,
    /// Failed / total of the week's deployments.
    pub change_failure_ratio: Option<f64>,
    /// Median recovery time of the week's failures, in seconds.
    pub recovery_median_seconds: Option<i64>,
}

/// What the figures were computed over, and what might make them wrong.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataQuality {
    /// Successful production deployments that carry no commits (they count for frequency, not lead time).
    pub deployments_without_commits: u64,
    /// Deployments whose change list was cut short.
    pub truncated_changes: u64,
    /// First deployments (their changes look back a bounded window).
    pub first_deployments: u64,
    /// Components in scope without a `github.com/project-slug` annotation.
    pub components_without_repository: Vec<String>,
}

/// `GET /api/v1/dora`: the four keys for a scope and period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoraReport {
    /// `all`, or the entity ref of a team, system or component.
    pub scope: String,
    /// The environments counted (the production ones unless one was asked for).
    pub environments: Vec<String>,
    /// Start of the period (inclusive).
    pub from: String,
    /// End of the period (exclusive).
    pub to: String,
    /// The DORA report year whose bands are used.
    pub bands_year: i32,
    /// The time zone days and weeks are counted in.
    pub time_zone: String,
    /// Deployment frequency.
    pub deployment_frequency: DeploymentFrequency,
    /// Lead time for changes.
    pub lead_time: LeadTime,
    /// Change failure rate.
    pub change_failure_rate: ChangeFailureRate,
    /// Failed deployment recovery time.
    pub recovery_time: RecoveryTime,
    /// Production deployments whose pipeline failed (`failure` or `error`): not change failures.
    pub pipeline_failures: u64,
    /// The weekly trend.
    pub weeks: Vec<DoraWeek>,
    /// Data quality.
    pub data_quality: DataQuality,
}

/// The drill-down behind a DORA report: which deployments and changes each figure counts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DoraDetails {
    /// Deployments counted for frequency (one per component, sha and day), newest first.
    pub deployments: Vec<DeploymentView>,
    /// Ids of those that caused a failure.
    pub failed: Vec<i64>,
    /// Changes counted for lead time.
    pub lead_times: Vec<LeadTimeItem>,
    /// Recoveries.
    pub recoveries: Vec<RecoveryItem>,
}

/// One change behind the lead time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadTimeItem {
    /// The commit.
    pub sha: String,
    /// Its lead time in seconds.
    pub seconds: i64,
    /// The deployment that first shipped it to production.
    pub deployment_id: i64,
}

/// One recovery behind the recovery time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryItem {
    /// The failing deployment.
    pub deployment_id: i64,
    /// Seconds until service was restored.
    pub seconds: i64,
}

/// What runs where: one row per component, one cell per environment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunsWhere {
    /// The environments (columns), in display order.
    pub environments: Vec<String>,
    /// The rows.
    pub rows: Vec<RunsWhereRow>,
}

/// A component's row.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunsWhereRow {
    /// The component.
    pub component: String,
    /// One cell per environment, in column order; `None` where it never deployed successfully.
    pub cells: Vec<Option<RunsWhereCell>>,
}

/// What runs in one environment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunsWhereCell {
    /// The deployment.
    pub deployment_id: i64,
    /// Its version (or short sha).
    pub version: Option<String>,
    /// Its sha.
    pub commit_sha: Option<String>,
    /// When it was deployed.
    pub at: String,
    /// For a non-production environment: how many commits it runs that production does not; `None` when that
    /// cannot be told.
    pub ahead_of_production: Option<i64>,
}

/// What reading a component's deployments from GitHub found.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploySyncReport {
    /// The component.
    pub component: String,
    /// Its repository.
    pub repository: String,
    /// GitHub deployments recorded or updated.
    pub deployments: usize,
    /// Deployment workflow runs recorded or updated.
    pub workflow_runs: usize,
    /// Successful deployments whose commits were read (compare, or the first deployment's window).
    pub deployments_with_commits: usize,
    /// What was left out, and why (an unconfigured environment, say).
    pub skipped: Vec<String>,
}
