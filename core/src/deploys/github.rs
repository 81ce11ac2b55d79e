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

async fn record(state: &AppState, input: DeploymentInput) -> Result<Outcome, String> {
    let valid = match validate_deployment(&state.db, &state.config, &input).await {
        Ok(v) => v,
        Err(DeployError::Invalid { field, reason }) => return Ok(Outcome::Ignored(format!("{field}: {reason}"))),
        Err(e) => return Err(e.to_string()),
    };
    let (view, created) =
        record_deployment(&state.db, &state.config, valid, "github").await.map_err(|e| e.to_string())?;
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
    let d = payload.get("deployment").cloned().unwrap_or_default();
    let Some(id) = d.get("id").and_then(Value::as_i64) else {
        return Ok(Err("the delivery has no deployment id".to_owned()));
    };
    let named = text(&d, "/payload/component");
    let component = match component(&state.db, payload, named).await.map_err(|e| e.to_string())? {
        Ok(c) => c,
        Err(why) => return Ok(Err(why)),
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
        Ok(input) => record(state, input).await,
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
    record(state, input).await
}

/// `workflow_run`: a run of a workflow configured as a deployment (`PORTOLAN_DEPLOY_WORKFLOWS`) is one.
pub async fn on_workflow_run(state: &AppState, payload: &Value) -> Result<Outcome, String> {
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
    let component = match component(&state.db, payload, None).await.map_err(|e| e.to_string())? {
        Ok(c) => c,
        Err(why) => return Ok(Outcome::Ignored(why)),
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
    record(state, input).await
}
