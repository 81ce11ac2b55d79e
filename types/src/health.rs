//! Health wire types: the grid of services by environment, one entity's health, its history, checks and
//! maintenance windows. Ratios are numbers between 0 and 1; times are RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};

/// Uptime over the standard windows (`null` where nothing was counted).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UptimeWindows {
    /// Last 24 hours.
    #[serde(rename = "24h")]
    pub h24: Option<f64>,
    /// Last 7 days.
    #[serde(rename = "7d")]
    pub d7: Option<f64>,
    /// Last 30 days.
    #[serde(rename = "30d")]
    pub d30: Option<f64>,
    /// Last 90 days.
    #[serde(rename = "90d")]
    pub d90: Option<f64>,
}

/// The objective and what is left of its error budget.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SloView {
    /// Objective as a ratio (0.999).
    pub objective: f64,
    /// Window length in days (30, rolling).
    pub window_days: u32,
    /// Uptime over the window.
    pub uptime: Option<f64>,
    /// 1 - error ratio / (1 - objective), between 0 and 1.
    pub error_budget_remaining: f64,
    /// Whether more than the whole budget is spent.
    pub overspent: bool,
    /// Burn rate over the last hour (1 = spending exactly the budget).
    pub burn_rate_1h: Option<f64>,
    /// Burn rate over the last 6 hours.
    pub burn_rate_6h: Option<f64>,
    /// Hours until the budget is spent at the last hour's rate (`null`: not burning).
    pub hours_to_exhaustion: Option<f64>,
    /// Multi-window burn-rate alerts of the SRE workbook that fire now.
    pub burn_alerts: Vec<BurnAlert>,
    /// `probes` (the portal's own checks) or `prometheus` (error and total queries).
    pub source: String,
}

/// A firing multi-window burn-rate alert.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BurnAlert {
    /// `page` or `ticket`.
    pub severity: String,
    /// e.g. `14.4x over 1h and 5m`.
    pub rule: String,
    /// Burn rate over the long window.
    pub long_burn: f64,
    /// Burn rate over the short window.
    pub short_burn: f64,
}

/// Latency percentiles in milliseconds over the last 24 hours.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyView {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

/// One check as pages and the API show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckView {
    /// Id.
    pub id: i64,
    /// The entity.
    pub entity_ref: String,
    /// Environment.
    pub environment: String,
    /// Short name.
    pub name: String,
    /// `annotation` (declared in git: edit in the repository) or `portal`.
    pub source: String,
    /// URL or `tcp://host:port`.
    pub target: String,
    /// Interval in seconds.
    pub interval_seconds: f64,
    /// Accepted status codes.
    pub expect_status: String,
    /// Substring the body must hold.
    pub expect_body: Option<String>,
    /// Latency limit above which it is degraded, in ms.
    pub degraded_ms: Option<i32>,
    /// Objective in percent.
    pub slo: f64,
    /// Whether it is probed.
    pub enabled: bool,
    /// `up`, `degraded`, `down`, `unknown` or `maintenance`.
    pub state: String,
    /// Since when.
    pub since: String,
    /// The last probe.
    pub last_checked_at: Option<String>,
    /// Its latency.
    pub last_latency_ms: Option<i32>,
    /// Its HTTP status.
    pub last_status_code: Option<i32>,
    /// Why it failed.
    pub last_error: Option<String>,
    /// When the TLS certificate expires.
    pub tls_expires_at: Option<String>,
}

/// A firing alert (from Prometheus or Alertmanager).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// `alertname`.
    pub name: String,
    /// `firing`, `pending`, `resolved`.
    pub state: String,
    /// `severity` label.
    pub severity: Option<String>,
    /// `runbook_url` annotation.
    pub runbook_url: Option<String>,
    /// The runbook's title when the link leads to a page hosted in this portal.
    pub runbook_title: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Since when.
    pub since: Option<String>,
    /// When it was resolved (alerts the receiver kept).
    #[serde(default)]
    pub ended_at: Option<String>,
    /// `prometheus` or `alertmanager` (asked now), `webhook` (kept by the Alertmanager receiver).
    pub source: String,
}

/// One line of a panel.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesView {
    /// The legend label's value (or the whole label set).
    pub label: String,
    /// `[unix milliseconds, value]` pairs.
    pub points: Vec<(i64, f64)>,
}

/// A Prometheus panel from `prometheus.io/rule`, over the last 24 hours.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelView {
    /// The PromQL expression.
    pub query: String,
    /// The lines.
    pub series: Vec<SeriesView>,
    /// Why there is nothing to draw (`bad_data`, a timeout, no data).
    pub error: Option<String>,
}

/// A planned maintenance window.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceView {
    /// Id.
    pub id: i64,
    /// The entity.
    pub entity_ref: String,
    /// One environment, or every one when `null`.
    pub environment: Option<String>,
    /// Start.
    pub starts_at: String,
    /// End.
    pub ends_at: String,
    /// Why.
    pub reason: String,
    /// Who planned it.
    pub created_by: String,
}

