//! The scaffolder: Backstage `scaffolder.backstage.io/v1beta3` templates, registered through the catalog, run
//! as tasks that render a skeleton, create a GitHub repository, push it and register it in the catalog.
//!
//! `template`, `schema`, `expr` and `workspace` are pure; `actions` and `run` execute steps (a dry-run touches
//! nothing outside memory); `tasks` stores runs and their logs; `github` publishes.

pub mod actions;
pub mod expr;
pub mod github;
pub mod run;
pub mod schema;
pub mod tasks;
pub mod template;
pub mod wizard;
pub mod workspace;

use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Map, Value, json};

use crate::catalog::entity::entities;
use crate::catalog::model::EntityRef;
use schema::FieldError;
use template::Template;
use workspace::Source;

/// Why a scaffolder request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// No such template or task.
    #[error("not found")]
    NotFound,
    /// The values do not satisfy the template's form.
    #[error("{} field(s) are not valid", .0.len())]
    Invalid(Vec<FieldError>),
    /// The template itself cannot run (unknown action, bad expression, bad input).
    #[error("the template cannot run: {}", .0.join("; "))]
    Template(Vec<String>),
    /// The request conflicts with the task's state.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// A template from the catalog, with where its files are.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The catalog row.
    pub row: entities::Model,
    /// The entity JSON.
    pub json: Value,
    /// Parsed.
    pub template: Template,
    /// Its skeleton files.
    pub source: Source,
}

/// Reads a Template entity by reference (`template:default/name`, or just `name`).
pub async fn load(state: &crate::AppState, reference: &str) -> Result<Loaded, ScaffoldError> {
    let db = &state.db;
    let entity_ref = EntityRef::parse(reference, Some("template"), "default").map_err(|_| ScaffoldError::NotFound)?;
    if entity_ref.kind != "template" {
        return Err(ScaffoldError::NotFound);
    }
    let row = crate::catalog::store::find(db, &entity_ref).await?.ok_or(ScaffoldError::NotFound)?;
    let json: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
    let template = template::parse(&json).map_err(|e| ScaffoldError::Template(vec![e]))?;
    let source = source_of(&row, &state.github_sync);
    Ok(Loaded { row, json, template, source })
}

/// Where a catalog template's skeleton lives: the directory of the file that declared it.
pub fn source_of(row: &entities::Model, github: &crate::github::GithubSync) -> Source {
    match row.source_path.as_deref() {
        Some(p) if p.starts_with("http://") || p.starts_with("https://") => match github.parse_blob_url(p) {
            Some(blob) => Source::Github {
                repo: blob.repo,
                git_ref: blob.git_ref,
                dir: blob.path.rsplit_once('/').map(|(dir, _)| dir.to_owned()).unwrap_or_default(),
            },
            None => Source::None(
                "this template was read from a URL outside the configured GitHub; Portolan reads skeletons next \
                 to templates in files or in repositories of that GitHub"
                    .to_owned(),
            ),
        },
        Some(p) => match std::path::Path::new(p).parent() {
            Some(dir) => Source::Dir(dir.to_path_buf()),
            None => Source::None("the template file has no directory".to_owned()),
        },
        None => Source::None("this template was created in the portal and has no skeleton files".to_owned()),
    }
}

/// Every template in the catalog (parsed; ones that do not parse are listed with their error).
pub async fn templates(db: &DatabaseConnection) -> Result<Vec<(entities::Model, Result<Template, String>)>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let rows = entities::Entity::find()
        .filter(entities::Column::Kind.eq("template"))
        .order_by_asc(entities::Column::Name)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let parsed =
                serde_json::from_str::<Value>(&r.body).map_err(|e| e.to_string()).and_then(|j| template::parse(&j));
            (r, parsed)
        })
        .collect())
}

/// Checks the values of form steps `0..=upto` (all steps with `None`), after filling in defaults. Pickers are
/// checked against the catalog: an `OwnerPicker` value must be a Group or User (or its `allowedKinds`), an
/// `EntityPicker` value an entity matching its `catalogFilter`, a `RepoUrlPicker` value a repository URL on an
/// allowed host and owner.
pub async fn validate(
    db: &DatabaseConnection,
    tpl: &Template,
    values: &mut Map<String, Value>,
    upto: Option<usize>,
) -> Result<Vec<FieldError>, DbErr> {
    let mut errors = Vec::new();
    let last = upto.unwrap_or(usize::MAX);
    for step in tpl.parameters.iter().take(last.saturating_add(1)) {
        schema::apply_defaults(&step.schema, values);
        errors.extend(schema::validate(&step.schema, values));
        let (props, _) = schema::effective(&step.schema, values);
        for (name, prop) in &props {
            let Some(value) = values.get(name).and_then(Value::as_str).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            if errors.iter().any(|e| &e.field == name) {
                continue;
            }
            let options = prop.get("ui:options").cloned().unwrap_or(json!({}));
            let problem = match prop.get("ui:field").and_then(Value::as_str) {
                Some("RepoUrlPicker") => actions::check_repo_url(value, &options).err(),
                Some("OwnerPicker") => {
                    let kinds = allowed_kinds(&options, &["group", "user"]);
                    entity_problem(db, value, "group", &kinds, &options).await?
                }
                Some("EntityPicker") => {
                    let kinds = allowed_kinds(&options, &[]);
                    let default_kind = options.get("defaultKind").and_then(Value::as_str).map(str::to_lowercase);
                    entity_problem(db, value, default_kind.as_deref().unwrap_or("component"), &kinds, &options).await?
                }
                _ => None,
            };
            if let Some(message) = problem {
                errors.push(FieldError { field: name.clone(), message });
            }
        }
    }
    Ok(errors)
}

