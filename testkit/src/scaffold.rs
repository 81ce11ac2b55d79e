//! What the scaffolder needs from GitHub: `GET /orgs/{org}`, `POST /orgs/{org}/repos` and `POST /user/repos`
//! (GitHub's answers, including 422 for a name that exists), `GET /repos/{owner}/{repo}`,
//! `PUT /repos/{owner}/{repo}/topics`, and git's smart HTTP protocol at `/{owner}/{repo}.git/...`, served by
//! `git http-backend` over a real bare repository on disk. A push needs `Authorization: Basic` with a token the
//! fake issued as the password. After a push, the contents API serves the pushed files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{FakeRepo, Shared, authenticated, bad_credentials, not_found, org_json, repo_json};

/// A repository created through the API.
#[derive(Debug, Clone)]
pub struct CreatedRepo {
    /// The bare repository on disk.
    pub dir: PathBuf,
    /// Description given at creation.
    pub description: Option<String>,
    /// `private`, `internal` or `public`.
    pub visibility: String,
    /// Topics set afterwards.
    pub topics: Vec<String>,
    /// Who created it.
    pub created_by: String,
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/orgs/{org}", get(org))
        .route("/user/repos", post(create_for_user))
        .route("/repos/{owner}/{repo}", get(repo))
        .route("/repos/{owner}/{repo}/topics", put(topics))
        .route("/{owner}/{repo}/info/refs", get(info_refs))
        .route("/{owner}/{repo}/git-receive-pack", post(receive_pack))
        .route("/{owner}/{repo}/git-upload-pack", post(upload_pack))
}

fn is_org(s: &Shared, org: &str) -> bool {
    s.config.users.iter().any(|u| u.orgs.iter().any(|o| o == org))
        || s.repos.lock().expect("lock").iter().any(|r| r.org == org)
}

async fn org(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path(org): axum::extract::Path<String>,
) -> Response {
    if authenticated(&s, &headers).is_none() {
        return bad_credentials();
    }
    if is_org(&s, &org) { Json(org_json(&s.base_url, &org)).into_response() } else { not_found() }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateBody {
    name: String,
    description: Option<String>,
    private: Option<bool>,
    visibility: Option<String>,
}

pub(crate) async fn create_in_org(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path(org): axum::extract::Path<String>,
    Json(body): Json<CreateBody>,
) -> Response {
    let Some(user) = authenticated(&s, &headers) else { return bad_credentials() };
    if !user.orgs.contains(&org) {
        let body = json!({"message": "You need admin access to the organization before adding a repository to it.",
            "documentation_url": "https://docs.github.com/rest/repos/repos#create-an-organization-repository", "status": "403"});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    create(&s, &org, &user.login, body)
}

async fn create_for_user(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<CreateBody>) -> Response {
    let Some(user) = authenticated(&s, &headers) else { return bad_credentials() };
    let login = user.login.clone();
    create(&s, &login, &login, body)
}

fn create(s: &Shared, owner: &str, creator: &str, body: CreateBody) -> Response {
    let full = format!("{owner}/{}", body.name);
    let valid = !body.name.is_empty()
        && body.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !body.name.starts_with('.');
    if !valid {
        let answer = json!({"message": "Repository creation failed.", "errors": [{"resource": "Repository", "code": "custom",
            "field": "name", "message": "name is invalid"}],
            "documentation_url": "https://docs.github.com/rest/repos/repos#create-an-organization-repository", "status": "422"});
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(answer)).into_response();
    }
    let mut repos = s.repos.lock().expect("lock");
    if repos.iter().any(|r| r.full_name().eq_ignore_ascii_case(&full)) {
        let answer = json!({"message": "Repository creation failed.", "errors": [{"resource": "Repository", "code": "custom",
            "field": "name", "message": "name already exists on this account"}],
            "documentation_url": "https://docs.github.com/rest/repos/repos#create-an-organization-repository", "status": "422"});
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(answer)).into_response();
    }
    let dir = s.git_root.join(owner).join(format!("{}.git", body.name));
    if let Err(e) = init_bare(&dir) {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"message": e}))).into_response();
    }
    let visibility = body
        .visibility
        .clone()
        .unwrap_or_else(|| if body.private.unwrap_or(false) { "private".to_owned() } else { "public".to_owned() });
    let repo = FakeRepo::new(owner, &body.name, &[]);
    let index = repos.len();
    repos.push(repo.clone());
    drop(repos);
    s.created.lock().expect("lock").insert(
        full.clone(),
        CreatedRepo {
            dir,
            description: body.description.clone(),
            visibility: visibility.clone(),
            topics: Vec::new(),
            created_by: creator.to_owned(),
        },
    );
    (StatusCode::CREATED, Json(created_json(s, &repo, index))).into_response()
}

fn created_json(s: &Shared, repo: &FakeRepo, index: usize) -> Value {
    let mut v = repo_json(&s.base_url, repo, index);
    let full = repo.full_name();
    if let Some(c) = s.created.lock().expect("lock").get(&full) {
        v["description"] = json!(c.description);
        v["visibility"] = json!(c.visibility);
        v["private"] = json!(c.visibility != "public");
        v["topics"] = json!(c.topics);
    }
    v["clone_url"] = json!(format!("{}/{full}.git", s.base_url));
    v["git_url"] = json!(format!("git://{}/{full}.git", s.base_url.trim_start_matches("http://")));
    v
}

