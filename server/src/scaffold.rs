//! Scaffolder routes, Backstage-compatible (`/api/scaffolder/v2/...`, session or bearer token): create a task
//! from a template, read it, follow its log (JSON after an event id, or a live event stream), cancel or retry
//! it, dry-run a pasted template with its files, list the actions, read a template's form.

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};

use portolan_core::access::{Action, Target};
use portolan_core::auth::RequestViewer;
use portolan_core::scaffold::{self, ScaffoldError, run, tasks, template, workspace};
use portolan_types::Viewer;
use portolan_types::scaffold::{
    ActionView, DryRunFile, DryRunInput, DryRunLog, DryRunResult, FieldProblem, ParameterSchema, ParameterStep, Task,
    TaskCreated, TaskEvent, TaskEventBody, TaskInput, TaskList,
};

use crate::ServerState;
use crate::access::authorize;
use crate::api::require;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{ApiError, ErrorEnvelope};

/// The scaffolder routes.
pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/scaffolder/v2/actions", get(actions))
        .route("/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema", get(parameter_schema))
        .route("/api/scaffolder/v2/tasks", get(list_tasks).post(create_task))
        .route("/api/scaffolder/v2/tasks/{id}", get(get_task))
        .route("/api/scaffolder/v2/tasks/{id}/events", get(task_events))
        .route("/api/scaffolder/v2/tasks/{id}/eventstream", get(task_eventstream))
        .route("/api/scaffolder/v2/tasks/{id}/cancel", post(cancel_task))
        .route("/api/scaffolder/v2/tasks/{id}/retry", post(retry_task))
        .route("/api/scaffolder/v2/dry-run", post(dry_run))
        .route("/api/scaffolder/{*rest}", axum::routing::any(crate::api::api_not_found))
        .route("/create/wizard", post(wizard_form))
        .route("/create/edit", post(editor_form))
        .route("/create/tasks/{id}/cancel", post(cancel_form))
        .route("/create/tasks/{id}/retry", post(retry_form))
}

/// Maps a scaffolder error to the API's.
pub fn scaffold_error(e: ScaffoldError) -> ApiError {
    match e {
        ScaffoldError::NotFound => ApiError::not_found("no such template or task"),
        ScaffoldError::Invalid(fields) => ApiError::invalid_fields(problems(fields)),
        ScaffoldError::Template(problems) => {
            ApiError::bad_request(format!("the template cannot run: {}", problems.join("; ")))
        }
        ScaffoldError::Conflict(m) => ApiError::conflict(m),
        ScaffoldError::Db(e) => ApiError::internal("scaffolder", e),
    }
}

fn problems(fields: Vec<scaffold::schema::FieldError>) -> Vec<FieldProblem> {
    fields.into_iter().map(|f| FieldProblem { field: f.field, message: f.message }).collect()
}

/// Every action templates may use, with its input and output schemas.
#[utoipa::path(get, path = "/api/scaffolder/v2/actions", tag = "scaffolder", responses(
    (status = 200, description = "The actions", body = Vec<ActionView>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn actions(Extension(viewer): Extension<RequestViewer>) -> Result<Json<Vec<ActionView>>, ApiError> {
    require(&viewer)?;
    Ok(Json(
        scaffold::actions::list()
            .into_iter()
            .map(|a| ActionView { id: a.id.to_owned(), description: a.description.to_owned(), schema: a.schema })
            .collect(),
    ))
}

/// A template's form steps (JSON Schema each).
#[utoipa::path(get, path = "/api/scaffolder/v2/templates/{namespace}/{kind}/{name}/parameter-schema", tag = "scaffolder",
    params(("namespace" = String, Path, description = "Namespace"), ("kind" = String, Path, description = "`template`"),
        ("name" = String, Path, description = "Template name")),
    responses(
        (status = 200, description = "The form", body = ParameterSchema),
        (status = 400, description = "The template is not a valid v1beta3 template", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 404, description = "No such template", body = ErrorEnvelope)))]
