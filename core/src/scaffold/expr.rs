//! Template expressions: `${{ parameters.name }}` in step inputs and `${{ values.name }}` in skeleton files,
//! evaluated by minijinja, which accepts the Nunjucks syntax Backstage templates are written in.
//!
//! The engine is sandboxed by construction: no loader is configured (so `include`/`import` find nothing and no
//! file is ever read), there is no function that reaches the network, and every render runs on a fuel budget, so a
//! template cannot loop for ever. A step input that is exactly one `${{ … }}` keeps the type of its value (an
//! array stays an array, a boolean a boolean), as in Backstage; any other string is rendered as text.

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Value as JValue};
use minijinja::{Environment, Error as JError, ErrorKind};
use serde_json::{Map, Value};

/// Instructions one render may execute before it is stopped.
const FUEL: u64 = 2_000_000;

/// The two syntaxes: Backstage's `${{ }}` and, for `cookiecutterCompat` skeletons, Jinja's `{{ }}`.
#[derive(Debug)]
pub struct Engine {
    env: Environment<'static>,
    cookiecutter: Environment<'static>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    /// An engine with Backstage's filters.
    pub fn new() -> Engine {
        let mut env = base_env();
        let syntax = SyntaxConfig::builder()
            .variable_delimiters("${{", "}}")
            .block_delimiters("{%", "%}")
            .comment_delimiters("{#", "#}")
            .build()
            .expect("a valid syntax");
        env.set_syntax(syntax);
        Engine { env, cookiecutter: base_env() }
    }

    /// Renders text with `${{ }}` (or, with `cookiecutter`, `{{ }}`) against `context`.
    pub fn render(&self, text: &str, context: &Value, cookiecutter: bool) -> Result<String, String> {
        let env = if cookiecutter { &self.cookiecutter } else { &self.env };
        env.render_str(text, JValue::from_serialize(context)).map_err(describe)
    }

    /// Checks that text parses, without rendering it.
    pub fn check(&self, text: &str) -> Result<(), String> {
        if let Some(inner) = whole_expression(text) {
            return self.env.compile_expression(inner).map(|_| ()).map_err(describe);
        }
        if !text.contains("${{") && !text.contains("{%") {
            return Ok(());
        }
        self.env.template_from_str(text).map(|_| ()).map_err(describe)
    }

    /// Evaluates every string inside a step input: a string that is one expression becomes that expression's
    /// value, any other string is rendered. Keys are kept as written.
    pub fn evaluate(&self, input: &Value, context: &Value) -> Result<Value, String> {
        let ctx = JValue::from_serialize(context);
        self.evaluate_with(input, &ctx)
    }

