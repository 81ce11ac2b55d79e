//! Running a template's steps, the same way for a dry-run (in memory, nothing outside changes) and for a task
//! (whose progress a [`Sink`] stores). Each step's state carries its output and a memo, so a retry resumes at the
//! step that did not finish: steps with outside effects that completed are skipped with their recorded output,
//! workspace-only steps run again to rebuild the files.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::actions::{self, ActionEnv};
use super::expr::Engine;
use super::github::Publisher;
use super::template::Template;
use super::workspace::{Files, Source};
use crate::AppState;

/// Where one step is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    /// Step id.
    pub id: String,
    /// Step name.
    pub name: String,
    /// Action.
    pub action: String,
    /// `open`, `processing`, `completed`, `failed`, `skipped` or `cancelled`.
    pub status: String,
    /// When it last started.
    #[serde(default, rename = "startedAt", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it last ended.
    #[serde(default, rename = "endedAt", skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Its output, once completed.
    #[serde(default)]
    pub output: Value,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the action remembers across tries (never secrets).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub memo: Map<String, Value>,
}

impl StepState {
    /// Fresh states for a template's steps.
    pub fn initial(template: &Template) -> Vec<StepState> {
        template
            .steps
            .iter()
            .map(|s| StepState {
                id: s.id.clone(),
                name: s.name.clone(),
                action: s.action.clone(),
                status: "open".to_owned(),
                started_at: None,
                ended_at: None,
                output: json!({}),
                error: None,
                memo: Map::new(),
            })
            .collect()
    }
}

/// What a run reports as it goes.
#[async_trait::async_trait]
pub trait Sink: Send {
    /// A log line, or a step's status change (with `status`), after the step states were updated.
    async fn event(&mut self, step: Option<&str>, status: Option<&str>, message: &str, steps: &[StepState]);
    /// Whether someone asked to cancel.
    async fn cancelled(&mut self) -> bool;
}

/// Everything a run needs.
pub struct Plan<'a> {
    /// The template.
    pub template: &'a Template,
    /// The form values (secret fields included, in memory only).
    pub values: &'a Map<String, Value>,
    /// `secrets`.
    pub secrets: &'a Map<String, Value>,
    /// `user`: `{entity, ref}`.
    pub user: &'a Value,
    /// Where skeletons are read.
    pub source: &'a Source,
    /// A dry-run.
    pub dry_run: bool,
    /// The portal (real runs).
    pub state: Option<&'a AppState>,
    /// GitHub, for skeletons kept in repositories (dry-runs read them too).
    pub github: Option<&'a crate::github::GithubSync>,
    /// GitHub (real runs with a token).
    pub publisher: Option<&'a Publisher>,
    /// Who runs it.
    pub actor: &'a str,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every step completed or was skipped; the evaluated `output`.
    Completed(Value),
    /// A step failed.
    Failed(String),
    /// Cancelled between steps.
    Cancelled,
}

/// Problems found before anything runs: unknown actions, expressions that do not parse, inputs that miss a
/// required key or give a literal of the wrong type.
pub fn preflight(template: &Template) -> Vec<String> {
    let engine = Engine::new();
    let mut problems = Vec::new();
    for step in &template.steps {
        let Some(info) = actions::find(&step.action) else {
            problems.push(format!("step {}: unknown action `{}`", step.id, step.action));
            continue;
        };
        let mut strings = Vec::new();
        collect_strings(&step.input, &mut strings);
        if let Some(c) = &step.condition {
            collect_strings(c, &mut strings);
        }
        for s in strings {
            if let Err(e) = engine.check(s) {
                problems.push(format!("step {}: `{s}`: {e}", step.id));
            }
        }
        let input = step.input.as_object().cloned().unwrap_or_default();
        for key in info.schema["input"]["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !input.contains_key(key) {
                problems.push(format!("step {}: {} needs input.{key}", step.id, step.action));
            }
        }
        // Literal values (no expression anywhere inside) can be checked now.
        let literal: Map<String, Value> = input.into_iter().filter(|(_, v)| !has_expression(v)).collect();
        let mut partial = Value::Object(literal);
        if step.action == "catalog:register" && has_expression(&step.input) {
            partial["catalogInfoUrl"] = json!("set at run time");
        }
        if let Err(e) = actions::check_input(&step.action, &partial) {
            for p in e.split("; ").filter(|p| !p.contains("is required")) {
                problems.push(format!("step {}: {p}", step.id));
            }
        }
    }
    let mut strings = Vec::new();
    collect_strings(&template.output, &mut strings);
    for s in strings {
        if let Err(e) = engine.check(s) {
            problems.push(format!("output: `{s}`: {e}"));
        }
    }
    problems
}