pub(crate) async fn parameter_schema(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath((namespace, kind, name)): ApiPath<(String, String, String)>,
) -> Result<Json<ParameterSchema>, ApiError> {
    require(&viewer)?;
    if !kind.eq_ignore_ascii_case("template") {
        return Err(ApiError::not_found("no such template"));
    }
    let loaded = scaffold::load(&state.app, &format!("template:{namespace}/{name}")).await.map_err(scaffold_error)?;
    let t = loaded.template;
    Ok(Json(ParameterSchema {
        title: t.title,
        description: t.description,
        steps: t
            .parameters
            .into_iter()
            .map(|p| ParameterStep { title: p.title, description: p.description, schema: p.schema })
            .collect(),
    }))
}

/// Starts a run of a template. The values are checked against every form step first (422 names each field);
/// a template that cannot run (unknown action, bad expression) is refused before anything runs.
#[utoipa::path(post, path = "/api/scaffolder/v2/tasks", tag = "scaffolder", request_body = TaskInput, responses(
    (status = 201, description = "The task was created and is running", body = TaskCreated),
    (status = 400, description = "The template cannot run", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "Not allowed to run this template", body = ErrorEnvelope),
    (status = 404, description = "No such template", body = ErrorEnvelope),
    (status = 422, description = "Values that do not satisfy the form", body = ErrorEnvelope)))]
pub(crate) async fn create_task(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(input): ApiJson<TaskInput>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    let id =
        start(&state, viewer, &input.template_ref, object(input.values)?, object(input.secrets.unwrap_or_default())?)
            .await?;
    Ok((StatusCode::CREATED, Json(TaskCreated { id })).into_response())
}

fn object(v: Value) -> Result<Map<String, Value>, ApiError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(ApiError::unprocessable("values", "must be an object")),
    }
}

