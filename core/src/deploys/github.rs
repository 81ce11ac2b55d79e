//! GitHub as a deployment source: `deployment`, `deployment_status` and `workflow_run` webhook deliveries become
//! deployments of the component whose `github.com/project-slug` names the repository. They go through the same
//! validation and merge as the CD API, so duplicates and out-of-order deliveries converge.

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;

use portolan_types::deploys::DeploymentInput;

use crate::AppState;
use crate::catalog::entity::entities;
use crate::webhooks::Outcome;

use super::{DeployError, record_deployment, validate_deployment};

/// Pages of a compare read at most (100 commits each); a longer compare marks the deployment's changes cut short.
const COMPARE_PAGES: usize = 30;
/// Pages of history read for a component's first deployment to an environment.
const FIRST_DEPLOYMENT_PAGES: usize = 10;

/// The components whose `github.com/project-slug` is this repository (`owner/name`, any case).
pub async fn components_for_repo(db: &DatabaseConnection, full_name: &str) -> Result<Vec<entities::Model>, DbErr> {
    let needle = format!("%\"github.com/project-slug\":\"{}\"%", full_name.to_lowercase().replace(['%', '_'], ""));
    entities::Entity::find()
        .filter(entities::Column::Kind.eq("component"))
        .filter(Expr::expr(Func::lower(Expr::col(entities::Column::Body))).like(needle))
        .all(db)
        .await
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Picks the component a delivery is about: the only one using the repository, or the one the deployment's
/// `payload.component` names (a monorepo).
async fn component(
    db: &DatabaseConnection,
    payload: &Value,
    named: Option<&str>,
) -> Result<Result<String, String>, DbErr> {
    let Some(repo) = text(payload, "/repository/full_name") else {
        return Ok(Err("the delivery names no repository".to_owned()));
    };
    let found = components_for_repo(db, repo).await?;
    Ok(match (found.len(), named) {
        (0, _) => Err(format!("no component has github.com/project-slug: {repo}")),
        (1, None) => Ok(found[0].entity_ref.clone()),
        (_, Some(name)) => match found.iter().find(|e| e.name.eq_ignore_ascii_case(name) || e.entity_ref == name) {
            Some(e) => Ok(e.entity_ref.clone()),
            None => Err(format!("no component of {repo} is named {name}")),
        },
        (n, None) => Err(format!("{n} components use {repo}; name one in the deployment's payload.component")),
    })
}

fn environment(state: &AppState, name: &str) -> Result<String, String> {
    let lower = name.trim().to_lowercase();
    if state.config.environment(&lower).is_some() {
        Ok(lower)
    } else {
        Err(format!("environment `{name}` is not configured (PORTOLAN_ENVIRONMENTS)"))
    }
}

async fn record(state: &AppState, input: DeploymentInput, repo: Option<&str>) -> Result<Outcome, String> {
    let valid = match validate_deployment(&state.db, &state.config, &input).await {
        Ok(v) => v,
        Err(DeployError::Invalid { field, reason }) => return Ok(Outcome::Ignored(format!("{field}: {reason}"))),
        Err(e) => return Err(e.to_string()),
    };
    let (view, created) =
        record_deployment(&state.db, &state.config, valid, "github").await.map_err(|e| e.to_string())?;
    // The commits it carries, from the pushes seen so far (later pushes teach it the rest).
    if let (Some(repo), Some(_)) = (repo, view.commit_sha.as_deref()) {
        let since = super::parse_time("at", &view.at).unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        if !super::batch::defer_learning(repo, &view.component, since) {
            super::pushes::learn_for_component(state, repo, &view.component, since).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(Outcome::Done(format!(
        "{} deployment {} of {} to {}: {}",
        if created { "recorded" } else { "updated" },
        view.external_id,
        view.component,
        view.environment,
        view.status
    )))
}

/// The deployment part of a `deployment` or `deployment_status` payload, as a report.
async fn from_deployment(
    state: &AppState,
    payload: &Value,
    status: &str,
) -> Result<Result<DeploymentInput, String>, String> {
    from_deployment_named(state, payload, status, None).await.map_err(|e| e.to_string())
}

/// As [`from_deployment`], for a known component (a sync reads one component's repository).
async fn from_deployment_named(
    state: &AppState,
    payload: &Value,
    status: &str,
    known: Option<&str>,
) -> Result<Result<DeploymentInput, String>, DbErr> {
    let d = payload.get("deployment").cloned().unwrap_or_default();
    let Some(id) = d.get("id").and_then(Value::as_i64) else {
        return Ok(Err("the delivery has no deployment id".to_owned()));
    };
    let named = text(&d, "/payload/component");
    let component = match known {
        Some(k) => k.to_owned(),
        None => match component(&state.db, payload, named).await? {
            Ok(c) => c,
            Err(why) => return Ok(Err(why)),
        },
    };
    let env_name = text(&d, "/environment").unwrap_or_default();
    let environment = match environment(state, env_name) {
        Ok(e) => e,
        Err(why) => return Ok(Err(why)),
    };
    Ok(Ok(DeploymentInput {
        component,
        environment,
        status: status.to_owned(),
        external_id: format!("github-deployment-{id}"),
        version: text(&d, "/ref").map(str::to_owned),
        commit_sha: text(&d, "/sha").map(str::to_owned),
        started_at: text(&d, "/created_at").map(str::to_owned),
        finished_at: None,
        url: None,
        actor: text(&d, "/creator/login").map(str::to_owned),
        commits: None,
        rollback_of: None,
        fixes: None,
    }))
}

/// `deployment` (created): a queued deployment.
pub async fn on_deployment(state: &AppState, payload: &Value) -> Result<Outcome, String> {
    match from_deployment(state, payload, "queued").await? {
        Ok(input) => record(state, input, text(payload, "/repository/full_name")).await,
        Err(why) => Ok(Outcome::Ignored(why)),
    }
}

/// `deployment_status`: moves the deployment along (creating it if its `deployment` delivery has not come yet).
pub async fn on_deployment_status(state: &AppState, payload: &Value) -> Result<Outcome, String> {
    let state_text = text(payload, "/deployment_status/state").unwrap_or_default();
    let status = match state_text {
        "queued" | "pending" => "queued",
        "in_progress" => "in_progress",
        "success" => "success",
        "failure" => "failure",
        "error" => "error",
        other => return Ok(Outcome::Ignored(format!("deployment status `{other}` changes nothing"))),
    };
    let mut input = match from_deployment(state, payload, status).await? {
        Ok(input) => input,
        Err(why) => return Ok(Outcome::Ignored(why)),
    };
    let at = text(payload, "/deployment_status/created_at").map(str::to_owned);
    if matches!(status, "success" | "failure" | "error") {
        input.finished_at = at;
    } else if input.started_at.is_none() {
        input.started_at = at;
    }
    input.url = text(payload, "/deployment_status/log_url")
        .or_else(|| text(payload, "/deployment_status/target_url"))
        .map(str::to_owned);
    record(state, input, text(payload, "/repository/full_name")).await
}

/// `workflow_run`: a run of a workflow configured as a deployment (`PORTOLAN_DEPLOY_WORKFLOWS`) is one.
pub async fn on_workflow_run(state: &AppState, payload: &Value) -> Result<Outcome, String> {
    on_workflow_run_for(state, payload, None).await
}

async fn on_workflow_run_for(state: &AppState, payload: &Value, known: Option<&str>) -> Result<Outcome, String> {
    let run = payload.get("workflow_run").cloned().unwrap_or_default();
    let path = text(&run, "/path").unwrap_or_default();
    let name = text(&run, "/name").unwrap_or_default();
    let Some(env) = state.config.deploy_workflows.iter().find_map(|(workflow, env)| {
        (workflow.eq_ignore_ascii_case(path)
            || workflow.eq_ignore_ascii_case(name)
            || path.rsplit('/').next().is_some_and(|f| workflow.eq_ignore_ascii_case(f)))
        .then(|| env.clone())
    }) else {
        return Ok(Outcome::Ignored(format!("workflow `{name}` ({path}) is not a deployment workflow")));
    };
    let Some(id) = run.get("id").and_then(Value::as_i64) else {
        return Ok(Outcome::Ignored("the delivery has no run id".to_owned()));
    };
    let status = match (text(&run, "/status").unwrap_or_default(), text(&run, "/conclusion")) {
        ("completed", Some("success")) => "success",
        ("completed", Some("failure")) => "failure",
        ("completed", Some("cancelled" | "skipped")) => "cancelled",
        ("completed", Some(_)) => "error",
        ("in_progress", _) => "in_progress",
        _ => "queued",
    };
    let component = match known {
        Some(k) => k.to_owned(),
        None => match component(&state.db, payload, None).await.map_err(|e| e.to_string())? {
            Ok(c) => c,
            Err(why) => return Ok(Outcome::Ignored(why)),
        },
    };
    let input = DeploymentInput {
        component,
        environment: env,
        status: status.to_owned(),
        external_id: format!("github-run-{id}"),
        version: text(&run, "/head_branch").map(str::to_owned),
        commit_sha: text(&run, "/head_sha").map(str::to_owned),
        started_at: text(&run, "/run_started_at").map(str::to_owned),
        finished_at: (status != "queued" && status != "in_progress")
            .then(|| text(&run, "/updated_at").map(str::to_owned))
            .flatten(),
        url: text(&run, "/html_url").map(str::to_owned),
        actor: text(&run, "/actor/login").or_else(|| text(&run, "/triggering_actor/login")).map(str::to_owned),
        commits: None,
        rollback_of: None,
        fixes: None,
    };
    // A sync (a known component) learns from pushes once at its end.
    let repo = if known.is_none() { text(payload, "/repository/full_name") } else { None };
    record(state, input, repo).await
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The component has no `github.com/project-slug`.
    #[error("{0} has no github.com/project-slug annotation")]
    NoRepository(String),
    /// GitHub failed or asked to wait.
    #[error(transparent)]
    Github(#[from] crate::github::GithubSyncError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The `github.com/project-slug` of a catalog row.
pub fn project_slug(entity: &entities::Model) -> Option<String> {
    let body: Value = serde_json::from_str(&entity.body).ok()?;
    body.pointer("/metadata/annotations/github.com~1project-slug")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| s.split('/').count() == 2 && !s.contains(".."))
        .map(str::to_owned)
}

/// Every page of a list endpoint (at most `max_pages`), each page's items taken from `field` (or the page
/// itself when it is an array).
async fn all_pages(
    state: &AppState,
    first: String,
    field: Option<&str>,
    max_pages: usize,
) -> Result<Option<Vec<Value>>, SyncError> {
    Ok(pages(state, first, field, max_pages).await?.map(|p| p.items))
}

/// What [`pages`] read.
struct Pages {
    items: Vec<Value>,
    /// Pages were left unread, or the answer says it holds more than it listed (a compare's `total_commits`).
    cut_short: bool,
}

/// Reads up to `max_pages` pages of a list (or of the list in `field`), following `Link: rel="next"`. `None` when
/// GitHub does not know the first page.
async fn pages(
    state: &AppState,
    first: String,
    field: Option<&str>,
    max_pages: usize,
) -> Result<Option<Pages>, SyncError> {
    let mut out = Vec::new();
    let mut path = Some(first);
    let mut total: Option<u64> = None;
    for _ in 0..max_pages {
        let Some(p) = path.take() else { break };
        let Some(page) = state.github_sync.get(&p).await? else { return Ok(None) };
        let v: Value = serde_json::from_str(&page.body).unwrap_or_default();
        total = total.or_else(|| v.get("total_commits").and_then(Value::as_u64));
        let items = match field {
            Some(f) => v.get(f).cloned().unwrap_or_default(),
            None => v,
        };
        out.extend(items.as_array().cloned().unwrap_or_default());
        path = page.next;
    }
    let cut_short = path.is_some() || total.is_some_and(|t| t > out.len() as u64);
    Ok(Some(Pages { items: out, cut_short }))
}

fn deployment_status(state_text: &str) -> Option<&'static str> {
    Some(match state_text {
        "queued" | "pending" => "queued",
        "in_progress" => "in_progress",
        "success" => "success",
        "failure" => "failure",
        "error" => "error",
        _ => return None,
    })
}

fn commit_of(v: &Value) -> Option<super::dora::ReportedCommit> {
    let sha = v.get("sha").and_then(Value::as_str)?.to_lowercase();
    let at = text(v, "/commit/committer/date").or_else(|| text(v, "/commit/author/date"));
    Some(super::dora::ReportedCommit {
        sha,
        committed_at: at.and_then(|t| super::parse_time("committed_at", t).ok()),
        pr_number: None,
        pr_first_commit_at: None,
    })
}

/// Reads a component's deployments, their statuses and deployment workflow runs from GitHub, then the commits
/// of each successful deployment (compare against the previous one in its environment; a first deployment reads
/// the bounded window), each commit's pull request and that pull request's first commit. Conditional requests
/// make a second sync of an unchanged repository cost no rate limit; a rate-limit answer stops the sync with the
/// time to wait.
pub async fn sync_component(
    state: &AppState,
    entity: &entities::Model,
) -> Result<portolan_types::deploys::DeploySyncReport, SyncError> {
    use super::{deployments, set_reported_commits};
    use sea_orm::QueryOrder;

    let slug = project_slug(entity).ok_or_else(|| SyncError::NoRepository(entity.entity_ref.clone()))?;
    let mut report = portolan_types::deploys::DeploySyncReport {
        component: entity.entity_ref.clone(),
        repository: slug.clone(),
        ..Default::default()
    };
    let repo_path = slug.split('/').map(crate::github::encode_segment).collect::<Vec<_>>().join("/");
    let repository = json_repository(&slug);

    // Deployments and their latest status.
    let list =
        all_pages(state, format!("/repos/{repo_path}/deployments?per_page=100"), None, 20).await?.unwrap_or_default();
    for d in list {
        let Some(id) = d.get("id").and_then(Value::as_i64) else { continue };
        let statuses = all_pages(state, format!("/repos/{repo_path}/deployments/{id}/statuses?per_page=100"), None, 1)
            .await?
            .unwrap_or_default();
        let latest = statuses.iter().find_map(|s| {
            let st = deployment_status(s.get("state").and_then(Value::as_str).unwrap_or_default())?;
            Some((st, s))
        });
        let status = latest.map_or("queued", |l| l.0);
        let payload = serde_json::json!({"deployment": d, "repository": repository});
        let mut input = match from_deployment_named(state, &payload, status, Some(&entity.entity_ref)).await? {
            Ok(input) => input,
            Err(why) => {
                report.skipped.push(format!("deployment {id}: {why}"));
                continue;
            }
        };
        if let Some((st, s)) = latest {
            if matches!(st, "success" | "failure" | "error") {
                input.finished_at = text(s, "/created_at").map(str::to_owned);
            }
            input.url = text(s, "/log_url").or_else(|| text(s, "/target_url")).map(str::to_owned);
        }
        match record(state, input, None).await.map_err(|e| SyncError::Db(DbErr::Custom(e)))? {
            Outcome::Done(_) => report.deployments += 1,
            Outcome::Ignored(why) => report.skipped.push(format!("deployment {id}: {why}")),
        }
    }

    // Deployment workflow runs.
    if !state.config.deploy_workflows.is_empty() {
        let runs = all_pages(state, format!("/repos/{repo_path}/actions/runs?per_page=100"), Some("workflow_runs"), 5)
            .await?
            .unwrap_or_default();
        for run in runs {
            let payload = serde_json::json!({"workflow_run": run, "repository": repository});
            match on_workflow_run_for(state, &payload, Some(&entity.entity_ref))
                .await
                .map_err(|e| SyncError::Db(DbErr::Custom(e)))?
            {
                Outcome::Done(_) => report.workflow_runs += 1,
                Outcome::Ignored(why) if why.contains("not a deployment workflow") => {}
                Outcome::Ignored(why) => report.skipped.push(why),
            }
        }
    }

    // Commits of successful deployments, oldest first, against the previous success in the same environment.
    let rows = deployments::Entity::find()
        .filter(deployments::Column::ComponentRef.eq(&entity.entity_ref))
        .filter(deployments::Column::Status.eq("success"))
        .order_by_asc(deployments::Column::At)
        .order_by_asc(deployments::Column::Id)
        .all(&state.db)
        .await?;
    let mut previous: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut pulls: std::collections::HashMap<String, PullInfo> = std::collections::HashMap::new();
    for d in rows {
        let Some(head) = d.commit_sha.clone() else { continue };
        let base = previous.insert(d.environment.clone(), head.clone());
        let read = match base {
            Some(base) if base == head => Some(Pages { items: Vec::new(), cut_short: false }),
            Some(base) => {
                let path = format!("/repos/{repo_path}/compare/{base}...{head}?per_page=100");
                pages(state, path, Some("commits"), COMPARE_PAGES).await?
            }
            None => {
                let since = d.at - chrono::Duration::days(i64::from(state.config.dora.first_deployment_days));
                let path =
                    format!("/repos/{repo_path}/commits?sha={head}&since={}&per_page=100", super::rfc3339(since));
                pages(state, path, None, FIRST_DEPLOYMENT_PAGES).await?
            }
        };
        let Some(Pages { items: commits, cut_short }) = read else {
            report.skipped.push(format!("deployment {}: GitHub does not know {head}", d.external_id));
            continue;
        };
        let mut reported = Vec::with_capacity(commits.len());
        for c in commits.iter().filter_map(commit_of) {
            let pr = match pulls.get(&c.sha) {
                Some(p) => *p,
                None => {
                    let found = pull_of(state, &repo_path, &c.sha).await?;
                    pulls.insert(c.sha.clone(), found);
                    found
                }
            };
            reported.push(super::dora::ReportedCommit {
                pr_number: pr.map(|p| p.0),
                pr_first_commit_at: pr.and_then(|p| p.1),
                ..c
            });
        }
        set_reported_commits(&state.db, &state.config, d.id, &reported, cut_short).await?;
        report.deployments_with_commits += 1;
    }
    // What pushes taught is added back to what compare said.
    super::pushes::learn_for_component(state, &slug, &entity.entity_ref, chrono::DateTime::<chrono::Utc>::MIN_UTC)
        .await?;
    Ok(report)
}

fn json_repository(slug: &str) -> Value {
    serde_json::json!({"full_name": slug, "name": slug.split('/').nth(1).unwrap_or_default()})
}

/// A commit's pull request number and when that pull request's first commit was made.
type PullInfo = Option<(i32, Option<chrono::DateTime<chrono::Utc>>)>;

/// The pull request a commit came with, and when that pull request's first commit was made.
async fn pull_of(state: &AppState, repo_path: &str, sha: &str) -> Result<PullInfo, SyncError> {
    let Some(list) = all_pages(state, format!("/repos/{repo_path}/commits/{sha}/pulls"), None, 1).await? else {
        return Ok(None);
    };
    let Some(number) = list.first().and_then(|p| p.get("number")).and_then(Value::as_i64) else { return Ok(None) };
    let number = i32::try_from(number).unwrap_or(0);
    Ok(Some((number, pull_first_commit(state, repo_path, number).await?)))
}

/// When a pull request's first commit was made (its commits, oldest first, at most 300 read).
pub(super) async fn pull_first_commit(
    state: &AppState,
    repo_path: &str,
    number: i32,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, SyncError> {
    let commits = all_pages(state, format!("/repos/{repo_path}/pulls/{number}/commits?per_page=100"), None, 3)
        .await?
        .unwrap_or_default();
    Ok(commits
        .iter()
        .filter_map(|c| text(c, "/commit/author/date"))
        .filter_map(|t| super::parse_time("pr_first_commit_at", t).ok())
        .min())
}

/// Syncs every component with a repository; rate limits stop the round (the caller waits and tries again).
pub async fn sync_all(state: &AppState) -> Result<Vec<portolan_types::deploys::DeploySyncReport>, SyncError> {
    let rows = entities::Entity::find()
        .filter(entities::Column::Kind.eq("component"))
        .filter(entities::Column::Body.like("%github.com/project-slug%"))
        .all(&state.db)
        .await?;
    let mut out = Vec::new();
    for row in rows {
        match sync_component(state, &row).await {
            Ok(r) => out.push(r),
            Err(SyncError::NoRepository(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
