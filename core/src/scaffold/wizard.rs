//! The wizard in the browser: each form step's fields as the page renders them (with the HTML attributes that
//! let the browser check them too), the review, and the values typed so far. Values live in the visitor's
//! session between steps; passwords only in this process's memory, never in the session or the database.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use portolan_types::scaffold::{
    DryRunView, FieldProblem, PreviewFile, RepoField, ReviewRow, TemplateCard, WizardField,
};

use super::template::{Template, property_maps};
use super::{expr, schema, workspace};
use crate::catalog::entity::entities;

/// Session key of the drafts.
pub const SESSION_KEY: &str = "scaffold_drafts";

/// What was typed into one template's wizard so far (passwords left out).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Draft {
    /// Values by field.
    pub values: Map<String, Value>,
    /// The server's objections from the last step sent.
    pub errors: Vec<FieldProblem>,
}

/// Drafts by template reference.
pub type Drafts = HashMap<String, Draft>;

static SECRETS: LazyLock<Mutex<HashMap<String, Map<String, Value>>>> = LazyLock::new(Mutex::default);

fn secret_key(login: &str, template_ref: &str) -> String {
    format!("{login}\u{1f}{template_ref}")
}

/// The passwords a person typed into a template's wizard.
pub fn secrets(login: &str, template_ref: &str) -> Map<String, Value> {
    SECRETS.lock().expect("lock").get(&secret_key(login, template_ref)).cloned().unwrap_or_default()
}

/// Keeps a password typed into the wizard.
pub fn keep_secret(login: &str, template_ref: &str, field: &str, value: &str) {
    SECRETS
        .lock()
        .expect("lock")
        .entry(secret_key(login, template_ref))
        .or_default()
        .insert(field.to_owned(), Value::String(value.to_owned()));
}

/// Forgets a wizard's passwords (after the task was created).
pub fn forget_secrets(login: &str, template_ref: &str) {
    SECRETS.lock().expect("lock").remove(&secret_key(login, template_ref));
}

/// Cards for every template.
pub async fn cards(db: &DatabaseConnection) -> Result<Vec<TemplateCard>, DbErr> {
    Ok(super::templates(db)
        .await?
        .into_iter()
        .map(|(row, parsed)| {
            let tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
            let (title, description, problem) = match &parsed {
                Ok(t) => {
                    let problems = super::run::preflight(t);
                    (t.title.clone(), t.description.clone(), (!problems.is_empty()).then(|| problems.join("; ")))
                }
                Err(e) => {
                    (row.title.clone().unwrap_or_else(|| row.name.clone()), row.description.clone(), Some(e.clone()))
                }
            };
            TemplateCard {
                entity_ref: row.entity_ref.clone(),
                namespace: row.namespace.clone(),
                name: row.name.clone(),
                title,
                description,
                owner: row.owner_ref.clone(),
                kind: row.spec_type.clone(),
                tags,
                problem,
            }
        })
        .collect())
}