/// One entity's health in one environment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentHealth {
    /// Environment.
    pub environment: String,
    /// Whether it counts as production.
    pub production: bool,
    /// The worst state of its checks (`maintenance` inside a window).
    pub state: String,
    /// Since when.
    pub since: Option<String>,
    /// Uptime over 24 h, 7 d, 30 d and 90 d.
    pub uptime: UptimeWindows,
    /// The objective and its error budget.
    pub slo: SloView,
    /// Latency over the last 24 hours.
    pub latency_ms: LatencyView,
    /// The checks.
    pub checks: Vec<CheckView>,
    /// Firing alerts.
    pub alerts: Vec<AlertView>,
    /// Current and coming maintenance windows.
    pub maintenance: Vec<MaintenanceView>,
}

/// `GET /api/v1/health/{kind}/{namespace}/{name}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityHealth {
    /// The entity.
    pub entity_ref: String,
    /// Per environment with checks, in display order.
    pub environments: Vec<EnvironmentHealth>,
    /// Annotations that could not be used, each named.
    pub problems: Vec<String>,
    /// Prometheus panels.
    pub panels: Vec<PanelView>,
    /// Things to know about the figures (Prometheus keeping less than the SLO window, a server not answering).
    pub notices: Vec<String>,
    /// Alerts the Alertmanager receiver kept for the entity, firing and resolved, newest first (at most 20).
    #[serde(default)]
    pub alert_history: Vec<AlertView>,
}

/// One cell of the grid.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridCell {
    /// Environment.
    pub environment: String,
    /// State.
    pub state: String,
    /// Uptime over the grid's window (whole hours for 24 h, whole days beyond).
    pub uptime: Option<f64>,
    /// p95 latency over the last hour (and the current one), in ms.
    pub p95_ms: Option<f64>,
}

/// One row of the grid: an entity with checks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridRow {
    /// The entity.
    pub entity_ref: String,
    /// Its display title.
    pub title: String,
    /// Its owner.
    pub owner: Option<String>,
    /// Its system.
    pub system: Option<String>,
    /// One cell per environment that has checks.
    pub cells: Vec<GridCell>,
}

/// `GET /api/v1/health`: services by environment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthGrid {
    /// The configured environments, in display order.
    pub environments: Vec<String>,
    /// `24h`, `7d`, `30d` or `90d`.
    pub window: String,
    /// Rows, by title.
    pub rows: Vec<GridRow>,
    /// How many cells are in each state.
    pub totals: Vec<(String, i64)>,
}

/// A state change.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateChangeView {
    /// The check.
    pub check_id: i64,
    /// When.
    pub at: String,
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
    /// Why.
    pub reason: Option<String>,
}

/// One period of the history (an hour or a day).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Start of the period.
    pub start: String,
    /// Uptime in it.
    pub uptime: Option<f64>,
    /// Slots up.
    pub up: i64,
    /// Slots degraded.
    pub degraded: i64,
    /// Slots down.
    pub down: i64,
    /// Slots in maintenance.
    pub maintenance: i64,
    /// p95 latency in ms.
    pub p95_ms: Option<f64>,
}

/// `GET /api/v1/health/{kind}/{namespace}/{name}/history`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthHistory {
    /// The entity.
    pub entity_ref: String,
    /// Environment.
    pub environment: String,
    /// From (inclusive).
    pub from: String,
    /// To (exclusive).
    pub to: String,
    /// `hour` or `day`.
    pub step: String,
    /// Uptime over the whole range, exact.
    pub uptime: Option<f64>,
    /// One point per step.
    pub points: Vec<HistoryPoint>,
    /// Every state change in the range.
    pub state_changes: Vec<StateChangeView>,
}

/// `POST /api/v1/health/checks` and `PUT /api/v1/health/checks/{id}`: a check added in the portal.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckInput {
    /// The entity (`component:default/x`, `resource:default/y` or a bare component name).
    pub entity: String,
    /// One of the configured environments.
    pub environment: String,
    /// Short name (letters, digits, `-`, `_`).
    pub name: String,
    /// `http(s)://…` or `tcp://host:port`.
    pub target: String,
    /// Interval such as `30s` (default `60s`).
    #[serde(default)]
    pub interval: Option<String>,
    /// What counts as healthy, as `portolan.dev/health-expect` (`200-399; body=ok; latency<500ms`).
    #[serde(default)]
    pub expect: Option<String>,
    /// Objective in percent (default 99.9).
    #[serde(default)]
    pub slo: Option<f64>,
    /// Whether it is probed (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `POST /api/v1/health/maintenance`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceInput {
    /// The entity.
    pub entity: String,
    /// One environment, or every one when left out.
    #[serde(default)]
    pub environment: Option<String>,
    /// Start (RFC 3339).
    pub starts_at: String,
    /// End (RFC 3339).
    pub ends_at: String,
    /// Why.
    pub reason: String,
}

/// One environment of a service in its live state (a runbook shows it): the state and what is firing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveEnvironment {
    /// Environment.
    pub environment: String,
    /// Whether it is a production environment.
    pub production: bool,
    /// `up`, `degraded`, `down`, `unknown`, `maintenance`.
    pub state: String,
    /// Since when.
    pub since: Option<String>,
    /// Firing and pending alerts.
    pub alerts: Vec<AlertView>,
}

/// A service's live state: its environments with checks or alerts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveEntity {
    /// The entity.
    pub entity_ref: String,
    /// Its environments with checks or alerts.
    pub environments: Vec<LiveEnvironment>,
}
