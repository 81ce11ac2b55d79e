//! Typed configuration, read once at start-up.
//!
//! Layers, later ones winning: built-in defaults, an optional `portolan.toml` (or the file named by
//! `PORTOLAN_CONFIG`), then `PORTOLAN_*` environment variables. A bad or missing setting stops start-up with a
//! message that names it. Secrets are wrapped in [`Secret`], whose `Debug` prints `[redacted]`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

/// A value that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Call sites are easy to audit by searching for `expose`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The portal's configuration. Each field names its environment variable.
#[derive(Clone, Debug)]
pub struct Config {
    /// `PORTOLAN_ADDR`: address to listen on. Default `127.0.0.1:3000`.
    pub addr: SocketAddr,
    /// `PORTOLAN_DATA_DIR`: where the SQLite database and other local state live. Default `./data`.
    pub data_dir: PathBuf,
    /// `PORTOLAN_DATABASE_URL`: `sqlite://…` or `postgres://…`. Default: `portolan.db` in the data directory.
    pub database_url: Secret,
    /// `PORTOLAN_DATABASE_MAX_CONNECTIONS`: the connection pool's size. Default two per core (4 to 8) on
    /// SQLite, 20 on PostgreSQL.
    pub database_max_connections: Option<u32>,
    /// `PORTOLAN_PUBLIC_URL`: the URL people use to reach the portal. Default `http://<addr>`.
    pub public_url: Url,
    /// `PORTOLAN_SITE_ROOT`: directory holding the compiled browser assets (`pkg/`). Default `target/site`.
    pub site_root: PathBuf,
    /// `PORTOLAN_GITHUB_CLIENT_ID` and `PORTOLAN_GITHUB_CLIENT_SECRET`: the GitHub OAuth app, when login with
    /// GitHub is wanted. Both or neither.
    pub github_oauth: Option<GithubOAuth>,
    /// `PORTOLAN_GITHUB_URL`: GitHub's web URL (OAuth pages). Default `https://github.com`.
    pub github_url: Url,
    /// `PORTOLAN_GITHUB_API_URL`: GitHub's REST API URL. Default `https://api.github.com`.
    pub github_api_url: Url,
    /// `PORTOLAN_API_TOKEN`: a static admin token for automation, sent as `Authorization: Bearer …`.
    pub api_token: Option<Secret>,
    /// `PORTOLAN_ALLOWED_ORGS`: comma-separated GitHub organisations whose members may log in. Empty: anyone.
    pub allowed_orgs: Vec<String>,
    /// `PORTOLAN_ADMIN_TEAMS`: comma-separated `org/team` GitHub teams whose members are administrators.
    pub admin_teams: Vec<String>,
    /// `PORTOLAN_LOG_FORMAT`: `human` (default) or `json`.
    pub log_format: LogFormat,
    /// `PORTOLAN_LOG`: a tracing filter such as `info` or `portolan=debug,info`. Default `info`.
    pub log_filter: String,
    /// `PORTOLAN_DEMO`: load demo data at start-up when the database is empty. Default `false`.
    pub demo: bool,
    /// `PORTOLAN_SESSION_DAYS`: how long an idle session lasts. Default 7.
    pub session_days: u32,
    /// `PORTOLAN_CATALOG_DELETE_ORPHANS`: delete entities their location stops declaring instead of keeping them
    /// marked as orphans. Default `false`.
    pub catalog_delete_orphans: bool,
    /// `PORTOLAN_CATALOG_REFRESH_SECONDS`: how often every location is read again and GitHub discovery runs.
    /// Conditional requests make an unchanged refresh cost no GitHub rate limit. `0` turns the schedule off.
    /// Default 1800.
    pub catalog_refresh_seconds: u64,
    /// `PORTOLAN_CATALOG_CACHE_MB`: memory for the catalog's read cache: Backstage's entity JSON
    /// (`/api/catalog/entities/by-name/…`), list pages (a sixteenth of it at most) and their counts. `0` turns
    /// the cache off. Default 16.
    pub catalog_cache_mb: u32,
    /// `PORTOLAN_DOCS_CACHE_MB`: memory for what the docs derive from revisions, which never change: what search
    /// reads of them, rendered pages and histories (see `docs::cache`). `0` turns the caches off. Default 64.
    pub docs_cache_mb: u32,
    /// `PORTOLAN_GITHUB_TOKEN`: a token the portal itself uses to read repositories (catalog discovery, URL
    /// locations on GitHub, deploy sync). Needs read access to contents and metadata.
    pub github_token: Option<Secret>,
    /// `PORTOLAN_GITHUB_DISCOVERY_ORGS`: comma-separated organisations whose repositories are searched for
    /// catalog files. Needs `PORTOLAN_GITHUB_TOKEN`.
    pub github_discovery_orgs: Vec<String>,
    /// `PORTOLAN_GITHUB_CATALOG_PATH`: the file discovery looks for in each repository, or a glob
    /// (`**/catalog-info.yaml`). Default `catalog-info.yaml`.
    pub github_catalog_path: String,
    /// `PORTOLAN_GITHUB_WEBHOOK_SECRET`: the secret GitHub signs webhook deliveries with
    /// (`X-Hub-Signature-256`). Without it every delivery is refused.
    pub github_webhook_secret: Option<Secret>,
    /// Rate limits per client; see [`RateLimits`].
    pub rate_limits: RateLimits,
    /// `PORTOLAN_HIDDEN_NAMESPACES`: comma-separated catalog namespaces whose entities only administrators and
    /// the members of each entity's owner see. Empty (the default): everyone signed in reads everything.
    pub hidden_namespaces: Vec<String>,
    /// `PORTOLAN_DOCS_ATTACHMENT_MAX_BYTES`: the largest file that can be attached to a docs page. Default 10 MiB.
    pub docs_attachment_max_bytes: usize,
    /// `PORTOLAN_DOCS_SYNC_SECONDS`: how often docs kept in repositories (`backstage.io/techdocs-ref`) are read
    /// again; pushes to a repository sync its docs at once. `0` turns the schedule off. Default 900.
    pub docs_sync_seconds: u64,
    /// `PORTOLAN_ENVIRONMENTS`: the environments deploys, health and cost share, in display order; `:production`
    /// marks production ones. Default `development,staging,production:production`; when none is marked, one
    /// named `production` is.
    pub environments: Vec<EnvironmentConfig>,
    /// How the DORA figures are counted; see [`DoraSettings`].
    pub dora: DoraSettings,
    /// `PORTOLAN_DEPLOY_WORKFLOWS`: GitHub Actions workflows whose runs are deployments, as
    /// `workflow=environment` pairs (the workflow's file, path or name), e.g.
    /// `deploy.yml=production,Deploy to staging=staging`. Empty by default.
    pub deploy_workflows: Vec<(String, String)>,
    /// `PORTOLAN_DEPLOY_SYNC_SECONDS`: how often deployments, runs and commits are read from GitHub for every
    /// component with a `github.com/project-slug` (webhooks bring them at once; this fills gaps and backfills).
    /// Needs `PORTOLAN_GITHUB_TOKEN`. `0` turns it off. Default 900.
    pub deploy_sync_seconds: u64,
    /// How health checks run and how long their results are kept; see [`HealthSettings`].
    pub health: HealthSettings,
    /// Cost anomalies, engineer cost and the OpenCost pull; see [`CostSettings`].
    pub cost: CostSettings,
}

