//! Deployments and incidents: one model fed by the CD API (and GitHub), the changes each deployment brought, and
//! the DORA four keys over any team, system, component or the whole organisation. The environments list and the
//! incidents table live here too; health and cost use the same ones.

pub mod batch;
pub mod dora;
pub mod github;
pub mod pushes;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use portolan_types::deploys::{
    ChangeView, DEPLOYMENT_STATUSES, DataQuality, DeploymentFrequency, DeploymentInput, DeploymentPage, DeploymentView,
    DoraDetails, DoraReport, DoraWeek, Environment, INCIDENT_SEVERITIES, IncidentInput, IncidentView, LeadTime,
    LeadTimeItem, RecoveryItem, RecoveryTime, RunsWhere, RunsWhereCell, RunsWhereRow,
};

use crate::Config;
use crate::catalog::entity::entities;
use crate::catalog::model::EntityRef;
use crate::catalog::visibility::Visibility;
use crate::db::{DbBool, DbTime};

/// The `environments` table (a copy of the configured list, for joins).
pub mod environments {
    use sea_orm::entity::prelude::*;

    /// One environment.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "environments")]
    pub struct Model {
        /// Name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// Display order.
        pub display_order: i32,
        /// Production or not.
        pub production: bool,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `deployments` table.
pub mod deployments {
    use sea_orm::entity::prelude::*;

    /// One deployment of a component to an environment.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deployments")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `component:namespace/name`.
        pub component_ref: String,
        /// Environment name.
        pub environment: String,
        /// Version deployed.
        pub version: Option<String>,
        /// Commit deployed.
        pub commit_sha: Option<String>,
        /// Status.
        pub status: String,
        /// Start.
        pub started_at: Option<DateTimeUtc>,
        /// End.
        pub finished_at: Option<DateTimeUtc>,
        /// End, else start, else when it was first reported: what it is ordered and counted by.
        pub at: DateTimeUtc,
        /// Pipeline link.
        pub url: Option<String>,
        /// Who deployed.
        pub actor: Option<String>,
        /// `api` or `github`.
        pub source: String,
        /// Dedupe key.
        pub external_id: String,
        /// The deployment this one rolls back.
        pub rollback_of: Option<String>,
        /// The deployment this one repairs.
        pub fixes: Option<String>,
        /// First deployment of the component to the environment.
        pub first_deployment: bool,
        /// Changes were left out (the first-deployment window, or the reported commits were cut short).
        pub changes_truncated: bool,
        /// The commits reported for it were cut short (GitHub's compare or the push chain hit a limit).
        pub commits_cut_short: bool,
        /// Number of changes.
        pub change_count: i32,
        /// First reported.
        pub created_at: DateTimeUtc,
        /// Last updated.
        pub updated_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `deployment_commits` table: the commits a deployment said it carried.
pub mod deployment_commits {
    use sea_orm::entity::prelude::*;

    /// One reported commit.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deployment_commits")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The deployment.
        pub deployment_id: i64,
        /// Its component.
        pub component_ref: String,
        /// The commit.
        pub sha: String,
        /// Commit time.
        pub committed_at: Option<DateTimeUtc>,
        /// Pull request.
        pub pr_number: Option<i32>,
        /// The pull request's first commit.
        pub pr_first_commit_at: Option<DateTimeUtc>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `deployment_changes` table: the changes the portal computed for a deployment.
pub mod deployment_changes {
    use sea_orm::entity::prelude::*;

    /// One change.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deployment_changes")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The deployment.
        pub deployment_id: i64,
        /// Its component.
        pub component_ref: String,
        /// The commit.
        pub sha: String,
        /// Commit time.
        pub committed_at: Option<DateTimeUtc>,
        /// Pull request.
        pub pr_number: Option<i32>,
        /// The pull request's first commit.
        pub pr_first_commit_at: Option<DateTimeUtc>,
        /// This deployment is the first successful production deployment (any production environment) of this
        /// commit: the one its lead time ends at.
        pub first_in_production: bool,
        /// The deployment's time (`deployments.at`), kept here so a period's changes are found by index.
        pub deployed_at: Option<DateTimeUtc>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `incidents` table, shared by health, alerts and the incidents API.
pub mod incidents {
    use sea_orm::entity::prelude::*;

