//! Tasks: runs of a template stored in the database, driven by a tokio task on the replica that accepted them.
//! Every step status change and log line is an event row, so the task page replays the whole log after a reload
//! or on another replica. A runner beats a heartbeat; a task whose runner disappeared (the process stopped) is
//! marked failed by the recovery job and can be retried from the step that did not finish.

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Duration, Utc};
use portolan_types::scaffold::{Task, TaskEvent, TaskEventBody, TaskStep};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Map, Value, json};

use super::run::{self, Outcome, Plan, Sink, StepState};
use super::template::{self, Template};
use super::workspace::Source;
use super::{ScaffoldError, github::Publisher};
use crate::AppState;

/// The tables.
pub mod entity {
    /// `scaffold_tasks`.
    pub mod tasks {
        use sea_orm::entity::prelude::*;

        /// One run.
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "scaffold_tasks")]
        pub struct Model {
            /// Random id.
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            /// `template:default/name`.
            pub template_ref: String,
            /// `{template: <entity JSON>, source: <dir or null>}` as it was when the run was created.
            #[sea_orm(column_type = "Text")]
            pub spec: String,
            /// The form values, secret fields left out.
            #[sea_orm(column_type = "Text")]
            pub values: String,
            /// `[StepState]`.
            #[sea_orm(column_type = "Text")]
            pub steps: String,
            /// `open`, `processing`, `completed`, `failed`, `cancelled`.
            pub status: String,
            /// The evaluated `output`.
            #[sea_orm(column_type = "Text", nullable)]
            pub output: Option<String>,
            /// Why it failed.
            #[sea_orm(column_type = "Text", nullable)]
            pub error: Option<String>,
            /// Someone asked to cancel.
            pub cancel_requested: bool,
            /// Login.
            pub created_by: String,
            /// Created.
            pub created_at: DateTimeUtc,
            /// Last sign of life of its runner.
            pub heartbeat_at: Option<DateTimeUtc>,
            /// Ended.
            pub finished_at: Option<DateTimeUtc>,
        }

        /// No relations declared.
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `scaffold_events`.
    pub mod events {
        use sea_orm::entity::prelude::*;

        /// One log line or status change.
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "scaffold_events")]
        pub struct Model {
            /// Order.
            #[sea_orm(primary_key)]
            pub id: i64,
            /// Task.
            pub task_id: String,
            /// `log` or `completion`.
            pub kind: String,
            /// Step.
            pub step_id: Option<String>,
            /// Status change.
            pub status: Option<String>,
            /// Text (secrets replaced by `***`).
            #[sea_orm(column_type = "Text")]
            pub message: String,
            /// When.
            pub created_at: DateTimeUtc,
        }

        /// No relations declared.
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entity::{events, tasks};

/// How long a runner may be silent before its task counts as abandoned.
pub const STALE_AFTER_SECONDS: i64 = 90;

/// Secret values of live tasks: kept in this process's memory only, never stored.
static SECRETS: LazyLock<Mutex<HashMap<String, Map<String, Value>>>> = LazyLock::new(Mutex::default);
/// Tasks this process is running.
static RUNNING: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A step's wire form (its memo stays inside).
pub fn step_view(s: &StepState) -> TaskStep {
    TaskStep {
        id: s.id.clone(),
        name: s.name.clone(),
        action: s.action.clone(),
        status: s.status.clone(),
        started_at: s.started_at.map(time),
        ended_at: s.ended_at.map(time),
        output: s.output.clone(),
        error: s.error.clone(),
    }
}

fn view(row: tasks::Model) -> Task {
    let spec: Value = serde_json::from_str(&row.spec).unwrap_or(Value::Null);
    let values: Value = serde_json::from_str(&row.values).unwrap_or(json!({}));
    let steps: Vec<StepState> = serde_json::from_str(&row.steps).unwrap_or_default();
    let tpl = &spec["template"];
    let title = tpl["metadata"]["title"].as_str().or(tpl["metadata"]["name"].as_str()).unwrap_or_default().to_owned();
    let public_spec = json!({
        "apiVersion": tpl["apiVersion"],
        "templateInfo": {"entityRef": row.template_ref, "entity": {"metadata": tpl["metadata"]}},
        "parameters": values,
        "steps": tpl["spec"]["steps"],
        "output": tpl["spec"]["output"],
        "user": {"ref": format!("user:default/{}", row.created_by)},
    });
    Task {
        id: row.id,
        spec: public_spec,
        status: row.status,
        created_at: time(row.created_at),
        last_heartbeat_at: row.heartbeat_at.map(time),
        finished_at: row.finished_at.map(time),
        created_by: format!("user:default/{}", row.created_by),
        template_ref: row.template_ref,
        template_title: title,
        steps: steps.iter().map(step_view).collect(),
        output: row.output.and_then(|o| serde_json::from_str(&o).ok()),
        error: row.error,
        cancel_requested: row.cancel_requested,
    }
}