/// Cost settings: anomaly detection, the "about N engineers" figure and the OpenCost pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostSettings {
    /// `PORTOLAN_COST_ANOMALY_MIN`: the least a day must exceed its trailing mean by to be an anomaly (in the
    /// data's currency). Default `10`.
    pub anomaly_min: crate::cost::Amount,
    /// `PORTOLAN_COST_ANOMALY_DAYS`: the trailing window a day is compared with. Default 14.
    pub anomaly_days: u32,
    /// `PORTOLAN_COST_ANOMALY_Z`: the robust z-score (0.6745 (x - median) / MAD) a day must reach. Default `3.5`.
    pub anomaly_z: crate::cost::Amount,
    /// `PORTOLAN_COST_ENGINEER_YEARLY`: what an engineer costs a year, with its currency (`150000 USD`); when
    /// set, a service's cost is also shown as "about N engineers".
    pub engineer_yearly: Option<(crate::cost::Amount, String)>,
    /// `PORTOLAN_OPENCOST_URL`: an OpenCost API (`http://opencost.opencost:9003`) whose `/allocation` is pulled.
    pub opencost_url: Option<Url>,
    /// `PORTOLAN_OPENCOST_CLUSTER`: the account name OpenCost's costs are kept under. Default `kubernetes`.
    pub opencost_cluster: String,
    /// `PORTOLAN_OPENCOST_AGGREGATE`: OpenCost's `aggregate` parameter. Default `namespace`; `label:app` and
    /// lists (`namespace,label:team`) work too: each part becomes a tag the allocation rules read.
    pub opencost_aggregate: String,
    /// `PORTOLAN_OPENCOST_CURRENCY`: the currency OpenCost reports in. Default `USD`.
    pub opencost_currency: String,
    /// `PORTOLAN_OPENCOST_SYNC_SECONDS`: how often OpenCost is pulled (this month so far, and the last month
    /// during a month's first three days). `0` turns it off. Default 86400 (daily).
    pub opencost_sync_seconds: u64,
    /// `PORTOLAN_COST_IMPORT_SUMS`: how many daily sums an import keeps in memory before it writes them, sorted,
    /// to a scratch file under `TMPDIR` (merged back when it stores). Bounds an import's memory whatever the file
    /// holds. Default 229000 (about 20 MiB).
    pub import_sums: u32,
}

impl Default for CostSettings {
    fn default() -> Self {
        CostSettings {
            anomaly_min: crate::cost::Amount::from_units(10),
            anomaly_days: 14,
            anomaly_z: crate::cost::Amount(3_500_000_000),
            engineer_yearly: None,
            opencost_url: None,
            opencost_cluster: "kubernetes".to_owned(),
            opencost_aggregate: "namespace".to_owned(),
            opencost_currency: "USD".to_owned(),
            opencost_sync_seconds: 86_400,
            import_sums: 229_000,
        }
    }
}

/// How health checks run and how long their results are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthSettings {
    /// `PORTOLAN_HEALTH_PROBES`: whether this process runs probes. Default `true`; with several replicas each
    /// check still runs once per interval (a lease in the database).
    pub probes: bool,
    /// `PORTOLAN_HEALTH_MIN_INTERVAL`: the shortest interval a check may ask for (`1s`, `500ms`). Default `1s`.
    pub min_interval: std::time::Duration,
    /// `PORTOLAN_HEALTH_FAILURES`: failures in a row before a check is down. Default 2.
    pub failures: u32,
    /// `PORTOLAN_HEALTH_SUCCESSES`: successes in a row before a down check is up again. Default 1.
    pub successes: u32,
    /// `PORTOLAN_HEALTH_CONCURRENCY`: probes in flight at once, at most. Default 512.
    pub concurrency: usize,
    /// `PORTOLAN_HEALTH_RAW_DAYS`: how long raw probe results are kept. Default 7.
    pub raw_days: u32,
    /// `PORTOLAN_HEALTH_HOURLY_DAYS`: how long hourly buckets are kept (daily buckets and state changes are kept).
    /// Default 400.
    pub hourly_days: u32,
    /// `PORTOLAN_PROMETHEUS_URL`: a Prometheus server for panels (`prometheus.io/rule`), PromQL SLOs and firing
    /// alerts.
    pub prometheus_url: Option<Url>,
    /// `PORTOLAN_ALERTMANAGER_URL`: an Alertmanager whose active alerts are shown.
    pub alertmanager_url: Option<Url>,
    /// `PORTOLAN_ALERT_LABEL`: the alert label naming the service, when the entity has no `prometheus.io/alert`
    /// annotation. Default `service`.
    pub alert_label: String,
    /// `PORTOLAN_HEALTH_WEBHOOK_URL`: where every state change and budget burn is posted (Slack-compatible JSON).
    pub webhook_url: Option<Secret>,
    /// `PORTOLAN_HEALTH_TEAM_WEBHOOKS`: `group:default/payments=https://hooks…` pairs: a team's own webhook, for
    /// what it owns.
    pub team_webhooks: Vec<(String, Secret)>,
}

