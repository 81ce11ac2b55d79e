//! GitHub as a source of data, read with the portal's own token (`PORTOLAN_GITHUB_TOKEN`) through octocrab at the
//! configured API URL: organisation repositories and file contents for catalog discovery and URL locations, and
//! the webhook signature check shared by every webhook consumer.
//!
//! Every GET is conditional: the `ETag` of each answer is kept in the `http_cache` table with its body, and sent
//! back as `If-None-Match`, so a resource that did not change is answered `304 Not Modified`, which GitHub does
//! not count against the rate limit, and the cached body is used.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};
use serde::Deserialize;

use crate::config::Secret;

/// The `http_cache` table: the last answer to each conditional GET.
pub mod http_cache {
    use sea_orm::entity::prelude::*;

    /// One cached answer.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "http_cache")]
    pub struct Model {
        /// The request (path and query, or absolute URL).
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub url: String,
        /// The validator the server sent.
        pub etag: String,
        /// The body it came with.
        #[sea_orm(column_type = "Text")]
        pub body: String,
        /// Its `Link` header (pagination), if any.
        #[sea_orm(column_type = "Text", nullable)]
        pub link: Option<String>,
        /// When it was last answered with 200.
        pub fetched_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Why a GitHub request failed.
#[derive(Debug, thiserror::Error)]
pub enum GithubSyncError {
    /// GitHub refused because the rate limit is spent; try again after the given time.
    #[error("GitHub rate limit reached on {path}; retry after {retry_after_secs} s")]
    RateLimited {
        /// The request.
        path: String,
        /// Seconds until GitHub accepts requests again.
        retry_after_secs: u64,
    },
    /// Any other failure (transport, status, body).
    #[error("GitHub request {path} failed: {message}")]
    Failed {
        /// The request.
        path: String,
        /// What went wrong (never the token).
        message: String,
    },
    /// The database cache failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// A conditional GET's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The body (fresh, or from the cache on 304).
    pub body: String,
    /// The next page's path, from `Link: rel="next"`.
    pub next: Option<String>,
    /// Whether GitHub answered 304 and the cached body was used.
    pub not_modified: bool,
}

/// A repository as `GET /orgs/{org}/repos` lists it (the fields discovery needs).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Repository {
    /// `owner/name`.
    pub full_name: String,
    /// The branch new commits land on.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Archived repositories are read-only and skipped by discovery.
    #[serde(default)]
    pub archived: bool,
    /// Disabled repositories cannot be read.
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Deserialize)]
struct ContentFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

/// An entry of a directory listing from the contents API.
#[derive(Clone, Debug, Deserialize)]
pub struct DirEntry {
    /// `file`, `dir`, `symlink` or `submodule`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its path in the repository.
    pub path: String,
    /// The git object id.
    pub sha: String,
    /// Where it is on the web.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// A git tree as `GET /repos/{owner}/{repo}/git/trees/{ref}?recursive=1` lists it (the fields globs need).
#[derive(Deserialize)]
struct GitTree {
    tree: Vec<GitTreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct GitTreeEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Requests answered, for `/metrics` and tests: all, and those answered 304 from the cache.
#[derive(Debug, Default)]
pub struct RequestCounts {
    /// Requests sent.
    pub sent: AtomicU64,
    /// Of those, answered `304 Not Modified`.
    pub not_modified: AtomicU64,
}

/// The portal's own GitHub client.
#[derive(Clone)]
pub struct GithubSync {
    gh: Octocrab,
    db: DatabaseConnection,
    /// GitHub's web URL, to recognise `…/owner/repo/blob/ref/path` URLs.
    web_url: url::Url,
    counts: Arc<RequestCounts>,
}

impl std::fmt::Debug for GithubSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSync").field("web_url", &self.web_url.as_str()).finish_non_exhaustive()
    }
}

/// A file on GitHub named by its web URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobUrl {
    /// `owner/repo`.
    pub repo: String,
    /// Branch, tag or commit.
    pub git_ref: String,
    /// Path inside the repository.
    pub path: String,
}

