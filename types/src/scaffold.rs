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

/// A template as the "Create" page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCard {
    /// `template:default/name`.
    pub entity_ref: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Owner reference.
    pub owner: Option<String>,
    /// `spec.type` (`service`, `website`).
    pub kind: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Why it cannot run, when it cannot.
    pub problem: Option<String>,
}

/// The "Create" page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateHome {
    /// Every template.
    pub templates: Vec<TemplateCard>,
    /// The viewer's recent tasks.
    pub tasks: Vec<Task>,
}

/// The parts of a repository field (`RepoUrlPicker`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoField {
    /// Hosts to choose from.
    pub hosts: Vec<String>,
    /// Owners to choose from (empty: any, typed).
    pub owners: Vec<String>,
    /// Chosen host.
    pub host: String,
    /// Chosen owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
}

/// One field of a wizard step, with what the browser needs to check it too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WizardField {
    /// Form field name.
    pub name: String,
    /// Label.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// `ui:help`.
    pub help: Option<String>,
    /// `text`, `textarea`, `password`, `number`, `checkbox`, `select`, `multiselect`, `list` or `repo`.
    pub widget: String,
    /// Required.
    pub required: bool,
    /// Current value, as text.
    pub value: String,
    /// Current values (lists, multiple choice).
    pub values: Vec<String>,
    /// Choices `(value, label)`.
    pub options: Vec<(String, String)>,
    /// `pattern`.
    pub pattern: Option<String>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `minimum`.
    pub minimum: Option<f64>,
    /// `maximum`.
    pub maximum: Option<f64>,
    /// Whole numbers only.
    pub integer: bool,
    /// `ui:autofocus`.
    pub autofocus: bool,
    /// A password was already entered (it is never sent back).
    pub secret_set: bool,
    /// The server's objection.
    pub error: Option<String>,
    /// For `repo`.
    pub repo: Option<RepoField>,
    /// Its value decides which other fields the step shows (a key of the step's `dependencies`): the form is
    /// sent back to the same step when it changes.
    #[serde(default)]
    pub controls: bool,
}

/// One line of the review step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRow {
    /// The form step.
    pub step: String,
    /// The field's label.
    pub label: String,
    /// Its value as shown (passwords masked).
    pub value: String,
}

/// A file of a dry-run, as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewFile {
    /// Path.
    pub path: String,
    /// Text, when it is text.
    pub text: Option<String>,
    /// Size.
    pub bytes: usize,
}

/// A dry-run on the review step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DryRunView {
    /// The files the run would publish.
    pub files: Vec<PreviewFile>,
    /// What each step would do.
    pub log: Vec<String>,
    /// Why it stopped.
    pub error: Option<String>,
    /// Output links `(title, url or entity ref)`.
    pub links: Vec<(String, String)>,
}

/// The wizard page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WizardPage {
    /// `template:default/name`.
    pub template_ref: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// The titles of the form steps.
    pub steps: Vec<String>,
    /// The current step; `steps.len()` is the review.
    pub step: usize,
    /// The current step's fields.
    pub fields: Vec<WizardField>,
    /// The review.
    pub review: Vec<ReviewRow>,
    /// A dry-run, when asked for.
    pub dry_run: Option<DryRunView>,
    /// Why the viewer may not run it.
    pub refusal: Option<String>,
    /// Problems of the template itself.
    pub problems: Vec<String>,
}

/// The task page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskPage {
    /// The task.
    pub task: Task,
    /// Its whole log.
    pub events: Vec<TaskEvent>,
    /// Whether the viewer may cancel or retry it.
    pub can_manage: bool,
}

/// The template editor: what was pasted and what the last preview did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EditorState {
    /// The template (YAML).
    pub template: String,
    /// The skeleton, one file after each `=== path` line.
    pub files: String,
    /// The form values (JSON or YAML).
    pub values: String,
    /// Problems with the input or the template (nothing ran).
    pub problems: Vec<String>,
    /// The preview.
    pub result: Option<DryRunView>,
}