/// Checks and starts a task; shared by the API and the wizard.
pub async fn start(
    state: &ServerState,
    viewer: &Viewer,
    template_ref: &str,
    mut values: Map<String, Value>,
    extra_secrets: Map<String, Value>,
) -> Result<String, ApiError> {
    let loaded = scaffold::load(&state.app, template_ref).await.map_err(scaffold_error)?;
    authorize(state, viewer, Action::ScaffoldRun, &Target::for_row(&loaded.row)).await?;
    let problems = run::preflight(&loaded.template);
    if !problems.is_empty() {
        return Err(scaffold_error(ScaffoldError::Template(problems)));
    }
    let errors = scaffold::validate(&state.app.db, &loaded.template, &mut values, None)
        .await
        .map_err(|e| ApiError::internal("checking template values", e))?;
    if !errors.is_empty() {
        return Err(scaffold_error(ScaffoldError::Invalid(errors)));
    }
    let secrets = scaffold::split_secrets(&loaded.template, &values, extra_secrets);
    tasks::create(&state.app, &loaded.json, &loaded.template, &loaded.source, values, secrets, &viewer.login)
        .await
        .map_err(scaffold_error)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskListQuery {
    /// Only tasks this person started (`user:default/octocat` or `octocat`).
    created_by: Option<String>,
    /// At most this many (default 50, at most 500).
    limit: Option<u64>,
}

/// Recent tasks, newest first.
#[utoipa::path(get, path = "/api/scaffolder/v2/tasks", tag = "scaffolder", params(TaskListQuery), responses(
    (status = 200, description = "The tasks", body = TaskList),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
pub(crate) async fn list_tasks(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiQuery(q): ApiQuery<TaskListQuery>,
) -> Result<Json<TaskList>, ApiError> {
    require(&viewer)?;
    let who = q.created_by.as_deref().map(|c| c.rsplit('/').next().unwrap_or(c).to_owned());
    let (tasks, total) = tasks::list(&state.app.db, who.as_deref(), q.limit.unwrap_or(50).clamp(1, 500))
        .await
        .map_err(|e| ApiError::internal("listing tasks", e))?;
    Ok(Json(TaskList { tasks, total_tasks: total }))
}

/// One task: its status, each step's status and output, and the result.
#[utoipa::path(get, path = "/api/scaffolder/v2/tasks/{id}", tag = "scaffolder",
    params(("id" = String, Path, description = "Task id")), responses(
    (status = 200, description = "The task", body = Task),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such task", body = ErrorEnvelope)))]
pub(crate) async fn get_task(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Task>, ApiError> {
    require(&viewer)?;
    task(&state, &id).await.map(Json)
}

async fn task(state: &ServerState, id: &str) -> Result<Task, ApiError> {
    tasks::get(&state.app.db, id)
        .await
        .map_err(|e| ApiError::internal("reading a task", e))?
        .ok_or_else(|| ApiError::not_found("no such task"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct AfterQuery {
    /// Only events after this event id.
    after: Option<i64>,
}

/// The task's log after an event id, oldest first (at most 1,000 at a time).
#[utoipa::path(get, path = "/api/scaffolder/v2/tasks/{id}/events", tag = "scaffolder",
    params(("id" = String, Path, description = "Task id"), AfterQuery), responses(
    (status = 200, description = "The events", body = Vec<TaskEvent>),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such task", body = ErrorEnvelope)))]
pub(crate) async fn task_events(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<Vec<TaskEvent>>, ApiError> {
    require(&viewer)?;
    task(&state, &id).await?;
    let events = tasks::events_after(&state.app.db, &id, q.after.unwrap_or(0))
        .await
        .map_err(|e| ApiError::internal("reading events", e))?;
    Ok(Json(events))
}

/// The task's log as server-sent events (`event: log` and a final `event: completion`, `data` one event as
/// JSON, `id` its event id), from the start or after `after` / `Last-Event-ID`. The stream ends after the
/// completion event; a finished task's stream replays its log and ends.
#[utoipa::path(get, path = "/api/scaffolder/v2/tasks/{id}/eventstream", tag = "scaffolder",
    params(("id" = String, Path, description = "Task id"), AfterQuery), responses(
    (status = 200, description = "An event stream", content_type = "text/event-stream", body = String),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 404, description = "No such task", body = ErrorEnvelope)))]
pub(crate) async fn task_eventstream(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    require(&viewer)?;
    task(&state, &id).await?;
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let after = last.or(q.after).unwrap_or(0);
    let db = state.app.db.clone();
    let stream = futures_util::stream::unfold(
        (db, id, after, std::collections::VecDeque::<TaskEvent>::new(), false),
        |(db, id, mut after, mut queue, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(e) = queue.pop_front() {
                    after = e.id;
                    let end = e.kind == "completion";
                    let event = Event::default()
                        .event(e.kind.clone())
                        .id(e.id.to_string())
                        .data(serde_json::to_string(&e).unwrap_or_default());
                    return Some((Ok::<_, std::convert::Infallible>(event), (db, id, after, queue, end)));
                }
                match tasks::events_after(&db, &id, after).await {
                    Ok(events) if !events.is_empty() => queue.extend(events),
                    Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading task events failed");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15))).into_response())
}

async fn may_manage(state: &ServerState, viewer: &Viewer, id: &str, verb: &str) -> Result<(), ApiError> {
    authorize(state, viewer, Action::ScaffoldRun, &Target::global()).await?;
    let t = task(state, id).await?;
    if !viewer.is_admin && t.created_by != format!("user:default/{}", viewer.login) {
        return Err(ApiError::forbidden(format!(
            "scaffold.run: only the person who started this task or an administrator may {verb} it"
        )));
    }
    Ok(())
}

/// Asks a running task to stop before its next step.
#[utoipa::path(post, path = "/api/scaffolder/v2/tasks/{id}/cancel", tag = "scaffolder",
    params(("id" = String, Path, description = "Task id")), responses(
    (status = 200, description = "The task, with the cancel recorded", body = Task),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "Not the task's starter or an administrator", body = ErrorEnvelope),
    (status = 404, description = "No such task", body = ErrorEnvelope),
    (status = 409, description = "The task is not running", body = ErrorEnvelope)))]
pub(crate) async fn cancel_task(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Task>, ApiError> {
    let viewer = require(&viewer)?;
    may_manage(&state, viewer, &id, "cancel").await?;
    tasks::cancel(&state.app, &id, &viewer.login).await.map(Json).map_err(scaffold_error)
}

/// Runs a failed or cancelled task again from the step that did not finish; completed steps with effects
/// outside (a created repository, a registered location) are not repeated.
#[utoipa::path(post, path = "/api/scaffolder/v2/tasks/{id}/retry", tag = "scaffolder",
    params(("id" = String, Path, description = "Task id")), responses(
    (status = 201, description = "The task runs again", body = TaskCreated),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "Not the task's starter or an administrator", body = ErrorEnvelope),
    (status = 404, description = "No such task", body = ErrorEnvelope),
    (status = 409, description = "The task is not failed or cancelled, or its secrets are gone", body = ErrorEnvelope)))]
pub(crate) async fn retry_task(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let viewer = require(&viewer)?;
    may_manage(&state, viewer, &id, "retry").await?;
    let t = tasks::retry(&state.app, &id, &viewer.login).await.map_err(scaffold_error)?;
    Ok((StatusCode::CREATED, Json(TaskCreated { id: t.id })).into_response())
}

/// Runs a template without side effects: the rendered files, what each step would do and the output. The
/// template is sent with the request (JSON or YAML text) with its files, so authors can try one before they
/// register it.
#[utoipa::path(post, path = "/api/scaffolder/v2/dry-run", tag = "scaffolder", request_body = DryRunInput, responses(
    (status = 200, description = "What the run would do", body = DryRunResult),
    (status = 400, description = "The template cannot run", body = ErrorEnvelope),
    (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
    (status = 403, description = "The token lacks scaffold:run", body = ErrorEnvelope),
    (status = 422, description = "Values that do not satisfy the form, or files that cannot be read", body = ErrorEnvelope)))]
pub(crate) async fn dry_run(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiJson(input): ApiJson<DryRunInput>,
) -> Result<Json<DryRunResult>, ApiError> {
    let viewer = require(&viewer)?;
    authorize(&state, viewer, Action::ScaffoldRun, &Target::global()).await?;
    let mut files = workspace::Files::new();
    for f in &input.directory_contents {
        let path = workspace::safe_relative(&f.path).map_err(|e| ApiError::unprocessable("directoryContents", e))?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(f.base64_content.as_bytes()).map_err(|_| {
            ApiError::unprocessable("directoryContents", format!("{path}: base64Content is not base64"))
        })?;
        files.insert(path, workspace::File { bytes, executable: f.executable });
    }
    let doc = template::document(&input.template).map_err(ApiError::bad_request)?;
    let tpl = template::parse(&doc).map_err(|e| scaffold_error(ScaffoldError::Template(vec![e])))?;
    let problems = run::preflight(&tpl);
    if !problems.is_empty() {
        return Err(scaffold_error(ScaffoldError::Template(problems)));
    }
    let mut values = object(input.values)?;
    let errors = scaffold::validate(&state.app.db, &tpl, &mut values, None)
        .await
        .map_err(|e| ApiError::internal("checking template values", e))?;
    if !errors.is_empty() {
        return Err(scaffold_error(ScaffoldError::Invalid(errors)));
    }
    let secrets = scaffold::split_secrets(&tpl, &values, object(input.secrets.unwrap_or_default())?);
    let user =
        tasks::user_context(&state.app, &viewer.login).await.map_err(|e| ApiError::internal("reading the user", e))?;
    let result = scaffold::dry_run(&tpl, &workspace::Source::Files(files), &values, &secrets, &user, None).await;
    Ok(Json(dry_run_result(result)))
}

/// The wire form of a dry-run.
pub fn dry_run_result(r: scaffold::DryRun) -> DryRunResult {
    DryRunResult {
        log: r
            .log
            .into_iter()
            .map(|(step_id, status, message)| DryRunLog { body: TaskEventBody { message, step_id, status } })
            .collect(),
        directory_contents: r
            .files
            .into_iter()
            .map(|(path, f)| DryRunFile {
                path,
                base64_content: base64::engine::general_purpose::STANDARD.encode(&f.bytes),
                executable: f.executable,
            })
            .collect(),
        output: r.output,
        steps: r.steps.iter().map(tasks::step_view).collect(),
        error: r.error,
    }
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(http::header::LOCATION, to.to_owned())]).into_response()
}

