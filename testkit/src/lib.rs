#![recursion_limit = "256"]
//! An in-process fake of the parts of GitHub the portal talks to, answering with GitHub's real JSON shapes.
//!
//! It serves the web OAuth pages (`/login/oauth/authorize`, `/login/oauth/access_token`, checking the client
//! secret, the redirect URI and the PKCE verifier the way GitHub does) and the REST endpoints `/user`,
//! `/user/orgs` and `/user/teams` with `Link` pagination, and the repository endpoints catalog discovery reads
//! (`/orgs/{org}/repos`, `/repos/{owner}/{repo}/contents/{path}`) with `ETag`s and `304 Not Modified` answers to
//! conditional requests. Its consent page lists the fixture people, so a browser test can "sign in as" one of
//! them. Tests use it as a library; Playwright runs the `fake-github` binary.

pub mod deploys;
pub mod opencost;
pub mod scaffold;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A person known to the fake.
#[derive(Clone, Debug)]
pub struct FakeUser {
    /// Numeric id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// Display name (GitHub allows none).
    pub name: Option<String>,
    /// Organisation logins.
    pub orgs: Vec<String>,
    /// Teams as `(org, slug, name)`.
    pub teams: Vec<(String, String, String)>,
}

impl FakeUser {
    fn new(id: i64, login: &str, name: Option<&str>, orgs: &[&str], teams: &[(&str, &str, &str)]) -> FakeUser {
        FakeUser {
            id,
            login: login.to_owned(),
            name: name.map(str::to_owned),
            orgs: orgs.iter().map(|s| (*s).to_owned()).collect(),
            teams: teams.iter().map(|(o, s, n)| ((*o).to_owned(), (*s).to_owned(), (*n).to_owned())).collect(),
        }
    }
}

/// The people every fake starts with: `octocat` (in `acme`, three teams), `hubot` (in `acme`, no name, no teams),
/// `monalisa` (in `acme`, only on its payments team) and `mallory` (only in `evil-corp`).
pub fn default_users() -> Vec<FakeUser> {
    vec![
        FakeUser::new(
            583231,
            "octocat",
            Some("The Octocat"),
            &["acme", "github"],
            &[("acme", "platform", "Platform"), ("acme", "payments", "Payments"), ("github", "octo-team", "Octo Team")],
        ),
        FakeUser::new(4242, "hubot", None, &["acme"], &[]),
        FakeUser::new(1337, "monalisa", Some("Mona Lisa"), &["acme"], &[("acme", "payments", "Payments")]),
        FakeUser::new(9001, "mallory", Some("Mallory"), &["evil-corp"], &[]),
    ]
}

/// A repository known to the fake, with its files on the default branch.
#[derive(Clone, Debug)]
pub struct FakeRepo {
    /// Organisation login.
    pub org: String,
    /// Repository name.
    pub name: String,
    /// Default branch.
    pub default_branch: String,
    /// Archived repositories are listed but read-only.
    pub archived: bool,
    /// Path to text.
    pub files: std::collections::BTreeMap<String, String>,
}

impl FakeRepo {
    /// A repository with the given files on `main`.
    pub fn new(org: &str, name: &str, files: &[(&str, &str)]) -> FakeRepo {
        FakeRepo {
            org: org.to_owned(),
            name: name.to_owned(),
            default_branch: "main".to_owned(),
            archived: false,
            files: files.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())).collect(),
        }
    }

    fn full_name(&self) -> String {
        format!("{}/{}", self.org, self.name)
    }
}

