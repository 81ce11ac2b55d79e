//! The built-in actions: what each one takes (a JSON Schema, served at `/api/scaffolder/v2/actions` and used to
//! check inputs), and what it does. `fetch:*` and `debug:log` only touch the in-memory workspace, so a retry runs
//! them again to rebuild it; `publish:github` and `catalog:register` have effects outside, so a retry skips them
//! once they completed, and `publish:github` remembers (in its step memo) that it created the repository, so a
//! retry after a failed push does not create it twice.

use serde_json::{Map, Value, json};

use super::expr::{Engine, parse_repo_url};
use super::github::Publisher;
use super::workspace::{self, Files, RenderOptions, Source};
use crate::AppState;

/// An action's description and schemas.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActionInfo {
    /// `fetch:template`.
    pub id: &'static str,
    /// What it does.
    pub description: &'static str,
    /// `{input, output}` JSON Schemas.
    pub schema: Value,
}

/// Every action Portolan runs.
pub fn list() -> Vec<ActionInfo> {
    let string = |d: &str| json!({"type": "string", "description": d});
    let boolean = |d: &str| json!({"type": "boolean", "description": d});
    let strings = |d: &str| json!({"type": "array", "items": {"type": "string"}, "description": d});
    vec![
        ActionInfo {
            id: "fetch:template",
            description: "Copies the skeleton at `url` (relative to the template) into the workspace, rendering file names and text files with `${{ values.x }}`.",
            schema: json!({
                "input": {"type": "object", "required": ["url"], "properties": {
                    "url": string("Path of the skeleton, relative to the template file"),
                    "targetPath": string("Where in the workspace the files go (default: its root)"),
                    "values": {"type": "object", "description": "The values the skeleton sees as `values`"},
                    "copyWithoutRender": strings("Globs of files copied without rendering"),
                    "copyWithoutTemplating": strings("Globs of files copied without rendering (new name)"),
                    "cookiecutterCompat": boolean("Render `{{ cookiecutter.x }}` instead of `${{ values.x }}`"),
                    "templateFileExtension": {"type": ["boolean", "string"], "description": "Render only files with this extension (`.njk` when true) and drop it"}
                }},
                "output": {"type": "object", "properties": {}}
            }),
        },
        ActionInfo {
            id: "fetch:plain",
            description: "Copies the files at `url` (relative to the template) into the workspace unchanged.",
            schema: json!({
                "input": {"type": "object", "required": ["url"], "properties": {
                    "url": string("Path relative to the template file"),
                    "targetPath": string("Where in the workspace the files go")
                }},
                "output": {"type": "object", "properties": {}}
            }),
        },
        ActionInfo {
            id: "publish:github",
            description: "Creates a repository through the GitHub API and pushes the workspace to it as the first commit.",
            schema: json!({
                "input": {"type": "object", "required": ["repoUrl"], "properties": {
                    "repoUrl": string("host?owner=o&repo=r, as the RepoUrlPicker gives it"),
                    "description": string("Repository description"),
                    "repoVisibility": {"type": "string", "enum": ["private", "internal", "public"], "description": "Default private"},
                    "defaultBranch": string("Default main"),
                    "topics": strings("Repository topics"),
                    "gitCommitMessage": string("Default: initial commit"),
                    "gitAuthorName": string("Commit author name"),
                    "gitAuthorEmail": string("Commit author email"),
                    "sourcePath": string("Publish only this directory of the workspace")
                }},
                "output": {"type": "object", "properties": {
                    "remoteUrl": string("The repository's web URL"),
                    "repoContentsUrl": string("URL of the default branch's files"),
                    "commitHash": string("The first commit")
                }}
            }),
        },
        ActionInfo {
            id: "catalog:register",
            description: "Registers a catalog file (usually the new repository's catalog-info.yaml) as a location.",
            schema: json!({
                "input": {"type": "object", "properties": {
                    "repoContentsUrl": string("From publish:github"),
                    "catalogInfoPath": string("Default /catalog-info.yaml"),
                    "catalogInfoUrl": string("The file's full URL, instead of the two above"),
                    "optional": boolean("Do not fail when the file has errors or is missing")
                }},
                "output": {"type": "object", "properties": {
                    "entityRef": string("The first entity the file declares"),
                    "catalogInfoUrl": string("The registered URL")
                }}
            }),
        },
        ActionInfo {
            id: "debug:log",
            description: "Writes a message, and optionally the workspace's file list, to the task log.",
            schema: json!({
                "input": {"type": "object", "properties": {
                    "message": string("Text to log"),
                    "listWorkspace": {"type": ["boolean", "string"], "description": "true or with-filenames lists the files; with-contents adds their text"}
                }},
                "output": {"type": "object", "properties": {}}
            }),
        },
    ]
}

