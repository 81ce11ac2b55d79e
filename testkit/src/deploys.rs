//! The fake's deployment endpoints: deployments and their statuses, workflow runs, and commits, compare and pull
//! requests answered from a real local git repository (`git` on the machine), with GitHub's JSON shapes, `Link`
//! pagination, `ETag`s, and `403` rate-limit answers with `retry-after` when a test asks for them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PageQuery, Shared, conditional, may_read_repos, not_found, page_of};

/// One deployment the fake knows, with its statuses (oldest first).
#[derive(Clone, Debug)]
pub struct FakeDeployment {
    /// Its id.
    pub id: i64,
    /// The sha deployed.
    pub sha: String,
    /// The environment.
    pub environment: String,
    /// When it was created.
    pub created_at: String,
    /// `(state, created_at)`, oldest first.
    pub statuses: Vec<(String, String)>,
}

/// A pull request: its number, its branch's commits (oldest first) and the commit it was merged (or squashed)
/// as on the default branch.
#[derive(Clone, Debug)]
pub struct FakePull {
    /// Its number.
    pub number: i64,
    /// Its branch's commits, oldest first.
    pub commits: Vec<String>,
    /// The commit on the default branch.
    pub merge_commit: String,
}

/// What the fake serves about deployments, per repository.
#[derive(Debug, Default)]
pub struct DeployState {
    /// Local git repositories behind `compare`, `commits` and pull requests.
    pub git: HashMap<String, PathBuf>,
    /// Deployments, per repository.
    pub deployments: HashMap<String, Vec<FakeDeployment>>,
    /// Workflow runs (their JSON), per repository.
    pub runs: HashMap<String, Vec<Value>>,
    /// Pull requests, per repository.
    pub pulls: HashMap<String, Vec<FakePull>>,
    /// The next this many repository requests are refused as rate limited.
    pub rate_limited: usize,
    /// Seconds the refusal asks to wait.
    pub retry_after: u64,
}

/// The routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/repos/{owner}/{repo}/deployments", axum::routing::get(deployments))
        .route("/repos/{owner}/{repo}/deployments/{id}/statuses", axum::routing::get(statuses))
        .route("/repos/{owner}/{repo}/actions/runs", axum::routing::get(runs))
        .route("/repos/{owner}/{repo}/compare/{basehead}", axum::routing::get(compare))
        .route("/repos/{owner}/{repo}/commits", axum::routing::get(commits))
        .route("/repos/{owner}/{repo}/commits/{sha}/pulls", axum::routing::get(commit_pulls))
        .route("/repos/{owner}/{repo}/pulls/{number}/commits", axum::routing::get(pull_commits))
}

/// Refuses the request when the test asked for rate limiting (GitHub's secondary-limit answer).
fn limited(s: &Shared) -> Option<Response> {
    let mut d = s.deploys.lock().expect("lock");
    if d.rate_limited == 0 {
        return None;
    }
    d.rate_limited -= 1;
    let body = json!({
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    });
    let mut r = (StatusCode::FORBIDDEN, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&d.retry_after.to_string()) {
        r.headers_mut().insert("retry-after", v);
    }
    r.headers_mut().insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
    Some(r)
}

fn guard(s: &Shared, headers: &HeaderMap) -> Option<Response> {
    if !may_read_repos(s, headers) {
        return Some(super::bad_credentials());
    }
    limited(s)
}