/// The repositories every fake starts with, in `acme`: `checkout-service` (a Component and a Location pointing at
/// `docs/api.yaml`, which declares an API), `inventory` (default branch `trunk`), `scratch` (no catalog file)
/// and `legacy-monolith` (archived).
pub fn default_repos() -> Vec<FakeRepo> {
    let checkout = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout-service\n  description: Takes the money\n  annotations:\n    github.com/project-slug: acme/checkout-service\nspec:\n  type: service\n  lifecycle: production\n  owner: group:payments\n  providesApis: [checkout-api]\n---\napiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: checkout-service-apis\nspec:\n  targets:\n    - ./docs/api.yaml\n";
    let api = "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: checkout-api\nspec:\n  type: openapi\n  lifecycle: production\n  owner: group:payments\n  definition: |\n    openapi: 3.0.0\n    info: {title: Checkout, version: 1.0.0}\n    paths: {}\n";
    let inventory = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: inventory\nspec:\n  type: service\n  lifecycle: experimental\n  owner: group:platform\n";
    let mut inventory_repo = FakeRepo::new("acme", "inventory", &[("catalog-info.yaml", inventory)]);
    inventory_repo.default_branch = "trunk".to_owned();
    let mut legacy = FakeRepo::new("acme", "legacy-monolith", &[("catalog-info.yaml", inventory)]);
    legacy.archived = true;
    vec![
        FakeRepo::new("acme", "checkout-service", &[("catalog-info.yaml", checkout), ("docs/api.yaml", api)]),
        inventory_repo,
        FakeRepo::new("acme", "scratch", &[("README.md", "# scratch\n")]),
        legacy,
    ]
}

/// How the fake is set up.
#[derive(Clone, Debug)]
pub struct FakeGithubConfig {
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret.
    pub client_secret: String,
    /// The people.
    pub users: Vec<FakeUser>,
    /// Largest page the list endpoints return, whatever `per_page` asks (GitHub's is 100); small values exercise
    /// pagination.
    pub max_per_page: usize,
    /// Repositories, readable with any token the fake issued.
    pub repos: Vec<FakeRepo>,
}

impl Default for FakeGithubConfig {
    fn default() -> Self {
        FakeGithubConfig {
            client_id: "fake-client-id".to_owned(),
            client_secret: "fake-client-secret".to_owned(),
            users: default_users(),
            max_per_page: 100,
            repos: default_repos(),
        }
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    login: String,
}

struct Inner {
    config: FakeGithubConfig,
    base_url: String,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, String>>,
    token_exchanges: AtomicUsize,
    repos: Mutex<Vec<FakeRepo>>,
    /// Repository requests answered with a body, and with 304.
    repo_full: AtomicUsize,
    repo_not_modified: AtomicUsize,
    /// Deployments, runs, pull requests and the git repositories behind them.
    deploys: Mutex<deploys::DeployState>,
    /// Where repositories created through the API keep their bare git repositories.
    git_root: std::path::PathBuf,
    /// Repositories created through the API.
    created: Mutex<HashMap<String, scaffold::CreatedRepo>>,
    /// Pushes to refuse (with 500) before accepting again, and how long each push waits first.
    push_faults: Mutex<(usize, u64)>,
    /// Git tree listings longer than this are cut and marked `truncated`, as GitHub does past 100,000 entries.
    tree_limit: AtomicUsize,
}

type Shared = Arc<Inner>;

/// A running fake.
#[derive(Clone)]
pub struct FakeGithub {
    inner: Shared,
    addr: SocketAddr,
}

impl std::fmt::Debug for FakeGithub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGithub").field("addr", &self.addr).finish()
    }
}

impl FakeGithub {
    /// Starts a fake on an ephemeral loopback port.
    pub async fn start(config: FakeGithubConfig) -> FakeGithub {
        Self::start_on("127.0.0.1:0".parse().expect("valid address"), config).await
    }