impl GithubSync {
    /// A client for the API at `api_url`, authenticated with `token` when there is one (public repositories can
    /// be read without).
    pub fn new(
        db: DatabaseConnection,
        api_url: &url::Url,
        web_url: &url::Url,
        token: Option<&Secret>,
    ) -> Result<GithubSync, GithubSyncError> {
        let failed = |e: octocrab::Error| GithubSyncError::Failed { path: "client".into(), message: e.to_string() };
        let mut builder = Octocrab::builder()
            .base_uri(api_url.as_str().trim_end_matches('/'))
            .map_err(failed)?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .set_write_timeout(Some(Duration::from_secs(30)));
        if let Some(token) = token {
            builder = builder.personal_token(token.expose().to_owned());
        }
        Ok(GithubSync { gh: builder.build().map_err(failed)?, db, web_url: web_url.clone(), counts: Arc::default() })
    }

    /// Requests sent so far and how many were answered from the cache.
    pub fn counts(&self) -> (u64, u64) {
        (self.counts.sent.load(Ordering::Relaxed), self.counts.not_modified.load(Ordering::Relaxed))
    }

    /// Reads `https://<github>/owner/repo/blob/ref/path` into its parts, when the URL is a file on this GitHub.
    pub fn parse_blob_url(&self, url: &str) -> Option<BlobUrl> {
        let rest = url.strip_prefix(self.web_url.as_str())?;
        let mut parts = rest.splitn(5, '/');
        let (owner, repo, blob, git_ref, path) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if blob != "blob" || [owner, repo, git_ref, path].iter().any(|p| p.is_empty()) {
            return None;
        }
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if path.split('/').any(|p| p == ".." || p == "." || p.is_empty()) {
            return None;
        }
        Some(BlobUrl { repo: format!("{owner}/{repo}"), git_ref: git_ref.to_owned(), path: path.to_owned() })
    }

    /// The web URL of a file in a repository.
    pub fn blob_url(&self, repo: &str, git_ref: &str, path: &str) -> String {
        format!("{}{repo}/blob/{git_ref}/{path}", self.web_url)
    }

