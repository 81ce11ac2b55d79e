//! `publish:github`: create the repository through the REST API at the configured URL, then push the workspace
//! as its first commit with the git command line. The token goes to git through `GIT_CONFIG_*` variables (an
//! `http.extraHeader`), never on a command line another process could read, and never into a log.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::actions::ActionEnv;
use super::expr::parse_repo_url;
use crate::config::Secret;

/// GitHub as the scaffolder publishes to it.
#[derive(Clone)]
pub struct Publisher {
    api: url::Url,
    web: url::Url,
    token: Secret,
    http: reqwest::Client,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("api", &self.api.as_str()).finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher for the configured GitHub, if a token is configured.
    pub fn from_config(config: &crate::Config) -> Option<Publisher> {
        let token = config.github_token.clone()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("portolan/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok()?;
        Some(Publisher { api: config.github_api_url.clone(), web: config.github_url.clone(), token, http })
    }

    /// The host (and port) repository URLs must name: the configured GitHub's web host.
    pub fn host(&self) -> String {
        host_of(&self.web)
    }

    /// The token, for redaction.
    pub fn token(&self) -> &str {
        self.token.expose()
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{}", self.api.as_str().trim_end_matches('/'), path.trim_start_matches('/'))
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        let mut req = self
            .http
            .request(method.clone(), self.endpoint(path))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .bearer_auth(self.token.expose());
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(|e| format!("GitHub {method} {path}: {}", e.without_url()))?;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// `host[:port]` of a URL.
pub fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

fn github_message(body: &Value) -> String {
    let mut m = body.get("message").and_then(Value::as_str).unwrap_or("no message").to_owned();
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        let details: Vec<&str> = errors.iter().filter_map(|e| e.get("message").and_then(Value::as_str)).collect();
        if !details.is_empty() {
            m.push_str(&format!(" ({})", details.join("; ")));
        }
    }
    m
}

/// Runs `publish:github`.
pub async fn publish(input: &Value, env: ActionEnv<'_>) -> Result<Value, String> {
    let repo_url = parse_repo_url(input["repoUrl"].as_str().unwrap_or_default())?;
    let branch = input.get("defaultBranch").and_then(Value::as_str).unwrap_or("main").to_owned();
    let visibility = input.get("repoVisibility").and_then(Value::as_str).unwrap_or("private").to_owned();
    let full = format!("{}/{}", repo_url.owner, repo_url.repo);
    let source_path = input.get("sourcePath").and_then(Value::as_str).unwrap_or(".");
    let source = super::workspace::safe_relative(source_path).map_err(|e| format!("sourcePath {e}"))?;
    let files: Vec<(String, &super::workspace::File)> = env
        .workspace
        .iter()
        .filter_map(|(p, f)| {
            if source.is_empty() {
                Some((p.clone(), f))
            } else {
                p.strip_prefix(&format!("{source}/")).map(|rest| (rest.to_owned(), f))
            }
        })
        .collect();
    if files.is_empty() {
        return Err(format!("the workspace has no files under `{source_path}` to publish"));
    }
    if env.dry_run {
        let host = env.publisher.map(Publisher::host).unwrap_or_else(|| repo_url.host.clone());
        env.log.push(format!(
            "Would create the {visibility} repository {full} on {host} and push {} file{} to {branch}",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        ));
        let web = format!("https://{}/{full}", repo_url.host);
        return Ok(json!({"remoteUrl": web, "repoContentsUrl": format!("{web}/blob/{branch}"), "commitHash": ""}));
    }
    let publisher =
        env.publisher.ok_or("publish:github needs PORTOLAN_GITHUB_TOKEN, a token that may create repositories")?;
    if !repo_url.host.eq_ignore_ascii_case(&publisher.host()) {
        return Err(format!(
            "publish:github publishes to {} (PORTOLAN_GITHUB_URL), not to {}",
            publisher.host(),
            repo_url.host
        ));
    }
    // Create the repository, unless an earlier try of this step already did.
    let created = env.memo.get("created").and_then(Value::as_bool) == Some(true);
    let repo: Value = if created {
        env.log.push(format!("Repository {full} was created by an earlier try; not creating it again"));
        let (status, body) = publisher.call(reqwest::Method::GET, &format!("/repos/{full}"), None).await?;
        if status != 200 {
            return Err(format!("reading {full} answered {status}: {}", github_message(&body)));
        }
        body
    } else {
        let (org_status, _) = publisher.call(reqwest::Method::GET, &format!("/orgs/{}", repo_url.owner), None).await?;
        let path = if org_status == 200 { format!("/orgs/{}/repos", repo_url.owner) } else { "/user/repos".to_owned() };
        let mut body = json!({
            "name": repo_url.repo,
            "private": visibility != "public",
            "visibility": visibility,
            "auto_init": false,
        });
        if let Some(d) = input.get("description").and_then(Value::as_str) {
            body["description"] = json!(d);
        }
        let (status, answer) = publisher.call(reqwest::Method::POST, &path, Some(&body)).await?;
        match status {
            201 => {}
            422 => return Err(format!("GitHub refused to create {full}: {}", github_message(&answer))),
            _ => return Err(format!("creating {full} answered {status}: {}", github_message(&answer))),
        }
        env.memo.insert("created".to_owned(), json!(true));
        env.log.push(format!("Created the {visibility} repository {full}"));
        if let Some(topics) = input.get("topics").and_then(Value::as_array).filter(|t| !t.is_empty()) {
            let names: Vec<Value> =
                topics.iter().map(|t| json!(t.as_str().unwrap_or_default().to_lowercase())).collect();
            let (status, answer) = publisher
                .call(reqwest::Method::PUT, &format!("/repos/{full}/topics"), Some(&json!({"names": names})))
                .await?;
            if status != 200 {
                return Err(format!("setting the topics of {full} answered {status}: {}", github_message(&answer)));
            }
            env.log
                .push(format!("Set topics {}", names.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")));
        }
        answer
    };
    let html_url = repo["html_url"].as_str().map_or_else(|| format!("{}{full}", publisher.web), str::to_owned);
    let clone_url = repo["clone_url"].as_str().ok_or("GitHub's answer has no clone_url")?.to_owned();
    let commit = match env.memo.get("commitHash").and_then(Value::as_str) {
        Some(c) => c.to_owned(),
        None => {
            let message = input.get("gitCommitMessage").and_then(Value::as_str).unwrap_or("initial commit").to_owned();
            let author = (
                input.get("gitAuthorName").and_then(Value::as_str).unwrap_or("Portolan Scaffolder").to_owned(),
                input.get("gitAuthorEmail").and_then(Value::as_str).unwrap_or("scaffolder@portolan.invalid").to_owned(),
            );
            let owned: Vec<(String, super::workspace::File)> =
                files.iter().map(|(p, f)| (p.clone(), (*f).clone())).collect();
            let token = publisher.token().to_owned();
            let push_branch = branch.clone();
            let commit =
                tokio::task::spawn_blocking(move || push(&owned, &clone_url, &token, &push_branch, &message, &author))
                    .await
                    .map_err(|e| format!("git push stopped: {e}"))??;
            env.memo.insert("commitHash".to_owned(), json!(commit));
            env.log.push(format!(
                "Pushed {} file{} to {full} ({branch}) as {commit}",
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            ));
            commit
        }
    };
    Ok(json!({
        "remoteUrl": html_url,
        "repoContentsUrl": format!("{html_url}/blob/{branch}"),
        "commitHash": commit,
    }))
}

/// Writes the files to a fresh directory, commits them and pushes the commit.
fn push(
    files: &[(String, super::workspace::File)],
    clone_url: &str,
    token: &str,
    branch: &str,
    message: &str,
    author: &(String, String),
) -> Result<String, String> {
    let dir = scratch_dir()?;
    let result = (|| {
        for (path, file) in files {
            let dest = dir.join(path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{path}: {e}"))?;
            }
            std::fs::write(&dest, &file.bytes).map_err(|e| format!("{path}: {e}"))?;
            #[cfg(unix)]
            if file.executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| format!("{path}: {e}"))?;
            }
        }
        git(&dir, &["init", "-q", "-b", branch], None)?;
        git(&dir, &["add", "-A"], None)?;
        let who = [
            ("GIT_AUTHOR_NAME", author.0.as_str()),
            ("GIT_AUTHOR_EMAIL", author.1.as_str()),
            ("GIT_COMMITTER_NAME", author.0.as_str()),
            ("GIT_COMMITTER_EMAIL", author.1.as_str()),
        ];
        git_env(&dir, &["commit", "-q", "--no-verify", "-m", message], &who)?;
        let commit = git(&dir, &["rev-parse", "HEAD"], None)?.trim().to_owned();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
        git(&dir, &["push", "-q", clone_url, &format!("HEAD:refs/heads/{branch}")], Some(&basic))?;
        Ok(commit)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn scratch_dir() -> Result<PathBuf, String> {
    let name = format!("portolan-publish-{}-{:016x}", std::process::id(), rand::random::<u64>());
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn git(dir: &Path, args: &[&str], basic_auth: Option<&str>) -> Result<String, String> {
    let header;
    let mut envs: Vec<(&str, &str)> = Vec::new();
    if let Some(b) = basic_auth {
        header = format!("Authorization: Basic {b}");
        envs =
            vec![("GIT_CONFIG_COUNT", "1"), ("GIT_CONFIG_KEY_0", "http.extraHeader"), ("GIT_CONFIG_VALUE_0", &header)];
        return git_env(dir, args, &envs);
    }
    git_env(dir, args, &envs)
}

fn git_env(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<String, String> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().map_err(|e| format!("running git: {e} (is git installed?)"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("git {} failed: {}", args[0], stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