/// One configured environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentConfig {
    /// Its name, lower case.
    pub name: String,
    /// Whether it counts as production.
    pub production: bool,
}

/// How deploys and the DORA figures are counted.
#[derive(Clone, Debug, PartialEq)]
pub struct DoraSettings {
    /// `PORTOLAN_DORA_TIME_ZONE`: the IANA zone days and weeks are counted in. Default `UTC`.
    pub time_zone: chrono_tz::Tz,
    /// `PORTOLAN_DORA_WEEK_START`: `monday` (default) to `sunday`.
    pub week_start: chrono::Weekday,
    /// `PORTOLAN_DORA_INCIDENT_WINDOW_HOURS`: how long after a deployment an incident on the same component and
    /// environment is blamed on it (if no other deployment came between). Default 24.
    pub incident_window_hours: u32,
    /// `PORTOLAN_DORA_FIRST_DEPLOYMENT_DAYS`: how far back a component's first deployment to an environment
    /// counts commits as its changes. Default 30.
    pub first_deployment_days: u32,
    /// `PORTOLAN_DORA_BANDS_YEAR`: the State of DevOps report whose performance bands are shown. Default 2024.
    pub bands_year: i32,
}

impl Config {
    /// Whether an environment is configured.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentConfig> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The names of the environments that count as production.
    pub fn production_environments(&self) -> impl Iterator<Item = &str> {
        self.environments.iter().filter(|e| e.production).map(|e| e.name.as_str())
    }
}

/// Requests a minute per client (a full bucket allows a burst of that many), `0` for no limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// `PORTOLAN_RATE_LIMIT_LOGIN`: the sign-in flow, per client address. Default 60.
    pub login: u32,
    /// `PORTOLAN_RATE_LIMIT_WEBHOOKS`: webhook deliveries, per client address. Default 1200.
    pub webhooks: u32,
    /// `PORTOLAN_RATE_LIMIT_ANONYMOUS`: API calls without credentials, per client address. Default 600.
    pub anonymous: u32,
    /// `PORTOLAN_RATE_LIMIT_AUTHENTICATED`: API calls per person or token owner. Default 0, no limit: automation
    /// and load tests (tens of thousands of requests a second on loopback) are not throttled; set it to cap a
    /// runaway script.
    pub authenticated: u32,
    /// `PORTOLAN_RATE_LIMIT_AUTH_FAILURES`: failed authentications per client address before further attempts
    /// are refused. Default 20.
    pub auth_failures: u32,
    /// `PORTOLAN_TRUST_PROXY`: take the client address from the last `X-Forwarded-For` entry (set this only
    /// behind a reverse proxy that appends it). Default `false`.
    pub trust_proxy: bool,
}

/// The GitHub OAuth app's credentials.
#[derive(Clone, Debug)]
pub struct GithubOAuth {
    /// `PORTOLAN_GITHUB_CLIENT_ID`.
    pub client_id: String,
    /// `PORTOLAN_GITHUB_CLIENT_SECRET`.
    pub client_secret: Secret,
}

impl Config {
    /// Whether the listener accepts connections from this machine only.
    pub fn is_loopback_only(&self) -> bool {
        self.addr.ip().is_loopback()
    }

    /// "Continue as local admin" exists only on a laptop-style set-up: no GitHub app and a loopback listener.
    pub fn local_admin_enabled(&self) -> bool {
        self.github_oauth.is_none() && self.is_loopback_only()
    }

    /// Session cookies get the `Secure` flag when the portal is served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Whether the database is SQLite (the embedded default).
    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }

    /// The GitHub OAuth callback URL to register in the OAuth app.
    pub fn github_callback_url(&self) -> String {
        self.join_public("auth/github/callback")
    }

    /// A URL under the public URL, without doubling slashes.
    pub fn join_public(&self, path: &str) -> String {
        format!("{}/{}", self.public_url.as_str().trim_end_matches('/'), path.trim_start_matches('/'))
    }

    /// A configuration for tests and tools: defaults everywhere, with the given database.
    pub fn for_database(database_url: &str) -> Config {
        let raw = RawConfig { database_url: Some(database_url.to_owned()), ..RawConfig::default() };
        raw.resolve().expect("the default configuration is valid")
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting has a value that cannot be used.
    #[error("invalid setting {setting}: {reason}")]
    Invalid {
        /// The environment variable (or TOML key) at fault.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting is required because another one is set.
    #[error("missing setting {setting}: {reason}")]
    Missing {
        /// The environment variable (or TOML key) that must be set.
        setting: &'static str,
        /// Why it is needed.
        reason: &'static str,
    },
    /// The configuration sources could not be parsed.
    #[error("{0}")]
    Source(String),
}

/// The configuration as written by people: every field optional, strings where parsing needs a better message.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    addr: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    public_url: Option<String>,
    site_root: Option<PathBuf>,
    github_client_id: Option<String>,
    #[serde(skip_serializing)]
    github_client_secret: Option<String>,
    github_url: Option<String>,
    github_api_url: Option<String>,
    #[serde(skip_serializing)]
    api_token: Option<String>,
    #[serde(deserialize_with = "comma_list")]
    allowed_orgs: Option<Vec<String>>,
    #[serde(deserialize_with = "comma_list")]
    admin_teams: Option<Vec<String>>,
    log_format: Option<String>,
    log: Option<String>,
    demo: Option<bool>,
    session_days: Option<u32>,
    catalog_delete_orphans: Option<bool>,
    catalog_refresh_seconds: Option<u64>,
    catalog_cache_mb: Option<u32>,
    docs_cache_mb: Option<u32>,
    #[serde(skip_serializing)]
    github_token: Option<String>,
    #[serde(deserialize_with = "comma_list")]
    github_discovery_orgs: Option<Vec<String>>,
    github_catalog_path: Option<String>,
    #[serde(skip_serializing)]
    github_webhook_secret: Option<String>,
    rate_limit_login: Option<u32>,
    rate_limit_webhooks: Option<u32>,
    rate_limit_anonymous: Option<u32>,
    rate_limit_authenticated: Option<u32>,
    rate_limit_auth_failures: Option<u32>,
    trust_proxy: Option<bool>,
    #[serde(deserialize_with = "comma_list")]
    hidden_namespaces: Option<Vec<String>>,
    docs_attachment_max_bytes: Option<usize>,
    docs_sync_seconds: Option<u64>,
    #[serde(deserialize_with = "comma_list")]
    environments: Option<Vec<String>>,
    dora_time_zone: Option<String>,
    dora_week_start: Option<String>,
    dora_incident_window_hours: Option<u32>,
    dora_first_deployment_days: Option<u32>,
    dora_bands_year: Option<i32>,
    #[serde(deserialize_with = "comma_list")]
    deploy_workflows: Option<Vec<String>>,
    deploy_sync_seconds: Option<u64>,
    health_probes: Option<bool>,
    health_min_interval: Option<String>,
    health_failures: Option<u32>,
    health_successes: Option<u32>,
    health_concurrency: Option<usize>,
    health_raw_days: Option<u32>,
    health_hourly_days: Option<u32>,
    prometheus_url: Option<String>,
    alertmanager_url: Option<String>,
    alert_label: Option<String>,
    health_webhook_url: Option<String>,
    #[serde(deserialize_with = "comma_list")]
    health_team_webhooks: Option<Vec<String>>,
    cost_anomaly_min: Option<String>,
    cost_anomaly_days: Option<u32>,
    cost_anomaly_z: Option<String>,
    cost_engineer_yearly: Option<String>,
    opencost_url: Option<String>,
    opencost_cluster: Option<String>,
    opencost_aggregate: Option<String>,
    opencost_currency: Option<String>,
    opencost_sync_seconds: Option<u64>,
    cost_import_sums: Option<u32>,
}