async fn deployments(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Some(r) = guard(&s, &headers) {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let base = s.base_url.clone();
    let mut list = s.deploys.lock().expect("lock").deployments.get(&full).cloned().unwrap_or_default();
    // Newest first, as GitHub lists them.
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let items = list
        .iter()
        .map(|d| {
            json!({
                "url": format!("{base}/repos/{full}/deployments/{}", d.id),
                "id": d.id,
                "node_id": format!("DE_{}", d.id),
                "sha": d.sha,
                "ref": "main",
                "task": "deploy",
                "payload": {},
                "original_environment": d.environment,
                "environment": d.environment,
                "description": null,
                "creator": {"login": "octocat", "id": 1, "type": "User"},
                "created_at": d.created_at,
                "updated_at": d.statuses.last().map_or(d.created_at.clone(), |s| s.1.clone()),
                "statuses_url": format!("{base}/repos/{full}/deployments/{}/statuses", d.id),
                "repository_url": format!("{base}/repos/{full}"),
                "transient_environment": false,
                "production_environment": d.environment == "production"
            })
        })
        .collect();
    let (page, link) = page_of(&s, &format!("/repos/{full}/deployments"), &q, items);
    conditional(&s, &headers, &Value::Array(page), link)
}

async fn statuses(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo, id)): Path<(String, String, i64)>,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Some(r) = guard(&s, &headers) {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let base = s.base_url.clone();
    let Some(d) =
        s.deploys.lock().expect("lock").deployments.get(&full).and_then(|l| l.iter().find(|d| d.id == id).cloned())
    else {
        return not_found();
    };
    let items = d
        .statuses
        .iter()
        .enumerate()
        .rev()
        .map(|(i, (state, at))| {
            json!({
                "url": format!("{base}/repos/{full}/deployments/{id}/statuses/{}", id * 100 + i as i64),
                "id": id * 100 + i as i64,
                "state": state,
                "creator": {"login": "octocat", "id": 1},
                "description": "",
                "environment": d.environment,
                "target_url": "",
                "log_url": format!("{base}/{full}/actions/runs/{id}"),
                "created_at": at,
                "updated_at": at,
                "deployment_url": format!("{base}/repos/{full}/deployments/{id}")
            })
        })
        .collect();
    let (page, link) = page_of(&s, &format!("/repos/{full}/deployments/{id}/statuses"), &q, items);
    conditional(&s, &headers, &Value::Array(page), link)
}

