//! A test harness that drives the whole router in-process, against a fresh SQLite file or a fresh PostgreSQL
//! database, with a cookie jar and an in-process fake GitHub.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use portolan_core::Config;
use portolan_core::config::GithubOAuth;
use portolan_server::{ServerState, build_state, router};
use portolan_testkit::{FakeGithub, FakeGithubConfig};
use tower::ServiceExt;

/// Which database a test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each listed test function `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::support::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::support::Backend::Postgres).await }
            )*
        }
    };
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database made for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

fn unique_name() -> String {
    format!("portolan_test_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), rand_suffix())
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) % 100_000
}

/// The server used for PostgreSQL tests; `PORTOLAN_TEST_POSTGRES_URL` overrides it.
pub fn postgres_admin_url() -> String {
    std::env::var("PORTOLAN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique_name());
                std::fs::create_dir_all(&dir).expect("temp dir");
                TestDb { url: format!("sqlite://{}/portolan.db?mode=rwc", dir.display()), cleanup: Cleanup::File(dir) }
            }
            Backend::Postgres => {
                use sea_orm::ConnectionTrait;
                let admin_url = postgres_admin_url();
                let name = unique_name();
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is needed for these tests: {e}"));
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
                admin.close().await.ok();
                let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).expect("database URL with a path");
                TestDb { url: format!("{base}/{name}"), cleanup: Cleanup::Postgres { admin_url, name } }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime; a separate thread with its own runtime may block.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                    rt.block_on(async move {
                        use sea_orm::ConnectionTrait;
                        if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                            let _ =
                                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                            admin.close().await.ok();
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn location(&self) -> String {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
    }
}

/// The portal under test, with its own database, fake GitHub and cookie jar.
pub struct TestApp {
    pub router: Router,
    pub state: ServerState,
    pub github: FakeGithub,
    pub cookies: BTreeMap<String, String>,
    /// The test's database; `None` for a replica, which shares its primary's.
    pub _db: Option<TestDb>,
}

/// The API token configured in tests.
pub const API_TOKEN: &str = "test-api-token-0123456789";

/// A configuration pointing at the fake GitHub, allowing the `acme` organisation.
pub fn github_config(db_url: &str, github: &FakeGithub) -> Config {
    let mut config = Config::for_database(db_url);
    config.github_oauth = Some(GithubOAuth {
        client_id: github.client_id().to_owned(),
        client_secret: portolan_core::Secret::new(github.client_secret()),
    });
    config.github_url = github.url().parse().expect("url");
    config.github_api_url = github.url().parse().expect("url");
    config.allowed_orgs = vec!["acme".to_owned()];
    config.admin_teams = vec!["acme/platform".to_owned()];
    config.api_token = Some(portolan_core::Secret::new(API_TOKEN));
    config.github_token = Some(portolan_core::Secret::new(github.issue_token("octocat")));
    config.github_webhook_secret = Some(portolan_core::Secret::new(WEBHOOK_SECRET));
    config
}

/// The webhook secret configured in tests.
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789";

impl TestApp {
    /// A portal on `backend` with the example catalog registered as a location.
    pub async fn with_example_catalog(backend: Backend) -> TestApp {
        Self::with_example_catalog_and(backend, |_| {}).await
    }

    /// [`TestApp::with_example_catalog`] with its configuration adjusted.
    pub async fn with_example_catalog_and(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut app = TestApp::with(backend, FakeGithubConfig::default(), adjust).await;
        let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
        let body = serde_json::json!({"target": catalog});
        let res = app.post_json_with_token("/api/v1/locations", &body, API_TOKEN).await;
        assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
        app
    }

    /// A portal with GitHub login against the fake.
    pub async fn new(backend: Backend) -> TestApp {
        Self::with(backend, FakeGithubConfig::default(), |_| {}).await
    }

    /// A portal whose configuration and fake can be adjusted.
    pub async fn with(backend: Backend, fake: FakeGithubConfig, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let github = FakeGithub::start(fake).await;
        let db = TestDb::create(backend).await;
        let mut config = github_config(&db.url, &github);
        adjust(&mut config);
        Self::from_config(config, github, db).await
    }

    async fn from_config(config: Config, github: FakeGithub, db: TestDb) -> TestApp {
        let conn = portolan_server::open_database(&config).await.expect("open and migrate the database");
        let state = build_state(config, conn).expect("state");
        TestApp { router: router(state.clone()), state, github, cookies: BTreeMap::new(), _db: Some(db) }
    }

    /// A second portal process over the same database (another replica).
    pub async fn replica(&self) -> TestApp {
        let config = (*self.state.app.config).clone();
        let conn = portolan_server::open_database(&config).await.expect("open the database");
        let state = build_state(config, conn).expect("state");
        TestApp {
            router: router(state.clone()),
            state,
            github: self.github.clone(),
            cookies: self.cookies.clone(),
            _db: None,
        }
    }

    /// The `Cookie` header the jar would send.
    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Sends a request through the router, with the jar's cookies, and stores the cookies it sets.
    pub async fn send(&mut self, mut req: Request<Body>) -> TestResponse {
        if !self.cookies.is_empty() && !req.headers().contains_key(header::COOKIE) {
            req.headers_mut().insert(header::COOKIE, self.cookie_header().parse().expect("cookie header"));
        }
        let res = self.router.clone().oneshot(req).await.expect("router is infallible");
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let response = TestResponse {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        for c in response.set_cookies() {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                let removed = c.contains("Max-Age=0") || v.is_empty();
                if removed {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        response
    }

    /// Sends a request as if it came from the client address `ip` (rate limits are per client).
    pub async fn send_from(&mut self, ip: &str, mut req: Request<Body>) -> TestResponse {
        let addr = std::net::SocketAddr::new(ip.parse().expect("an IP address"), 40_000);
        req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        self.send(req).await
    }

    /// GET as a browser would (accepting HTML).
    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Request::get(path).header(header::ACCEPT, "text/html").body(Body::empty()).expect("request")).await
    }

    /// GET with a bearer token.
    pub async fn get_with_token(&mut self, path: &str, token: &str) -> TestResponse {
        let req = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::COOKIE, "")
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    /// GET with an explicit session cookie value instead of the jar's.
    pub async fn get_with_cookie(&mut self, path: &str, session: &str) -> TestResponse {
        let req = Request::get(path)
            .header(header::COOKIE, format!("{}={session}", portolan_server::SESSION_COOKIE))
            .body(Body::empty())
            .expect("request");
        let saved = self.cookies.clone();
        let res = self.send(req).await;
        self.cookies = saved;
        res
    }

    /// POST JSON with the session cookie (as the UI's scripts would).
    pub async fn post_json(&mut self, path: &str, body: &serde_json::Value) -> TestResponse {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(req).await
    }

    /// POST JSON with a bearer token.
    pub async fn post_json_with_token(&mut self, path: &str, body: &serde_json::Value, token: &str) -> TestResponse {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::COOKIE, "")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(req).await
    }

    /// POST a webhook delivery as GitHub sends it; `signature` overrides the correct one (`Some("")` sends none).
    pub async fn post_webhook(
        &mut self,
        event: &str,
        delivery: &str,
        body: &serde_json::Value,
        signature: Option<&str>,
    ) -> TestResponse {
        let text = body.to_string();
        let sig = signature
            .map(str::to_owned)
            .unwrap_or_else(|| portolan_core::github::sign(WEBHOOK_SECRET, text.as_bytes()));
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/webhooks/github")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "GitHub-Hookshot/abc123")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header(header::COOKIE, "");
        if !sig.is_empty() {
            req = req.header("x-hub-signature-256", sig);
        }
        self.send(req.body(Body::from(text)).expect("request")).await
    }

    /// POST a form, as a browser without JavaScript would.
    pub async fn post_form(&mut self, path: &str, form: &str, extra: &[(&str, &str)]) -> TestResponse {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(form.to_owned())).expect("request")).await
    }

    /// Starts a GitHub login and returns the authorize URL the portal redirected to.
    pub async fn start_login(&mut self) -> url::Url {
        let res = self.get("/auth/github").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
        url::Url::parse(&res.location()).expect("authorize URL")
    }

    /// Plays the person's part on the fake GitHub's consent page ("Authorize as <login>", or cancel) and returns
    /// the callback path GitHub sends the browser to.
    pub async fn consent(&self, authorize: &url::Url, login: Option<&str>) -> String {
        let q: BTreeMap<String, String> = authorize.query_pairs().into_owned().collect();
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", q["client_id"].clone()),
            ("redirect_uri", q["redirect_uri"].clone()),
            ("state", q["state"].clone()),
            ("code_challenge", q.get("code_challenge").cloned().unwrap_or_default()),
        ];
        match login {
            Some(l) => form.push(("login", l.to_owned())),
            None => form.push(("cancel", "1".to_owned())),
        }
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let res = client
            .post(format!("{}/login/oauth/authorize", self.github.url()))
            .form(&form)
            .send()
            .await
            .expect("fake GitHub answers");
        assert!(res.status().is_redirection(), "consent page answered {}", res.status());
        let location = res.headers()[header::LOCATION].to_str().expect("location").to_owned();
        let callback = url::Url::parse(&location).expect("callback URL");
        format!("{}?{}", callback.path(), callback.query().unwrap_or_default())
    }

    /// Signs in through the fake GitHub as `login`; returns the final response of the callback.
    pub async fn login_as(&mut self, login: &str) -> TestResponse {
        let authorize = self.start_login().await;
        let callback = self.consent(&authorize, Some(login)).await;
        self.get(&callback).await
    }

    /// The session cookie's value, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookies.get(portolan_server::SESSION_COOKIE).cloned()
    }
}

/// What a [`webhook_receiver`] was sent: (path, JSON body), in order.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

/// A Slack-like webhook receiver on a free loopback port, recording every JSON body posted to it by path.
pub async fn webhook_receiver() -> (std::net::SocketAddr, Received) {
    let got: Received = Default::default();
    let g = got.clone();
    let hooks = Router::new().route(
        "/{*path}",
        axum::routing::post(
            move |axum::extract::Path(path): axum::extract::Path<String>,
                  axum::Json(v): axum::Json<serde_json::Value>| {
                let g = g.clone();
                async move {
                    g.lock().unwrap().push((path, v));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, hooks).await.ok() });
    (addr, got)
}
