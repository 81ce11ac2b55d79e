//! A Template entity (`scaffolder.backstage.io/v1beta3`) read into what the wizard and the runner need: the form
//! steps, the steps to run and the output.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The template API version Portolan runs.
pub const API_VERSION: &str = "scaffolder.backstage.io/v1beta3";

/// One form step of the wizard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormStep {
    /// Title shown above the step.
    pub title: String,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of the step (an object schema), `ui:` keys included.
    pub schema: Value,
}

/// One step to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSpec {
    /// Identifier, unique in the template.
    pub id: String,
    /// Name shown in the log.
    pub name: String,
    /// The action, such as `fetch:template`.
    pub action: String,
    /// Input, with expressions.
    #[serde(default)]
    pub input: Value,
    /// Condition, with expressions.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// `template:default/name`.
    pub entity_ref: String,
    /// Title (or name).
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Owner reference.
    pub owner: Option<String>,
    /// `spec.type`.
    pub kind: Option<String>,
    /// Form steps.
    pub parameters: Vec<FormStep>,
    /// Steps to run.
    pub steps: Vec<StepSpec>,
    /// `spec.output` with expressions (`links`, `text`).
    pub output: Value,
}

/// Reads a template from its entity JSON (the catalog's stored body or a pasted document).
pub fn parse(entity: &Value) -> Result<Template, String> {
    let api = entity.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if api != API_VERSION {
        return Err(format!("apiVersion `{api}` is not supported; templates must be {API_VERSION}"));
    }
    if entity.get("kind").and_then(Value::as_str) != Some("Template") {
        return Err("kind must be Template".to_owned());
    }
    let meta = entity.get("metadata").cloned().unwrap_or(Value::Null);
    let name = meta.get("name").and_then(Value::as_str).ok_or("metadata.name is required")?;
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("default");
    let spec = entity.get("spec").ok_or("spec is required")?;
    let parameters = match spec.get("parameters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(steps)) => {
            steps.iter().enumerate().map(|(i, s)| form_step(i, s)).collect::<Result<_, _>>()?
        }
        Some(s @ Value::Object(_)) => vec![form_step(0, s)?],
        Some(_) => return Err("spec.parameters must be an object or a list of objects".to_owned()),
    };
    let raw_steps = spec.get("steps").and_then(Value::as_array).ok_or("spec.steps must be a list")?;
    let mut steps: Vec<StepSpec> = Vec::new();
    for (i, s) in raw_steps.iter().enumerate() {
        let action = s
            .get("action")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("spec.steps[{i}].action is required"))?
            .to_owned();
        let id = s.get("id").and_then(Value::as_str).map_or_else(|| format!("step-{}", i + 1), str::to_owned);
        if steps.iter().any(|x| x.id == id) {
            return Err(format!("spec.steps[{i}].id `{id}` is used twice"));
        }
        let input = s.get("input").cloned().unwrap_or(Value::Object(Default::default()));
        if !input.is_object() {
            return Err(format!("spec.steps[{i}].input must be an object"));
        }
        steps.push(StepSpec {
            name: s.get("name").and_then(Value::as_str).unwrap_or(&id).to_owned(),
            id,
            action,
            input,
            condition: s.get("if").cloned(),
        });
    }
    Ok(Template {
        entity_ref: format!("template:{namespace}/{name}"),
        title: meta.get("title").and_then(Value::as_str).unwrap_or(name).to_owned(),
        description: meta.get("description").and_then(Value::as_str).map(str::to_owned),
        owner: spec.get("owner").and_then(Value::as_str).map(str::to_owned),
        kind: spec.get("type").and_then(Value::as_str).map(str::to_owned),
        parameters,
        steps,
        output: spec.get("output").cloned().unwrap_or(Value::Object(Default::default())),
    })
}

/// A template given as JSON, or as YAML text (the way template authors write it).
pub fn document(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(text) => {
            serde_yaml_ng::from_str::<Value>(text).map_err(|e| format!("the template is not valid YAML: {e}"))
        }
        Value::Object(_) => Ok(value.clone()),
        _ => Err("the template must be an object or YAML text".to_owned()),
    }
}