fn with_message(path: &str, key: &str, text: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{key}={}", portolan_types::encode_query_value(text))
}

/// The wizard's URL for a template and step (`review` after the last form step).
pub fn wizard_url(template_ref: &str, step: usize, steps: usize) -> String {
    let (ns, name) =
        template_ref.strip_prefix("template:").and_then(|r| r.split_once('/')).unwrap_or(("default", template_ref));
    let step = if step >= steps { "review".to_owned() } else { step.to_string() };
    format!(
        "/create/templates/{}/{}?step={step}",
        portolan_types::encode_query_value(ns),
        portolan_types::encode_query_value(name)
    )
}

/// The wizard as plain forms: every button posts here with the step's fields; the values are kept in the
/// session (passwords in memory), the step is checked with the template's schema, and the browser is sent to the
/// next step, back to this one with the problems shown, the review, a dry-run or the new task.
pub(crate) async fn wizard_form(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    session: tower_sessions::Session,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let Some(viewer) = viewer.0.clone() else { return see_other("/login") };
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let template_ref = get("__template");
    let loaded = match scaffold::load(&state.app, &template_ref).await {
        Ok(l) => l,
        Err(_) => return see_other(&with_message("/create", "error", "That template is not in the catalog.")),
    };
    let tpl = &loaded.template;
    let template_ref = tpl.entity_ref.clone();
    let n = tpl.parameters.len();
    let step: usize = get("__step").parse().unwrap_or(n).min(n);
    let nav = get("__nav");
    let here = wizard_url(&template_ref, step, n);
    if let Err(e) = authorize(&state, &viewer, Action::ScaffoldRun, &Target::for_row(&loaded.row)).await {
        return see_other(&with_message(&here, "error", e.message()));
    }
    let mut drafts: scaffold::wizard::Drafts =
        session.get(scaffold::wizard::SESSION_KEY).await.ok().flatten().unwrap_or_default();
    let mut draft = drafts.remove(&template_ref).unwrap_or_default();
    let secret_fields = tpl.secret_fields();
    if step < n {
        let form = &tpl.parameters[step];
        let mut fields: Vec<(String, String)> = Vec::new();
        let (props, _) = scaffold::schema::effective(&form.schema, &draft.values);
        for (k, v) in &pairs {
            if k.starts_with("__") {
                continue;
            }
            if secret_fields.contains(k) {
                if !v.is_empty() {
                    scaffold::wizard::keep_secret(&viewer.login, &template_ref, k, v);
                }
                continue;
            }
            if let Some((_, part)) = k.rsplit_once('.')
                && matches!(part, "host" | "owner" | "repo")
            {
                continue;
            }
            fields.push((k.clone(), v.clone()));
        }
        // A repository field arrives as three inputs.
        let mut names: Vec<String> = props.keys().cloned().collect();
        for map in template::property_maps(&form.schema) {
            names.extend(map.keys().cloned());
        }
        for name in names {
            let host = get(&format!("{name}.host"));
            let owner = get(&format!("{name}.owner"));
            let repo = get(&format!("{name}.repo"));
            if pairs.iter().any(|(k, _)| k == &format!("{name}.repo")) && !fields.iter().any(|(k, _)| k == &name) {
                let value = if owner.trim().is_empty() && repo.trim().is_empty() {
                    String::new()
                } else {
                    format!(
                        "{}?owner={}&repo={}",
                        host.trim(),
                        portolan_types::encode_query_value(owner.trim()),
                        portolan_types::encode_query_value(repo.trim())
                    )
                };
                fields.push((name, value));
            }
        }
        draft.values = scaffold::schema::from_form(&form.schema, &fields, &draft.values);
        for name in &secret_fields {
            draft.values.remove(name);
        }
    }
    let secrets = scaffold::wizard::secrets(&viewer.login, &template_ref);
    let mut all = draft.values.clone();
    all.extend(secrets.clone());
    let redirect = match nav.as_str() {
        "back" => {
            draft.errors.clear();
            wizard_url(&template_ref, step.saturating_sub(1), n)
        }
        "dry-run" => format!("{}&dry=1", wizard_url(&template_ref, n, n)),
        // A field that decides which others show changed: the same step again, laid out for the new values.
        "update" => {
            draft.errors.clear();
            here.clone()
        }
        "create" | "next" | "review" => {
            let upto = if nav == "create" { None } else { Some(step) };
            match scaffold::validate(&state.app.db, tpl, &mut all, upto).await {
                Err(e) => {
                    tracing::error!(error = %e, "checking wizard values failed");
                    with_message(&here, "error", "The values could not be checked; try again.")
                }
                Ok(errors) if !errors.is_empty() => {
                    let first = errors.iter().filter_map(|e| tpl.step_of(&e.field)).min().unwrap_or(step);
                    draft.errors = problems(errors);
                    wizard_url(&template_ref, first, n)
                }
                Ok(_) => {
                    draft.errors.clear();
                    for (k, v) in &all {
                        if !secret_fields.contains(k) {
                            draft.values.insert(k.clone(), v.clone());
                        }
                    }
                    if nav == "create" {
                        match start(&state, &viewer, &template_ref, all, Map::new()).await {
                            Ok(id) => {
                                scaffold::wizard::forget_secrets(&viewer.login, &template_ref);
                                let _ = session.insert(scaffold::wizard::SESSION_KEY, &drafts).await;
                                return see_other(&format!("/create/tasks/{id}"));
                            }
                            Err(e) => with_message(&wizard_url(&template_ref, n, n), "error", e.message()),
                        }
                    } else {
                        wizard_url(&template_ref, step + 1, n)
                    }
                }
            }
        }
        _ => here.clone(),
    };
    drafts.insert(template_ref, draft);
    if let Err(e) = session.insert(scaffold::wizard::SESSION_KEY, &drafts).await {
        tracing::warn!(error = %e, "keeping the wizard's values failed");
    }
    see_other(&redirect)
}