/// Accepts `["a", "b"]` in TOML and `a,b` in an environment variable.
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    let value = Option::<ListOrString>::deserialize(d)?;
    Ok(value.map(|v| {
        let items = match v {
            ListOrString::List(items) => items,
            ListOrString::String(s) => s.split(',').map(str::to_owned).collect(),
        };
        items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
    }))
}

impl RawConfig {
    fn resolve(self) -> Result<Config, ConfigError> {
        let addr_text = self.addr.unwrap_or_else(|| "127.0.0.1:3000".to_owned());
        let addr: SocketAddr = addr_text.parse().map_err(|_| ConfigError::Invalid {
            setting: "PORTOLAN_ADDR",
            reason: format!("`{addr_text}` is not a socket address such as 127.0.0.1:3000"),
        })?;
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = match self.database_url {
            Some(url) => {
                if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(ConfigError::Invalid {
                        setting: "PORTOLAN_DATABASE_URL",
                        reason: "must start with sqlite:, postgres:// or postgresql://".to_owned(),
                    });
                }
                url
            }
            None => default_sqlite_url(&data_dir),
        };
        let public_url =
            parse_http_url("PORTOLAN_PUBLIC_URL", &self.public_url.unwrap_or_else(|| format!("http://{addr}")))?;
        let github_oauth = match (self.github_client_id, self.github_client_secret) {
            (None, None) => None,
            (Some(id), Some(secret)) if !id.trim().is_empty() && !secret.is_empty() => {
                Some(GithubOAuth { client_id: id.trim().to_owned(), client_secret: Secret::new(secret) })
            }
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    setting: "PORTOLAN_GITHUB_CLIENT_SECRET",
                    reason: "PORTOLAN_GITHUB_CLIENT_ID is set; a GitHub OAuth app needs both",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    setting: "PORTOLAN_GITHUB_CLIENT_ID",
                    reason: "PORTOLAN_GITHUB_CLIENT_SECRET is set; a GitHub OAuth app needs both",
                });
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    setting: "PORTOLAN_GITHUB_CLIENT_ID",
                    reason: "the client id and secret must not be empty".to_owned(),
                });
            }
        };
        let github_url =
            parse_http_url("PORTOLAN_GITHUB_URL", self.github_url.as_deref().unwrap_or("https://github.com"))?;
        let github_api_url = parse_http_url(
            "PORTOLAN_GITHUB_API_URL",
            self.github_api_url.as_deref().unwrap_or("https://api.github.com"),
        )?;
        let api_token = long_secret("PORTOLAN_API_TOKEN", self.api_token)?;
        let admin_teams = self.admin_teams.unwrap_or_default();
        if let Some(bad) = admin_teams.iter().find(|t| t.split('/').filter(|p| !p.is_empty()).count() != 2) {
            return Err(ConfigError::Invalid {
                setting: "PORTOLAN_ADMIN_TEAMS",
                reason: format!("`{bad}` is not of the form org/team"),
            });
        }
        let log_format = match self.log_format.as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    setting: "PORTOLAN_LOG_FORMAT",
                    reason: format!("`{other}` is neither `human` nor `json`"),
                });
            }
        };
        let session_days = self.session_days.unwrap_or(7);
        if session_days == 0 {
            return Err(ConfigError::Invalid {
                setting: "PORTOLAN_SESSION_DAYS",
                reason: "must be at least 1".to_owned(),
            });
        }
        let github_token = self.github_token.filter(|t| !t.trim().is_empty()).map(Secret::new);
        let github_discovery_orgs = self.github_discovery_orgs.unwrap_or_default();
        if !github_discovery_orgs.is_empty() && github_token.is_none() {
            return Err(ConfigError::Missing {
                setting: "PORTOLAN_GITHUB_TOKEN",
                reason: "PORTOLAN_GITHUB_DISCOVERY_ORGS is set; discovery reads repositories with this token",
            });
        }
        let github_catalog_path = self.github_catalog_path.unwrap_or_else(|| "catalog-info.yaml".to_owned());
        let github_catalog_path = github_catalog_path.trim().trim_start_matches('/').to_owned();
        if github_catalog_path.is_empty() || github_catalog_path.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(ConfigError::Invalid {
                setting: "PORTOLAN_GITHUB_CATALOG_PATH",
                reason: format!("`{github_catalog_path}` is not a file path inside a repository"),
            });
        }
        let github_webhook_secret = long_secret("PORTOLAN_GITHUB_WEBHOOK_SECRET", self.github_webhook_secret)?;
        let environments = parse_environments(self.environments)?;
        let health = HealthSettings {
            probes: self.health_probes.unwrap_or(true),
            min_interval: match self.health_min_interval.as_deref().map(str::trim) {
                None | Some("") => std::time::Duration::from_secs(1),
                Some(t) => crate::health::spec::parse_duration(t).ok().filter(|d| !d.is_zero()).ok_or_else(|| {
                    ConfigError::Invalid {
                        setting: "PORTOLAN_HEALTH_MIN_INTERVAL",
                        reason: format!("`{t}` is not a duration above zero such as 1s or 500ms"),
                    }
                })?,
            },
            failures: positive("PORTOLAN_HEALTH_FAILURES", self.health_failures, 2)?,
            successes: positive("PORTOLAN_HEALTH_SUCCESSES", self.health_successes, 1)?,
            concurrency: self.health_concurrency.unwrap_or(512).max(1),
            raw_days: positive("PORTOLAN_HEALTH_RAW_DAYS", self.health_raw_days, 7)?,
            hourly_days: positive("PORTOLAN_HEALTH_HOURLY_DAYS", self.health_hourly_days, 400)?,
            prometheus_url: base_url("PORTOLAN_PROMETHEUS_URL", self.prometheus_url)?,
            alertmanager_url: base_url("PORTOLAN_ALERTMANAGER_URL", self.alertmanager_url)?,
            alert_label: self
                .alert_label
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| "service".to_owned()),
            webhook_url: self
                .health_webhook_url
                .map(|u| webhook("PORTOLAN_HEALTH_WEBHOOK_URL", &u))
                .transpose()?
                .flatten(),
            team_webhooks: team_webhooks(self.health_team_webhooks)?,
        };
        let dora = DoraSettings {
            time_zone: match self.dora_time_zone.as_deref().map(str::trim) {
                None | Some("") => chrono_tz::UTC,
                Some(z) => z.parse().map_err(|_| ConfigError::Invalid {
                    setting: "PORTOLAN_DORA_TIME_ZONE",
                    reason: format!("`{z}` is not an IANA time zone such as Europe/Berlin"),
                })?,
            },
            week_start: match self.dora_week_start.as_deref().map(str::trim) {
                None | Some("") => chrono::Weekday::Mon,
                Some(d) => d.parse().map_err(|_| ConfigError::Invalid {
                    setting: "PORTOLAN_DORA_WEEK_START",
                    reason: format!("`{d}` is not a day of the week"),
                })?,
            },
            incident_window_hours: self.dora_incident_window_hours.unwrap_or(24),
            first_deployment_days: self.dora_first_deployment_days.unwrap_or(30),
            bands_year: match self.dora_bands_year {
                None => 2024,
                Some(y @ (2023 | 2024)) => y,
                Some(y) => {
                    return Err(ConfigError::Invalid {
                        setting: "PORTOLAN_DORA_BANDS_YEAR",
                        reason: format!("no band table for {y}; 2023 and 2024 are known"),
                    });
                }
            },
        };
        let cost = cost_settings(CostRaw {
            anomaly_min: self.cost_anomaly_min,
            anomaly_days: self.cost_anomaly_days,
            anomaly_z: self.cost_anomaly_z,
            engineer_yearly: self.cost_engineer_yearly,
            opencost_url: self.opencost_url,
            opencost_cluster: self.opencost_cluster,
            opencost_aggregate: self.opencost_aggregate,
            opencost_currency: self.opencost_currency,
            opencost_sync_seconds: self.opencost_sync_seconds,
            import_sums: self.cost_import_sums,
        })?;
        let mut deploy_workflows = Vec::new();
        for item in self.deploy_workflows.unwrap_or_default() {
            let Some((workflow, env)) = item.rsplit_once('=') else {
                return Err(ConfigError::Invalid {
                    setting: "PORTOLAN_DEPLOY_WORKFLOWS",
                    reason: format!("`{item}` is not workflow=environment"),
                });
            };
            let env = env.trim().to_lowercase();
            if !environments.iter().any(|e| e.name == env) {
                return Err(ConfigError::Invalid {
                    setting: "PORTOLAN_DEPLOY_WORKFLOWS",
                    reason: format!("`{env}` is not one of PORTOLAN_ENVIRONMENTS"),
                });
            }
            deploy_workflows.push((workflow.trim().to_owned(), env));
        }
        Ok(Config {
            addr,
            data_dir,
            database_url: Secret::new(database_url),
            database_max_connections: match self.database_max_connections {
                Some(0) => {
                    return Err(ConfigError::Invalid {
                        setting: "PORTOLAN_DATABASE_MAX_CONNECTIONS",
                        reason: "must be at least 1".to_owned(),
                    });
                }
                n => n,
            },
            public_url,
            site_root: self.site_root.unwrap_or_else(|| PathBuf::from("target/site")),
            github_oauth,
            github_url,
            github_api_url,
            api_token,
            allowed_orgs: self.allowed_orgs.unwrap_or_default(),
            admin_teams,
            log_format,
            log_filter: self.log.unwrap_or_else(|| "info".to_owned()),
            demo: self.demo.unwrap_or(false),
            session_days,
            catalog_delete_orphans: self.catalog_delete_orphans.unwrap_or(false),
            catalog_refresh_seconds: self.catalog_refresh_seconds.unwrap_or(1800),
            catalog_cache_mb: self.catalog_cache_mb.unwrap_or(16),
            docs_cache_mb: self.docs_cache_mb.unwrap_or(crate::docs::cache::DEFAULT_MB),
            github_token,
            github_discovery_orgs,
            github_catalog_path,
            github_webhook_secret,
            rate_limits: RateLimits {
                login: self.rate_limit_login.unwrap_or(60),
                webhooks: self.rate_limit_webhooks.unwrap_or(1200),
                anonymous: self.rate_limit_anonymous.unwrap_or(600),
                authenticated: self.rate_limit_authenticated.unwrap_or(0),
                auth_failures: self.rate_limit_auth_failures.unwrap_or(20),
                trust_proxy: self.trust_proxy.unwrap_or(false),
            },
            hidden_namespaces: self
                .hidden_namespaces
                .unwrap_or_default()
                .into_iter()
                .map(|n| n.to_lowercase())
                .collect(),
            docs_attachment_max_bytes: self.docs_attachment_max_bytes.unwrap_or(10 * 1024 * 1024),
            docs_sync_seconds: self.docs_sync_seconds.unwrap_or(900),
            environments,
            dora,
            deploy_workflows,
            deploy_sync_seconds: self.deploy_sync_seconds.unwrap_or(900),
            health,
            cost,
        })
    }
}