    fn evaluate_with(&self, input: &Value, ctx: &JValue) -> Result<Value, String> {
        Ok(match input {
            Value::String(s) => {
                if let Some(inner) = whole_expression(s) {
                    let expr = self.env.compile_expression(inner).map_err(describe)?;
                    let value = expr.eval(ctx).map_err(describe)?;
                    to_json(&value)
                } else if s.contains("${{") || s.contains("{%") {
                    Value::String(self.env.render_str(s, ctx).map_err(describe)?)
                } else {
                    input.clone()
                }
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.evaluate_with(v, ctx)).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.evaluate_with(v, ctx)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// A step's `if`: a boolean, or an expression whose value is truthy (an empty string, `false`, `0`, `null`,
    /// an empty list and an undefined value are false).
    pub fn condition(&self, cond: &Value, context: &Value) -> Result<bool, String> {
        let value = self.evaluate(cond, context)?;
        Ok(truthy(&value))
    }
}

/// Whether a JSON value counts as true in a step's `if`.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != "false",
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// The expression inside a string that is exactly `${{ … }}` (surrounding spaces allowed).
fn whole_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("${{")?.strip_suffix("}}")?;
    (!inner.contains("${{") && !inner.contains("}}")).then_some(inner)
}

fn to_json(value: &JValue) -> Value {
    if value.is_undefined() {
        return Value::Null;
    }
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn describe(e: JError) -> String {
    let mut text = match e.kind() {
        ErrorKind::OutOfFuel => "the template ran too long (a loop that does not end?)".to_owned(),
        _ => e.detail().map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
    };
    if let Some(line) = e.line() {
        text.push_str(&format!(" (line {line})"));
    }
    text
}

fn base_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_keep_trailing_newline(true);
    env.add_filter("parseRepoUrl", parse_repo_url_filter);
    env.add_filter("parseEntityRef", parse_entity_ref_filter);
    env.add_filter("pick", pick_filter);
    env.add_filter("projectSlug", project_slug_filter);
    env.add_filter("dump", dump_filter);
    env
}

/// The parts of a `RepoUrlPicker` value, `host?owner=o&repo=r` (also `organization`, `workspace`, `project`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepoUrl {
    /// Host, such as `github.com`.
    pub host: String,
    /// Owner (organisation or user).
    pub owner: String,
    /// Repository name.
    pub repo: String,
}

/// Parses `github.com?owner=acme&repo=payments`.
pub fn parse_repo_url(text: &str) -> Result<RepoUrl, String> {
    let (host, query) = text
        .split_once('?')
        .ok_or_else(|| format!("`{text}` is not a repository URL such as github.com?owner=acme&repo=name"))?;
    let host = host.trim().trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(format!("`{text}` has no valid host"));
    }
    let mut owner = None;
    let mut repo = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "owner" | "organization" => owner = Some(v.into_owned()),
            "repo" => repo = Some(v.into_owned()),
            _ => {}
        }
    }
    let owner = owner.filter(|o| !o.is_empty()).ok_or_else(|| format!("`{text}` names no owner"))?;
    let repo = repo.filter(|r| !r.is_empty()).ok_or_else(|| format!("`{text}` names no repo"))?;
    Ok(RepoUrl { host: host.to_owned(), owner, repo })
}

fn parse_repo_url_filter(value: String) -> Result<JValue, JError> {
    let parsed = parse_repo_url(&value).map_err(|m| JError::new(ErrorKind::InvalidOperation, m))?;
    Ok(JValue::from_serialize(&parsed))
}

fn project_slug_filter(value: String) -> Result<String, JError> {
    let parsed = parse_repo_url(&value).map_err(|m| JError::new(ErrorKind::InvalidOperation, m))?;
    Ok(format!("{}/{}", parsed.owner, parsed.repo))
}

fn parse_entity_ref_filter(value: String, kwargs: Kwargs) -> Result<JValue, JError> {
    let default_kind: Option<String> = kwargs.get("defaultKind")?;
    let default_namespace: Option<String> = kwargs.get("defaultNamespace")?;
    kwargs.assert_all_used()?;
    let parsed = crate::catalog::model::EntityRef::parse(
        &value,
        default_kind.as_deref(),
        default_namespace.as_deref().unwrap_or("default"),
    )
    .map_err(|e| JError::new(ErrorKind::InvalidOperation, format!("`{value}`: {e}")))?;
    Ok(JValue::from_serialize(serde_json::json!({
        "kind": parsed.kind, "namespace": parsed.namespace, "name": parsed.name
    })))
}

fn pick_filter(value: JValue, key: String) -> Result<JValue, JError> {
    let mut current = value;
    for part in key.split('.') {
        current = current.get_attr(part)?;
    }
    Ok(current)
}