fn collect_strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn has_expression(v: &Value) -> bool {
    let mut strings = Vec::new();
    collect_strings(v, &mut strings);
    strings.iter().any(|s| s.contains("${{") || s.contains("{%"))
}

/// Runs (or resumes) the steps. `steps` holds their states, updated as they go.
pub async fn execute(plan: &Plan<'_>, steps: &mut Vec<StepState>, sink: &mut dyn Sink) -> (Outcome, Files) {
    let engine = Engine::new();
    let mut workspace = Files::new();
    if steps.len() != plan.template.steps.len() {
        *steps = StepState::initial(plan.template);
    }
    for (i, spec) in plan.template.steps.iter().enumerate() {
        if sink.cancelled().await {
            for s in steps[i..].iter_mut().filter(|s| s.status != "completed") {
                s.status = "cancelled".to_owned();
            }
            sink.event(Some(&spec.id), Some("cancelled"), "Cancelled before this step", steps).await;
            return (Outcome::Cancelled, workspace);
        }
        let context = context(plan, steps);
        if steps[i].status == "completed" && !actions::is_pure(&spec.action) {
            let message = format!("Skipping {}: it completed in an earlier try", spec.name);
            sink.event(Some(&spec.id), None, &message, steps).await;
            continue;
        }
        if let Some(cond) = &spec.condition {
            match engine.condition(cond, &context) {
                Ok(true) => {}
                Ok(false) => {
                    steps[i].status = "skipped".to_owned();
                    let message = format!("Skipping {}: its condition is false", spec.name);
                    sink.event(Some(&spec.id), Some("skipped"), &message, steps).await;
                    continue;
                }
                Err(e) => return fail(steps, i, format!("{}: `if`: {e}", spec.name), sink).await,
            }
        }
        steps[i].status = "processing".to_owned();
        steps[i].started_at = Some(Utc::now());
        steps[i].ended_at = None;
        steps[i].error = None;
        sink.event(Some(&spec.id), Some("processing"), &format!("Beginning step {}", spec.name), steps).await;
        let input = match engine.evaluate(&spec.input, &context) {
            Ok(v) => v,
            Err(e) => return fail(steps, i, format!("{}: input: {e}", spec.name), sink).await,
        };
        let mut memo = steps[i].memo.clone();
        let mut log = Vec::new();
        let env = ActionEnv {
            engine: &engine,
            source: plan.source,
            workspace: &mut workspace,
            dry_run: plan.dry_run,
            state: plan.state,
            github: plan.github,
            publisher: plan.publisher,
            actor: plan.actor,
            memo: &mut memo,
            log: &mut log,
        };
        let result = actions::run(&spec.action, &input, env).await;
        steps[i].memo = memo;
        for line in &log {
            sink.event(Some(&spec.id), None, line, steps).await;
        }
        match result {
            Ok(output) => {
                steps[i].output = output;
                steps[i].status = "completed".to_owned();
                steps[i].ended_at = Some(Utc::now());
                sink.event(Some(&spec.id), Some("completed"), &format!("Finished step {}", spec.name), steps).await;
            }
            Err(e) => return fail(steps, i, format!("{}: {e}", spec.name), sink).await,
        }
    }
    let context = context(plan, steps);
    match engine.evaluate(&plan.template.output, &context) {
        Ok(output) => (Outcome::Completed(output), workspace),
        Err(e) => (Outcome::Failed(format!("output: {e}")), workspace),
    }
}