struct CostRaw {
    anomaly_min: Option<String>,
    anomaly_days: Option<u32>,
    anomaly_z: Option<String>,
    engineer_yearly: Option<String>,
    opencost_url: Option<String>,
    opencost_cluster: Option<String>,
    opencost_aggregate: Option<String>,
    opencost_currency: Option<String>,
    opencost_sync_seconds: Option<u64>,
    import_sums: Option<u32>,
}

fn currency_code(setting: &'static str, text: &str) -> Result<String, ConfigError> {
    let c = text.trim().to_ascii_uppercase();
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(c)
    } else {
        Err(ConfigError::Invalid { setting, reason: format!("`{text}` is not a three-letter currency code") })
    }
}

fn cost_settings(raw: CostRaw) -> Result<CostSettings, ConfigError> {
    use crate::cost::Amount;
    let defaults = CostSettings::default();
    let non_negative = |setting: &'static str, text: Option<String>, default: Amount| -> Result<Amount, ConfigError> {
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(default),
            Some(t) => Amount::parse(t).ok().filter(|a| a.0 >= 0).ok_or_else(|| ConfigError::Invalid {
                setting,
                reason: format!("`{t}` is not a decimal number of zero or more"),
            }),
        }
    };
    let engineer_yearly = match raw.engineer_yearly.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => {
            let setting = "PORTOLAN_COST_ENGINEER_YEARLY";
            let mut parts = t.split_whitespace();
            let amount = parts.next().and_then(|a| Amount::parse(a).ok()).filter(|a| a.0 > 0).ok_or_else(|| {
                ConfigError::Invalid {
                    setting,
                    reason: format!("`{t}` is not an amount above zero such as 150000 USD"),
                }
            })?;
            let currency = currency_code(setting, parts.next().unwrap_or("USD"))?;
            Some((amount, currency))
        }
    };
    let aggregate = raw.opencost_aggregate.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
    if let Some(a) = &aggregate
        && a.split(',').any(|p| p.trim().is_empty() || p.contains(['&', '=', '?', '#', ' ']))
    {
        return Err(ConfigError::Invalid {
            setting: "PORTOLAN_OPENCOST_AGGREGATE",
            reason: format!("`{a}` is not a list such as namespace or label:app,namespace"),
        });
    }
    Ok(CostSettings {
        anomaly_min: non_negative("PORTOLAN_COST_ANOMALY_MIN", raw.anomaly_min, defaults.anomaly_min)?,
        anomaly_days: positive("PORTOLAN_COST_ANOMALY_DAYS", raw.anomaly_days, defaults.anomaly_days)?,
        anomaly_z: non_negative("PORTOLAN_COST_ANOMALY_Z", raw.anomaly_z, defaults.anomaly_z)?,
        engineer_yearly,
        opencost_url: base_url("PORTOLAN_OPENCOST_URL", raw.opencost_url)?,
        opencost_cluster: raw
            .opencost_cluster
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .unwrap_or(defaults.opencost_cluster),
        opencost_aggregate: aggregate.unwrap_or(defaults.opencost_aggregate),
        opencost_currency: match raw.opencost_currency {
            Some(c) if !c.trim().is_empty() => currency_code("PORTOLAN_OPENCOST_CURRENCY", &c)?,
            _ => defaults.opencost_currency,
        },
        opencost_sync_seconds: raw.opencost_sync_seconds.unwrap_or(defaults.opencost_sync_seconds),
        import_sums: positive("PORTOLAN_COST_IMPORT_SUMS", raw.import_sums, defaults.import_sums)?,
    })
}