/// The entity kinds an entity picker offers: `allowedKinds`, plus the kinds of `catalogFilter`, else `default`.
fn allowed_kinds(options: &Value, default: &[&str]) -> Vec<String> {
    let mut kinds: Vec<String> = options
        .get("allowedKinds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_lowercase)).collect())
        .unwrap_or_default();
    if let Some(filter) = options.get("catalogFilter") {
        for f in filter.as_array().cloned().unwrap_or_else(|| vec![filter.clone()]) {
            match f.get("kind") {
                Some(Value::String(k)) => kinds.push(k.to_lowercase()),
                Some(Value::Array(a)) => kinds.extend(a.iter().filter_map(|k| k.as_str().map(str::to_lowercase))),
                _ => {}
            }
        }
    }
    if kinds.is_empty() {
        kinds = default.iter().map(|k| (*k).to_owned()).collect();
    }
    kinds
}

async fn entity_problem(
    db: &DatabaseConnection,
    value: &str,
    default_kind: &str,
    kinds: &[String],
    options: &Value,
) -> Result<Option<String>, DbErr> {
    let Ok(r) = EntityRef::parse(value, Some(default_kind), "default") else {
        return Ok(Some(format!("`{value}` is not an entity reference")));
    };
    if !kinds.is_empty() && !kinds.contains(&r.kind) {
        return Ok(Some(format!("must be a {}", kinds.join(" or "))));
    }
    let Some(row) = crate::catalog::store::find(db, &r).await? else {
        return Ok(Some(format!("{r} is not in the catalog")));
    };
    // `catalogFilter` conditions on spec.type and other dotted fields of the entity.
    if let Some(filter) = options.get("catalogFilter") {
        let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
        let filters = filter.as_array().cloned().unwrap_or_else(|| vec![filter.clone()]);
        let matches_one = filters.iter().any(|f| {
            f.as_object().is_none_or(|m| {
                m.iter().filter(|(k, _)| k.as_str() != "kind").all(|(k, want)| {
                    let pointer = format!("/{}", k.replace('.', "/"));
                    let have =
                        body.pointer(&pointer).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_lowercase));
                    let wanted: Vec<String> = match want {
                        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_lowercase)).collect(),
                        Value::String(s) => vec![s.to_lowercase()],
                        other => vec![other.to_string()],
                    };
                    have.is_some_and(|h| wanted.contains(&h))
                })
            })
        });
        if !matches_one {
            return Ok(Some(format!("{r} does not match the template's filter")));
        }
    }
    Ok(None)
}

/// Splits the values into what is stored and the secrets (`ui:widget: password` fields), which are only held in
/// memory while the task runs.
pub fn split_secrets(tpl: &Template, values: &Map<String, Value>, extra: Map<String, Value>) -> Map<String, Value> {
    let mut secrets = extra;
    for name in tpl.secret_fields() {
        if let Some(v) = values.get(&name) {
            secrets.insert(name, v.clone());
        }
    }
    secrets
}

/// A dry-run: the rendered files, the log and the output, with nothing changed outside memory.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// `(step, status, message)`.
    pub log: Vec<(Option<String>, Option<String>, String)>,
    /// The files.
    pub files: workspace::Files,
    /// Evaluated output, when every step ran.
    pub output: Option<Value>,
    /// Why it stopped.
    pub error: Option<String>,
    /// Step states.
    pub steps: Vec<run::StepState>,
}

/// Runs a template as a dry-run.
pub async fn dry_run(
    tpl: &Template,
    source: &Source,
    values: &Map<String, Value>,
    secrets: &Map<String, Value>,
    user: &Value,
    github: Option<&crate::github::GithubSync>,
) -> DryRun {
    let mut sink = run::MemorySink {
        secrets: secrets.values().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        ..Default::default()
    };
    let plan = run::Plan {
        template: tpl,
        values,
        secrets,
        user,
        source,
        dry_run: true,
        state: None,
        github,
        publisher: None,
        actor: user["ref"].as_str().unwrap_or_default(),
    };
    let mut steps = run::StepState::initial(tpl);
    let (outcome, files) = run::execute(&plan, &mut steps, &mut sink).await;
    let (output, error) = match outcome {
        run::Outcome::Completed(o) => (Some(o), None),
        run::Outcome::Failed(e) => (None, Some(run::redact(&e, &sink.secrets))),
        run::Outcome::Cancelled => (None, Some("cancelled".to_owned())),
    };
    DryRun { log: sink.events, files, output, error, steps }
}