async fn runs(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Some(r) = guard(&s, &headers) {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let items = s.deploys.lock().expect("lock").runs.get(&full).cloned().unwrap_or_default();
    let total = items.len();
    let (page, link) = page_of(&s, &format!("/repos/{full}/actions/runs"), &q, items);
    conditional(&s, &headers, &json!({"total_count": total, "workflow_runs": page}), link)
}

/// Runs git in a repository; its standard output, or `None` when git fails (an unknown sha).
fn git(dir: &PathBuf, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn repo_dir(s: &Shared, full: &str) -> Option<PathBuf> {
    s.deploys.lock().expect("lock").git.get(full).cloned()
}

/// A commit as the commits and compare endpoints show it.
fn commit_json(base: &str, full: &str, dir: &PathBuf, sha: &str) -> Value {
    let meta = git(dir, &["show", "-s", "--format=%an%x1f%ae%x1f%aI%x1f%cI%x1f%s%x1f%P", sha]).unwrap_or_default();
    let f: Vec<&str> = meta.trim_end().split('\u{1f}').collect();
    let get = |i: usize| f.get(i).copied().unwrap_or_default();
    let utc = |t: &str| {
        // git prints the committer's offset; GitHub answers in UTC with a Z.
        chrono_free_utc(t)
    };
    json!({
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "commit": {
            "author": {"name": get(0), "email": get(1), "date": utc(get(2))},
            "committer": {"name": get(0), "email": get(1), "date": utc(get(3))},
            "message": get(4),
            "tree": {"sha": "0000000000000000000000000000000000000000"},
            "comment_count": 0
        },
        "url": format!("{base}/repos/{full}/commits/{sha}"),
        "html_url": format!("{base}/{full}/commit/{sha}"),
        "parents": get(5).split_whitespace().map(|p| json!({"sha": p})).collect::<Vec<_>>()
    })
}

/// `2026-11-02T10:00:00+00:00` → `2026-11-02T10:00:00Z` (the fixtures commit in UTC).
fn chrono_free_utc(t: &str) -> String {
    t.strip_suffix("+00:00").map(|s| format!("{s}Z")).unwrap_or_else(|| t.to_owned())
}

#[derive(Debug, Deserialize)]
struct CompareQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

async fn compare(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo, basehead)): Path<(String, String, String)>,
    Query(q): Query<CompareQuery>,
) -> Response {
    if let Some(r) = guard(&s, &headers) {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let Some(dir) = repo_dir(&s, &full) else { return not_found() };
    let Some((base_sha, head_sha)) = basehead.split_once("...") else { return not_found() };
    let range = format!("{base_sha}..{head_sha}");
    let back = format!("{head_sha}..{base_sha}");
    let (Some(ahead), Some(behind)) = (git(&dir, &["rev-list", "--reverse", &range]), git(&dir, &["rev-list", &back]))
    else {
        return not_found();
    };
    let ahead: Vec<String> = ahead.lines().map(str::to_owned).collect();
    let behind_by = behind.lines().count();
    let status = match (ahead.len(), behind_by) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let base = s.base_url.clone();
    let items: Vec<Value> = ahead.iter().map(|sha| commit_json(&base, &full, &dir, sha)).collect();
    // GitHub pages compare's commits only when asked (per_page/page); unasked it returns the first 250.
    let (page, link) = if q.page.is_some() || q.per_page.is_some() {
        let pq = PageQuery { page: q.page, per_page: q.per_page };
        page_of(&s, &format!("/repos/{full}/compare/{basehead}"), &pq, items)
    } else {
        (items.into_iter().take(250).collect(), None)
    };
    let body = json!({
        "url": format!("{base}/repos/{full}/compare/{basehead}"),
        "html_url": format!("{base}/{full}/compare/{basehead}"),
        "status": status,
        "ahead_by": ahead.len(),
        "behind_by": behind_by,
        "total_commits": ahead.len(),
        "commits": page,
        "files": []
    });
    conditional(&s, &headers, &body, link)
}

#[derive(Debug, Deserialize)]
struct CommitsQuery {
    sha: Option<String>,
    since: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

async fn commits(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<CommitsQuery>,
) -> Response {
    if let Some(r) = guard(&s, &headers) {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let Some(dir) = repo_dir(&s, &full) else { return not_found() };
    let head = q.sha.clone().unwrap_or_else(|| "HEAD".to_owned());
    let mut args = vec!["rev-list".to_owned()];
    if let Some(since) = &q.since {
        args.push(format!("--since={since}"));
    }
    args.push(head);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(list) = git(&dir, &refs) else { return not_found() };
    let base = s.base_url.clone();
    let items: Vec<Value> = list.lines().map(|sha| commit_json(&base, &full, &dir, sha)).collect();
    let pq = PageQuery { page: q.page, per_page: q.per_page };
    let (page, link) = page_of(&s, &format!("/repos/{full}/commits"), &pq, items);
    let mut response = conditional(&s, &headers, &Value::Array(page), link);
    // page_of's links drop the other parameters; keep sha and since on them as GitHub does.
    if let Some(l) = response.headers().get("link").and_then(|v| v.to_str().ok()).map(str::to_owned) {
        let extra = format!(
            "{}{}",
            q.sha.as_deref().map(|s| format!("&sha={s}")).unwrap_or_default(),
            q.since.as_deref().map(|s| format!("&since={s}")).unwrap_or_default()
        );
        let fixed = l.replace(">;", &format!("{extra}>;"));
        if let Ok(v) = HeaderValue::from_str(&fixed) {
            response.headers_mut().insert("link", v);
        }
    }
    response
}

fn pull_json(base: &str, full: &str, p: &FakePull, created: &str) -> Value {
    json!({
        "url": format!("{base}/repos/{full}/pulls/{}", p.number),
        "id": p.number * 1000,
        "number": p.number,
        "state": "closed",
        "title": format!("Change #{}", p.number),
        "user": {"login": "octocat", "id": 1},
        "created_at": created,
        "merged_at": created,
        "html_url": format!("{base}/{full}/pull/{}", p.number),
        "merge_commit_sha": p.merge_commit
    })
}

async fn commit_pulls(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Response {
    if let Some(r) = guard(&s, &headers) {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let base = s.base_url.clone();
    let pulls = s.deploys.lock().expect("lock").pulls.get(&full).cloned().unwrap_or_default();
    let dir = repo_dir(&s, &full);
    let items: Vec<Value> = pulls
        .iter()
        .filter(|p| p.merge_commit == sha || p.commits.iter().any(|c| c == &sha))
        .map(|p| {
            let created = dir
                .as_ref()
                .and_then(|d| git(d, &["show", "-s", "--format=%aI", &p.commits[0]]))
                .map(|t| chrono_free_utc(t.trim()))
                .unwrap_or_default();
            pull_json(&base, &full, p, &created)
        })
        .collect();
    conditional(&s, &headers, &Value::Array(items), None)
}

async fn pull_commits(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Some(r) = guard(&s, &headers) {
        return r;
    }
    let full = format!("{owner}/{repo}");
    let Some(dir) = repo_dir(&s, &full) else { return not_found() };
    let Some(pull) =
        s.deploys.lock().expect("lock").pulls.get(&full).and_then(|l| l.iter().find(|p| p.number == number).cloned())
    else {
        return not_found();
    };
    let base = s.base_url.clone();
    let items: Vec<Value> = pull.commits.iter().map(|sha| commit_json(&base, &full, &dir, sha)).collect();
    let (page, link) = page_of(&s, &format!("/repos/{full}/pulls/{number}/commits"), &q, items);
    conditional(&s, &headers, &Value::Array(page), link)
}