async fn fail(steps: &mut [StepState], i: usize, error: String, sink: &mut dyn Sink) -> (Outcome, Files) {
    steps[i].status = "failed".to_owned();
    steps[i].ended_at = Some(Utc::now());
    steps[i].error = Some(error.clone());
    let id = steps[i].id.clone();
    sink.event(Some(&id), Some("failed"), &error, steps).await;
    (Outcome::Failed(error), Files::new())
}

fn context(plan: &Plan<'_>, steps: &[StepState]) -> Value {
    let mut outputs = Map::new();
    for s in steps {
        outputs.insert(s.id.clone(), json!({"output": s.output}));
    }
    json!({
        "parameters": plan.values,
        "secrets": plan.secrets,
        "user": plan.user,
        "steps": outputs,
    })
}

/// Replaces every secret value inside text with `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// A sink that keeps everything in memory (dry-runs and tests).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// `(step, status, message)`, redacted.
    pub events: Vec<(Option<String>, Option<String>, String)>,
    /// Values to redact.
    pub secrets: Vec<String>,
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    async fn event(&mut self, step: Option<&str>, status: Option<&str>, message: &str, _: &[StepState]) {
        self.events.push((step.map(str::to_owned), status.map(str::to_owned), redact(message, &self.secrets)));
    }
    async fn cancelled(&mut self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::template;
    use crate::scaffold::workspace::File;

    fn tpl() -> Template {
        template::parse(&json!({
            "apiVersion": template::API_VERSION, "kind": "Template", "metadata": {"name": "svc"},
            "spec": {"steps": [
                {"id": "fetch", "name": "Fetch", "action": "fetch:template",
                 "input": {"url": "./skeleton", "values": {"name": "${{ parameters.name }}"}}},
                {"id": "maybe", "name": "Maybe", "action": "debug:log", "if": "${{ parameters.verbose }}",
                 "input": {"message": "verbose"}},
                {"id": "log", "name": "Log", "action": "debug:log",
                 "input": {"message": "token ${{ secrets.token }} for ${{ parameters.name }}", "listWorkspace": true}},
                {"id": "publish", "name": "Publish", "action": "publish:github",
                 "input": {"repoUrl": "github.com?owner=acme&repo=${{ parameters.name }}"}}
            ],
            "output": {"links": [{"title": "Repository", "url": "${{ steps.publish.output.remoteUrl }}"}],
                       "text": [{"title": "Done", "content": "Made ${{ parameters.name }}"}]}}
        }))
        .unwrap()
    }

    fn source() -> Source {
        let mut files = Files::new();
        files
            .insert("skeleton/README.md".into(), File { bytes: b"# ${{ values.name }}\n".to_vec(), executable: false });
        Source::Files(files)
    }

    #[tokio::test]
    async fn a_dry_run_renders_skips_and_redacts() {
        let t = tpl();
        let values = json!({"name": "payments", "verbose": false}).as_object().cloned().unwrap();
        let secrets = json!({"token": "s3cr3t-value"}).as_object().cloned().unwrap();
        let plan = Plan {
            template: &t,
            values: &values,
            secrets: &secrets,
            user: &json!({"ref": "user:default/octocat"}),
            source: &source(),
            dry_run: true,
            state: None,
            github: None,
            publisher: None,
            actor: "octocat",
        };
        let mut steps = StepState::initial(&t);
        let mut sink = MemorySink { secrets: vec!["s3cr3t-value".into()], ..Default::default() };
        let (outcome, files) = execute(&plan, &mut steps, &mut sink).await;
        let Outcome::Completed(output) = outcome else { panic!("{outcome:?}") };
        assert_eq!(output["links"][0]["url"], "https://github.com/acme/payments");
        assert_eq!(output["text"][0]["content"], "Made payments");
        assert_eq!(files["README.md"].bytes, b"# payments\n");
        let statuses: Vec<&str> = steps.iter().map(|s| s.status.as_str()).collect();
        assert_eq!(statuses, ["completed", "skipped", "completed", "completed"]);
        let text: Vec<&str> = sink.events.iter().map(|e| e.2.as_str()).collect();
        assert!(text.contains(&"token *** for payments"), "{text:?}");
        assert!(!text.iter().any(|t| t.contains("s3cr3t")));
        assert!(text.iter().any(|t| t.starts_with("Would create the private repository acme/payments")), "{text:?}");
    }

    #[tokio::test]
    async fn a_failing_step_stops_the_run() {
        let t = tpl();
        let values = json!({"name": "../evil"}).as_object().cloned().unwrap();
        let plan = Plan {
            template: &t,
            values: &values,
            secrets: &Map::new(),
            user: &json!({}),
            source: &Source::Files(Files::new()),
            dry_run: true,
            state: None,
            github: None,
            publisher: None,
            actor: "x",
        };
        let mut steps = StepState::initial(&t);
        let (outcome, _) = execute(&plan, &mut steps, &mut MemorySink::default()).await;
        assert!(matches!(&outcome, Outcome::Failed(e) if e.contains("no files were sent")), "{outcome:?}");
        assert_eq!(steps[0].status, "failed");
        assert_eq!(steps[3].status, "open");
    }

    #[test]
    fn preflight_finds_unknown_actions_bad_expressions_and_missing_inputs() {
        let t = template::parse(&json!({
            "apiVersion": template::API_VERSION, "kind": "Template", "metadata": {"name": "svc"},
            "spec": {"steps": [
                {"id": "a", "action": "fetch:rocket"},
                {"id": "b", "action": "fetch:template", "input": {"targetPath": "${{ parameters.x | }}"}},
                {"id": "c", "action": "publish:github", "input": {"repoUrl": "${{ parameters.repoUrl }}", "repoVisibility": "secret"}},
                {"id": "d", "action": "catalog:register", "input": {"repoContentsUrl": "${{ steps.c.output.repoContentsUrl }}"}}
            ]}
        }))
        .unwrap();
        let problems = preflight(&t);
        assert!(problems.iter().any(|p| p.contains("unknown action `fetch:rocket`")), "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("step b: `${{ parameters.x | }}`")), "{problems:?}");
        assert!(problems.iter().any(|p| p == "step b: fetch:template needs input.url"), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("step c: input.repoVisibility")), "{problems:?}");
        assert!(!problems.iter().any(|p| p.starts_with("step d")), "{problems:?}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;
    use crate::scaffold::template;

    /// The example template shipped in `examples/templates` renders a catalog file the catalog accepts, with and
    /// without the optional system.
    #[tokio::test]
    async fn the_example_template_renders_a_valid_catalog_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/templates/rust-service");
        let text = std::fs::read_to_string(dir.join("template.yaml")).unwrap();
        let doc = template::document(&Value::String(text)).unwrap();
        let t = template::parse(&doc).unwrap();
        assert_eq!(preflight(&t), Vec::<String>::new());
        for system in [Some("system:default/shop"), None] {
            let mut values = json!({"name": "orders", "owner": "group:default/payments", "port": 9000,
                "repoUrl": "github.com?owner=acme&repo=orders"})
            .as_object()
            .cloned()
            .unwrap();
            if let Some(s) = system {
                values.insert("system".into(), json!(s));
            }
            let plan = Plan {
                template: &t,
                values: &values,
                secrets: &Map::new(),
                user: &json!({}),
                source: &Source::Dir(dir.clone()),
                dry_run: true,
                state: None,
                github: None,
                publisher: None,
                actor: "x",
            };
            let mut steps = StepState::initial(&t);
            let (outcome, files) = execute(&plan, &mut steps, &mut MemorySink::default()).await;
            assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
            let catalog = String::from_utf8(files["catalog-info.yaml"].bytes.clone()).unwrap();
            let parsed = crate::catalog::parse::parse_documents("catalog-info.yaml", &catalog);
            let entity = parsed[0].result.as_ref().unwrap_or_else(|e| panic!("{e}\n{catalog}"));
            assert_eq!(entity.spec_str("owner"), Some("group:default/payments"));
            assert_eq!(entity.spec_str("system"), system, "{catalog}");
            assert!(String::from_utf8_lossy(&files["src/main.rs"].bytes).contains("0.0.0.0:9000"));
            assert!(files.contains_key(".github/workflows/ci.yaml"));
        }
    }
}