async fn repo(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path((owner, name)): axum::extract::Path<(String, String)>,
) -> Response {
    if authenticated(&s, &headers).is_none() {
        return bad_credentials();
    }
    let full = format!("{owner}/{name}");
    let found = s
        .repos
        .lock()
        .expect("lock")
        .iter()
        .enumerate()
        .find(|(_, r)| r.full_name() == full)
        .map(|(i, r)| (i, r.clone()));
    match found {
        Some((i, r)) => Json(created_json(&s, &r, i)).into_response(),
        None => not_found(),
    }
}

#[derive(Debug, Deserialize)]
struct TopicsBody {
    names: Vec<String>,
}

async fn topics(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path((owner, name)): axum::extract::Path<(String, String)>,
    Json(body): Json<TopicsBody>,
) -> Response {
    if authenticated(&s, &headers).is_none() {
        return bad_credentials();
    }
    let full = format!("{owner}/{name}");
    match s.created.lock().expect("lock").get_mut(&full) {
        Some(c) => {
            c.topics = body.names.clone();
            Json(json!({"names": body.names})).into_response()
        }
        None => not_found(),
    }
}

fn init_bare(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let out = Command::new("git")
        .args(["init", "--bare", "-q", "-b", "main"])
        .arg(dir)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(())
}

/// The login behind `Authorization: Basic x-access-token:<token>` (or a bearer token).
fn git_user(s: &Shared, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(b) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, token) = text.split_once(':')?;
        return s.tokens.lock().expect("lock").get(token).cloned();
    }
    authenticated(s, headers).map(|u| u.login)
}

fn git_unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"GitHub\"")], "Invalid username or token.")
        .into_response()
}

#[derive(Debug, Deserialize)]
struct ServiceQuery {
    service: Option<String>,
}

async fn info_refs(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path((owner, repo)): axum::extract::Path<(String, String)>,
    Query(q): Query<ServiceQuery>,
) -> Response {
    let query = q.service.map(|sv| format!("service={sv}")).unwrap_or_default();
    cgi(&s, &headers, &owner, &repo, "info/refs", "GET", &query, Bytes::new()).await
}

async fn receive_pack(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path((owner, repo)): axum::extract::Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (refuse, delay) = {
        let mut f = s.push_faults.lock().expect("lock");
        let refuse = f.0 > 0;
        if refuse {
            f.0 -= 1;
        }
        (refuse, f.1)
    };
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if refuse {
        return (StatusCode::INTERNAL_SERVER_ERROR, "push refused by the test").into_response();
    }
    cgi(&s, &headers, &owner, &repo, "git-receive-pack", "POST", "", body).await
}

async fn upload_pack(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path((owner, repo)): axum::extract::Path<(String, String)>,
    body: Bytes,
) -> Response {
    cgi(&s, &headers, &owner, &repo, "git-upload-pack", "POST", "", body).await
}

#[allow(clippy::too_many_arguments)]
async fn cgi(
    s: &Shared,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
    rest: &str,
    method: &str,
    query: &str,
    body: Bytes,
) -> Response {
    let Some(login) = git_user(s, headers) else { return git_unauthorized() };
    let name = repo.strip_suffix(".git").unwrap_or(repo);
    let full = format!("{owner}/{name}");
    if !s.created.lock().expect("lock").contains_key(&full) {
        return (StatusCode::NOT_FOUND, "Repository not found.").into_response();
    }
    let root = s.git_root.clone();
    let path_info = format!("/{owner}/{name}.git/{rest}");
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let method = method.to_owned();
    let query = query.to_owned();
    let result = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new("git")
            .arg("http-backend")
            .env("GIT_PROJECT_ROOT", &root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("PATH_INFO", path_info)
            .env("REQUEST_METHOD", method)
            .env("QUERY_STRING", query)
            .env("CONTENT_TYPE", content_type)
            .env("CONTENT_LENGTH", body.len().to_string())
            .env("HTTP_CONTENT_ENCODING", encoding)
            .env("REMOTE_USER", login)
            .env("REMOTE_ADDR", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let _ = writer.join();
        Ok::<_, String>(out.stdout)
    })
    .await;
    let raw = match result {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    cgi_response(&raw)
}

fn cgi_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, skip)) = split else { return (StatusCode::BAD_GATEWAY, "bad CGI answer").into_response() };
    let head = String::from_utf8_lossy(&raw[..at]).into_owned();
    let body = raw[at + skip..].to_vec();
    let mut status = StatusCode::OK;
    let mut builder = axum::http::Response::builder();
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("status") {
            status = v
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(status);
        } else {
            builder = builder.header(k, v);
        }
    }
    builder
        .status(status)
        .body(axum::body::Body::from(body))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

/// Reads the files on a created repository's default branch (empty before the first push).
pub(crate) fn files_of(dir: &Path) -> Vec<(String, String)> {
    let git = |args: &[&str]| {
        Command::new("git").arg("--git-dir").arg(dir).args(args).output().ok().filter(|o| o.status.success())
    };
    let Some(head) = git(&["for-each-ref", "--format=%(refname)", "refs/heads/"]) else { return Vec::new() };
    let refs = String::from_utf8_lossy(&head.stdout).into_owned();
    let Some(branch) = refs.lines().find(|l| *l == "refs/heads/main").or_else(|| refs.lines().next()) else {
        return Vec::new();
    };
    let Some(list) = git(&["ls-tree", "-r", "--name-only", branch]) else { return Vec::new() };
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|p| {
            let blob = git(&["cat-file", "blob", &format!("{branch}:{p}")])?;
            Some((p.to_owned(), String::from_utf8_lossy(&blob.stdout).into_owned()))
        })
        .collect()
}