fn form_step(i: usize, s: &Value) -> Result<FormStep, String> {
    if !s.is_object() {
        return Err(format!("spec.parameters[{i}] must be an object"));
    }
    let title = s.get("title").and_then(Value::as_str).map_or_else(|| format!("Step {}", i + 1), str::to_owned);
    Ok(FormStep {
        title,
        description: s.get("description").and_then(Value::as_str).map(str::to_owned),
        schema: s.clone(),
    })
}

impl Template {
    /// The names of fields shown as passwords (`ui:widget: password`) or marked `ui:field: Secret`: their
    /// values are secrets and never stored.
    pub fn secret_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        for step in &self.parameters {
            for props in property_maps(&step.schema) {
                for (name, prop) in props {
                    let widget = prop.get("ui:widget").and_then(Value::as_str);
                    let field = prop.get("ui:field").and_then(Value::as_str);
                    if (widget == Some("password") || field == Some("Secret")) && !out.contains(name) {
                        out.push(name.clone());
                    }
                }
            }
        }
        out
    }

    /// The form step a field belongs to, if any.
    pub fn step_of(&self, field: &str) -> Option<usize> {
        self.parameters.iter().position(|s| property_maps(&s.schema).iter().any(|p| p.contains_key(field)))
    }
}

/// The `properties` maps of a step: its own and those of every `dependencies` branch.
pub fn property_maps(schema: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let mut out = Vec::new();
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        out.push(p);
    }
    if let Some(deps) = schema.get("dependencies").and_then(Value::as_object) {
        for dep in deps.values() {
            if let Some(p) = dep.get("properties").and_then(Value::as_object) {
                out.push(p);
            }
            for branch in dep.get("oneOf").and_then(Value::as_array).into_iter().flatten() {
                if let Some(p) = branch.get("properties").and_then(Value::as_object) {
                    out.push(p);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_backstage_template_reads_with_its_steps() {
        let t = parse(&json!({
            "apiVersion": API_VERSION,
            "kind": "Template",
            "metadata": {"name": "rust-service", "title": "Rust service"},
            "spec": {
                "owner": "group:platform",
                "type": "service",
                "parameters": [
                    {"title": "About", "required": ["name"], "properties": {"name": {"type": "string"}}},
                    {"title": "Secrets", "properties": {"token": {"type": "string", "ui:widget": "password"}}}
                ],
                "steps": [
                    {"id": "fetch", "name": "Fetch", "action": "fetch:template", "input": {"url": "./skeleton"}},
                    {"action": "debug:log", "if": "${{ parameters.debug }}"}
                ],
                "output": {"links": [{"title": "Repo", "url": "${{ steps.publish.output.remoteUrl }}"}]}
            }
        }))
        .unwrap();
        assert_eq!(t.entity_ref, "template:default/rust-service");
        assert_eq!(t.parameters.len(), 2);
        assert_eq!(t.steps[1].id, "step-2");
        assert_eq!(t.steps[1].condition, Some(json!("${{ parameters.debug }}")));
        assert_eq!(t.secret_fields(), vec!["token".to_owned()]);
        assert_eq!(t.step_of("token"), Some(1));
    }

    #[test]
    fn other_versions_and_bad_steps_are_refused() {
        let mut doc = json!({"apiVersion": "backstage.io/v1beta2", "kind": "Template", "metadata": {"name": "x"},
            "spec": {"steps": []}});
        assert!(parse(&doc).unwrap_err().contains("v1beta3"));
        doc["apiVersion"] = json!(API_VERSION);
        doc["spec"]["steps"] = json!([{"id": "a", "action": "debug:log"}, {"id": "a", "action": "debug:log"}]);
        assert!(parse(&doc).unwrap_err().contains("used twice"));
        doc["spec"]["steps"] = json!([{"id": "a"}]);
        assert!(parse(&doc).unwrap_err().contains("action is required"));
    }
}