/// The fields of form step `step`, filled with `values`.
pub async fn fields(
    db: &DatabaseConnection,
    tpl: &Template,
    step: usize,
    values: &Map<String, Value>,
    secrets_set: &[String],
    errors: &[FieldProblem],
) -> Result<Vec<WizardField>, DbErr> {
    let Some(form) = tpl.parameters.get(step) else { return Ok(Vec::new()) };
    let (props, required) = schema::effective(&form.schema, values);
    // Keep the author's order: the step's own properties first, then those a dependency added.
    let mut order: Vec<String> = Vec::new();
    for map in property_maps(&form.schema) {
        for k in map.keys() {
            if props.contains_key(k) && !order.contains(k) {
                order.push(k.clone());
            }
        }
    }
    let secret_fields = tpl.secret_fields();
    let controlling = form.schema.get("dependencies").and_then(Value::as_object);
    let mut out = Vec::new();
    for name in order {
        let prop = &props[&name];
        if prop.get("ui:widget").and_then(Value::as_str) == Some("hidden") {
            continue;
        }
        let value = values.get(&name).cloned().unwrap_or(Value::Null);
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let list: Vec<String> = value
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect())
            .unwrap_or_default();
        let ty = prop.get("type").and_then(Value::as_str).unwrap_or("string");
        let ui_field = prop.get("ui:field").and_then(Value::as_str);
        let ui_widget = prop.get("ui:widget").and_then(Value::as_str);
        let options_json = prop.get("ui:options").cloned().unwrap_or(Value::Null);
        let enum_options = |p: &Value| -> Vec<(String, String)> {
            let values: Vec<String> = p
                .get("enum")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect())
                .unwrap_or_default();
            let names: Vec<String> = p
                .get("enumNames")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), names.get(i).cloned().unwrap_or_else(|| v.clone())))
                .collect()
        };
        let mut field = WizardField {
            name: name.clone(),
            title: prop.get("title").and_then(Value::as_str).unwrap_or(&name).to_owned(),
            description: prop.get("description").and_then(Value::as_str).map(str::to_owned),
            help: prop.get("ui:help").and_then(Value::as_str).map(str::to_owned),
            widget: "text".to_owned(),
            required: required.contains(&name),
            value: text.clone(),
            values: list,
            options: Vec::new(),
            pattern: prop.get("pattern").and_then(Value::as_str).map(str::to_owned),
            min_length: prop.get("minLength").and_then(Value::as_u64),
            max_length: prop.get("maxLength").and_then(Value::as_u64),
            minimum: prop.get("minimum").and_then(Value::as_f64),
            maximum: prop.get("maximum").and_then(Value::as_f64),
            integer: ty == "integer",
            autofocus: prop.get("ui:autofocus").and_then(Value::as_bool) == Some(true),
            secret_set: secrets_set.contains(&name),
            error: errors
                .iter()
                .find(|e| e.field == name || e.field.starts_with(&format!("{name}[")))
                .map(|e| e.message.clone()),
            repo: None,
            controls: controlling.is_some_and(|d| d.contains_key(&name)),
        };
        match (ui_field, ui_widget, ty) {
            (Some("RepoUrlPicker"), _, _) => {
                field.widget = "repo".to_owned();
                let list = |k: &str| -> Vec<String> {
                    options_json
                        .get(k)
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default()
                };
                let parsed = expr::parse_repo_url(&text).ok();
                let hosts = list("allowedHosts");
                field.repo = Some(RepoField {
                    host: parsed
                        .as_ref()
                        .map(|p| p.host.clone())
                        .or_else(|| hosts.first().cloned())
                        .unwrap_or_default(),
                    owner: parsed.as_ref().map(|p| p.owner.clone()).unwrap_or_default(),
                    repo: parsed.as_ref().map(|p| p.repo.clone()).unwrap_or_default(),
                    hosts,
                    owners: list("allowedOwners"),
                });
                field.pattern = None;
            }
            (Some("OwnerPicker"), _, _) | (Some("EntityPicker"), _, _) => {
                field.widget = "select".to_owned();
                let default: &[&str] = if ui_field == Some("OwnerPicker") { &["group", "user"] } else { &[] };
                field.options = entity_options(db, &super::allowed_kinds(&options_json, default)).await?;
                if !text.is_empty() && !field.options.iter().any(|(v, _)| v == &text) {
                    field.options.insert(0, (text.clone(), text.clone()));
                }
                field.pattern = None;
            }
            (_, Some("password"), _) | (Some("Secret"), _, _) => {
                field.widget = "password".to_owned();
                field.value = String::new();
            }
            (_, Some("textarea"), _) => field.widget = "textarea".to_owned(),
            (_, _, "boolean") => field.widget = "checkbox".to_owned(),
            (_, _, "integer") | (_, _, "number") => field.widget = "number".to_owned(),
            (_, _, "array") => {
                let items = prop.get("items").cloned().unwrap_or(Value::Null);
                if items.get("enum").is_some() {
                    field.widget = "multiselect".to_owned();
                    field.options = enum_options(&items);
                } else {
                    field.widget = "list".to_owned();
                    field.value = field.values.join("\n");
                }
            }
            _ if prop.get("enum").is_some() => {
                field.widget = "select".to_owned();
                field.options = enum_options(prop);
            }
            _ => {}
        }
        if secret_fields.contains(&name) {
            field.widget = "password".to_owned();
            field.value = String::new();
        }
        out.push(field);
    }
    Ok(out)
}

async fn entity_options(db: &DatabaseConnection, kinds: &[String]) -> Result<Vec<(String, String)>, DbErr> {
    let mut q =
        entities::Entity::find().order_by_asc(entities::Column::Kind).order_by_asc(entities::Column::Name).limit(2000);
    if !kinds.is_empty() {
        q = q.filter(entities::Column::Kind.is_in(kinds.to_vec()));
    }
    Ok(q.all(db)
        .await?
        .into_iter()
        .map(|e| {
            let label = match e.title {
                Some(t) => format!("{t} ({})", e.entity_ref),
                None => e.entity_ref.clone(),
            };
            (e.entity_ref, label)
        })
        .collect())
}

/// The review: every field of every step with its value, passwords masked.
pub fn review(tpl: &Template, values: &Map<String, Value>, secrets_set: &[String]) -> Vec<ReviewRow> {
    let secret_fields = tpl.secret_fields();
    let mut rows = Vec::new();
    for form in &tpl.parameters {
        let (props, _) = schema::effective(&form.schema, values);
        let mut seen = Vec::new();
        for map in property_maps(&form.schema) {
            for name in map.keys() {
                if seen.contains(name) || !props.contains_key(name) {
                    continue;
                }
                seen.push(name.clone());
                let label = props[name].get("title").and_then(Value::as_str).unwrap_or(name).to_owned();
                let value = if secret_fields.contains(name) {
                    if secrets_set.contains(name) {
                        "••••••••".to_owned()
                    } else {
                        "(not set)".to_owned()
                    }
                } else {
                    match values.get(name) {
                        None | Some(Value::Null) => "(not set)".to_owned(),
                        Some(Value::String(s)) if s.is_empty() => "(not set)".to_owned(),
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Array(a)) => a
                            .iter()
                            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join(", "),
                        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
                        Some(other) => other.to_string(),
                    }
                };
                rows.push(ReviewRow { step: form.title.clone(), label, value });
            }
        }
    }
    rows
}

/// A dry-run as the review step shows it.
pub fn dry_run_view(r: &super::DryRun) -> DryRunView {
    let files = r
        .files
        .iter()
        .map(|(path, f)| PreviewFile {
            path: path.clone(),
            text: workspace::is_text(&f.bytes).then(|| String::from_utf8_lossy(&f.bytes).into_owned()),
            bytes: f.bytes.len(),
        })
        .collect();
    let links = r
        .output
        .as_ref()
        .and_then(|o| o.get("links"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|l| {
                    let title = l.get("title").and_then(Value::as_str).unwrap_or("Link").to_owned();
                    let target = l
                        .get("url")
                        .or_else(|| l.get("entityRef"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    (title, target)
                })
                .collect()
        })
        .unwrap_or_default();
    DryRunView { files, log: r.log.iter().map(|(_, _, m)| m.clone()).collect(), error: r.error.clone(), links }
}