fn event_view(e: events::Model) -> TaskEvent {
    TaskEvent {
        id: e.id,
        task_id: e.task_id,
        body: TaskEventBody { message: e.message, step_id: e.step_id, status: e.status },
        kind: e.kind,
        created_at: time(e.created_at),
    }
}

/// Creates a task and starts it on this replica. `values` were validated; `secrets` hold the secret fields'
/// values and the request's `secrets`.
pub async fn create(
    state: &AppState,
    template_json: &Value,
    tpl: &Template,
    source: &Source,
    values: Map<String, Value>,
    secrets: Map<String, Value>,
    actor: &str,
) -> Result<String, ScaffoldError> {
    let id = new_id();
    let stored_values: Map<String, Value> = values
        .iter()
        .map(|(k, v)| if secrets.contains_key(k) { (k.clone(), json!("***")) } else { (k.clone(), v.clone()) })
        .collect();
    let source_dir = match source {
        Source::Dir(d) => json!(d.display().to_string()),
        Source::Github { repo, git_ref, dir } => json!({"repo": repo, "ref": git_ref, "dir": dir}),
        _ => Value::Null,
    };
    let now = Utc::now();
    tasks::ActiveModel {
        id: Set(id.clone()),
        template_ref: Set(tpl.entity_ref.clone()),
        spec: Set(
            json!({"template": template_json, "source": source_dir, "secretKeys": secrets.keys().collect::<Vec<_>>()})
                .to_string(),
        ),
        values: Set(Value::Object(stored_values).to_string()),
        steps: Set(serde_json::to_string(&StepState::initial(tpl)).unwrap_or_default()),
        status: Set("open".to_owned()),
        output: Set(None),
        error: Set(None),
        cancel_requested: Set(false),
        created_by: Set(actor.to_owned()),
        created_at: Set(now),
        heartbeat_at: Set(Some(now)),
        finished_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    let mut in_memory = values;
    in_memory.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
    SECRETS.lock().expect("lock").insert(id.clone(), in_memory);
    crate::audit::record(
        &state.db,
        crate::audit::Entry {
            actor,
            action: "scaffold.task.create",
            target: Some(&tpl.entity_ref),
            detail: Some(json!({"task": id})),
            request_id: None,
        },
    )
    .await?;
    spawn(state.clone(), id.clone());
    Ok(id)
}

fn new_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn spawn(state: AppState, id: String) {
    RUNNING.lock().expect("lock").insert(id.clone());
    tokio::spawn(async move {
        if let Err(e) = drive(&state, &id).await {
            tracing::error!(task = %id, error = %e, "scaffolder task stopped");
            let _ =
                finish(&state.db, &id, "failed", None, Some(format!("the portal could not run this task: {e}"))).await;
        }
        RUNNING.lock().expect("lock").remove(&id);
    });
}

struct DbSink {
    db: DatabaseConnection,
    id: String,
    secrets: Vec<String>,
}

impl DbSink {
    async fn write(
        &self,
        step: Option<&str>,
        status: Option<&str>,
        message: &str,
        steps: &[StepState],
    ) -> Result<(), DbErr> {
        let now = Utc::now();
        let steps_json = run::redact(&serde_json::to_string(steps).unwrap_or_default(), &self.secrets);
        let txn = crate::db::begin_write(&self.db).await?;
        events::ActiveModel {
            task_id: Set(self.id.clone()),
            kind: Set("log".to_owned()),
            step_id: Set(step.map(str::to_owned)),
            status: Set(status.map(str::to_owned)),
            message: Set(run::redact(message, &self.secrets)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        tasks::Entity::update_many()
            .col_expr(tasks::Column::Steps, sea_orm::sea_query::Expr::value(steps_json))
            .col_expr(tasks::Column::HeartbeatAt, sea_orm::sea_query::Expr::value(Some(now)))
            .filter(tasks::Column::Id.eq(self.id.clone()))
            .exec(&txn)
            .await?;
        txn.commit().await
    }
}

#[async_trait::async_trait]
impl Sink for DbSink {
    async fn event(&mut self, step: Option<&str>, status: Option<&str>, message: &str, steps: &[StepState]) {
        if let Err(e) = self.write(step, status, message, steps).await {
            tracing::warn!(task = %self.id, error = %e, "storing a scaffolder event failed");
        }
    }

    async fn cancelled(&mut self) -> bool {
        tasks::Entity::find_by_id(self.id.clone())
            .one(&self.db)
            .await
            .ok()
            .flatten()
            .is_some_and(|t| t.cancel_requested)
    }
}

async fn drive(state: &AppState, id: &str) -> Result<(), DbErr> {
    let Some(row) = tasks::Entity::find_by_id(id.to_owned()).one(&state.db).await? else { return Ok(()) };
    let spec: Value = serde_json::from_str(&row.spec).unwrap_or(Value::Null);
    let tpl = match template::parse(&spec["template"]) {
        Ok(t) => t,
        Err(e) => return finish(&state.db, id, "failed", None, Some(e)).await,
    };
    let source = match &spec["source"] {
        Value::String(d) => Source::Dir(d.into()),
        Value::Object(g) => Source::Github {
            repo: g.get("repo").and_then(Value::as_str).unwrap_or_default().to_owned(),
            git_ref: g.get("ref").and_then(Value::as_str).unwrap_or_default().to_owned(),
            dir: g.get("dir").and_then(Value::as_str).unwrap_or_default().to_owned(),
        },
        _ => Source::None("the template has no skeleton directory".to_owned()),
    };
    let stored: Map<String, Value> = serde_json::from_str(&row.values).unwrap_or_default();
    let values =
        SECRETS.lock().expect("lock").get(id).cloned().or_else(|| has_no_secrets(&spec).then(|| stored.clone()));
    let Some(values) = values else {
        let why = "the secret values of this run are gone (they are only kept in memory and the portal restarted); start a new run";
        return finish(&state.db, id, "failed", None, Some(why.to_owned())).await;
    };
    let secret_names: HashSet<String> = tpl.secret_fields().into_iter().collect();
    let secrets: Map<String, Value> = values
        .iter()
        .filter(|(k, _)| secret_names.contains(*k) || !stored.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let publisher = Publisher::from_config(&state.config);
    let mut redact: Vec<String> = secrets.values().filter_map(|v| v.as_str().map(str::to_owned)).collect();
    if let Some(p) = &publisher {
        redact.push(p.token().to_owned());
    }
    let user = user_context(state, &row.created_by).await?;
    let mut steps: Vec<StepState> = serde_json::from_str(&row.steps).unwrap_or_default();
    tasks::Entity::update_many()
        .col_expr(tasks::Column::Status, sea_orm::sea_query::Expr::value("processing"))
        .col_expr(tasks::Column::HeartbeatAt, sea_orm::sea_query::Expr::value(Some(Utc::now())))
        .filter(tasks::Column::Id.eq(id.to_owned()))
        .exec(&state.db)
        .await?;
    let beat = heartbeat(state.db.clone(), id.to_owned());
    let mut sink = DbSink { db: state.db.clone(), id: id.to_owned(), secrets: redact.clone() };
    let plan = Plan {
        template: &tpl,
        values: &values,
        secrets: &secrets,
        user: &user,
        source: &source,
        dry_run: false,
        state: Some(state),
        github: Some(&state.github_sync),
        publisher: publisher.as_ref(),
        actor: &row.created_by,
    };
    let (outcome, _) = run::execute(&plan, &mut steps, &mut sink).await;
    beat.abort();
    let steps_json = run::redact(&serde_json::to_string(&steps).unwrap_or_default(), &redact);
    tasks::Entity::update_many()
        .col_expr(tasks::Column::Steps, sea_orm::sea_query::Expr::value(steps_json))
        .filter(tasks::Column::Id.eq(id.to_owned()))
        .exec(&state.db)
        .await?;
    match outcome {
        Outcome::Completed(output) => {
            let text = run::redact(&output.to_string(), &redact);
            finish(&state.db, id, "completed", Some(text), None).await?;
            SECRETS.lock().expect("lock").remove(id);
        }
        Outcome::Failed(e) => finish(&state.db, id, "failed", None, Some(run::redact(&e, &redact))).await?,
        Outcome::Cancelled => finish(&state.db, id, "cancelled", None, None).await?,
    }
    Ok(())
}

fn heartbeat(db: DatabaseConnection, id: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        tick.tick().await;
        loop {
            tick.tick().await;
            let _ = tasks::Entity::update_many()
                .col_expr(tasks::Column::HeartbeatAt, sea_orm::sea_query::Expr::value(Some(Utc::now())))
                .filter(tasks::Column::Id.eq(id.clone()))
                .exec(&db)
                .await;
        }
    })
}

/// `user` as templates see it: `{entity, ref}` of the person running the template.
pub async fn user_context(state: &AppState, login: &str) -> Result<Value, DbErr> {
    let entity_ref = crate::catalog::model::EntityRef::new("user", "default", &login.to_lowercase());
    let entity = match crate::catalog::store::find(&state.db, &entity_ref).await? {
        Some(row) => serde_json::from_str(&row.body).unwrap_or(Value::Null),
        None => json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User", "metadata": {"name": login}, "spec": {}}),
    };
    Ok(json!({"entity": entity, "ref": entity_ref.to_string()}))
}

async fn finish(
    db: &DatabaseConnection,
    id: &str,
    status: &str,
    output: Option<String>,
    error: Option<String>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    tasks::Entity::update_many()
        .col_expr(tasks::Column::Status, sea_orm::sea_query::Expr::value(status))
        .col_expr(tasks::Column::Output, sea_orm::sea_query::Expr::value(output))
        .col_expr(tasks::Column::Error, sea_orm::sea_query::Expr::value(error.clone()))
        .col_expr(tasks::Column::FinishedAt, sea_orm::sea_query::Expr::value(Some(now)))
        .col_expr(tasks::Column::HeartbeatAt, sea_orm::sea_query::Expr::value(Some(now)))
        .filter(tasks::Column::Id.eq(id.to_owned()))
        .exec(&txn)
        .await?;
    let message = match status {
        "completed" => "Run completed".to_owned(),
        "cancelled" => "Run cancelled".to_owned(),
        _ => format!("Run failed: {}", error.as_deref().unwrap_or("unknown error")),
    };
    events::ActiveModel {
        task_id: Set(id.to_owned()),
        kind: Set("completion".to_owned()),
        step_id: Set(None),
        status: Set(Some(status.to_owned())),
        message: Set(message),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await
}

/// One task.
pub async fn get(db: &DatabaseConnection, id: &str) -> Result<Option<Task>, DbErr> {
    Ok(tasks::Entity::find_by_id(id.to_owned()).one(db).await?.map(view))
}

/// Recent tasks, newest first, optionally of one person, with how many there are in all.
pub async fn list(db: &DatabaseConnection, created_by: Option<&str>, limit: u64) -> Result<(Vec<Task>, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    let mut q = tasks::Entity::find().order_by_desc(tasks::Column::CreatedAt);
    if let Some(login) = created_by {
        q = q.filter(tasks::Column::CreatedBy.eq(login.to_owned()));
    }
    let total = q.clone().count(db).await?;
    Ok((q.limit(limit).all(db).await?.into_iter().map(view).collect(), total))
}

/// Events after `after` (an event id), in order.
pub async fn events_after(db: &DatabaseConnection, id: &str, after: i64) -> Result<Vec<TaskEvent>, DbErr> {
    Ok(events::Entity::find()
        .filter(events::Column::TaskId.eq(id.to_owned()))
        .filter(events::Column::Id.gt(after))
        .order_by_asc(events::Column::Id)
        .limit(1000)
        .all(db)
        .await?
        .into_iter()
        .map(event_view)
        .collect())
}

/// Asks a task to stop before its next step. A task no runner holds any more is cancelled at once.
pub async fn cancel(state: &AppState, id: &str, actor: &str) -> Result<Task, ScaffoldError> {
    let row = tasks::Entity::find_by_id(id.to_owned()).one(&state.db).await?.ok_or(ScaffoldError::NotFound)?;
    if !matches!(row.status.as_str(), "open" | "processing") {
        return Err(ScaffoldError::Conflict(format!(
            "the task is {}; only a running task can be cancelled",
            row.status
        )));
    }
    tasks::Entity::update_many()
        .col_expr(tasks::Column::CancelRequested, sea_orm::sea_query::Expr::value(true))
        .filter(tasks::Column::Id.eq(id.to_owned()))
        .exec(&state.db)
        .await?;
    let stale = row.heartbeat_at.is_none_or(|h| h < Utc::now() - Duration::seconds(STALE_AFTER_SECONDS));
    if stale && !RUNNING.lock().expect("lock").contains(id) {
        finish(&state.db, id, "cancelled", None, None).await?;
    }
    audit(state, actor, "scaffold.task.cancel", &row.template_ref, id).await?;
    get(&state.db, id).await?.ok_or(ScaffoldError::NotFound)
}

/// Runs a failed or cancelled task again from the step that did not finish.
pub async fn retry(state: &AppState, id: &str, actor: &str) -> Result<Task, ScaffoldError> {
    let row = tasks::Entity::find_by_id(id.to_owned()).one(&state.db).await?.ok_or(ScaffoldError::NotFound)?;
    if !matches!(row.status.as_str(), "failed" | "cancelled") {
        return Err(ScaffoldError::Conflict(format!(
            "the task is {}; only a failed or cancelled task can be retried",
            row.status
        )));
    }
    let spec: Value = serde_json::from_str(&row.spec).unwrap_or(Value::Null);
    if !SECRETS.lock().expect("lock").contains_key(id) && !has_no_secrets(&spec) {
        return Err(ScaffoldError::Conflict(
            "the secret values of this run are gone (they are only kept in memory, and the portal restarted or another replica ran it); start a new run"
                .to_owned(),
        ));
    }
    let mut steps: Vec<StepState> = serde_json::from_str(&row.steps).unwrap_or_default();
    let from = steps.iter().find(|s| s.status != "completed" && s.status != "skipped").map(|s| s.name.clone());
    for s in steps.iter_mut().filter(|s| matches!(s.status.as_str(), "failed" | "cancelled" | "processing")) {
        s.status = "open".to_owned();
    }
    let now = Utc::now();
    let txn = crate::db::begin_write(&state.db).await?;
    let updated = tasks::Entity::update_many()
        .col_expr(tasks::Column::Status, sea_orm::sea_query::Expr::value("open"))
        .col_expr(tasks::Column::CancelRequested, sea_orm::sea_query::Expr::value(false))
        .col_expr(tasks::Column::Error, sea_orm::sea_query::Expr::value(Option::<String>::None))
        .col_expr(tasks::Column::FinishedAt, sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(tasks::Column::HeartbeatAt, sea_orm::sea_query::Expr::value(Some(now)))
        .col_expr(
            tasks::Column::Steps,
            sea_orm::sea_query::Expr::value(serde_json::to_string(&steps).unwrap_or_default()),
        )
        .filter(tasks::Column::Id.eq(id.to_owned()))
        .filter(tasks::Column::Status.eq(row.status.clone()))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(ScaffoldError::Conflict("the task changed meanwhile; reload it".to_owned()));
    }
    events::ActiveModel {
        task_id: Set(id.to_owned()),
        kind: Set("log".to_owned()),
        step_id: Set(None),
        status: Set(Some("open".to_owned())),
        message: Set(format!("Retried by {actor}, from step {}", from.as_deref().unwrap_or("(none)"))),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    audit(state, actor, "scaffold.task.retry", &row.template_ref, id).await?;
    spawn(state.clone(), id.to_owned());
    get(&state.db, id).await?.ok_or(ScaffoldError::NotFound)
}

fn has_no_secrets(spec: &Value) -> bool {
    spec["secretKeys"].as_array().is_some_and(Vec::is_empty)
}

async fn audit(state: &AppState, actor: &str, action: &str, template: &str, id: &str) -> Result<(), DbErr> {
    crate::audit::record(
        &state.db,
        crate::audit::Entry {
            actor,
            action,
            target: Some(template),
            detail: Some(json!({"task": id})),
            request_id: None,
        },
    )
    .await
}

/// Marks tasks whose runner went silent as failed, so they can be retried. Returns how many.
pub async fn recover_stale(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let cutoff = Utc::now() - Duration::seconds(STALE_AFTER_SECONDS);
    let stale = tasks::Entity::find()
        .filter(tasks::Column::Status.is_in(["open", "processing"]))
        .filter(tasks::Column::HeartbeatAt.lt(cutoff))
        .all(db)
        .await?;
    let mut n = 0;
    for t in stale {
        if RUNNING.lock().expect("lock").contains(&t.id) {
            continue;
        }
        let status = if t.cancel_requested { "cancelled" } else { "failed" };
        let why = (status == "failed").then(|| {
            "the portal stopped while this task ran; retry it to resume from the step that did not finish".to_owned()
        });
        finish(db, &t.id, status, None, why).await?;
        n += 1;
    }
    Ok(n)
}
