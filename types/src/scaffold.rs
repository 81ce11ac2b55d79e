//! Scaffolder wire types, shaped like Backstage's scaffolder API (`/api/scaffolder/v2/...`) so scripts written
//! for Backstage work unchanged: camelCase names, tasks with `spec` and `status`, events with `body`. Times are
//! RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One step of a task: where it is and what it produced.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStep {
    /// Step id.
    pub id: String,
    /// Step name.
    pub name: String,
    /// Action (`fetch:template`).
    pub action: String,
    /// `open`, `processing`, `completed`, `failed`, `skipped` or `cancelled`.
    pub status: String,
    /// When it last started.
    pub started_at: Option<String>,
    /// When it last ended.
    pub ended_at: Option<String>,
    /// Its output, once completed.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub output: Value,
    /// Why it failed.
    pub error: Option<String>,
}

/// A task (one run of a template).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Id.
    pub id: String,
    /// `{apiVersion, templateInfo: {entityRef}, parameters, steps, output, user: {ref}}`; secret fields read `***`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub spec: Value,
    /// `open`, `processing`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// Created.
    pub created_at: String,
    /// The runner's last sign of life.
    pub last_heartbeat_at: Option<String>,
    /// Ended.
    pub finished_at: Option<String>,
    /// `user:default/<login>`.
    pub created_by: String,
    /// The template (`template:default/name`).
    pub template_ref: String,
    /// The template's title.
    pub template_title: String,
    /// Each step's state.
    pub steps: Vec<TaskStep>,
    /// The evaluated `output` (`links`, `text`) once completed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// A cancel was asked for and the task stops before its next step.
    pub cancel_requested: bool,
}

/// `GET /api/scaffolder/v2/tasks`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskList {
    /// Newest first.
    pub tasks: Vec<Task>,
    /// How many there are.
    pub total_tasks: u64,
}

/// What an event says.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEventBody {
    /// The log line (secrets replaced by `***`).
    pub message: String,
    /// The step it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// A status change of the step (or, for `completion`, of the task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// One event of a task's log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEvent {
    /// Order; pass the last one seen as `after`.
    pub id: i64,
    /// Task.
    pub task_id: String,
    /// What it says.
    pub body: TaskEventBody,
    /// `log` or `completion`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When.
    pub created_at: String,
}

/// `POST /api/scaffolder/v2/tasks` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInput {
    /// `template:default/name`.
    pub template_ref: String,
    /// The form values.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[serde(default)]
    pub values: Value,
    /// Values the template reads as `secrets.x`; never stored.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(default)]
    pub secrets: Option<Value>,
}

/// The answer to creating or retrying a task.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCreated {
    /// The task's id.
    pub id: String,
}

/// A file of a dry-run, in or out.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunFile {
    /// Path relative to the template's directory (in) or to the workspace (out).
    pub path: String,
    /// Contents, base64.
    pub base64_content: String,
    /// Whether it is executable.
    #[serde(default)]
    pub executable: bool,
}

/// `POST /api/scaffolder/v2/dry-run` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunInput {
    /// The Template entity (JSON, or YAML text).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub template: Value,
    /// The form values.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[serde(default)]
    pub values: Value,
    /// Secrets.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(default)]
    pub secrets: Option<Value>,
    /// The template's files (its skeleton), by path relative to the template.
    #[serde(default)]
    pub directory_contents: Vec<DryRunFile>,
}

/// A dry-run's log line.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunLog {
    /// What it says.
    pub body: TaskEventBody,
}

/// What a dry-run did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunResult {
    /// The log.
    pub log: Vec<DryRunLog>,
    /// The files the run would publish.
    pub directory_contents: Vec<DryRunFile>,
    /// The evaluated output, when every step ran.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub output: Option<Value>,
    /// The steps and what each would do.
    pub steps: Vec<TaskStep>,
    /// Why it stopped, if it did.
    pub error: Option<String>,
}

/// An action and its schemas.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionView {
    /// `fetch:template`.
    pub id: String,
    /// What it does.
    pub description: String,
    /// `{input, output}` JSON Schemas.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub schema: Value,
}

/// One form step of a template.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterStep {
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// The step's JSON Schema.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub schema: Value,
}

/// `GET /api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterSchema {
    /// The template's title.
    pub title: String,
    /// Its description.
    pub description: Option<String>,
    /// The form steps.
    pub steps: Vec<ParameterStep>,
}

/// A field the form refused.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// The field (`name`, `tags[1]`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}