async fn task_form(state: &ServerState, viewer: &RequestViewer, id: &str, retry: bool) -> Response {
    let page = format!("/create/tasks/{}", portolan_types::encode_query_value(id));
    let Some(viewer) = viewer.0.clone() else { return see_other("/login") };
    if let Err(e) = may_manage(state, &viewer, id, if retry { "retry" } else { "cancel" }).await {
        return see_other(&with_message(&page, "error", e.message()));
    }
    let result = if retry {
        tasks::retry(&state.app, id, &viewer.login).await.map(|_| "Retrying from the step that did not finish.")
    } else {
        tasks::cancel(&state.app, id, &viewer.login)
            .await
            .map(|_| "Cancel requested: the task stops before its next step.")
    };
    match result {
        Ok(text) => see_other(&with_message(&page, "notice", text)),
        Err(e) => see_other(&with_message(&page, "error", scaffold_error(e).message())),
    }
}

/// The task page's Cancel button.
pub(crate) async fn cancel_form(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<String>,
) -> Response {
    task_form(&state, &viewer, &id, false).await
}

/// The task page's Retry button.
pub(crate) async fn retry_form(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    ApiPath(id): ApiPath<String>,
) -> Response {
    task_form(&state, &viewer, &id, true).await
}

/// Session key of the template editor's state.
pub const EDITOR_KEY: &str = "scaffold_editor";