    /// Starts a fake on the given address.
    pub async fn start_on(addr: SocketAddr, config: FakeGithubConfig) -> FakeGithub {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind the fake GitHub");
        let addr = listener.local_addr().expect("local address");
        let inner = Arc::new(Inner {
            base_url: format!("http://{addr}"),
            codes: Mutex::default(),
            tokens: Mutex::default(),
            token_exchanges: AtomicUsize::new(0),
            repos: Mutex::new(config.repos.clone()),
            repo_full: AtomicUsize::new(0),
            repo_not_modified: AtomicUsize::new(0),
            deploys: Mutex::default(),
            git_root: std::env::temp_dir().join(format!("fake-github-{}-{}", std::process::id(), addr.port())),
            created: Mutex::default(),
            push_faults: Mutex::default(),
            tree_limit: AtomicUsize::new(100_000),
            config,
        });
        let app = router(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake GitHub server");
        });
        FakeGithub { inner, addr }
    }

    /// `http://127.0.0.1:<port>`: both the web URL and the API URL.
    pub fn url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// The client id the fake accepts.
    pub fn client_id(&self) -> &str {
        &self.inner.config.client_id
    }

    /// The client secret the fake accepts.
    pub fn client_secret(&self) -> &str {
        &self.inner.config.client_secret
    }

    /// How many times `/login/oauth/access_token` was called.
    pub fn token_exchanges(&self) -> usize {
        self.inner.token_exchanges.load(Ordering::SeqCst)
    }

    /// Repository requests answered so far: `(with a body, with 304 Not Modified)`.
    pub fn repo_requests(&self) -> (usize, usize) {
        (self.inner.repo_full.load(Ordering::SeqCst), self.inner.repo_not_modified.load(Ordering::SeqCst))
    }

    /// Writes (or replaces) a file on a repository's default branch, as a push would.
    pub fn set_file(&self, repo: &str, path: &str, text: &str) {
        let mut repos = self.inner.repos.lock().expect("lock");
        let r = repos.iter_mut().find(|r| r.full_name() == repo).expect("a fixture repository");
        r.files.insert(path.to_owned(), text.to_owned());
    }

    /// Deletes a file from a repository's default branch.
    pub fn remove_file(&self, repo: &str, path: &str) {
        let mut repos = self.inner.repos.lock().expect("lock");
        if let Some(r) = repos.iter_mut().find(|r| r.full_name() == repo) {
            r.files.remove(path);
        }
    }

    /// Serves `compare`, `commits` and pull request commits of `repo` from a local git repository.
    pub fn set_git_repo(&self, repo: &str, dir: impl Into<std::path::PathBuf>) {
        self.inner.deploys.lock().expect("lock").git.insert(repo.to_owned(), dir.into());
    }

    /// Adds (or replaces) a deployment of `repo`.
    pub fn add_deployment(&self, repo: &str, deployment: deploys::FakeDeployment) {
        let mut d = self.inner.deploys.lock().expect("lock");
        let list = d.deployments.entry(repo.to_owned()).or_default();
        list.retain(|x| x.id != deployment.id);
        list.push(deployment);
    }

    /// Adds a workflow run (GitHub's JSON for one run) of `repo`.
    pub fn add_workflow_run(&self, repo: &str, run: Value) {
        self.inner.deploys.lock().expect("lock").runs.entry(repo.to_owned()).or_default().push(run);
    }

    /// Adds a pull request of `repo`.
    pub fn add_pull(&self, repo: &str, pull: deploys::FakePull) {
        self.inner.deploys.lock().expect("lock").pulls.entry(repo.to_owned()).or_default().push(pull);
    }

    /// Refuses the next `requests` deployment-related requests with `403` and `retry-after: seconds`.
    pub fn rate_limit_next(&self, requests: usize, seconds: u64) {
        let mut d = self.inner.deploys.lock().expect("lock");
        d.rate_limited = requests;
        d.retry_after = seconds;
    }

    /// A repository created through the API (`owner/name`), with its bare git directory.
    pub fn created_repo(&self, repo: &str) -> Option<scaffold::CreatedRepo> {
        self.inner.created.lock().expect("lock").get(repo).cloned()
    }

    /// Refuses the next `n` pushes with a server error.
    pub fn refuse_next_pushes(&self, n: usize) {
        self.inner.push_faults.lock().expect("lock").0 = n;
    }

    /// Cuts git tree listings after `entries` entries and marks them `truncated` (GitHub's limit is 100,000).
    pub fn truncate_trees_over(&self, entries: usize) {
        self.inner.tree_limit.store(entries, Ordering::SeqCst);
    }

    /// Makes every push wait this long before it is handled.
    pub fn slow_pushes(&self, millis: u64) {
        self.inner.push_faults.lock().expect("lock").1 = millis;
    }

    /// Accepts a token chosen by the caller as a fixture person's (the portal's configured token in browser tests).
    pub fn add_token(&self, token: &str, login: &str) {
        self.inner.tokens.lock().expect("lock").insert(token.to_owned(), login.to_owned());
    }

    /// Issues an access token for a fixture person directly, for API-level tests.
    pub fn issue_token(&self, login: &str) -> String {
        let token = random_string("gho_", 36);
        self.inner.tokens.lock().expect("lock").insert(token.clone(), login.to_owned());
        token
    }
}