fn base_url(setting: &'static str, value: Option<String>) -> Result<Option<Url>, ConfigError> {
    let Some(text) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else { return Ok(None) };
    let with_slash = if text.ends_with('/') { text.clone() } else { format!("{text}/") };
    match Url::parse(&with_slash) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(u)),
        _ => Err(ConfigError::Invalid { setting, reason: format!("`{text}` is not an http(s) URL") }),
    }
}

/// A webhook URL, kept exactly as given (it usually carries a secret, so the message does not repeat it).
fn webhook(setting: &'static str, text: &str) -> Result<Option<Secret>, ConfigError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match Url::parse(t) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(Secret::new(t))),
        _ => Err(ConfigError::Invalid { setting, reason: "not an http(s) URL".to_owned() }),
    }
}

fn team_webhooks(items: Option<Vec<String>>) -> Result<Vec<(String, Secret)>, ConfigError> {
    let setting = "PORTOLAN_HEALTH_TEAM_WEBHOOKS";
    let mut out = Vec::new();
    for item in items.unwrap_or_default() {
        let Some((team, url)) = item.split_once('=') else {
            return Err(ConfigError::Invalid { setting, reason: "each item is team=url".to_owned() });
        };
        let team = team.trim().to_lowercase();
        let team = if team.contains(':') { team } else { format!("group:default/{team}") };
        let team = if team.contains('/') { team } else { team.replacen(':', ":default/", 1) };
        let url = webhook(setting, url)?
            .ok_or_else(|| ConfigError::Invalid { setting, reason: format!("{team} has no URL") })?;
        out.push((team, url));
    }
    Ok(out)
}