    /// One incident.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "incidents")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `component:namespace/name`.
        pub component_ref: String,
        /// Environment.
        pub environment: String,
        /// Title.
        pub title: String,
        /// Severity.
        pub severity: String,
        /// Start.
        pub started_at: DateTimeUtc,
        /// Resolution.
        pub resolved_at: Option<DateTimeUtc>,
        /// Dedupe key.
        pub external_id: String,
        /// External id of the deployment that caused it.
        pub deployment: Option<String>,
        /// `api`, `health`, `alertmanager`.
        pub source: String,
        /// First reported.
        pub created_at: DateTimeUtc,
        /// Last updated.
        pub updated_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Why a deployment or incident was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A field is wrong.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DeployError {
    DeployError::Invalid { field, reason: reason.into() }
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads an RFC 3339 time (a date alone means its midnight UTC).
pub fn parse_time(field: &'static str, text: &str) -> Result<DateTime<Utc>, DeployError> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(invalid(field, format!("`{t}` is not an RFC 3339 time such as 2026-12-03T10:00:00Z")))
}

fn opt_time(field: &'static str, text: &Option<String>) -> Result<Option<DateTime<Utc>>, DeployError> {
    text.as_deref().filter(|t| !t.trim().is_empty()).map(|t| parse_time(field, t)).transpose()
}

fn clean(text: &Option<String>, field: &'static str, max: usize) -> Result<Option<String>, DeployError> {
    match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > max => Err(invalid(field, format!("longer than {max} characters"))),
        Some(t) if t.chars().any(char::is_control) => Err(invalid(field, "contains control characters")),
        t => Ok(t.map(str::to_owned)),
    }
}

fn sha(text: &str, field: &'static str) -> Result<String, DeployError> {
    let t = text.trim().to_lowercase();
    if (4..=64).contains(&t.len()) && t.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(t)
    } else {
        Err(invalid(field, format!("`{}` is not a commit sha", text.trim())))
    }
}

/// The configured environments, in display order.
pub fn environment_list(config: &Config) -> Vec<Environment> {
    config
        .environments
        .iter()
        .enumerate()
        .map(|(i, e)| Environment { name: e.name.clone(), display_order: i as i32, production: e.production })
        .collect()
}

/// Makes the `environments` table match the configuration (at start-up).
///
/// When the production environments differ from those last stored, every component's changes are recomputed
/// first (which change is first in production depends on them); the list is stored after that, so an interrupted
/// start recomputes again.
pub async fn sync_environments(db: &DatabaseConnection, config: &Config) -> Result<(), DbErr> {
    let before: std::collections::BTreeSet<String> = environments::Entity::find()
        .select_only()
        .column(environments::Column::Name)
        .filter(environments::Column::Production.eq(true))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let after: std::collections::BTreeSet<String> = config.production_environments().map(str::to_owned).collect();
    if before != after {
        let components: Vec<String> = deployments::Entity::find()
            .select_only()
            .column(deployments::Column::ComponentRef)
            .distinct()
            .into_tuple()
            .all(db)
            .await?;
        if !components.is_empty() {
            tracing::info!(
                components = components.len(),
                "the production environments changed: recomputing which change shipped first"
            );
        }
        for component in &components {
            let txn = crate::db::begin_write(db).await?;
            recompute_changes(&txn, config, component).await?;
            txn.commit().await?;
        }
    }
    let txn = crate::db::begin_write(db).await?;
    environments::Entity::delete_many().exec(&txn).await?;
    for e in environment_list(config) {
        environments::ActiveModel {
            name: Set(e.name),
            display_order: Set(e.display_order),
            production: Set(e.production),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await
}

fn environment(config: &Config, field: &'static str, text: &str) -> Result<String, DeployError> {
    let name = text.trim().to_lowercase();
    if config.environment(&name).is_some() {
        Ok(name)
    } else {
        let known: Vec<&str> = config.environments.iter().map(|e| e.name.as_str()).collect();
        Err(invalid(field, format!("`{}` is not a configured environment ({})", text.trim(), known.join(", "))))
    }
}

/// The catalog component a deployment or incident names (`component:default/x` or a bare name).
pub async fn resolve_component<C: ConnectionTrait>(db: &C, text: &str) -> Result<entities::Model, DeployError> {
    let r = EntityRef::parse(text, Some("component"), "default").map_err(|e| invalid("component", e.to_string()))?;
    if r.kind != "component" {
        return Err(invalid("component", format!("`{r}` is not a component")));
    }
    entities::Entity::find()
        .filter(entities::Column::EntityRef.eq(r.to_string()))
        .one(db)
        .await?
        .ok_or_else(|| invalid("component", format!("there is no {r} in the catalog")))
}

/// A deployment report that passed validation, with the component it names.
#[derive(Debug)]
pub struct ValidDeployment {
    /// The component's catalog row (its owner decides who may record it).
    pub component: entities::Model,
    environment: String,
    status: String,
    external_id: String,
    version: Option<String>,
    commit_sha: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    url: Option<String>,
    actor: Option<String>,
    commits: Option<Vec<dora::ReportedCommit>>,
    rollback_of: Option<String>,
    fixes: Option<String>,
}

fn key_of(text: &str, field: &'static str) -> Result<String, DeployError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if t.chars().count() > 200 || t.chars().any(char::is_control) {
        return Err(invalid(field, "must be at most 200 printable characters"));
    }
    Ok(t.to_owned())
}

/// Checks a deployment report field by field.
pub async fn validate_deployment(
    db: &DatabaseConnection,
    config: &Config,
    input: &DeploymentInput,
) -> Result<ValidDeployment, DeployError> {
    let environment = environment(config, "environment", &input.environment)?;
    let status = input.status.trim().to_lowercase();
    if !DEPLOYMENT_STATUSES.contains(&status.as_str()) {
        return Err(invalid("status", format!("`{}` is not one of {}", input.status, DEPLOYMENT_STATUSES.join(", "))));
    }
    let external_id = key_of(&input.external_id, "external_id")?;
    let started_at = opt_time("started_at", &input.started_at)?;
    let finished_at = opt_time("finished_at", &input.finished_at)?;
    if let (Some(s), Some(f)) = (started_at, finished_at)
        && f < s
    {
        return Err(invalid("finished_at", "is before started_at"));
    }
    let url = clean(&input.url, "url", 2000)?;
    if let Some(u) = &url
        && !matches!(url::Url::parse(u).map(|u| u.scheme().to_owned()).as_deref(), Ok("http" | "https"))
    {
        return Err(invalid("url", "must be an http(s) URL"));
    }
    let commits = match &input.commits {
        None => None,
        Some(list) => {
            if list.len() > 10_000 {
                return Err(invalid("commits", "more than 10,000 commits"));
            }
            let mut seen = HashSet::new();
            let mut out = Vec::with_capacity(list.len());
            for c in list {
                let s = sha(&c.sha, "commits")?;
                if !seen.insert(s.clone()) {
                    continue;
                }
                out.push(dora::ReportedCommit {
                    sha: s,
                    committed_at: opt_time("commits", &c.committed_at)?,
                    pr_number: c.pr_number.filter(|n| *n > 0),
                    pr_first_commit_at: opt_time("commits", &c.pr_first_commit_at)?,
                });
            }
            Some(out)
        }
    };
    let rollback_of = input.rollback_of.as_deref().map(|t| key_of(t, "rollback_of")).transpose()?;
    let fixes = input.fixes.as_deref().map(|t| key_of(t, "fixes")).transpose()?;
    if rollback_of.as_deref() == Some(external_id.as_str()) || fixes.as_deref() == Some(external_id.as_str()) {
        return Err(invalid("rollback_of", "a deployment cannot roll back or fix itself"));
    }
    let component = resolve_component(db, &input.component).await?;
    Ok(ValidDeployment {
        component,
        environment,
        status,
        external_id,
        version: clean(&input.version, "version", 200)?,
        commit_sha: input
            .commit_sha
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| sha(s, "commit_sha"))
            .transpose()?,
        started_at,
        finished_at,
        url,
        actor: clean(&input.actor, "actor", 200)?,
        commits,
        rollback_of,
        fixes,
    })
}

fn is_final(status: &str) -> bool {
    matches!(status, "success" | "failure" | "error" | "cancelled")
}

/// Records a deployment, or updates the one with the same `external_id`. `true` when it was new. A report that
/// arrives late never moves a finished deployment back to `queued` or `in_progress`.
pub async fn record_deployment(
    db: &DatabaseConnection,
    config: &Config,
    v: ValidDeployment,
    source: &str,
) -> Result<(DeploymentView, bool), DeployError> {
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let existing =
        deployments::Entity::find().filter(deployments::Column::ExternalId.eq(&v.external_id)).one(&txn).await?;
    let component_ref = v.component.entity_ref.clone();
    let (row, created) = match existing {
        Some(old) => {
            if old.component_ref != component_ref {
                return Err(invalid(
                    "external_id",
                    format!("already names a deployment of {}, not {component_ref}", old.component_ref),
                ));
            }
            let status = if is_final(&old.status) && !is_final(&v.status) { old.status.clone() } else { v.status };
            let started_at = v.started_at.or(old.started_at);
            let finished_at = if is_final(&status) { v.finished_at.or(old.finished_at) } else { old.finished_at };
            let at = finished_at.or(started_at).unwrap_or(old.at);
            let mut m: deployments::ActiveModel = old.clone().into();
            m.environment = Set(v.environment);
            m.status = Set(status);
            m.started_at = Set(started_at);
            m.finished_at = Set(finished_at);
            m.at = Set(at);
            m.version = Set(v.version.or(old.version));
            m.commit_sha = Set(v.commit_sha.or(old.commit_sha));
            m.url = Set(v.url.or(old.url));
            m.actor = Set(v.actor.or(old.actor));
            m.rollback_of = Set(v.rollback_of.or(old.rollback_of));
            m.fixes = Set(v.fixes.or(old.fixes));
            m.updated_at = Set(now);
            let row = m.update(&txn).await?;
            (row, false)
        }
        None => {
            let finished_at = if is_final(&v.status) { v.finished_at } else { None };
            let at = finished_at.or(v.started_at).unwrap_or(now);
            let row = deployments::ActiveModel {
                component_ref: Set(component_ref.clone()),
                environment: Set(v.environment),
                version: Set(v.version),
                commit_sha: Set(v.commit_sha),
                status: Set(v.status),
                started_at: Set(v.started_at),
                finished_at: Set(finished_at),
                at: Set(at),
                url: Set(v.url),
                actor: Set(v.actor),
                source: Set(source.to_owned()),
                external_id: Set(v.external_id),
                rollback_of: Set(v.rollback_of),
                fixes: Set(v.fixes),
                first_deployment: Set(false),
                changes_truncated: Set(false),
                commits_cut_short: Set(false),
                change_count: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            (row, true)
        }
    };
    if let Some(commits) = v.commits {
        deployment_commits::Entity::delete_many()
            .filter(deployment_commits::Column::DeploymentId.eq(row.id))
            .exec(&txn)
            .await?;
        for chunk in commits.chunks(500) {
            deployment_commits::Entity::insert_many(chunk.iter().map(|c| deployment_commits::ActiveModel {
                deployment_id: Set(row.id),
                component_ref: Set(component_ref.clone()),
                sha: Set(c.sha.clone()),
                committed_at: Set(c.committed_at),
                pr_number: Set(c.pr_number),
                pr_first_commit_at: Set(c.pr_first_commit_at),
                ..Default::default()
            }))
            .exec_without_returning(&txn)
            .await?;
        }
    }
    recompute_changes(&txn, config, &component_ref).await?;
    txn.commit().await?;
    let row =
        deployments::Entity::find_by_id(row.id).one(db).await?.ok_or(DbErr::RecordNotFound(row.id.to_string()))?;
    let mut view = view_of(config, &row);
    view.changes = Some(changes_of(db, row.id).await?);
    Ok((view, created))
}

/// Recomputes the changes of all of a component's deployments and writes those that differ from what is stored.
///
/// Any report can change earlier deployments too (commits a later deployment lists belong to the first deployment
/// of its sha, which may be older; a promotion's report fills in what staging got), so the whole component is
/// computed and only the differences are written.
///
/// Inside a webhook batch ([`batch::deferring`]) this only notes the component; the batch recomputes it once at its
/// end.
pub async fn recompute_changes<C: ConnectionTrait>(db: &C, config: &Config, component_ref: &str) -> Result<(), DbErr> {
    if batch::defer_recompute(component_ref) {
        return Ok(());
    }
    let rows: Vec<ReportedRow> = deployments::Entity::find()
        .select_only()
        .columns([
            deployments::Column::Id,
            deployments::Column::Environment,
            deployments::Column::CommitSha,
            deployments::Column::Status,
            deployments::Column::At,
            deployments::Column::CommitsCutShort,
            deployments::Column::FirstDeployment,
            deployments::Column::ChangesTruncated,
            deployments::Column::ChangeCount,
        ])
        .filter(deployments::Column::ComponentRef.eq(component_ref))
        .into_tuple()
        .all(db)
        .await?;
    let mut commits = commits_by_deployment(db, component_ref, false).await?;
    let mut stored_changes = commits_by_deployment(db, component_ref, true).await?;
    let mut stored: HashMap<i64, (bool, bool, i32)> = HashMap::new();
    let mut cut_short: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let reported: Vec<dora::Reported> = rows
        .into_iter()
        .map(|(id, environment, sha, status, at, short, first, truncated, count)| {
            stored.insert(id, (first, truncated, count));
            if short {
                cut_short.insert(id);
            }
            let commits = commits.remove(&id).unwrap_or_default().into_iter().map(|c| c.commit).collect();
            dora::Reported { commits, id, environment, sha, status, at }
        })
        .collect();
    let computed = dora::compute_changes(&reported, Duration::days(i64::from(config.dora.first_deployment_days)));
    let production: HashSet<&str> = config.production_environments().collect();
    let firsts = dora::first_in_production(&reported, &computed, &production);
    for d in &reported {
        let c = computed.get(&d.id).cloned().unwrap_or_default();
        let truncated = c.truncated || cut_short.contains(&d.id);
        let flags = firsts.get(&d.id);
        let changes: Vec<StoredChange> = c
            .changes
            .iter()
            .enumerate()
            .map(|(i, ch)| StoredChange {
                commit: ch.clone(),
                first_in_production: flags.is_some_and(|f| f.get(i).copied().unwrap_or(false)),
                deployed_at: Some(d.at),
            })
            .collect();
        let old_changes = stored_changes.remove(&d.id).unwrap_or_default();
        if stored.get(&d.id) == Some(&(c.first, truncated, c.changes.len() as i32)) && old_changes == changes {
            continue;
        }
        deployments::Entity::update_many()
            .col_expr(deployments::Column::FirstDeployment, Expr::value(c.first))
            .col_expr(deployments::Column::ChangesTruncated, Expr::value(truncated))
            .col_expr(deployments::Column::ChangeCount, Expr::value(c.changes.len() as i32))
            .filter(deployments::Column::Id.eq(d.id))
            .exec(db)
            .await?;
        if old_changes == changes {
            continue;
        }
        deployment_changes::Entity::delete_many()
            .filter(deployment_changes::Column::DeploymentId.eq(d.id))
            .exec(db)
            .await?;
        for chunk in changes.chunks(500) {
            deployment_changes::Entity::insert_many(chunk.iter().map(|ch| deployment_changes::ActiveModel {
                deployment_id: Set(d.id),
                component_ref: Set(component_ref.to_owned()),
                sha: Set(ch.commit.sha.clone()),
                committed_at: Set(ch.commit.committed_at),
                pr_number: Set(ch.commit.pr_number),
                pr_first_commit_at: Set(ch.commit.pr_first_commit_at),
                first_in_production: Set(ch.first_in_production),
                deployed_at: Set(ch.deployed_at),
                ..Default::default()
            }))
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(())
}

/// A change as `deployment_changes` stores it.
#[derive(Clone, Debug, PartialEq)]
struct StoredChange {
    commit: dora::ReportedCommit,
    first_in_production: bool,
    deployed_at: Option<DateTime<Utc>>,
}

/// A component's reported commits (`deployment_commits`) or computed changes (`deployment_changes`) per
/// deployment, in the order they were written.
async fn commits_by_deployment<C: ConnectionTrait>(
    db: &C,
    component_ref: &str,
    computed: bool,
) -> Result<HashMap<i64, Vec<StoredChange>>, DbErr> {
    type Row = (i64, String, Option<DateTime<Utc>>, Option<i32>, Option<DateTime<Utc>>, bool, Option<DateTime<Utc>>);
    let rows: Vec<Row> = if computed {
        deployment_changes::Entity::find()
            .select_only()
            .columns([
                deployment_changes::Column::DeploymentId,
                deployment_changes::Column::Sha,
                deployment_changes::Column::CommittedAt,
                deployment_changes::Column::PrNumber,
                deployment_changes::Column::PrFirstCommitAt,
                deployment_changes::Column::FirstInProduction,
                deployment_changes::Column::DeployedAt,
            ])
            .filter(deployment_changes::Column::ComponentRef.eq(component_ref))
            .order_by_asc(deployment_changes::Column::Id)
            .into_tuple()
            .all(db)
            .await?
    } else {
        deployment_commits::Entity::find()
            .select_only()
            .columns([
                deployment_commits::Column::DeploymentId,
                deployment_commits::Column::Sha,
                deployment_commits::Column::CommittedAt,
                deployment_commits::Column::PrNumber,
                deployment_commits::Column::PrFirstCommitAt,
            ])
            .filter(deployment_commits::Column::ComponentRef.eq(component_ref))
            .order_by_asc(deployment_commits::Column::Id)
            .into_tuple::<(i64, String, Option<DateTime<Utc>>, Option<i32>, Option<DateTime<Utc>>)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(a, b, c, d, e)| (a, b, c, d, e, false, None))
            .collect()
    };
    let mut out: HashMap<i64, Vec<StoredChange>> = HashMap::new();
    for (deployment_id, sha, committed_at, pr_number, pr_first_commit_at, first_in_production, deployed_at) in rows {
        out.entry(deployment_id).or_default().push(StoredChange {
            commit: dora::ReportedCommit { sha, committed_at, pr_number, pr_first_commit_at },
            first_in_production,
            deployed_at,
        });
    }
    Ok(out)
}

/// Replaces the commits a deployment reports (read from GitHub, say) and recomputes the component's changes.
pub async fn set_reported_commits(
    db: &DatabaseConnection,
    config: &Config,
    deployment_id: i64,
    commits: &[dora::ReportedCommit],
    cut_short: bool,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(d) = deployments::Entity::find_by_id(deployment_id).one(&txn).await? else {
        return Ok(());
    };
    deployments::Entity::update_many()
        .col_expr(deployments::Column::CommitsCutShort, Expr::value(cut_short))
        .filter(deployments::Column::Id.eq(deployment_id))
        .exec(&txn)
        .await?;
    deployment_commits::Entity::delete_many()
        .filter(deployment_commits::Column::DeploymentId.eq(deployment_id))
        .exec(&txn)
        .await?;
    for chunk in commits.chunks(500) {
        deployment_commits::Entity::insert_many(chunk.iter().map(|c| deployment_commits::ActiveModel {
            deployment_id: Set(deployment_id),
            component_ref: Set(d.component_ref.clone()),
            sha: Set(c.sha.clone()),
            committed_at: Set(c.committed_at),
            pr_number: Set(c.pr_number),
            pr_first_commit_at: Set(c.pr_first_commit_at),
            ..Default::default()
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    recompute_changes(&txn, config, &d.component_ref).await?;
    txn.commit().await
}

/// A deployment for the API and pages.
pub fn view_of(config: &Config, d: &deployments::Model) -> DeploymentView {
    DeploymentView {
        id: d.id,
        component: d.component_ref.clone(),
        environment: d.environment.clone(),
        production: config.environment(&d.environment).is_some_and(|e| e.production),
        version: d.version.clone(),
        commit_sha: d.commit_sha.clone(),
        status: d.status.clone(),
        started_at: d.started_at.map(rfc3339),
        finished_at: d.finished_at.map(rfc3339),
        at: rfc3339(d.at),
        duration_seconds: match (d.started_at, d.finished_at) {
            (Some(s), Some(f)) => Some((f - s).num_seconds()),
            _ => None,
        },
        url: d.url.clone(),
        actor: d.actor.clone(),
        source: d.source.clone(),
        external_id: d.external_id.clone(),
        rollback_of: d.rollback_of.clone(),
        fixes: d.fixes.clone(),
        first_deployment: d.first_deployment,
        changes_truncated: d.changes_truncated,
        change_count: d.change_count,
        changes: None,
    }
}

/// A deployment's changes, oldest first.
pub async fn changes_of<C: ConnectionTrait>(db: &C, deployment_id: i64) -> Result<Vec<ChangeView>, DbErr> {
    Ok(deployment_changes::Entity::find()
        .filter(deployment_changes::Column::DeploymentId.eq(deployment_id))
        .order_by_asc(deployment_changes::Column::CommittedAt)
        .order_by_asc(deployment_changes::Column::Sha)
        .all(db)
        .await?
        .into_iter()
        .map(|c| ChangeView {
            sha: c.sha,
            committed_at: c.committed_at.map(rfc3339),
            pr_number: c.pr_number,
            pr_first_commit_at: c.pr_first_commit_at.map(rfc3339),
        })
        .collect())
}

/// One deployment with its changes.
pub async fn deployment(
    db: &DatabaseConnection,
    config: &Config,
    id: i64,
    hidden: &HashSet<String>,
) -> Result<Option<DeploymentView>, DbErr> {
    let Some(row) = deployments::Entity::find_by_id(id).one(db).await? else { return Ok(None) };
    if hidden.contains(&row.component_ref) {
        return Ok(None);
    }
    let mut view = view_of(config, &row);
    view.changes = Some(changes_of(db, id).await?);
    Ok(Some(view))
}

/// Which deployments to list.
#[derive(Clone, Debug, Default)]
pub struct DeploymentQuery {
    /// Components (already resolved: a component, or what a team or system holds). `None`: all.
    pub components: Option<Vec<String>>,
    /// Environment.
    pub environment: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// From (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// To (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Page size (1-500, default 50).
    pub limit: Option<u64>,
    /// Where the previous page stopped.
    pub cursor: Option<String>,
    /// Include each deployment's changes.
    pub changes: bool,
}

fn parse_cursor(text: &str) -> Result<(DateTime<Utc>, i64), DeployError> {
    let bad = || invalid("cursor", "is not a cursor this API returned");
    let (at, id) = text.split_once('_').ok_or_else(bad)?;
    let at: i64 = at.parse().map_err(|_| bad())?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    Ok((DateTime::from_timestamp_micros(at).ok_or_else(bad)?, id))
}

/// Deployments, newest first, a page at a time.
pub async fn list_deployments(
    db: &DatabaseConnection,
    config: &Config,
    q: &DeploymentQuery,
    hidden: &HashSet<String>,
) -> Result<DeploymentPage, DeployError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mut select = deployments::Entity::find();
    if let Some(components) = &q.components {
        if components.is_empty() {
            return Ok(DeploymentPage { items: Vec::new(), next_cursor: None });
        }
        select = select.filter(deployments::Column::ComponentRef.is_in(components.iter().map(String::as_str)));
    }
    if !hidden.is_empty() {
        select = select.filter(deployments::Column::ComponentRef.is_not_in(hidden.iter().map(String::as_str)));
    }
    if let Some(e) = &q.environment {
        select = select.filter(deployments::Column::Environment.eq(environment(config, "environment", e)?));
    }
    if let Some(s) = &q.status {
        let s = s.trim().to_lowercase();
        if !DEPLOYMENT_STATUSES.contains(&s.as_str()) {
            return Err(invalid("status", format!("`{s}` is not one of {}", DEPLOYMENT_STATUSES.join(", "))));
        }
        select = select.filter(deployments::Column::Status.eq(s));
    }
    if let Some(f) = q.from {
        select = select.filter(deployments::Column::At.gte(f));
    }
    if let Some(t) = q.to {
        select = select.filter(deployments::Column::At.lt(t));
    }
    if let Some(c) = &q.cursor {
        let (at, id) = parse_cursor(c)?;
        select =
            select.filter(sea_orm::Condition::any().add(deployments::Column::At.lt(at)).add(
                sea_orm::Condition::all().add(deployments::Column::At.eq(at)).add(deployments::Column::Id.lt(id)),
            ));
    }
    let mut rows = select
        .order_by_desc(deployments::Column::At)
        .order_by_desc(deployments::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| format!("{}_{}", r.at.timestamp_micros(), r.id))
    } else {
        None
    };
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut v = view_of(config, r);
        if q.changes {
            v.changes = Some(changes_of(db, r.id).await?);
        }
        items.push(v);
    }
    Ok(DeploymentPage { items, next_cursor })
}

/// The components a scope covers: `all` (`None`), a component, what a group owns (with its sub-groups'), what a
/// system holds, or what a domain's systems hold.
pub async fn scope_components(db: &DatabaseConnection, scope: &str) -> Result<Option<Vec<String>>, DeployError> {
    scope_entities(db, scope, &["component"]).await
}

/// Like [`scope_components`], for entities of the given kinds (the health grid shows Components and Resources).
pub async fn scope_entities(
    db: &DatabaseConnection,
    scope: &str,
    kinds: &[&str],
) -> Result<Option<Vec<String>>, DeployError> {
    let scope = scope.trim();
    if scope.is_empty() || scope.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let r = EntityRef::parse(scope, None, "default").map_err(|e| invalid("scope", e.to_string()))?;
    let r_text = r.to_string();
    let components = |select: sea_orm::Select<entities::Entity>| async move {
        let refs: Vec<String> = select
            .select_only()
            .column(entities::Column::EntityRef)
            .filter(entities::Column::Kind.is_in(kinds.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        Ok::<_, DbErr>(refs)
    };
    let found = entities::Entity::find().filter(entities::Column::EntityRef.eq(&r_text)).one(db).await?;
    if found.is_none() {
        return Err(invalid("scope", format!("there is no {r_text} in the catalog")));
    }
    Ok(Some(match r.kind.as_str() {
        "component" | "resource" => vec![r_text],
        "group" => {
            // The group and its sub-groups, a few levels down.
            let mut groups = vec![r_text.clone()];
            let mut frontier = vec![r_text];
            for _ in 0..8 {
                let mut next = Vec::new();
                for g in &frontier {
                    for (kind, target) in crate::catalog::store::relations_from(db, g).await? {
                        if kind == "parentOf" && !groups.contains(&target) {
                            groups.push(target.clone());
                            next.push(target);
                        }
                    }
                }
                if next.is_empty() {
                    break;
                }
                frontier = next;
            }
            components(entities::Entity::find().filter(entities::Column::OwnerRef.is_in(groups))).await?
        }
        "user" => components(entities::Entity::find().filter(entities::Column::OwnerRef.eq(r_text))).await?,
        "system" => components(entities::Entity::find().filter(entities::Column::SystemRef.eq(r_text))).await?,
        "domain" => {
            let systems: Vec<String> = crate::catalog::store::relations_from(db, &r_text)
                .await?
                .into_iter()
                .filter(|(kind, _)| kind == "hasPart")
                .map(|(_, t)| t)
                .filter(|t| t.starts_with("system:"))
                .collect();
            components(entities::Entity::find().filter(entities::Column::SystemRef.is_in(systems))).await?
        }
        other => {
            return Err(invalid("scope", format!("a {other} has no deployments; use a team, system or component")));
        }
    }))
}

/// What `recompute_changes` reads of a deployment: id, environment, sha, status, time.
type ReportedRow = (i64, String, Option<String>, String, DateTime<Utc>, bool, bool, bool, i32);

/// What the DORA report reads of a deployment: id, component, environment, sha, status, time, external id,
/// rollback of, fixes, change count, changes truncated, first deployment.
type DoraRow =
    (i64, String, String, Option<String>, String, DbTime, String, Option<String>, Option<String>, i32, DbBool, DbBool);

/// What the data-quality panel needs of a deployment.
struct Quality {
    at: DateTime<Utc>,
    success: bool,
    change_count: i32,
    truncated: bool,
    first: bool,
}

/// What the DORA report reads of a change: deployment id, sha, commit time, pull request start.
type ChangeRow = (i64, String, Option<DbTime>, Option<DbTime>);

/// What a DORA report is asked for.
#[derive(Clone, Debug)]
pub struct DoraRequest<'a> {
    /// `all`, or the entity ref of a team, system, domain or component.
    pub scope: &'a str,
    /// `production` (every production environment) or one environment's name.
    pub environment: &'a str,
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Band table year (default: the configured one).
    pub bands_year: Option<i32>,
    /// Also list the deployments behind the figures (the drill-down); the figures alone read less.
    pub details: bool,
}

/// The four keys for a scope over `[from, to)`. `environment`: `production` (every production environment) or
/// one environment's name.
pub async fn dora_report(
    db: &DatabaseConnection,
    config: &Config,
    request: &DoraRequest<'_>,
    hidden: &HashSet<String>,
) -> Result<(DoraReport, DoraDetails), DeployError> {
    let DoraRequest { scope, environment: environment_name, from, to, bands_year, details: with_details } = *request;
    if to <= from {
        return Err(invalid("to", "must be after from"));
    }
    if to - from > Duration::days(800) {
        return Err(invalid("from", "the period is longer than 800 days"));
    }
    let envs: Vec<String> = if environment_name.trim().is_empty() || environment_name.trim() == "production" {
        config.production_environments().map(str::to_owned).collect()
    } else {
        vec![environment(config, "environment", environment_name)?]
    };
    let components = scope_components(db, scope).await?;
    let window = Duration::hours(i64::from(config.dora.incident_window_hours));
    // For the production environments, each change knows whether its deployment was the commit's first in
    // production (`first_in_production`), so the period's own deployments are enough. For another environment,
    // the 90 days before tell which changes were already there. Later deployments show rollbacks and fixes.
    let production: HashSet<&str> = config.production_environments().collect();
    let flagged = !production.is_empty()
        && envs.len() == production.len()
        && envs.iter().all(|e| production.contains(e.as_str()));
    let load_from = if flagged { from } else { from - Duration::days(90) };
    let load_to = to + Duration::days(30);
    let mut select = deployments::Entity::find()
        .filter(deployments::Column::Environment.is_in(envs.iter().map(String::as_str)))
        .filter(deployments::Column::At.gte(load_from))
        .filter(deployments::Column::At.lt(load_to));
    if let Some(c) = &components {
        select = select.filter(deployments::Column::ComponentRef.is_in(c.iter().map(String::as_str)));
    }
    if !hidden.is_empty() {
        select = select.filter(deployments::Column::ComponentRef.is_not_in(hidden.iter().map(String::as_str)));
    }
    let nothing = components.as_ref().is_some_and(Vec::is_empty);
    // Only the columns the figures need, as one JSON document: a large scope reads hundreds of thousands of rows.
    let rows: Vec<DoraRow> = if nothing {
        Vec::new()
    } else {
        crate::db::json_rows(
            db,
            select.clone(),
            &[
                "id",
                "component_ref",
                "environment",
                "commit_sha",
                "status",
                "at",
                "external_id",
                "rollback_of",
                "fixes",
                "change_count",
                "changes_truncated",
                "first_deployment",
            ],
        )
        .await?
    };
    // The changes the figures need: for the production environments the period's first shipments; otherwise
    // every change of the loaded successes (the deployments as a sub-query).
    let mut changes: HashMap<i64, Vec<dora::Change>> = HashMap::new();
    if !nothing {
        let found: Vec<ChangeRow> = if flagged {
            // The period's first shipments, by index on the changes alone.
            let mut wanted = deployment_changes::Entity::find()
                .filter(deployment_changes::Column::FirstInProduction.eq(true))
                .filter(deployment_changes::Column::DeployedAt.gte(from))
                .filter(deployment_changes::Column::DeployedAt.lt(to));
            if let Some(c) = &components {
                wanted = wanted.filter(deployment_changes::Column::ComponentRef.is_in(c.iter().map(String::as_str)));
            }
            if !hidden.is_empty() {
                wanted = wanted
                    .filter(deployment_changes::Column::ComponentRef.is_not_in(hidden.iter().map(String::as_str)));
            }
            crate::db::json_rows(db, wanted, &["deployment_id", "sha", "committed_at", "pr_first_commit_at"]).await?
        } else {
            let successes =
                select.select_only().column(deployments::Column::Id).filter(deployments::Column::Status.eq("success"));
            crate::db::json_rows(
                db,
                deployment_changes::Entity::find()
                    .filter(deployment_changes::Column::DeploymentId.in_subquery(successes.into_query())),
                &["deployment_id", "sha", "committed_at", "pr_first_commit_at"],
            )
            .await?
        };
        for (id, sha, committed, pr_first) in found {
            let c = dora::ReportedCommit {
                sha,
                committed_at: committed.map(|t| t.0),
                pr_number: None,
                pr_first_commit_at: pr_first.map(|t| t.0),
            };
            if let Some(started_at) = c.started_at() {
                changes.entry(id).or_default().push(dora::Change { sha: c.sha, started_at });
            }
        }
    }
    let mut inc_select = incidents::Entity::find()
        .filter(incidents::Column::Environment.is_in(envs.iter().map(String::as_str)))
        .filter(incidents::Column::StartedAt.gte(load_from))
        .filter(incidents::Column::StartedAt.lt(load_to));
    if let Some(c) = &components {
        inc_select = inc_select.filter(incidents::Column::ComponentRef.is_in(c.iter().map(String::as_str)));
    }
    let incident_rows = if nothing { Vec::new() } else { inc_select.all(db).await? };
    // What data quality needs of each deployment, kept aside while the rest moves into the computation.
    let quality: Vec<Quality> = rows
        .iter()
        .map(|r| Quality { at: r.5.0, success: r.4 == "success", change_count: r.9, truncated: r.10.0, first: r.11.0 })
        .collect();
    let deps: Vec<dora::Dep> = rows
        .into_iter()
        .map(|(id, component, environment, sha, status, DbTime(at), external_id, rollback_of, fixes, _, _, _)| {
            dora::Dep {
                id,
                component,
                environment,
                sha,
                status,
                at,
                external_id,
                rollback_of,
                fixes,
                changes: changes.remove(&id).unwrap_or_default(),
            }
        })
        .collect();
    let incs: Vec<dora::Incident> = incident_rows
        .iter()
        .map(|i| dora::Incident {
            component: i.component_ref.clone(),
            environment: i.environment.clone(),
            started_at: i.started_at,
            resolved_at: i.resolved_at,
            deployment: i.deployment.clone(),
        })
        .collect();
    let bands = dora::band_table(bands_year.unwrap_or(config.dora.bands_year));
    let settings = dora::Settings {
        production: envs.iter().cloned().collect(),
        incident_window: window,
        time_zone: config.dora.time_zone,
        week_start: config.dora.week_start,
        bands,
    };
    let f = dora::compute(&deps, &incs, from, to, &settings);

    // Data quality over the period's successful deployments.
    let in_period: Vec<&Quality> = quality.iter().filter(|d| d.success && d.at >= from && d.at < to).collect();
    let deployed: HashSet<&str> = deps
        .iter()
        .filter(|d| d.status == "success" && d.at >= from && d.at < to)
        .map(|d| d.component.as_str())
        .collect();
    let mut without_repo = Vec::new();
    for chunk in deployed.iter().copied().collect::<Vec<_>>().chunks(500) {
        let bodies: Vec<(String, String)> = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .column(entities::Column::Body)
            .filter(entities::Column::EntityRef.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (r, body) in bodies {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if v.pointer("/metadata/annotations/github.com~1project-slug").and_then(|s| s.as_str()).is_none() {
                without_repo.push(r);
            }
        }
    }
    without_repo.sort();
    let data_quality = DataQuality {
        deployments_without_commits: in_period.iter().filter(|d| d.change_count == 0).count() as u64,
        truncated_changes: in_period.iter().filter(|d| d.truncated).count() as u64,
        first_deployments: in_period.iter().filter(|d| d.first).count() as u64,
        components_without_repository: without_repo,
    };

    // The drill-down lists each deployment counted, read in full only when asked for.
    let mut unit_views: Vec<DeploymentView> = Vec::new();
    if with_details {
        for chunk in f.units.chunks(500) {
            let found = deployments::Entity::find()
                .filter(deployments::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?;
            unit_views.extend(found.iter().map(|d| view_of(config, d)));
        }
        unit_views.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    }
    let days = (to - from).num_seconds() as f64 / 86_400.0;
    let report = DoraReport {
        scope: if components.is_none() { "all".to_owned() } else { scope.trim().to_lowercase() },
        environments: envs,
        from: rfc3339(from),
        to: rfc3339(to),
        bands_year: bands.year,
        time_zone: config.dora.time_zone.name().to_owned(),
        deployment_frequency: DeploymentFrequency {
            deployments: f.deployments,
            per_day: round(f.per_day, 4),
            per_week: round(f.deployments as f64 / days.max(1.0 / 24.0) * 7.0, 4),
            band: f.frequency_band.as_str().to_owned(),
        },
        lead_time: LeadTime {
            changes: f.lead_times.len() as u64,
            median_seconds: f.lead_time_median,
            p90_seconds: f.lead_time_p90,
            band: f.lead_time_band.map(|b| b.as_str().to_owned()),
        },
        change_failure_rate: portolan_types::deploys::ChangeFailureRate {
            failed: f.failed.len() as u64,
            total: f.deployments,
            ratio: f.failure_ratio.map(|r| round(r, 4)),
            band: f.failure_band.map(|b| b.as_str().to_owned()),
        },
        recovery_time: RecoveryTime {
            count: f.recoveries.len() as u64,
            median_seconds: f.recovery_median,
            band: f.recovery_band.map(|b| b.as_str().to_owned()),
        },
        pipeline_failures: f.pipeline_failures,
        weeks: f
            .weeks
            .iter()
            .map(|w| DoraWeek {
                week: w.start.to_string(),
                deployments: w.deployments,
                lead_time_median_seconds: w.lead_time_median,
                change_failure_ratio: w.failure_ratio.map(|r| round(r, 4)),
                recovery_median_seconds: w.recovery_median,
            })
            .collect(),
        data_quality,
    };
    let details = DoraDetails {
        deployments: unit_views,
        failed: f.failed,
        lead_times: f
            .lead_times
            .into_iter()
            .map(|(sha, seconds, deployment_id)| LeadTimeItem { sha, seconds, deployment_id })
            .collect(),
        recoveries: f
            .recoveries
            .into_iter()
            .map(|(deployment_id, seconds)| RecoveryItem { deployment_id, seconds })
            .collect(),
    };
    Ok((report, details))
}

fn round(x: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (x * m).round() / m
}

/// A valid incident report with its component.
#[derive(Debug)]
pub struct ValidIncident {
    /// The component's catalog row.
    pub component: entities::Model,
    environment: String,
    title: String,
    severity: String,
    started_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    external_id: String,
    deployment: Option<String>,
}

/// Checks an incident report.
pub async fn validate_incident(
    db: &DatabaseConnection,
    config: &Config,
    input: &IncidentInput,
) -> Result<ValidIncident, DeployError> {
    let environment = environment(config, "environment", &input.environment)?;
    let title = clean(&Some(input.title.clone()), "title", 300)?.ok_or_else(|| invalid("title", "is empty"))?;
    let severity = input.severity.trim().to_lowercase();
    if !INCIDENT_SEVERITIES.contains(&severity.as_str()) {
        return Err(invalid(
            "severity",
            format!("`{}` is not one of {}", input.severity, INCIDENT_SEVERITIES.join(", ")),
        ));
    }
    let started_at = parse_time("started_at", &input.started_at)?;
    let resolved_at = opt_time("resolved_at", &input.resolved_at)?;
    if resolved_at.is_some_and(|r| r < started_at) {
        return Err(invalid("resolved_at", "is before started_at"));
    }
    let external_id = key_of(&input.external_id, "external_id")?;
    let deployment = input.deployment.as_deref().filter(|d| !d.trim().is_empty()).map(external_id_of).transpose()?;
    let component = resolve_component(db, &input.component).await?;
    Ok(ValidIncident { component, environment, title, severity, started_at, resolved_at, external_id, deployment })
}

fn external_id_of(text: &str) -> Result<String, DeployError> {
    key_of(text, "deployment")
}

/// Records an incident, or updates the one with the same `external_id` (to resolve it, say).
pub async fn record_incident(
    db: &DatabaseConnection,
    v: ValidIncident,
    source: &str,
) -> Result<(IncidentView, bool), DeployError> {
    let now = Utc::now();
    let existing = incidents::Entity::find().filter(incidents::Column::ExternalId.eq(&v.external_id)).one(db).await?;
    let (row, created) = match existing {
        Some(old) => {
            if old.component_ref != v.component.entity_ref {
                return Err(invalid(
                    "external_id",
                    format!("already names an incident of {}, not {}", old.component_ref, v.component.entity_ref),
                ));
            }
            let mut m: incidents::ActiveModel = old.clone().into();
            m.environment = Set(v.environment);
            m.title = Set(v.title);
            m.severity = Set(v.severity);
            m.started_at = Set(v.started_at);
            m.resolved_at = Set(v.resolved_at.or(old.resolved_at));
            m.deployment = Set(v.deployment.or(old.deployment));
            m.updated_at = Set(now);
            (m.update(db).await?, false)
        }
        None => (
            incidents::ActiveModel {
                component_ref: Set(v.component.entity_ref.clone()),
                environment: Set(v.environment),
                title: Set(v.title),
                severity: Set(v.severity),
                started_at: Set(v.started_at),
                resolved_at: Set(v.resolved_at),
                external_id: Set(v.external_id),
                deployment: Set(v.deployment),
                source: Set(source.to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?,
            true,
        ),
    };
    Ok((incident_view(&row), created))
}

/// An incident for the API and pages.
pub fn incident_view(i: &incidents::Model) -> IncidentView {
    IncidentView {
        id: i.id,
        component: i.component_ref.clone(),
        environment: i.environment.clone(),
        title: i.title.clone(),
        severity: i.severity.clone(),
        started_at: rfc3339(i.started_at),
        resolved_at: i.resolved_at.map(rfc3339),
        external_id: i.external_id.clone(),
        deployment: i.deployment.clone(),
        source: i.source.clone(),
    }
}

/// Incidents, newest first.
pub async fn list_incidents(
    db: &DatabaseConnection,
    config: &Config,
    components: Option<&[String]>,
    environment_name: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    hidden: &HashSet<String>,
) -> Result<Vec<IncidentView>, DeployError> {
    let mut select = incidents::Entity::find();
    if let Some(c) = components {
        select = select.filter(incidents::Column::ComponentRef.is_in(c.iter().map(String::as_str)));
    }
    if let Some(e) = environment_name {
        select = select.filter(incidents::Column::Environment.eq(environment(config, "environment", e)?));
    }
    if let Some(f) = from {
        select = select.filter(incidents::Column::StartedAt.gte(f));
    }
    if let Some(t) = to {
        select = select.filter(incidents::Column::StartedAt.lt(t));
    }
    if !hidden.is_empty() {
        select = select.filter(incidents::Column::ComponentRef.is_not_in(hidden.iter().map(String::as_str)));
    }
    let rows = select.order_by_desc(incidents::Column::StartedAt).limit(500).all(db).await?;
    Ok(rows.iter().map(incident_view).collect())
}

/// What runs where: each component's latest successful deployment per environment, and how far each
/// non-production environment is ahead of the (first) production one. At most `limit` components, by name.
pub async fn runs_where(
    db: &DatabaseConnection,
    config: &Config,
    components: Option<&[String]>,
    hidden: &HashSet<String>,
    limit: usize,
) -> Result<RunsWhere, DbErr> {
    let environments: Vec<String> = config.environments.iter().map(|e| e.name.clone()).collect();
    let mut select = deployments::Entity::find()
        .select_only()
        .column(deployments::Column::ComponentRef)
        .column(deployments::Column::Environment)
        .column_as(
            sea_orm::sea_query::SimpleExpr::from(sea_orm::sea_query::Func::max(Expr::col(deployments::Column::At))),
            "latest",
        )
        .filter(deployments::Column::Status.eq("success"))
        .group_by(deployments::Column::ComponentRef)
        .group_by(deployments::Column::Environment);
    if let Some(c) = components {
        if c.is_empty() {
            return Ok(RunsWhere { environments, rows: Vec::new() });
        }
        select = select.filter(deployments::Column::ComponentRef.is_in(c.iter().map(String::as_str)));
    }
    let latest: Vec<(String, String, DateTime<Utc>)> = select.into_tuple().all(db).await?;
    let mut names: Vec<String> = latest
        .iter()
        .map(|l| l.0.clone())
        .filter(|c| !hidden.contains(c))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    names.sort();
    names.truncate(limit);
    let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
    let production = config.environments.iter().find(|e| e.production).map(|e| e.name.clone());
    let mut rows = Vec::with_capacity(names.len());
    let mut cells: HashMap<(String, String), deployments::Model> = HashMap::new();
    for (component, env, at) in latest.iter().filter(|l| wanted.contains(l.0.as_str())) {
        if let Some(d) = deployments::Entity::find()
            .filter(deployments::Column::ComponentRef.eq(component))
            .filter(deployments::Column::Environment.eq(env))
            .filter(deployments::Column::Status.eq("success"))
            .filter(deployments::Column::At.eq(*at))
            .order_by_desc(deployments::Column::Id)
            .one(db)
            .await?
        {
            cells.insert((component.clone(), env.clone()), d);
        }
    }
    for component in names {
        let prod = production.as_ref().and_then(|p| cells.get(&(component.clone(), p.clone())));
        let mut row = Vec::with_capacity(environments.len());
        for env in &environments {
            let Some(d) = cells.get(&(component.clone(), env.clone())) else {
                row.push(None);
                continue;
            };
            let is_production = config.environment(env).is_some_and(|e| e.production);
            let ahead = match (is_production, prod) {
                (true, _) => None,
                (false, Some(p)) if p.commit_sha.is_some() && p.commit_sha == d.commit_sha => Some(0),
                (false, Some(p)) => ahead_of(db, &component, env, p.commit_sha.as_deref(), d.at).await?,
                (false, None) => None,
            };
            row.push(Some(RunsWhereCell {
                deployment_id: d.id,
                version: d.version.clone().or_else(|| d.commit_sha.as_ref().map(|s| s.chars().take(7).collect())),
                commit_sha: d.commit_sha.clone(),
                at: rfc3339(d.at),
                ahead_of_production: ahead,
            }));
        }
        rows.push(RunsWhereRow { component, cells: row });
    }
    Ok(RunsWhere { environments, rows })
}

/// The commits an environment got since it last ran production's sha: the changes of its successful
/// deployments after that one, up to `until`. `None` when it never ran production's sha.
async fn ahead_of(
    db: &DatabaseConnection,
    component: &str,
    env: &str,
    production_sha: Option<&str>,
    until: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let Some(sha) = production_sha else { return Ok(None) };
    let Some(base) = deployments::Entity::find()
        .filter(deployments::Column::ComponentRef.eq(component))
        .filter(deployments::Column::Environment.eq(env))
        .filter(deployments::Column::Status.eq("success"))
        .filter(deployments::Column::CommitSha.eq(sha))
        .order_by_desc(deployments::Column::At)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let ids: Vec<i64> = deployments::Entity::find()
        .select_only()
        .column(deployments::Column::Id)
        .filter(deployments::Column::ComponentRef.eq(component))
        .filter(deployments::Column::Environment.eq(env))
        .filter(deployments::Column::Status.eq("success"))
        .filter(deployments::Column::At.gt(base.at))
        .filter(deployments::Column::At.lte(until))
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(Some(0));
    }
    let shas: Vec<String> = deployment_changes::Entity::find()
        .select_only()
        .column(deployment_changes::Column::Sha)
        .filter(deployment_changes::Column::DeploymentId.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Some(shas.into_iter().collect::<HashSet<_>>().len() as i64))
}

/// Re-exported so callers need not name the visibility module.
pub async fn hidden_components(db: &DatabaseConnection, vis: &Visibility) -> Result<HashSet<String>, DbErr> {
    vis.hidden_refs(db).await
}