fn router(inner: Shared) -> Router {
    Router::new()
        .route("/login/oauth/authorize", get(authorize_page).post(authorize_submit))
        .route("/login/oauth/access_token", axum::routing::post(access_token))
        .route("/avatars/{*rest}", get(avatar))
        .route("/user", get(user))
        .route("/user/orgs", get(user_orgs))
        .route("/user/teams", get(user_teams))
        .route("/orgs/{org}/repos", get(org_repos).post(scaffold::create_in_org))
        .route("/repos/{owner}/{repo}/contents/{*path}", get(contents))
        .route("/repos/{owner}/{repo}/git/trees/{tree}", get(tree))
        .merge(deploys::routes())
        .merge(scaffold::routes())
        .with_state(inner)
}

fn random_string(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    let body: String = (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{body}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize_page(State(s): State<Shared>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id.as_deref() != Some(s.config.client_id.as_str()) {
        return (StatusCode::NOT_FOUND, Html("<h1>404: unknown OAuth application</h1>")).into_response();
    }
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref() != Some("S256") {
        return (StatusCode::BAD_REQUEST, Html("<h1>Unsupported code_challenge_method</h1>")).into_response();
    }
    let hidden = |name: &str, value: &Option<String>| {
        value
            .as_ref()
            .map(|v| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape(v)))
            .unwrap_or_default()
    };
    let fields = [
        hidden("client_id", &q.client_id),
        hidden("redirect_uri", &q.redirect_uri),
        hidden("state", &q.state),
        hidden("code_challenge", &q.code_challenge),
    ]
    .concat();
    let mut buttons = String::new();
    for u in &s.config.users {
        buttons.push_str(&format!(
            r#"<form method="post" action="/login/oauth/authorize">{fields}<input type="hidden" name="login" value="{login}"><button type="submit">Authorize as {login}</button></form>"#,
            login = escape(&u.login)
        ));
    }
    buttons.push_str(&format!(
        r#"<form method="post" action="/login/oauth/authorize">{fields}<input type="hidden" name="cancel" value="1"><button type="submit">Cancel</button></form>"#
    ));
    Html(format!(
        "<!doctype html><html><head><title>Authorize application · Fake GitHub</title></head><body>\
         <h1>Authorize application</h1><p>Scopes requested: {}</p>{buttons}</body></html>",
        escape(q.scope.as_deref().unwrap_or(""))
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct AuthorizeForm {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: Option<String>,
    login: Option<String>,
    cancel: Option<String>,
}

async fn authorize_submit(State(s): State<Shared>, Form(f): Form<AuthorizeForm>) -> Response {
    if f.client_id != s.config.client_id {
        return (StatusCode::NOT_FOUND, "unknown OAuth application").into_response();
    }
    let Ok(mut target) = url::Url::parse(&f.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response();
    };
    {
        let mut qp = target.query_pairs_mut();
        if f.cancel.is_some() {
            qp.append_pair("error", "access_denied");
            qp.append_pair("error_description", "The user has denied your application access.");
        } else {
            let login = f.login.unwrap_or_default();
            if !s.config.users.iter().any(|u| u.login == login) {
                return (StatusCode::BAD_REQUEST, "unknown user").into_response();
            }
            let code = random_string("", 20);
            s.codes.lock().expect("lock").insert(
                code.clone(),
                Grant {
                    client_id: f.client_id.clone(),
                    redirect_uri: f.redirect_uri.clone(),
                    code_challenge: f.code_challenge.clone(),
                    login,
                },
            );
            qp.append_pair("code", &code);
        }
        if let Some(state) = &f.state {
            qp.append_pair("state", state);
        }
    }
    Redirect::to(target.as_str()).into_response()
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

fn token_error(error: &str, description: &str) -> Response {
    // GitHub answers token errors with 200 and an `error` field.
    Json(json!({
        "error": error,
        "error_description": description,
        "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
    }))
    .into_response()
}

async fn access_token(State(s): State<Shared>, Form(f): Form<TokenForm>) -> Response {
    s.token_exchanges.fetch_add(1, Ordering::SeqCst);
    if f.client_id.as_deref() != Some(s.config.client_id.as_str())
        || f.client_secret.as_deref() != Some(s.config.client_secret.as_str())
    {
        return token_error("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.");
    }
    // A code is single-use, whatever happens next.
    let grant = f.code.as_deref().and_then(|c| s.codes.lock().expect("lock").remove(c));
    let Some(grant) = grant else {
        return token_error("bad_verification_code", "The code passed is incorrect or expired.");
    };
    if grant.client_id != s.config.client_id {
        return token_error("bad_verification_code", "The code passed is incorrect or expired.");
    }
    if let Some(uri) = &f.redirect_uri
        && uri != &grant.redirect_uri
    {
        return token_error("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL.");
    }
    if let Some(challenge) = &grant.code_challenge {
        let Some(verifier) = &f.code_verifier else {
            return token_error("bad_verification_code", "The code_verifier is missing.");
        };
        let digest = Sha256::digest(verifier.as_bytes());
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        if &computed != challenge {
            return token_error("bad_verification_code", "The code_verifier does not match the code_challenge.");
        }
    }
    let token = random_string("gho_", 36);
    s.tokens.lock().expect("lock").insert(token.clone(), grant.login);
    Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:org,read:user"})).into_response()
}

fn authenticated(s: &Inner, headers: &HeaderMap) -> Option<FakeUser> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("token ")))
        .map(str::trim)?;
    let login = s.tokens.lock().expect("lock").get(token).cloned()?;
    s.config.users.iter().find(|u| u.login == login).cloned()
}

fn bad_credentials() -> Response {
    let body =
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

fn user_json(base: &str, u: &FakeUser) -> Value {
    let l = &u.login;
    json!({
        "login": l,
        "id": u.id,
        "node_id": format!("MDQ6VXNlcj{}", u.id),
        "avatar_url": format!("{base}/avatars/u/{}?v=4", u.id),
        "gravatar_id": "",
        "url": format!("{base}/users/{l}"),
        "html_url": format!("{base}/{l}"),
        "followers_url": format!("{base}/users/{l}/followers"),
        "following_url": format!("{base}/users/{l}/following{{/other_user}}"),
        "gists_url": format!("{base}/users/{l}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/users/{l}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/users/{l}/subscriptions"),
        "organizations_url": format!("{base}/users/{l}/orgs"),
        "repos_url": format!("{base}/users/{l}/repos"),
        "events_url": format!("{base}/users/{l}/events{{/privacy}}"),
        "received_events_url": format!("{base}/users/{l}/received_events"),
        "type": "User",
        "user_view_type": "private",
        "site_admin": false,
        "name": u.name,
        "company": "@acme",
        "blog": "",
        "location": null,
        "email": null,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "notification_email": null,
        "public_repos": 8,
        "public_gists": 8,
        "followers": 20,
        "following": 0,
        "created_at": "2011-01-25T18:44:36Z",
        "updated_at": "2026-10-01T12:00:00Z",
        "private_gists": 0,
        "total_private_repos": 2,
        "owned_private_repos": 2,
        "disk_usage": 1024,
        "collaborators": 0,
        "two_factor_authentication": true,
        "plan": {"name": "pro", "space": 976562499, "private_repos": 9999, "collaborators": 0}
    })
}

fn org_id(login: &str) -> i64 {
    login.bytes().fold(1000_i64, |acc, b| acc.wrapping_mul(31).wrapping_add(i64::from(b))).rem_euclid(9_000_000) + 1
}

fn org_json(base: &str, login: &str) -> Value {
    json!({
        "login": login,
        "id": org_id(login),
        "node_id": format!("MDEyOk9yZ2FuaXphdGlvbj{}", org_id(login)),
        "url": format!("{base}/orgs/{login}"),
        "repos_url": format!("{base}/orgs/{login}/repos"),
        "events_url": format!("{base}/orgs/{login}/events"),
        "hooks_url": format!("{base}/orgs/{login}/hooks"),
        "issues_url": format!("{base}/orgs/{login}/issues"),
        "members_url": format!("{base}/orgs/{login}/members{{/member}}"),
        "public_members_url": format!("{base}/orgs/{login}/public_members{{/member}}"),
        "avatar_url": format!("{base}/avatars/o/{}?v=4", org_id(login)),
        "description": format!("The {login} organisation")
    })
}

fn team_json(base: &str, index: usize, org: &str, slug: &str, name: &str) -> Value {
    let id = org_id(org) * 100 + i64::try_from(index).unwrap_or(0);
    let mut organization = org_json(base, org);
    if let Some(o) = organization.as_object_mut() {
        o.insert("name".into(), json!(org));
        o.insert("company".into(), Value::Null);
        o.insert("blog".into(), json!(""));
        o.insert("location".into(), Value::Null);
        o.insert("email".into(), Value::Null);
        o.insert("is_verified".into(), json!(true));
        o.insert("has_organization_projects".into(), json!(true));
        o.insert("has_repository_projects".into(), json!(true));
        o.insert("public_repos".into(), json!(2));
        o.insert("public_gists".into(), json!(0));
        o.insert("followers".into(), json!(0));
        o.insert("following".into(), json!(0));
        o.insert("html_url".into(), json!(format!("{base}/{org}")));
        o.insert("created_at".into(), json!("2008-01-14T04:33:35Z"));
        o.insert("updated_at".into(), json!("2026-01-14T04:33:35Z"));
        o.insert("type".into(), json!("Organization"));
    }
    json!({
        "id": id,
        "node_id": format!("MDQ6VGVhbT{id}"),
        "url": format!("{base}/teams/{id}"),
        "html_url": format!("{base}/orgs/{org}/teams/{slug}"),
        "name": name,
        "slug": slug,
        "description": format!("The {name} team"),
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": format!("{base}/teams/{id}/members{{/member}}"),
        "repositories_url": format!("{base}/teams/{id}/repos"),
        "parent": null,
        "members_count": 3,
        "repos_count": 10,
        "created_at": "2017-07-14T16:53:42Z",
        "updated_at": "2026-08-17T17:37:15Z",
        "organization": organization
    })
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

/// Slices `items` the way GitHub pages a list: the page, and the `Link` header value pointing at the
/// neighbouring pages (none when there is only one).
fn page_of(s: &Inner, path: &str, q: &PageQuery, items: Vec<Value>) -> (Vec<Value>, Option<String>) {
    let per_page = q.per_page.unwrap_or(30).clamp(1, s.config.max_per_page.max(1));
    let page = q.page.unwrap_or(1).max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let mut links = Vec::new();
    let link = |p: usize, rel: &str| format!("<{}{path}?per_page={per_page}&page={p}>; rel=\"{rel}\"", s.base_url);
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    (slice, (!links.is_empty()).then(|| links.join(", ")))
}

/// A page of a list as JSON, with its `Link` header.
fn paginated(s: &Inner, path: &str, q: &PageQuery, items: Vec<Value>) -> Response {
    let (slice, link) = page_of(s, path, q, items);
    let mut response = Json(slice).into_response();
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

/// GitHub serves avatars as images; a small SVG keeps browser tests free of broken-image errors.
async fn avatar() -> Response {
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#6e7781"/></svg>"##;
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

async fn user(State(s): State<Shared>, headers: HeaderMap) -> Response {
    match authenticated(&s, &headers) {
        Some(u) => Json(user_json(&s.base_url, &u)).into_response(),
        None => bad_credentials(),
    }
}

async fn user_orgs(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    match authenticated(&s, &headers) {
        Some(u) => {
            let items = u.orgs.iter().map(|o| org_json(&s.base_url, o)).collect();
            paginated(&s, "/user/orgs", &q, items)
        }
        None => bad_credentials(),
    }
}

async fn user_teams(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    match authenticated(&s, &headers) {
        Some(u) => {
            let items = u.teams.iter().enumerate().map(|(i, (o, sl, n))| team_json(&s.base_url, i, o, sl, n)).collect();
            paginated(&s, "/user/teams", &q, items)
        }
        None => bad_credentials(),
    }
}

fn not_found() -> Response {
    let body = json!({
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest/repos/contents#get-repository-content",
        "status": "404"
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// Answers with an `ETag`, or with `304 Not Modified` when the client already holds this version.
fn conditional(s: &Inner, headers: &HeaderMap, body: &Value, link: Option<String>) -> Response {
    let text = body.to_string();
    let etag = format!("W/\"{}\"", hex_digest(text.as_bytes()));
    let matches = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut response = if matches {
        s.repo_not_modified.fetch_add(1, Ordering::SeqCst);
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        s.repo_full.fetch_add(1, Ordering::SeqCst);
        ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], text).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    response.headers_mut().insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
    response
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Repository reads need a token the fake issued (GitHub hides private repositories from everyone else).
fn may_read_repos(s: &Inner, headers: &HeaderMap) -> bool {
    authenticated(s, headers).is_some()
}

fn repo_json(base: &str, r: &FakeRepo, index: usize) -> Value {
    let full = r.full_name();
    json!({
        "id": org_id(&full) * 10 + i64::try_from(index).unwrap_or(0),
        "node_id": format!("MDEwOlJlcG9zaXRvcnk{}", org_id(&full)),
        "name": r.name,
        "full_name": full,
        "private": true,
        "owner": {"login": r.org, "id": org_id(&r.org), "type": "Organization", "url": format!("{base}/users/{}", r.org)},
        "html_url": format!("{base}/{full}"),
        "description": null,
        "fork": false,
        "url": format!("{base}/repos/{full}"),
        "contents_url": format!("{base}/repos/{full}/contents/{{+path}}"),
        "created_at": "2024-03-01T10:00:00Z",
        "updated_at": "2026-11-01T10:00:00Z",
        "pushed_at": "2026-11-20T10:00:00Z",
        "default_branch": r.default_branch,
        "archived": r.archived,
        "disabled": false,
        "visibility": "private",
        "topics": []
    })
}

async fn org_repos(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path(org): axum::extract::Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    if !may_read_repos(&s, &headers) {
        return bad_credentials();
    }
    let items: Vec<Value> = s
        .repos
        .lock()
        .expect("lock")
        .iter()
        .filter(|r| r.org.eq_ignore_ascii_case(&org))
        .enumerate()
        .map(|(i, r)| repo_json(&s.base_url, r, i))
        .collect();
    if items.is_empty() && !s.config.users.iter().any(|u| u.orgs.iter().any(|o| o.eq_ignore_ascii_case(&org))) {
        return not_found();
    }
    let (page, link) = page_of(&s, &format!("/orgs/{org}/repos"), &q, items);
    conditional(&s, &headers, &Value::Array(page), link)
}

#[derive(Debug, Deserialize)]
struct RefQuery {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

/// A repository created through the API serves what was pushed to it: its files are read again from its bare
/// git repository.
async fn sync_created(s: &Inner, full: &str) {
    let created = s.created.lock().expect("lock").get(full).map(|c| c.dir.clone());
    if let Some(dir) = created {
        let files = tokio::task::spawn_blocking(move || scaffold::files_of(&dir)).await.unwrap_or_default();
        let mut repos = s.repos.lock().expect("lock");
        if let Some(r) = repos.iter_mut().find(|r| r.full_name() == full) {
            r.files = files.into_iter().collect();
        }
    }
}

#[derive(Deserialize)]
struct TreeQuery {
    #[serde(default)]
    recursive: Option<String>,
}

/// `GET /repos/{owner}/{repo}/git/trees/{tree_sha}`, named by the default branch (the fake keeps no other tree):
/// its top-level entries, or with `recursive` set to anything every one under it, directories as `tree` entries,
/// as GitHub lists them.
async fn tree(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path((owner, repo, tree)): axum::extract::Path<(String, String, String)>,
    Query(q): Query<TreeQuery>,
) -> Response {
    if !may_read_repos(&s, &headers) {
        return bad_credentials();
    }
    let full = format!("{owner}/{repo}");
    sync_created(&s, &full).await;
    let files = {
        let repos = s.repos.lock().expect("lock");
        match repos.iter().find(|r| r.full_name() == full && r.default_branch == tree) {
            Some(r) => r.files.clone(),
            None => return not_found(),
        }
    };
    let recursive = q.recursive.is_some();
    let base = &s.base_url;
    // Directories (once each, before the files under them, as git orders a tree) and files.
    let mut entries: Vec<Value> = Vec::new();
    let mut dirs: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for (path, text) in &files {
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..parts.len() {
            let dir = parts[..depth].join("/");
            if (recursive || depth == 1) && dirs.insert(dir.clone()) {
                let sha = hex_digest(dir.as_bytes());
                entries.push(json!({
                    "path": dir, "mode": "040000", "type": "tree", "sha": sha,
                    "url": format!("{base}/repos/{full}/git/trees/{sha}"),
                }));
            }
        }
        if recursive || parts.len() == 1 {
            let sha = hex_digest(text.as_bytes());
            entries.push(json!({
                "path": path, "mode": "100644", "type": "blob", "sha": sha, "size": text.len(),
                "url": format!("{base}/repos/{full}/git/blobs/{sha}"),
            }));
        }
    }
    let limit = s.tree_limit.load(Ordering::SeqCst);
    let truncated = entries.len() > limit;
    entries.truncate(limit);
    let sha = hex_digest(tree.as_bytes());
    let body = json!({
        "sha": sha,
        "url": format!("{base}/repos/{full}/git/trees/{sha}"),
        "tree": entries,
        "truncated": truncated,
    });
    conditional(&s, &headers, &body, None)
}

async fn contents(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path((owner, repo, path)): axum::extract::Path<(String, String, String)>,
    Query(q): Query<RefQuery>,
) -> Response {
    if !may_read_repos(&s, &headers) {
        return bad_credentials();
    }
    let full = format!("{owner}/{repo}");
    let path = path.trim_end_matches('/').to_owned();
    sync_created(&s, &full).await;
    let (found, listing, branch) = {
        let repos = s.repos.lock().expect("lock");
        let repo = repos.iter().find(|r| r.full_name() == full);
        let on_branch = |r: &&FakeRepo| q.git_ref.as_deref().is_none_or(|g| g == r.default_branch);
        match repo.filter(on_branch) {
            None => (None, Vec::new(), String::new()),
            Some(r) => {
                // A directory: the files under `path/`, as (name, whole path, text or None for a sub-directory).
                let prefix = format!("{path}/");
                let mut listing: Vec<(String, String, Option<String>)> = Vec::new();
                for (p, text) in r.files.range(prefix.clone()..).take_while(|(p, _)| p.starts_with(&prefix)) {
                    let rest = &p[prefix.len()..];
                    match rest.split_once('/') {
                        None => listing.push((rest.to_owned(), p.clone(), Some(text.clone()))),
                        Some((dir, _)) if !listing.iter().any(|(n, _, t)| n == dir && t.is_none()) => {
                            listing.push((dir.to_owned(), format!("{prefix}{dir}"), None));
                        }
                        Some(_) => {}
                    }
                }
                (r.files.get(&path).cloned(), listing, r.default_branch.clone())
            }
        }
    };
    let base = &s.base_url;
    if found.is_none() && !listing.is_empty() {
        // GitHub answers a directory with an array of its entries, files and directories alike.
        let entries: Vec<Value> = listing
            .iter()
            .map(|(name, p, text)| {
                let (kind, sha, size, web) = match text {
                    Some(t) => ("file", hex_digest(t.as_bytes()), t.len(), "blob"),
                    None => ("dir", hex_digest(p.as_bytes()), 0, "tree"),
                };
                json!({
                    "type": kind,
                    "size": size,
                    "name": name,
                    "path": p,
                    "sha": sha,
                    "url": format!("{base}/repos/{full}/contents/{p}?ref={branch}"),
                    "git_url": format!("{base}/repos/{full}/git/{}/{sha}", if text.is_some() { "blobs" } else { "trees" }),
                    "html_url": format!("{base}/{full}/{web}/{branch}/{p}"),
                    "download_url": text.as_ref().map(|_| format!("{base}/raw/{full}/{branch}/{p}")),
                    "_links": {
                        "self": format!("{base}/repos/{full}/contents/{p}?ref={branch}"),
                        "html": format!("{base}/{full}/{web}/{branch}/{p}")
                    }
                })
            })
            .collect();
        return conditional(&s, &headers, &Value::Array(entries), None);
    }
    let Some(text) = found else { return not_found() };
    // GitHub wraps base64 content at 60 columns with newlines.
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let wrapped: Vec<String> = encoded.as_bytes().chunks(60).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let sha = hex_digest(text.as_bytes());
    let name = path.rsplit('/').next().unwrap_or(&path);
    let body = json!({
        "type": "file",
        "encoding": "base64",
        "size": text.len(),
        "name": name,
        "path": path,
        "content": wrapped.join("\n") + "\n",
        "sha": sha,
        "url": format!("{base}/repos/{full}/contents/{path}"),
        "git_url": format!("{base}/repos/{full}/git/blobs/{sha}"),
        "html_url": format!("{base}/{full}/blob/{branch}/{path}"),
        "download_url": format!("{base}/raw/{full}/{branch}/{path}"),
        "_links": {
            "self": format!("{base}/repos/{full}/contents/{path}"),
            "git": format!("{base}/repos/{full}/git/blobs/{sha}"),
            "html": format!("{base}/{full}/blob/{branch}/{path}")
        }
    });
    conditional(&s, &headers, &body, None)
}