fn positive(setting: &'static str, value: Option<u32>, default: u32) -> Result<u32, ConfigError> {
    match value {
        None => Ok(default),
        Some(0) => Err(ConfigError::Invalid { setting, reason: "must be at least 1".to_owned() }),
        Some(v) => Ok(v),
    }
}

/// `development,staging,prod-eu:production`: names in display order, `:production` marking production ones.
fn parse_environments(items: Option<Vec<String>>) -> Result<Vec<EnvironmentConfig>, ConfigError> {
    let items = items.unwrap_or_else(|| {
        ["development", "staging", "production:production"].into_iter().map(str::to_owned).collect()
    });
    let invalid = |reason: String| ConfigError::Invalid { setting: "PORTOLAN_ENVIRONMENTS", reason };
    let mut out: Vec<EnvironmentConfig> = Vec::new();
    for item in items {
        let (name, flag) = match item.split_once(':') {
            Some((n, f)) => (n.trim().to_lowercase(), Some(f.trim().to_lowercase())),
            None => (item.trim().to_lowercase(), None),
        };
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(invalid(format!("`{name}` is not an environment name (letters, digits, - and _)")));
        }
        let production = match flag.as_deref() {
            None => false,
            Some("production" | "prod") => true,
            Some(other) => return Err(invalid(format!("`{other}` after `{name}:` is not `production`"))),
        };
        if out.iter().any(|e| e.name == name) {
            return Err(invalid(format!("`{name}` is listed twice")));
        }
        out.push(EnvironmentConfig { name, production });
    }
    if out.is_empty() {
        return Err(invalid("at least one environment is needed".to_owned()));
    }
    if !out.iter().any(|e| e.production)
        && let Some(p) = out.iter_mut().find(|e| e.name == "production")
    {
        p.production = true;
    }
    Ok(out)
}

/// A secret setting, refused when shorter than 16 characters (too easy to guess).
fn long_secret(setting: &'static str, value: Option<String>) -> Result<Option<Secret>, ConfigError> {
    match value {
        Some(v) if v.len() < 16 => {
            Err(ConfigError::Invalid { setting, reason: "must be at least 16 characters long".to_owned() })
        }
        v => Ok(v.map(Secret::new)),
    }
}

fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("portolan.db").display())
}

fn parse_http_url(setting: &'static str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::Invalid { setting, reason: format!("`{text}`: {e}") })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::Invalid { setting, reason: format!("`{text}` is not an http(s) URL") });
    }
    Ok(url)
}

/// Reads the configuration from `portolan.toml` (or `$PORTOLAN_CONFIG`) and the process environment.
pub fn load() -> Result<Config, ConfigError> {
    let file = std::env::var_os("PORTOLAN_CONFIG").map(PathBuf::from).unwrap_or_else(|| "portolan.toml".into());
    if std::env::var_os("PORTOLAN_CONFIG").is_some() && !file.exists() {
        return Err(ConfigError::Invalid {
            setting: "PORTOLAN_CONFIG",
            reason: format!("{} does not exist", file.display()),
        });
    }
    load_from(Figment::new().merge(Toml::file(file)).merge(
        // `PORTOLAN_TEST_*` variables belong to the test suite, not to the portal.
        Env::prefixed("PORTOLAN_").ignore(&["CONFIG"]).filter(|key| !key.as_str().starts_with("test_")),
    ))
}