    /// A conditional GET of an API path (`/orgs/acme/repos?per_page=100`). `Ok(None)` is a 404.
    pub async fn get(&self, path: &str) -> Result<Option<Fetched>, GithubSyncError> {
        let cached = http_cache::Entity::find_by_id(path.to_owned()).one(&self.db).await?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert("x-github-api-version", HeaderValue::from_static("2022-11-28"));
        if let Some(c) = &cached
            && let Ok(v) = HeaderValue::from_str(&c.etag)
        {
            headers.insert(header::IF_NONE_MATCH, v);
        }
        let failed = |message: String| GithubSyncError::Failed { path: path.to_owned(), message };
        self.counts.sent.fetch_add(1, Ordering::Relaxed);
        let response = self.gh._get_with_headers(path, Some(headers)).await.map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let head = response.headers().clone();
        if status == StatusCode::NOT_MODIFIED
            && let Some(c) = cached
        {
            self.counts.not_modified.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(Fetched { body: c.body, next: c.link.as_deref().and_then(next_link), not_modified: true }));
        }
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if let Some(retry_after_secs) = rate_limited(status, &head) {
            return Err(GithubSyncError::RateLimited { path: path.to_owned(), retry_after_secs });
        }
        let bytes = response.into_body().collect().await.map_err(|e| failed(e.to_string()))?.to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(failed(format!("{status}: {message}")));
        }
        let body = String::from_utf8(bytes.to_vec()).map_err(|_| failed("the answer is not UTF-8".into()))?;
        let link = head.get(header::LINK).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if let Some(etag) = head.get(header::ETAG).and_then(|v| v.to_str().ok()) {
            let row = http_cache::ActiveModel {
                url: Set(path.to_owned()),
                etag: Set(etag.to_owned()),
                body: Set(body.clone()),
                link: Set(link.clone()),
                fetched_at: Set(Utc::now()),
            };
            http_cache::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(http_cache::Column::Url)
                        .update_columns([
                            http_cache::Column::Etag,
                            http_cache::Column::Body,
                            http_cache::Column::Link,
                            http_cache::Column::FetchedAt,
                        ])
                        .to_owned(),
                )
                .exec(&self.db)
                .await?;
        }
        Ok(Some(Fetched { next: link.as_deref().and_then(next_link), body, not_modified: false }))
    }

    /// Every repository of an organisation, following pagination.
    pub async fn org_repositories(&self, org: &str) -> Result<Vec<Repository>, GithubSyncError> {
        let mut path = Some(format!("/orgs/{}/repos?per_page=100&type=all", encode_segment(org)));
        let mut repos = Vec::new();
        // 1,000 pages of 100: far beyond any organisation; the bound stops a misbehaving server.
        for _ in 0..1000 {
            let Some(p) = path.take() else { break };
            let Some(page) = self.get(&p).await? else {
                return Err(GithubSyncError::Failed { path: p, message: format!("organisation `{org}` not found") });
            };
            let mut items: Vec<Repository> = serde_json::from_str(&page.body)
                .map_err(|e| GithubSyncError::Failed { path: p.clone(), message: format!("unexpected answer: {e}") })?;
            repos.append(&mut items);
            path = page.next;
        }
        Ok(repos)
    }

    /// A directory's entries through the contents API, `Ok(None)` when the repository or the directory does not
    /// exist.
    pub async fn dir(&self, repo: &str, git_ref: &str, dir: &str) -> Result<Option<Vec<DirEntry>>, GithubSyncError> {
        let request = Self::contents_request(repo, git_ref, dir);
        let Some(fetched) = self.get(&request).await? else { return Ok(None) };
        serde_json::from_str(&fetched.body)
            .map(Some)
            .map_err(|_| GithubSyncError::Failed { path: request, message: format!("{dir} is not a directory") })
    }

    /// The path of every file of a repository at a ref, in one request to the git trees API (recursive).
    /// `Ok(None)` when the repository or the ref does not exist. A listing GitHub cut short (over 100,000 entries
    /// or 7 MB) is an error rather than a partial answer, so that files it left out are not taken for deleted.
    pub async fn files(&self, repo: &str, git_ref: &str) -> Result<Option<Vec<String>>, GithubSyncError> {
        let request = format!("{}/git/trees/{}?recursive=1", Self::repo_request(repo), encode_segment(git_ref));
        let Some(fetched) = self.get(&request).await? else { return Ok(None) };
        let failed = |message: String| GithubSyncError::Failed { path: request.clone(), message };
        let tree: GitTree =
            serde_json::from_str(&fetched.body).map_err(|e| failed(format!("unexpected answer: {e}")))?;
        if tree.truncated {
            return Err(failed(format!(
                "GitHub cut the listing of {repo} short ({} entries); name the files instead of a glob",
                tree.tree.len()
            )));
        }
        Ok(Some(tree.tree.into_iter().filter(|e| e.kind == "blob").map(|e| e.path).collect()))
    }

    /// A file's text through the contents API, `Ok(None)` when the repository or the file does not exist.
    pub async fn file(&self, blob: &BlobUrl) -> Result<Option<String>, GithubSyncError> {
        let Some(bytes) = self.file_bytes(blob).await? else { return Ok(None) };
        String::from_utf8(bytes).map(Some).map_err(|_| GithubSyncError::Failed {
            path: format!("{}/{}", blob.repo, blob.path),
            message: format!("{} is not UTF-8 text", blob.path),
        })
    }

    /// `/repos/{owner}/{name}` of `owner/name`, each part encoded.
    fn repo_request(repo: &str) -> String {
        let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
        format!("/repos/{}/{}", encode_segment(owner), encode_segment(name))
    }

    fn contents_request(repo: &str, git_ref: &str, path: &str) -> String {
        let path: Vec<String> = path.split('/').filter(|p| !p.is_empty()).map(encode_segment).collect();
        format!("{}/contents/{}?ref={}", Self::repo_request(repo), path.join("/"), encode_segment(git_ref))
    }

    /// A file's bytes, text or not. `Ok(None)` when it does not exist.
    pub async fn file_bytes(&self, blob: &BlobUrl) -> Result<Option<Vec<u8>>, GithubSyncError> {
        let request = Self::contents_request(&blob.repo, &blob.git_ref, &blob.path);
        let Some(fetched) = self.get(&request).await? else { return Ok(None) };
        let failed = |message: String| GithubSyncError::Failed { path: request.clone(), message };
        let file: ContentFile =
            serde_json::from_str(&fetched.body).map_err(|_| failed(format!("{} is not a file", blob.path)))?;
        if file.kind != "file" {
            return Err(failed(format!("{} is a {}, not a file", blob.path, file.kind)));
        }
        let content = file.content.unwrap_or_default();
        match file.encoding.as_deref() {
            Some("base64") => {
                let compact: String = content.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map(Some)
                    .map_err(|e| failed(format!("bad base64 content: {e}")))
            }
            Some("none") | None if content.is_empty() => {
                Err(failed(format!("{} is too large for the contents API (over 1 MB)", blob.path)))
            }
            _ => Ok(Some(content.into_bytes())),
        }
    }
}