fn dump_filter(value: JValue) -> Result<String, JError> {
    serde_json::to_string(&value).map_err(|e| JError::new(ErrorKind::InvalidOperation, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({
            "parameters": {"name": "payments-api", "owner": "group:default/payments", "ci": true,
                "tags": ["rust", "api"], "repoUrl": "github.com?owner=acme&repo=payments-api", "port": 8080},
            "steps": {"publish": {"output": {"remoteUrl": "https://github.com/acme/payments-api"}}},
            "user": {"entity": {"metadata": {"name": "octocat"}}, "ref": "user:default/octocat"}
        })
    }

    #[test]
    fn a_whole_expression_keeps_its_type() {
        let e = Engine::new();
        let input =
            json!({"tags": "${{ parameters.tags }}", "ci": "${{ parameters.ci }}", "port": "${{ parameters.port }}"});
        assert_eq!(e.evaluate(&input, &ctx()).unwrap(), json!({"tags": ["rust", "api"], "ci": true, "port": 8080}));
    }

    #[test]
    fn mixed_text_is_rendered_and_step_outputs_and_the_user_resolve() {
        let e = Engine::new();
        let input = json!({
            "description": "Service ${{ parameters.name }} by ${{ user.entity.metadata.name }}",
            "link": "${{ steps['publish'].output.remoteUrl }}",
            "nested": ["x-${{ parameters.name | upper }}", 3, null]
        });
        assert_eq!(
            e.evaluate(&input, &ctx()).unwrap(),
            json!({
                "description": "Service payments-api by octocat",
                "link": "https://github.com/acme/payments-api",
                "nested": ["x-PAYMENTS-API", 3, null]
            })
        );
    }

    #[test]
    fn backstage_filters() {
        let e = Engine::new();
        let input = json!({
            "owner": "${{ (parameters.repoUrl | parseRepoUrl).owner }}",
            "repo": "${{ parameters.repoUrl | parseRepoUrl | pick('repo') }}",
            "slug": "${{ parameters.repoUrl | projectSlug }}",
            "team": "${{ (parameters.owner | parseEntityRef).name }}",
            "kind": "${{ (parameters.name | parseEntityRef(defaultKind='component')).kind }}",
            "json": "${{ parameters.tags | dump }}"
        });
        assert_eq!(
            e.evaluate(&input, &ctx()).unwrap(),
            json!({"owner": "acme", "repo": "payments-api", "slug": "acme/payments-api", "team": "payments",
                "kind": "component", "json": "[\"rust\",\"api\"]"})
        );
        let err = e.evaluate(&json!("${{ 'nope' | parseRepoUrl }}"), &ctx()).unwrap_err();
        assert!(err.contains("not a repository URL"), "{err}");
    }

    #[test]
    fn conditions_follow_nunjucks_truthiness() {
        let e = Engine::new();
        assert!(e.condition(&json!("${{ parameters.ci }}"), &ctx()).unwrap());
        assert!(!e.condition(&json!("${{ parameters.missing }}"), &ctx()).unwrap());
        assert!(!e.condition(&json!("${{ parameters.name == 'other' }}"), &ctx()).unwrap());
        assert!(e.condition(&json!(true), &ctx()).unwrap());
        assert!(!e.condition(&json!(false), &ctx()).unwrap());
    }

    #[test]
    fn the_sandbox_reads_no_files_and_stops_endless_work() {
        let e = Engine::new();
        let err = e.render("{% include '/etc/passwd' %}", &ctx(), false).unwrap_err();
        assert!(err.contains("unknown statement include"), "{err}");
        let err = e
            .render("{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}", &ctx(), false)
            .unwrap_err();
        assert!(err.contains("too long"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = Engine::new();
        let err = e.check("ok\n${{ parameters.name | }}").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(e.check("plain text with {{ braces }}").is_ok());
    }

    #[test]
    fn cookiecutter_syntax_uses_plain_braces() {
        let e = Engine::new();
        let out =
            e.render("name={{ cookiecutter.name }} ${x}", &json!({"cookiecutter": {"name": "svc"}}), true).unwrap();
        assert_eq!(out, "name=svc ${x}");
    }

    #[test]
    fn repo_urls_need_owner_and_repo() {
        assert_eq!(
            parse_repo_url("github.com?owner=acme&repo=x").unwrap(),
            RepoUrl { host: "github.com".into(), owner: "acme".into(), repo: "x".into() }
        );
        assert!(parse_repo_url("github.com?repo=x").unwrap_err().contains("owner"));
        assert!(parse_repo_url("github.com?owner=acme").unwrap_err().contains("repo"));
    }
}