/// Resolves a configuration from explicit figment sources (used by [`load`] and by tests).
pub fn load_from(sources: Figment) -> Result<Config, ConfigError> {
    let raw: RawConfig =
        Figment::from(Serialized::defaults(RawConfig::default())).merge(sources).extract().map_err(|e| {
            // Figment names the key and the source (file or environment variable) in its message.
            ConfigError::Source(e.to_string())
        })?;
    raw.resolve()
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn from_pairs(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: std::collections::BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        load_from(Figment::from(Serialized::defaults(map)))
    }

    #[test]
    fn health_settings_are_checked() {
        let c = from_pairs(&[]).unwrap();
        assert_eq!(c.health.min_interval, std::time::Duration::from_secs(1));
        assert_eq!((c.health.failures, c.health.successes), (2, 1));
        assert_eq!((c.health.raw_days, c.health.hourly_days), (7, 400));
        let c = from_pairs(&[("health_min_interval", "500ms")]).unwrap();
        assert_eq!(c.health.min_interval, std::time::Duration::from_millis(500));
        let c = RawConfig { health_failures: Some(3), ..RawConfig::default() }.resolve().unwrap();
        assert_eq!(c.health.failures, 3);
        let err = from_pairs(&[("health_min_interval", "soon")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_HEALTH_MIN_INTERVAL"), "{err}");
        let err = RawConfig { health_failures: Some(0), ..RawConfig::default() }.resolve().unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_HEALTH_FAILURES"), "{err}");
        let c = from_pairs(&[(
            "health_team_webhooks",
            "payments=https://hooks.example/T1?x=1,group:default/web=http://h/2",
        )])
        .unwrap();
        assert_eq!(c.health.team_webhooks[0].0, "group:default/payments");
        assert_eq!(c.health.team_webhooks[0].1.expose(), "https://hooks.example/T1?x=1");
        assert_eq!(c.health.team_webhooks[1].0, "group:default/web");
        assert!(!format!("{c:?}").contains("hooks.example"), "webhook URLs are secrets");
        let err = from_pairs(&[("health_team_webhooks", "payments")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_HEALTH_TEAM_WEBHOOKS"), "{err}");
    }

    #[test]
    fn defaults_run_with_nothing_set() {
        let c = from_pairs(&[]).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(c.database_url.expose().starts_with("sqlite://./data/portolan.db"));
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(c.github_url.as_str(), "https://github.com/");
        assert_eq!(c.github_api_url.as_str(), "https://api.github.com/");
        assert!(c.local_admin_enabled());
        assert!(!c.secure_cookies());
        assert_eq!(c.github_callback_url(), "http://127.0.0.1:3000/auth/github/callback");
    }

    #[test]
    fn environments_default_and_mark_production() {
        let c = from_pairs(&[]).unwrap();
        let names: Vec<(&str, bool)> = c.environments.iter().map(|e| (e.name.as_str(), e.production)).collect();
        assert_eq!(names, [("development", false), ("staging", false), ("production", true)]);
        let c = from_pairs(&[("environments", "dev, Staging, prod-eu:production, prod-us:production")]).unwrap();
        let names: Vec<(&str, bool)> = c.environments.iter().map(|e| (e.name.as_str(), e.production)).collect();
        assert_eq!(names, [("dev", false), ("staging", false), ("prod-eu", true), ("prod-us", true)]);
        let c = from_pairs(&[("environments", "qa,production")]).unwrap();
        assert!(c.environment("production").unwrap().production);
        for bad in ["a,a", "prod:live", "bad name", ","] {
            let err = from_pairs(&[("environments", bad)]).unwrap_err().to_string();
            assert!(err.contains("PORTOLAN_ENVIRONMENTS"), "{bad}: {err}");
        }
    }

    #[test]
    fn deploy_workflows_name_configured_environments() {
        let c = from_pairs(&[("deploy_workflows", "deploy.yml=production, Deploy staging=Staging")]).unwrap();
        assert_eq!(
            c.deploy_workflows,
            [("deploy.yml".to_owned(), "production".to_owned()), ("Deploy staging".to_owned(), "staging".to_owned())]
        );
        for bad in ["deploy.yml", "deploy.yml=prod"] {
            let err = from_pairs(&[("deploy_workflows", bad)]).unwrap_err().to_string();
            assert!(err.contains("PORTOLAN_DEPLOY_WORKFLOWS"), "{err}");
        }
    }

    #[test]
    fn dora_settings_are_checked() {
        let c = from_pairs(&[]).unwrap();
        assert_eq!(c.dora.time_zone, chrono_tz::UTC);
        assert_eq!(c.dora.week_start, chrono::Weekday::Mon);
        assert_eq!(c.dora.bands_year, 2024);
        let c = from_pairs(&[("dora_time_zone", "Europe/Berlin"), ("dora_week_start", "sunday")]).unwrap();
        assert_eq!(c.dora.time_zone, chrono_tz::Europe::Berlin);
        assert_eq!(c.dora.week_start, chrono::Weekday::Sun);
        let err = from_pairs(&[("dora_time_zone", "Mars/Olympus")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_DORA_TIME_ZONE"), "{err}");
        let err = RawConfig { dora_bands_year: Some(1999), ..RawConfig::default() }.resolve().unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_DORA_BANDS_YEAR"), "{err}");
    }

    #[test]
    fn bad_address_names_the_setting() {
        let err = from_pairs(&[("addr", "not-an-address")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_ADDR"), "{err}");
    }

    #[test]
    fn half_an_oauth_app_is_refused() {
        let err = from_pairs(&[("github_client_id", "abc")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_GITHUB_CLIENT_SECRET"), "{err}");
        let err = from_pairs(&[("github_client_secret", "abc")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_GITHUB_CLIENT_ID"), "{err}");
    }

    #[test]
    fn local_admin_needs_loopback_and_no_github_app() {
        let c = from_pairs(&[("addr", "0.0.0.0:3000")]).unwrap();
        assert!(!c.local_admin_enabled());
        let c = from_pairs(&[("github_client_id", "id"), ("github_client_secret", "s")]).unwrap();
        assert!(!c.local_admin_enabled());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = from_pairs(&[
            ("github_client_id", "client-id"),
            ("github_client_secret", "very-secret-value"),
            ("api_token", "another-secret-token-1234"),
            ("database_url", "postgres://portolan:db-password@localhost/portolan"),
        ])
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("very-secret-value"), "{debug}");
        assert!(!debug.contains("another-secret-token-1234"), "{debug}");
        assert!(!debug.contains("db-password"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn lists_accept_commas_and_admin_teams_need_a_slash() {
        let c = from_pairs(&[("allowed_orgs", " acme, widgets ,"), ("admin_teams", "acme/platform")]).unwrap();
        assert_eq!(c.allowed_orgs, vec!["acme", "widgets"]);
        assert_eq!(c.admin_teams, vec!["acme/platform"]);
        let err = from_pairs(&[("admin_teams", "platform")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_ADMIN_TEAMS"), "{err}");
    }

    #[test]
    fn https_public_url_makes_cookies_secure_and_bad_urls_are_named() {
        let c = from_pairs(&[("public_url", "https://portal.example.com")]).unwrap();
        assert!(c.secure_cookies());
        let err = from_pairs(&[("github_api_url", "ftp://x")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_GITHUB_API_URL"), "{err}");
        let err = from_pairs(&[("database_url", "mysql://x")]).unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_DATABASE_URL"), "{err}");
    }

    #[test]
    fn pool_size_and_entity_cache_have_defaults_and_refuse_nonsense() {
        let c = from_pairs(&[]).unwrap();
        assert_eq!(c.database_max_connections, None, "the backend's default");
        assert_eq!(c.catalog_cache_mb, 16);
        assert_eq!(c.docs_cache_mb, 64);
        let off = RawConfig { docs_cache_mb: Some(0), ..RawConfig::default() }.resolve().unwrap();
        assert_eq!(off.docs_cache_mb, 0, "0 turns the docs caches off");
        let c = RawConfig { database_max_connections: Some(4), catalog_cache_mb: Some(0), ..RawConfig::default() }
            .resolve()
            .unwrap();
        assert_eq!(c.database_max_connections, Some(4));
        assert_eq!(c.catalog_cache_mb, 0, "0 turns the cache off");
        let err =
            RawConfig { database_max_connections: Some(0), ..RawConfig::default() }.resolve().unwrap_err().to_string();
        assert!(err.contains("PORTOLAN_DATABASE_MAX_CONNECTIONS"), "{err}");
    }

    #[test]
    fn unknown_settings_are_refused() {
        let err = from_pairs(&[("adress", "x")]).unwrap_err().to_string();
        assert!(err.contains("adress"), "{err}");
    }
}