/// Percent-encodes one path or query segment.
pub fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// The path and query of `Link: <…>; rel="next"`, made relative so the client keeps its base URL and token.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.split(';').any(|p| p.trim().replace(' ', "") == "rel=\"next\"") {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = url::Url::parse(target).ok()?;
        Some(match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        })
    })
}

/// How long to wait when GitHub says the rate limit is spent (403/429 with `retry-after`, or with
/// `x-ratelimit-remaining: 0` and `x-ratelimit-reset`).
fn rate_limited(status: StatusCode, headers: &HeaderMap) -> Option<u64> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let number =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(secs) = number("retry-after") {
        return Some(secs);
    }
    if number("x-ratelimit-remaining") == Some(0) {
        let reset = number("x-ratelimit-reset").unwrap_or(0);
        let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        return Some(reset.saturating_sub(now).max(1));
    }
    (status == StatusCode::TOO_MANY_REQUESTS).then_some(60)
}

/// Checks GitHub's `X-Hub-Signature-256: sha256=<hex>` over the raw body, in constant time.
pub fn signature_is_valid(secret: &Secret, body: &[u8], header: Option<&str>) -> bool {
    use hmac::{Hmac, Mac};
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else { return false };
    let Ok(expected) = hex::decode(hex_sig) else { return false };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The `X-Hub-Signature-256` value GitHub would send (for tests and tools).
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_made_relative() {
        let link = r#"<https://api.github.com/organizations/1/repos?per_page=100&page=2>; rel="next", <https://api.github.com/organizations/1/repos?per_page=100&page=5>; rel="last""#;
        assert_eq!(next_link(link).as_deref(), Some("/organizations/1/repos?per_page=100&page=2"));
        let last = r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
    }

    #[test]
    fn rate_limits_are_read_from_either_header() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("30"));
        assert_eq!(rate_limited(StatusCode::TOO_MANY_REQUESTS, &h), Some(30));
        assert_eq!(rate_limited(StatusCode::NOT_FOUND, &h), None);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = (Utc::now().timestamp() + 120).to_string();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        let wait = rate_limited(StatusCode::FORBIDDEN, &h).unwrap();
        assert!((110..=121).contains(&wait), "{wait}");
        // A 403 that is not about the rate limit (no permission) is an ordinary failure.
        assert_eq!(rate_limited(StatusCode::FORBIDDEN, &HeaderMap::new()), None);
    }

    #[test]
    fn signatures_are_checked_against_the_raw_body() {
        let secret = Secret::new("It's a Secret to Everybody");
        let body = b"Hello, World!";
        // GitHub's documented example value for this secret and payload.
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign("It's a Secret to Everybody", body), expected);
        assert!(signature_is_valid(&secret, body, Some(expected)));
        assert!(!signature_is_valid(&secret, b"Hello, World?", Some(expected)));
        assert!(!signature_is_valid(&secret, body, None));
        assert!(!signature_is_valid(&secret, body, Some("sha1=757107ea")));
        assert!(!signature_is_valid(&secret, body, Some("sha256=zz")));
    }
}