/// The largest template editor input kept (template, files and values together).
const EDITOR_MAX_BYTES: usize = 512 * 1024;

/// Splits the editor's skeleton text into files: each `=== path` line starts one.
pub fn editor_files(text: &str) -> Result<workspace::Files, String> {
    let mut files = workspace::Files::new();
    let mut current: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("=== ") {
            if let Some((p, body)) = current.take() {
                files.insert(p, workspace::File { bytes: body.into_bytes(), executable: false });
            }
            let path = workspace::safe_relative(path.trim()).map_err(|e| format!("file {e}"))?;
            if path.is_empty() {
                return Err("a `===` line needs a file path".to_owned());
            }
            current = Some((path, String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        } else if !line.trim().is_empty() {
            return Err("the files must start with a line `=== path/of/the/file`".to_owned());
        }
    }
    if let Some((p, body)) = current {
        files.insert(p, workspace::File { bytes: body.into_bytes(), executable: false });
    }
    Ok(files)
}

/// The template editor's Preview button: dry-runs the pasted template with the pasted skeleton and values, keeps
/// all of it in the session and shows the editor again with the result.
pub(crate) async fn editor_form(
    State(state): State<ServerState>,
    Extension(viewer): Extension<RequestViewer>,
    session: tower_sessions::Session,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(viewer) = viewer.0.clone() else { return see_other("/login") };
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut editor = portolan_types::scaffold::EditorState {
        template: get("template"),
        files: get("files"),
        values: get("values"),
        problems: Vec::new(),
        result: None,
    };
    if editor.template.len() + editor.files.len() + editor.values.len() > EDITOR_MAX_BYTES {
        return see_other(&with_message(
            "/create/edit",
            "error",
            "The template, files and values together may be at most 512 KB.",
        ));
    }
    if let Err(e) = authorize(&state, &viewer, Action::ScaffoldRun, &Target::global()).await {
        return see_other(&with_message("/create/edit", "error", e.message()));
    }
    editor.problems = preview(&state, &viewer, &mut editor).await;
    if let Err(e) = session.insert(EDITOR_KEY, &editor).await {
        tracing::warn!(error = %e, "keeping the template editor's state failed");
    }
    see_other("/create/edit#preview")
}

async fn preview(
    state: &ServerState,
    viewer: &Viewer,
    editor: &mut portolan_types::scaffold::EditorState,
) -> Vec<String> {
    let files = match editor_files(&editor.files) {
        Ok(f) => f,
        Err(e) => return vec![format!("Files: {e}")],
    };
    let doc = match template::document(&Value::String(editor.template.clone())) {
        Ok(d) => d,
        Err(e) => return vec![format!("Template: {e}")],
    };
    let tpl = match template::parse(&doc) {
        Ok(t) => t,
        Err(e) => return vec![format!("Template: {e}")],
    };
    let problems = run::preflight(&tpl);
    if !problems.is_empty() {
        return problems.into_iter().map(|p| format!("Template: {p}")).collect();
    }
    let values_text = if editor.values.trim().is_empty() { "{}".to_owned() } else { editor.values.clone() };
    let mut values = match template::document(&Value::String(values_text)) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return vec!["Values: must be an object (JSON or YAML)".to_owned()],
        Err(e) => return vec![format!("Values: {}", e.replace("the template", "the values"))],
    };
    match scaffold::validate(&state.app.db, &tpl, &mut values, None).await {
        Ok(errors) if !errors.is_empty() => {
            return errors.into_iter().map(|e| format!("Values: {}: {}", e.field, e.message)).collect();
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "checking template values failed");
            return vec!["Values could not be checked; try again.".to_owned()];
        }
    }
    let secrets = scaffold::split_secrets(&tpl, &values, Map::new());
    let user = match tasks::user_context(&state.app, &viewer.login).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "reading the user failed");
            return vec!["The preview could not run; try again.".to_owned()];
        }
    };
    let result = scaffold::dry_run(&tpl, &workspace::Source::Files(files), &values, &secrets, &user, None).await;
    editor.result = Some(scaffold::wizard::dry_run_view(&result));
    Vec::new()
}