/// The schema of one action.
pub fn find(id: &str) -> Option<ActionInfo> {
    list().into_iter().find(|a| a.id == id)
}

/// Whether an action only changes the workspace (and so can run again on retry).
pub fn is_pure(id: &str) -> bool {
    matches!(id, "fetch:template" | "fetch:plain" | "debug:log")
}

/// Checks an input (after expressions are evaluated) against its action's schema.
pub fn check_input(action: &str, input: &Value) -> Result<(), String> {
    let info = find(action).ok_or_else(|| format!("unknown action `{action}`"))?;
    let map = input.as_object().cloned().unwrap_or_default();
    let errors = super::schema::validate(&info.schema["input"], &map);
    let props = info.schema["input"]["properties"].as_object().cloned().unwrap_or_default();
    let mut problems: Vec<String> = errors.iter().map(|e| format!("input.{}: {}", e.field, e.message)).collect();
    // `type` lists such as ["boolean", "string"] are not in the subset `validate` reads: check them here.
    for (k, v) in &map {
        if let Some(types) = props.get(k).and_then(|p| p.get("type")).and_then(Value::as_array) {
            let ok = types.iter().filter_map(Value::as_str).any(|t| match t {
                "boolean" => v.is_boolean(),
                "string" => v.is_string(),
                _ => true,
            });
            if !ok && !v.is_null() {
                problems.push(format!("input.{k}: has the wrong type"));
            }
        }
    }
    if action == "catalog:register" && map.get("catalogInfoUrl").is_none() && map.get("repoContentsUrl").is_none() {
        problems.push("input: needs catalogInfoUrl or repoContentsUrl".to_owned());
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// What an action may use.
pub struct ActionEnv<'a> {
    /// The expression engine.
    pub engine: &'a Engine,
    /// Where skeletons are read from.
    pub source: &'a Source,
    /// The files built so far.
    pub workspace: &'a mut Files,
    /// A dry-run: say what would happen, change nothing outside the workspace.
    pub dry_run: bool,
    /// The portal, for real runs.
    pub state: Option<&'a AppState>,
    /// GitHub, to read skeletons of templates kept in repositories.
    pub github: Option<&'a crate::github::GithubSync>,
    /// GitHub, for real runs (None when no token is configured).
    pub publisher: Option<&'a Publisher>,
    /// Who runs the task.
    pub actor: &'a str,
    /// This step's memo, kept across retries.
    pub memo: &'a mut Map<String, Value>,
    /// Log lines to write.
    pub log: &'a mut Vec<String>,
}

/// Runs one action with its evaluated input; returns its output.
pub async fn run(action: &str, input: &Value, env: ActionEnv<'_>) -> Result<Value, String> {
    check_input(action, input)?;
    match action {
        "fetch:template" | "fetch:plain" => fetch(action, input, env).await,
        "debug:log" => {
            if let Some(m) = input.get("message") {
                env.log.push(m.as_str().map_or_else(|| m.to_string(), str::to_owned));
            }
            let list = input.get("listWorkspace");
            let contents = list.and_then(Value::as_str) == Some("with-contents");
            if list.is_some_and(|l| l.as_bool() == Some(true) || l.is_string()) {
                for (path, file) in env.workspace.iter() {
                    if contents && workspace::is_text(&file.bytes) {
                        env.log.push(format!("{path}:\n{}", String::from_utf8_lossy(&file.bytes)));
                    } else {
                        env.log.push(path.clone());
                    }
                }
            }
            Ok(json!({}))
        }
        "publish:github" => super::github::publish(input, env).await,
        "catalog:register" => register(input, env).await,
        other => Err(format!("unknown action `{other}`")),
    }
}

async fn fetch(action: &str, input: &Value, env: ActionEnv<'_>) -> Result<Value, String> {
    let url = input["url"].as_str().unwrap_or_default();
    let target = input.get("targetPath").and_then(Value::as_str).unwrap_or(".");
    let files = env.source.read(url, env.github).await?;
    let written = if action == "fetch:plain" {
        workspace::copy_into(&files, target, env.workspace)?
    } else {
        let globs = |k: &str| -> Vec<String> {
            input
                .get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let mut copy = globs("copyWithoutRender");
        copy.extend(globs("copyWithoutTemplating"));
        let template_extension = match input.get("templateFileExtension") {
            Some(Value::Bool(true)) => Some(".njk".to_owned()),
            Some(Value::String(s)) if !s.is_empty() => {
                Some(if s.starts_with('.') { s.clone() } else { format!(".{s}") })
            }
            _ => None,
        };
        let options = RenderOptions {
            copy_without_render: copy,
            cookiecutter: input.get("cookiecutterCompat").and_then(Value::as_bool) == Some(true),
            template_extension,
        };
        let values = input.get("values").cloned().unwrap_or(json!({}));
        workspace::render_into(env.engine, &files, target, &values, &options, env.workspace)?
    };
    env.log.push(format!(
        "{} {} file{} from {url} into {}",
        if action == "fetch:plain" { "Copied" } else { "Rendered" },
        written.len(),
        if written.len() == 1 { "" } else { "s" },
        workspace::safe_relative(target)
            .map(|t| if t.is_empty() { "the workspace root".to_owned() } else { t })
            .unwrap_or_default()
    ));
    Ok(json!({}))
}

async fn register(input: &Value, env: ActionEnv<'_>) -> Result<Value, String> {
    let url = match input.get("catalogInfoUrl").and_then(Value::as_str) {
        Some(u) => u.to_owned(),
        None => {
            let base = input["repoContentsUrl"].as_str().unwrap_or_default().trim_end_matches('/');
            let path = input.get("catalogInfoPath").and_then(Value::as_str).unwrap_or("/catalog-info.yaml");
            format!("{base}/{}", path.trim_start_matches('/'))
        }
    };
    let optional = input.get("optional").and_then(Value::as_bool) == Some(true);
    if env.dry_run {
        env.log.push(format!("Would register {url} in the catalog"));
        return Ok(json!({"catalogInfoUrl": url, "entityRef": ""}));
    }
    let state = env.state.ok_or("the catalog is not available here")?;
    let (target, summary) = crate::catalog::import(state, &url, env.actor).await.map_err(|e| e.to_string())?;
    for e in &summary.errors {
        env.log.push(format!("catalog: {e}"));
    }
    let location = crate::catalog::store::find_location(&state.db, &target).await.map_err(|e| e.to_string())?;
    let entity_ref = match location {
        Some(l) => crate::catalog::store::first_entity_of_location(&state.db, l.id).await.map_err(|e| e.to_string())?,
        None => None,
    };
    match entity_ref {
        Some(r) => {
            env.log.push(format!("Registered {url}: {r}"));
            Ok(json!({"catalogInfoUrl": url, "entityRef": r}))
        }
        None if optional => {
            env.log.push(format!("Registered {url}, which declares no entity yet"));
            Ok(json!({"catalogInfoUrl": url}))
        }
        None => Err(format!(
            "{url} declares no valid entity{}",
            summary.errors.first().map(|e| format!(": {e}")).unwrap_or_default()
        )),
    }
}

/// Checks a `repoUrl` against what a `RepoUrlPicker` allows (`allowedHosts`, `allowedOwners`).
pub fn check_repo_url(value: &str, options: &Value) -> Result<(), String> {
    let parsed = parse_repo_url(value)?;
    let list = |k: &str| -> Vec<String> {
        options
            .get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let hosts = list("allowedHosts");
    if !hosts.is_empty() && !hosts.iter().any(|h| h.eq_ignore_ascii_case(&parsed.host)) {
        return Err(format!("host {} is not one of {}", parsed.host, hosts.join(", ")));
    }
    let owners = list("allowedOwners");
    if !owners.is_empty() && !owners.iter().any(|o| o.eq_ignore_ascii_case(&parsed.owner)) {
        return Err(format!("owner {} is not one of {}", parsed.owner, owners.join(", ")));
    }
    let repos = list("allowedRepos");
    if !repos.is_empty() && !repos.iter().any(|r| r.eq_ignore_ascii_case(&parsed.repo)) {
        return Err(format!("repository {} is not one of {}", parsed.repo, repos.join(", ")));
    }
    if !parsed.repo.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || parsed.repo.starts_with('.')
    {
        return Err(format!("`{}` is not a valid repository name (letters, digits, - _ .)", parsed.repo));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked_against_each_schema() {
        assert!(check_input("fetch:template", &json!({"url": "./skeleton", "values": {"a": 1}})).is_ok());
        let err = check_input("fetch:template", &json!({"values": {}})).unwrap_err();
        assert!(err.contains("input.url"), "{err}");
        let err = check_input("publish:github", &json!({"repoUrl": "x", "repoVisibility": "secret"})).unwrap_err();
        assert!(err.contains("repoVisibility"), "{err}");
        let err = check_input("debug:log", &json!({"listWorkspace": 3})).unwrap_err();
        assert!(err.contains("wrong type"), "{err}");
        assert!(check_input("catalog:register", &json!({})).unwrap_err().contains("catalogInfoUrl"));
        assert!(check_input("fetch:rocket", &json!({})).unwrap_err().contains("unknown action"));
    }

    #[test]
    fn repo_url_picker_rules() {
        let opts = json!({"allowedHosts": ["github.com"], "allowedOwners": ["acme"]});
        assert!(check_repo_url("github.com?owner=acme&repo=payments", &opts).is_ok());
        assert!(check_repo_url("gitlab.com?owner=acme&repo=payments", &opts).unwrap_err().contains("host"));
        assert!(check_repo_url("github.com?owner=evil&repo=payments", &opts).unwrap_err().contains("owner"));
        assert!(check_repo_url("github.com?owner=acme&repo=a/b", &opts).unwrap_err().contains("valid repository"));
    }

    #[tokio::test]
    async fn a_dry_run_registers_nothing() {
        let engine = Engine::new();
        let mut ws = Files::new();
        let mut memo = Map::new();
        let mut log = Vec::new();
        let env = ActionEnv {
            engine: &engine,
            source: &Source::None("none".into()),
            workspace: &mut ws,
            dry_run: true,
            state: None,
            github: None,
            publisher: None,
            actor: "octocat",
            memo: &mut memo,
            log: &mut log,
        };
        let out = run("catalog:register", &json!({"repoContentsUrl": "https://github.com/acme/x/blob/main/"}), env)
            .await
            .unwrap();
        assert_eq!(out["catalogInfoUrl"], "https://github.com/acme/x/blob/main/catalog-info.yaml");
        assert_eq!(log, vec!["Would register https://github.com/acme/x/blob/main/catalog-info.yaml in the catalog"]);
    }
}
