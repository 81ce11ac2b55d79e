//! Health pages: the grid of services by environment (`/health`) and the health card on a Component's or
//! Resource's page (state per environment, uptime, SLO and error budget, latency, a 90-day uptime strip, checks,
//! maintenance windows and annotation problems).
//!
//! Filters live in the URL and the filter form is a plain GET form, so every view works without JavaScript and
//! can be shared; the uptime strip is SVG drawn on the server. Hydrated, the pages follow the server's stream of
//! state changes (`/api/v1/health/events`) and reload their data when a check changes state.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use portolan_types::Viewer;
use portolan_types::catalog::entity_path;
use portolan_types::deploys::IncidentView;
use portolan_types::health::{
    AlertView, CheckView, EntityHealth, EnvironmentHealth, GridCell, GridRow, HealthGrid, HealthHistory, HistoryPoint,
    MaintenanceView, PanelView,
};
use serde::{Deserialize, Serialize};

use crate::auth::RequireViewer;
use crate::catalog::short_ref;
use crate::error::{AppError, ErrorPage};
use crate::utc;

/// The windows the grid can cover, with how the page names them.
pub const WINDOWS: [(&str, &str); 4] =
    [("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days")];

/// The server's stream of state changes.
pub const EVENTS_URL: &str = "/api/v1/health/events";

/// Filters of the health grid, as in its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthFilter {
    /// `24h` (default), `7d`, `30d` or `90d`.
    pub window: Option<String>,
    /// A team (group name or ref): what it and its sub-teams own.
    pub owner: Option<String>,
    /// A system.
    pub system: Option<String>,
    /// Only what the viewer's user and teams own.
    pub mine: bool,
}

impl HealthFilter {
    /// The `/health?…` URL showing this filter.
    pub fn url(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [("window", &self.window), ("owner", &self.owner), ("system", &self.system)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", portolan_types::encode_query_value(v)));
            }
        }
        if self.mine {
            parts.push("mine=true".to_owned());
        }
        if parts.is_empty() { "/health".to_owned() } else { format!("/health?{}", parts.join("&")) }
    }

    /// Whether anything narrows the grid (the window does not).
    fn narrows(&self) -> bool {
        self.mine || [&self.owner, &self.system].iter().any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }
}

/// Whether a checkbox value from a URL means "on" (`true` from links, `on` from a form without a value).
fn checked(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v, "true" | "on" | "1"))
}

/// What the health page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridData {
    /// The grid (`None` when a filter named nothing known).
    pub grid: Option<HealthGrid>,
    /// Why the grid is empty: a filter that could not be used.
    pub problem: Option<String>,
    /// When the figures were made.
    pub now: String,
}

#[cfg(feature = "ssr")]
fn now_text(now: chrono::DateTime<chrono::Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The entities the viewer's user and teams own (as the API's `mine=true`).
/// Services by environment over a window. JSON-encoded, like the other filter forms' functions.
#[server(prefix = "/fn", endpoint = "health_grid", input = server_fn::codec::Json)]
pub async fn health_overview(filter: HealthFilter) -> Result<GridData, AppError> {
    use portolan_core::health::HealthError;
    use portolan_core::health::query::{self, GridFilter};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let now = chrono::Utc::now();
    let refused = |problem: String| Ok(GridData { grid: None, problem: Some(problem), now: now_text(now) });
    let (window, span) = match query::grid_window(filter.window.as_deref()) {
        Ok(w) => w,
        Err(HealthError::Invalid { reason, .. }) => return refused(format!("Window: {reason}")),
        Err(e) => return Err(crate::ssr::internal("reading the window", e)),
    };
    let mine_of = filter.mine.then_some(viewer.login.as_str());
    let only = match query::grid_scope(&state.db, filter.owner.as_deref(), filter.system.as_deref(), mine_of).await {
        Ok(only) => only,
        Err(HealthError::Invalid { field, reason }) => {
            let label = if field == "owner" { "Owner" } else { "System" };
            return refused(format!("{label}: {reason}"));
        }
        Err(e) => return Err(crate::ssr::internal("resolving a filter", e)),
    };
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let hidden = vis.hidden_refs(&state.db).await.map_err(|e| crate::ssr::internal("loading visibility", e))?;
    let grid =
        query::grid(&state.db, &state.config, &state.grid_cache, &window, span, &GridFilter { only, hidden }, now)
            .await
            .map_err(|e| crate::ssr::internal("building the health grid", e))?;
    Ok(GridData { grid: Some(grid), problem: None, now: now_text(now) })
}

/// What the health card of an entity shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityHealthData {
    /// State, figures, checks and windows per environment, and annotation problems.
    pub health: EntityHealth,
    /// Uptime per day over the last 90 days, one per environment of `health`, in the same order.
    pub history: Vec<HealthHistory>,
    /// p95 latency per hour over the last 24 hours, one line per environment.
    pub latency: PanelView,
    /// The incidents of the last 90 days, newest first.
    pub incidents: Vec<IncidentEntry>,
    /// The start of the incident timeline (90 days ago) and its end (now), Unix milliseconds.
    pub timeline: (i64, i64),
}

/// An incident with its start and end as Unix milliseconds, for the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentEntry {
    /// The incident as the API shows it.
    pub incident: IncidentView,
    /// Start.
    pub start_ms: i64,
    /// End; `None` while it is open.
    pub end_ms: Option<i64>,
}

/// One Component's or Resource's health, with 90 days of daily uptime per environment; `None` when it has no
/// checks and no annotation problems (the card is then left out).
#[server(prefix = "/fn", endpoint = "health_of_entity")]
pub async fn health_of_entity(entity_ref: String) -> Result<Option<EntityHealthData>, AppError> {
    use portolan_core::catalog::model::EntityRef;
    use portolan_core::health::maths::floor_day;
    use portolan_core::health::query;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let Ok(r) = EntityRef::parse(&entity_ref, None, "default") else { return Ok(None) };
    if !matches!(r.kind.as_str(), "component" | "resource") {
        return Ok(None);
    }
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let Some(entity) = portolan_core::catalog::store::find(&state.db, &r)
        .await
        .map_err(|e| crate::ssr::internal("loading an entity", e))?
        .filter(|e| vis.allows(e))
    else {
        return Ok(None);
    };
    let now = chrono::Utc::now();
    let health = query::entity_health(&state.db, &state.config, &entity, now)
        .await
        .map_err(|e| crate::ssr::internal("loading health", e))?;
    if health.environments.is_empty() && health.problems.is_empty() {
        return Ok(None);
    }
    // 90 whole UTC days, today's so far the last: the strip ends with today.
    let from = floor_day(now) - chrono::Duration::days(89);
    let mut history = Vec::with_capacity(health.environments.len());
    for env in &health.environments {
        history.push(
            query::history(&state.db, &state.config, &entity.entity_ref, &env.environment, from, now, now)
                .await
                .map_err(|e| crate::ssr::internal("loading health history", e))?,
        );
    }
    // p95 latency per hour of the last 24 hours, one line per environment; hours without probes are gaps.
    let hour = portolan_core::health::maths::floor_hour(now);
    let mut series = Vec::new();
    for env in &health.environments {
        let h = query::history(
            &state.db,
            &state.config,
            &entity.entity_ref,
            &env.environment,
            hour - chrono::Duration::hours(23),
            now,
            now,
        )
        .await
        .map_err(|e| crate::ssr::internal("loading latency history", e))?;
        let points: Vec<(i64, f64)> = h
            .points
            .iter()
            .filter_map(|p| {
                let t = chrono::DateTime::parse_from_rfc3339(&p.start).ok()?.timestamp_millis();
                Some((t, p.p95_ms?))
            })
            .collect();
        if !points.is_empty() {
            series.push(portolan_types::health::SeriesView { label: env.environment.clone(), points });
        }
    }
    let error = series.is_empty().then(|| "No probe answered in the last 24 hours.".to_owned());
    let latency = PanelView { query: "p95 latency (ms) per hour".to_owned(), series, error };
    let from = now - chrono::Duration::days(90);
    let incidents = portolan_core::deploys::list_incidents(
        &state.db,
        &state.config,
        Some(std::slice::from_ref(&entity.entity_ref)),
        None,
        Some(from),
        None,
        &Default::default(),
    )
    .await
    .map_err(|e| crate::ssr::internal("loading incidents", e))?;
    let ms = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.timestamp_millis());
    let incidents = incidents
        .into_iter()
        .filter_map(|i| {
            let start_ms = ms(&i.started_at)?;
            let end_ms = i.resolved_at.as_deref().and_then(ms);
            Some(IncidentEntry { incident: i, start_ms, end_ms })
        })
        .collect();
    Ok(Some(EntityHealthData {
        health,
        history,
        latency,
        incidents,
        timeline: (from.timestamp_millis(), now.timestamp_millis()),
    }))
}

pub use portolan_types::health::{LiveEntity, LiveEnvironment};

/// The live state of the services a runbook is about (at most ten; those the viewer may see, with checks or
/// alerts): the 3 a.m. page says whether the service is still down without a second tab. Empty for other pages.
#[server(prefix = "/fn", endpoint = "health_runbook_live")]
pub async fn runbook_live(space: String, slug: String) -> Result<Vec<LiveEntity>, AppError> {
    use portolan_core::catalog::model::EntityRef;
    use portolan_core::health::query;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let refs = portolan_core::docs::pages::runbook_entities(&state.db, &space, &slug)
        .await
        .map_err(|e| crate::ssr::internal("loading a runbook", e))?;
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let mut shown = Vec::new();
    for r in refs.iter().take(10) {
        let Ok(parsed) = EntityRef::parse(r, Some("component"), "default") else { continue };
        if !matches!(parsed.kind.as_str(), "component" | "resource") {
            continue;
        }
        if let Some(entity) = portolan_core::catalog::store::find(&state.db, &parsed)
            .await
            .map_err(|e| crate::ssr::internal("loading an entity", e))?
            .filter(|e| vis.allows(e))
        {
            shown.push(entity);
        }
    }
    query::live_states(&state.db, &state.config, &shown, chrono::Utc::now())
        .await
        .map_err(|e| crate::ssr::internal("loading health", e))
}

/// The data behind a runbook's live state, loaded next to the page's own (see [`EntityHealthResource`]).
#[derive(Clone, Copy, Debug)]
pub struct RunbookLiveResource(pub Resource<Result<Vec<LiveEntity>, AppError>>);

impl RunbookLiveResource {
    /// Starts loading for the page at `(space, slug)`.
    pub fn new(key: impl Fn() -> (String, String) + Send + Sync + 'static) -> Self {
        RunbookLiveResource(Resource::new(key, |(space, slug)| runbook_live(space, slug)))
    }
}

/// "Live state" on a runbook: each service it is about, its state per environment and firing alerts, kept
/// current from the state-change stream; nothing when the page is not a runbook or its services have no checks.
#[component]
pub fn RunbookLiveState() -> impl IntoView {
    let data = expect_context::<RunbookLiveResource>().0;
    follow_state_changes(None, move || data.refetch());
    view! {
        <Transition>
            {move || Suspend::new(async move {
                let list = data.await.ok().filter(|l| !l.is_empty())?;
                Some(view! {
                    <section class="card runbook-live" aria-labelledby="runbook-live-title" data-testid="runbook-live">
                        <h2 id="runbook-live-title">"Live state"</h2>
                        {list.into_iter().map(|e| {
                            let href = format!("{}#health", entity_path(&e.entity_ref));
                            view! {
                                <div class="runbook-live-entity" data-entity=e.entity_ref.clone()>
                                    <h3><a href=href>{short_ref(&e.entity_ref)}</a></h3>
                                    <ul class="runbook-live-envs">
                                        {e.environments.into_iter().map(|env| view! {
                                            <li data-environment=env.environment.clone()>
                                                <span class="runbook-live-env">{env.environment.clone()}</span>
                                                {env.production.then(|| view! { " " <span class="badge">"prod"</span> })}
                                                " " <StateBadge state=env.state.clone() />
                                                {env.since.clone().map(|s| view! { " " <span class="muted small">{format!("since {}", utc(&s))}</span> })}
                                                {(!env.alerts.is_empty()).then(|| view! {
                                                    <ul class="health-alerts">
                                                        {env.alerts.into_iter().map(|a| view! { <AlertItem alert=a /> }).collect_view()}
                                                    </ul>
                                                })}
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                </div>
                            }
                        }).collect_view()}
                    </section>
                })
            })}
        </Transition>
    }
}

/// How a state reads on the page; every state has its own word, so colour is never the only sign.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "up" => "Up",
        "degraded" => "Degraded",
        "down" => "Down",
        "maintenance" => "Maintenance",
        _ => "Unknown",
    }
}

fn state_class(state: &str) -> &'static str {
    match state {
        "up" => "health-state health-up",
        "degraded" => "health-state health-degraded",
        "down" => "health-state health-down",
        "maintenance" => "health-state health-maintenance",
        _ => "health-state health-unknown",
    }
}

/// A state as a badge: its word, its colour and a `data-state` for tests and styles.
#[component]
fn StateBadge(state: String) -> impl IntoView {
    let label = state_label(&state);
    view! { <span class=state_class(&state) data-state=state>{label}</span> }
}

/// A ratio as a percentage with two decimals, never rounded up: 99.999% of a month shows as 99.99%, not 100.00%.
pub fn percent(ratio: f64) -> String {
    let hundredths = (ratio * 10_000.0 + 1e-6).floor().clamp(0.0, 10_000.0);
    format!("{:.2}%", hundredths / 100.0)
}

fn percent_or_dash(ratio: Option<f64>) -> String {
    ratio.map(percent).unwrap_or_else(|| "—".to_owned())
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms")).unwrap_or_else(|| "—".to_owned())
}

fn burn(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}×")).unwrap_or_else(|| "—".to_owned())
}

/// An interval in seconds as people read it: `500 ms`, `5 s`, `1 min`.
fn interval(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if seconds < 60.0 || seconds % 60.0 != 0.0 {
        format!("{} s", seconds.round())
    } else if seconds % 3600.0 == 0.0 {
        format!("{} h", seconds / 3600.0)
    } else {
        format!("{} min", seconds / 60.0)
    }
}

fn window_label(window: &str) -> &'static str {
    WINDOWS.iter().find(|(w, _)| *w == window).map_or("Last 24 hours", |(_, l)| *l)
}

/// Opens the server's stream of state changes and calls `reload` (at most every 300 ms) when a check changes
/// state; with `entity`, only for that entity's checks. Browser only. The stream is optional: when it is missing
/// or refused the browser reports an error and the page simply stays as rendered.
#[cfg_attr(not(feature = "hydrate"), expect(unused_variables, reason = "live updates need a browser"))]
fn follow_state_changes(entity: Option<String>, reload: impl Fn() + Clone + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        use leptos::wasm_bindgen::closure::Closure;
        use std::cell::Cell;
        use std::rc::Rc;
        let Ok(source) = web_sys::EventSource::new(EVENTS_URL) else { return };
        let pending = Rc::new(Cell::new(false));
        let on_state = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(want) = &entity {
                let about = ev
                    .data()
                    .as_string()
                    .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                    .and_then(|v| v.get("entity_ref").and_then(|r| r.as_str()).map(str::to_owned));
                if about.as_deref() != Some(want.as_str()) {
                    return;
                }
            }
            // A burst of changes (an outage reaching several checks) reloads once.
            crate::reload_soon(&pending, reload.clone());
        });
        let _ = source.add_event_listener_with_callback("state", on_state.as_ref().unchecked_ref());
        let kept = StoredValue::new_local(Some((source, on_state)));
        on_cleanup(move || {
            if let Some(Some((source, _on_state))) = kept.try_update_value(Option::take) {
                source.close();
            }
        });
    }
}

/// `/health`.
#[component]
pub fn HealthPage() -> impl IntoView {
    view! {
        <Title text="Health" />
        <RequireViewer signed_in=|_: Viewer| view! { <Health /> } />
    }
}

#[component]
fn Health() -> impl IntoView {
    let params = use_query_map();
    let filter = Memo::new(move |_| {
        let m = params.read();
        HealthFilter {
            window: m.get("window"),
            owner: m.get("owner"),
            system: m.get("system"),
            mine: checked(m.get("mine").as_deref()),
        }
    });
    let data = Resource::new(move || filter.get(), health_overview);
    follow_state_changes(None, move || data.refetch());
    let field = move |f: fn(&HealthFilter) -> Option<String>| move || f(&filter.get()).unwrap_or_default();
    view! {
        <div class="page-heading">
            <h1>"Health"</h1>
            <a href="/api/docs" rel="external">"Health API"</a>
        </div>
        <form class="filters card" method="get" action="/health" role="search">
            <label>
                "Window"
                <select name="window">
                    {WINDOWS
                        .into_iter()
                        .map(|(value, label)| {
                            let selected = move || filter.get().window.as_deref().unwrap_or("24h") == value;
                            view! { <option value=value selected=selected>{label}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>"Owner" <input name="owner" value=field(|f| f.owner.clone()) placeholder="payments" /></label>
            <label>"System" <input name="system" value=field(|f| f.system.clone()) placeholder="checkout" /></label>
            <label class="checkbox">
                <input type="checkbox" name="mine" value="true" checked=move || filter.get().mine />
                "Only mine"
            </label>
            <button class="button button-primary" type="submit">"Filter"</button>
            <a class="button button-quiet" href="/health">"Clear"</a>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <GridBody data=d filter=filter.get_untracked() /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn GridBody(data: GridData, filter: HealthFilter) -> impl IntoView {
    let Some(grid) = data.grid else {
        let problem = data.problem.unwrap_or_default();
        return view! { <p class="alert alert-error" role="alert">{problem}</p> }.into_any();
    };
    let scope = if grid.window == "24h" { "whole hours" } else { "whole days" };
    let about = format!(
        "{} ({scope} up to now) · as of {} · states are live, uptime and p95 latency cover the window",
        window_label(&grid.window),
        utc(&data.now)
    );
    view! {
        <p class="muted small">{about}</p>
        <HealthTotals totals=grid.totals.clone() />
        {if grid.rows.is_empty() {
            view! { <EmptyGrid narrowed=filter.narrows() /> }.into_any()
        } else {
            view! { <GridTable grid=grid /> }.into_any()
        }}
    }
    .into_any()
}

/// How many cells are in each state, worst first.
#[component]
fn HealthTotals(totals: Vec<(String, i64)>) -> impl IntoView {
    (!totals.is_empty()).then(|| {
        view! {
            <ul class="health-totals" aria-label="Totals">
                {totals
                    .into_iter()
                    .map(|(state, n)| {
                        let key = state.clone();
                        view! {
                            <li data-state=key>
                                <StateBadge state=state />
                                " "
                                <strong>{n}</strong>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

/// What to do when the grid is empty: declare a check in the catalog file (or add one through the API).
#[component]
fn EmptyGrid(narrowed: bool) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="health-empty-title">
            <h2 id="health-empty-title">
                {if narrowed { "No service with health checks matches" } else { "No health checks yet" }}
            </h2>
            <p>
                "A service appears here once it has a health check. Declare one in its catalog file with the "
                <code>"portolan.dev/health-url"</code>
                " annotation (production), "
                <code>"portolan.dev/health-url.<environment>"</code>
                " for another environment, and optionally an interval; the portal picks it up within 30 seconds of the next import."
            </p>
            <pre class="yaml"><code>
                "metadata:\n  annotations:\n    portolan.dev/health-url: https://payments.example.com/healthz\n    portolan.dev/health-url.staging: https://payments.staging.example.com/healthz\n    portolan.dev/health-interval: 30s\n    portolan.dev/slo: \"99.9\""
            </code></pre>
            <p class="muted small">
                "A target can also be tcp://host:port. Checks for something not described in git are added with POST /api/v1/health/checks; see the API reference."
            </p>
        </section>
    }
}

#[component]
fn GridTable(grid: HealthGrid) -> impl IntoView {
    // Only the environments some service has checks in, in the configured order.
    let envs: Vec<String> = grid
        .environments
        .iter()
        .filter(|e| grid.rows.iter().any(|r| r.cells.iter().any(|c| &c.environment == *e)))
        .cloned()
        .collect();
    let heads = envs.iter().map(|e| view! { <th scope="col">{e.clone()}</th> }).collect_view();
    let rows = grid.rows.into_iter().map(|row| view! { <GridRowView row=row envs=envs.clone() /> }).collect_view();
    view! {
        <table class="table health-grid" aria-label="Services by environment">
            <thead>
                <tr>
                    <th scope="col">"Service"</th>
                    {heads}
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn GridRowView(row: GridRow, envs: Vec<String>) -> impl IntoView {
    let href = entity_path(&row.entity_ref);
    let cells = envs
        .iter()
        .map(|env| match row.cells.iter().find(|c| &c.environment == env) {
            Some(cell) => view! { <GridCellView cell=cell.clone() /> }.into_any(),
            None => view! { <td class="muted" data-environment=env.clone()>"no check"</td> }.into_any(),
        })
        .collect_view();
    view! {
        <tr data-entity=row.entity_ref.clone()>
            <th scope="row">
                <a href=href>{row.title.clone()}</a>
                <div class="muted small">
                    {short_ref(&row.entity_ref)}
                    {row.owner.clone().map(|o| view! { " · " <a href=entity_path(&o)>{short_ref(&o)}</a> })}
                </div>
            </th>
            {cells}
        </tr>
    }
}

#[component]
fn GridCellView(cell: GridCell) -> impl IntoView {
    let uptime = match cell.uptime {
        Some(u) => format!("{} uptime", percent(u)),
        None => "no data yet".to_owned(),
    };
    view! {
        <td data-environment=cell.environment.clone() data-state=cell.state.clone()>
            <StateBadge state=cell.state.clone() />
            <div class="small">{uptime}</div>
            {cell.p95_ms.map(|p| view! { <div class="small muted">{format!("p95 {p:.0} ms")}</div> })}
        </td>
    }
}

/// The data behind the entity page's health card, loaded next to the page's own (a resource made inside an
/// already-suspended view does not hydrate).
#[derive(Clone, Copy, Debug)]
pub struct EntityHealthResource(pub Resource<Result<Option<EntityHealthData>, AppError>>);

impl EntityHealthResource {
    /// Starts loading for the entity the page shows; only Components and Resources have health.
    pub fn new(entity_ref: impl Fn() -> String + Send + Sync + 'static) -> Self {
        EntityHealthResource(Resource::new(entity_ref, |r| async move {
            if r.starts_with("component:") || r.starts_with("resource:") { health_of_entity(r).await } else { Ok(None) }
        }))
    }
}

/// The health card on a Component's or Resource's page; nothing when it has no checks and no annotation problems.
#[component]
pub fn EntityHealthCard(entity_ref: String) -> impl IntoView {
    let data = expect_context::<EntityHealthResource>().0;
    follow_state_changes(Some(entity_ref.clone()), move || data.refetch());
    view! {
        <Transition>
            {move || Suspend::new(async move {
                let d = data.await.ok().flatten()?;
                Some(view! { <HealthCard data=d /> })
            })}
        </Transition>
    }
}

#[component]
fn HealthCard(data: EntityHealthData) -> impl IntoView {
    let entity_ref = data.health.entity_ref.clone();
    // Incidents are recorded per component (the incidents API takes components, teams and systems).
    let incidents = entity_ref
        .starts_with("component:")
        .then(|| format!("/api/v1/incidents?entity={}", portolan_types::encode_query_value(&entity_ref)));
    let problems = data.health.problems.clone();
    let notices = data.health.notices.clone();
    let panels = data.health.panels.clone();
    let alert_history = data.health.alert_history.clone();
    let environments: Vec<String> = data.health.environments.iter().map(|e| e.environment.clone()).collect();
    let latency = data.latency.clone();
    let timeline =
        view! { <IncidentTimeline incidents=data.incidents.clone() span=data.timeline environments=environments /> };
    let envs = data
        .health
        .environments
        .into_iter()
        .zip(data.history.into_iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(env, history)| view! { <EnvironmentSection env=env history=history /> })
        .collect_view();
    view! {
        <section class="card health-card" id="health" aria-labelledby="health-title">
            <div class="page-heading">
                <h2 id="health-title">"Health"</h2>
                <span>
                    <a href="/health">"All services"</a>
                    {incidents.map(|href| view! { " · " <a href=href rel="external">"Incidents (JSON)"</a> })}
                </span>
            </div>
            {(!problems.is_empty()).then(|| view! {
                <div class="alert alert-error health-problems" role="alert">
                    <p>"Some health annotations could not be used; fix them in the catalog file:"</p>
                    <ul>{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                </div>
            })}
            {(!notices.is_empty()).then(|| view! {
                <div class="alert alert-info health-notices" role="status">
                    <ul>{notices.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
                </div>
            })}
            {envs}
            <h3>"Latency, last 24 hours"</h3>
            <PanelChart panel=latency caption="p95 per hour, by environment (ms)".to_owned() />
            {timeline}
            {(!panels.is_empty()).then(|| view! {
                <h3>"Prometheus, last 24 hours"</h3>
                <div class="health-panels">
                    {panels.into_iter().map(|p| view! { <PanelChart panel=p /> }).collect_view()}
                </div>
            })}
            {(!alert_history.is_empty()).then(|| view! {
                <h3>"Alert history"</h3>
                <ul class="health-alerts health-alert-history">
                    {alert_history.into_iter().map(|a| view! { <AlertItem alert=a /> }).collect_view()}
                </ul>
            })}
        </section>
    }
}

/// One alert: name, state, severity, summary, since when (and until when), and its runbook, by title when the
/// runbook is a page of this portal.
#[component]
fn AlertItem(alert: AlertView) -> impl IntoView {
    let a = alert;
    let runbook = a.runbook_url.clone().filter(|u| portolan_types::catalog::is_http_url(u) || u.starts_with('/'));
    let link_text = a.runbook_title.clone().map_or_else(|| "runbook".to_owned(), |t| format!("Runbook: {t}"));
    let state_class = if a.state == "resolved" { "badge" } else { "badge badge-warn" };
    let when = match (&a.since, &a.ended_at) {
        (Some(s), Some(e)) => Some(format!("{} to {}", utc(s), utc(e))),
        (Some(s), None) => Some(format!("since {}", utc(s))),
        _ => None,
    };
    view! {
        <li data-alert=a.name.clone() data-state=a.state.clone()>
            <strong>{a.name.clone()}</strong>
            " " <span class=state_class>{a.state.clone()}</span>
            {a.severity.clone().map(|s| view! { " " <span class="badge">{s}</span> })}
            {a.summary.clone().map(|s| view! { " " {s} })}
            {when.map(|w| view! { " " <span class="muted small">{w}</span> })}
            {runbook.map(|u| view! { " " <a class="runbook-link" href=u rel="noopener noreferrer">{link_text}</a> })}
        </li>
    }
}

/// A panel's lines split where points are missing: a gap longer than one and a half steps breaks the line.
fn panel_segments(points: &[(i64, f64)]) -> Vec<Vec<(i64, f64)>> {
    let step = points.windows(2).map(|w| w[1].0 - w[0].0).filter(|d| *d > 0).min().unwrap_or(i64::MAX);
    let mut out: Vec<Vec<(i64, f64)>> = Vec::new();
    for p in points {
        match out.last_mut() {
            Some(seg) if seg.last().is_some_and(|l| (p.0 - l.0) as f64 <= step as f64 * 1.5) => seg.push(*p),
            _ => out.push(vec![*p]),
        }
    }
    out
}

/// A number for an axis: at most three significant decimals, no trailing zeros.
fn axis_number(v: f64) -> String {
    let text = if v.abs() >= 100.0 { format!("{}", v.round()) } else { format!("{v:.3}") };
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text };
    if text == "-0" { "0".to_owned() } else { text }
}

/// A Prometheus panel (`prometheus.io/rule`) as a line chart drawn on the server, one line per series with its
/// legend; an error or an empty answer is said in words where the chart would be.
#[component]
fn PanelChart(
    panel: PanelView,
    /// Words for the caption instead of the panel's query.
    #[prop(optional)]
    caption: Option<String>,
) -> impl IntoView {
    const W: f64 = 480.0;
    const H: f64 = 160.0;
    const LEFT: f64 = 52.0;
    const RIGHT: f64 = 8.0;
    const TOP: f64 = 10.0;
    const BOTTOM: f64 = 22.0;
    let query = panel.query.clone();
    let code = query.clone();
    let figcaption = move || match caption.clone() {
        Some(c) => view! { <figcaption>{c}</figcaption> }.into_any(),
        None => view! { <figcaption><code>{code.clone()}</code></figcaption> }.into_any(),
    };
    if let Some(error) = panel.error.clone() {
        return view! {
            <figure class="chart health-panel">
                {figcaption()}
                <p class="alert alert-error health-panel-error" role="status">{error}</p>
            </figure>
        }
        .into_any();
    }
    let all: Vec<(i64, f64)> = panel.series.iter().flat_map(|s| s.points.iter().copied()).collect();
    let (t0, t1) = all.iter().fold((i64::MAX, i64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (lo, hi) = all.iter().fold((0.0f64, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let hi = if hi <= lo { lo + 1.0 } else { hi };
    let span = (t1 - t0).max(1) as f64;
    let x = move |t: i64| LEFT + (t - t0) as f64 / span * (W - LEFT - RIGHT);
    let y = move |v: f64| H - BOTTOM - (v - lo) / (hi - lo) * (H - TOP - BOTTOM);
    // Hours and minutes of the UTC day, worked out here because the browser build has no date library.
    let time = |t: i64| {
        let minute = t.div_euclid(60_000).rem_euclid(24 * 60);
        format!("{:02}:{:02} UTC", minute / 60, minute % 60)
    };
    let lines = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let class = format!("panel-line series-{}", i % 6);
            let title = s.label.clone();
            panel_segments(&s.points)
                .into_iter()
                .map(|seg| {
                    let pts =
                        seg.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect::<Vec<_>>().join(" ");
                    if seg.len() == 1 {
                        let (t, v) = seg[0];
                        view! { <circle class=class.clone() cx=format!("{:.1}", x(t)) cy=format!("{:.1}", y(v)) r="2"><title>{title.clone()}</title></circle> }.into_any()
                    } else {
                        view! { <polyline class=class.clone() points=pts><title>{title.clone()}</title></polyline> }.into_any()
                    }
                })
                .collect_view()
        })
        .collect_view();
    let legend = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| view! { <li><span class=format!("swatch series-{}", i % 6)></span>{s.label.clone()}</li> })
        .collect_view();
    let label = format!("{query}: {} series over the last 24 hours", panel.series.len());
    view! {
        <figure class="chart health-panel">
            {figcaption()}
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=label>
                <line class="axis" x1=LEFT y1=H - BOTTOM x2=W - RIGHT y2=H - BOTTOM />
                <line class="axis" x1=LEFT y1=TOP x2=LEFT y2=H - BOTTOM />
                <text class="axis-label" x=LEFT - 4.0 y=TOP + 8.0 text-anchor="end">{axis_number(hi)}</text>
                <text class="axis-label" x=LEFT - 4.0 y=H - BOTTOM text-anchor="end">{axis_number(lo)}</text>
                <text class="axis-label" x=LEFT y=H - 6.0>{time(t0)}</text>
                <text class="axis-label" x=W - RIGHT y=H - 6.0 text-anchor="end">{time(t1)}</text>
                {lines}
            </svg>
            <ul class="panel-legend small">{legend}</ul>
        </figure>
    }
    .into_any()
}

/// The incidents of the last 90 days: a strip per environment with a bar from each incident's start to its end
/// (to now while open), and the list, newest first, with duration, source and the deployment that caused it.
#[component]
fn IncidentTimeline(incidents: Vec<IncidentEntry>, span: (i64, i64), environments: Vec<String>) -> impl IntoView {
    const W: f64 = 480.0;
    const LEFT: f64 = 90.0;
    const ROW: f64 = 16.0;
    const BAR: f64 = 10.0;
    let (t0, t1) = span;
    let width = (t1 - t0).max(1) as f64;
    let x = move |t: i64| LEFT + (t.clamp(t0, t1) - t0) as f64 / width * (W - LEFT);
    // The card's environments in their order, then any other environment an incident names.
    let mut rows = environments;
    for i in &incidents {
        if !rows.contains(&i.incident.environment) {
            rows.push(i.incident.environment.clone());
        }
    }
    let h = ROW * rows.len().max(1) as f64 + 14.0;
    let lanes = rows
        .iter()
        .enumerate()
        .map(|(n, env)| {
            let y = n as f64 * ROW;
            let bars = incidents
                .iter()
                .filter(|i| &i.incident.environment == env)
                .map(|i| {
                    let open = i.end_ms.is_none();
                    let (a, b) = (x(i.start_ms), x(i.end_ms.unwrap_or(t1)));
                    let class = if open { "incident-bar incident-open" } else { "incident-bar" };
                    let tip = format!(
                        "{}: {} ({})",
                        i.incident.title,
                        utc(&i.incident.started_at),
                        if open { "ongoing".to_owned() } else { incident_duration(i) }
                    );
                    view! {
                        <rect class=class x=format!("{a:.1}") y=format!("{:.1}", y + (ROW - BAR) / 2.0)
                            width=format!("{:.1}", (b - a).max(2.0)) height=BAR><title>{tip}</title></rect>
                    }
                })
                .collect_view();
            view! {
                <text class="axis-label" x="0" y=format!("{:.1}", y + ROW - 4.0)>{env.clone()}</text>
                <line class="lane" x1=LEFT y1=y + ROW / 2.0 x2=W y2=y + ROW / 2.0 />
                {bars}
            }
        })
        .collect_view();
    let count = incidents.len();
    let open = incidents.iter().filter(|i| i.end_ms.is_none()).count();
    let label = format!("Incidents over the last 90 days: {count}, {open} open");
    let items = incidents
        .iter()
        .take(20)
        .map(|i| {
            let inc = i.incident.clone();
            let state = if i.end_ms.is_none() {
                view! { <span class="badge badge-error">"open"</span> }.into_any()
            } else {
                view! { <span class="badge">{format!("resolved after {}", incident_duration(i))}</span> }.into_any()
            };
            view! {
                <li data-incident=inc.id data-environment=inc.environment.clone()>
                    <time datetime=inc.started_at.clone()>{utc(&inc.started_at)}</time>
                    " " <span class="badge">{inc.environment.clone()}</span>
                    " " <span class="badge">{inc.severity.clone()}</span>
                    " " <strong>{inc.title.clone()}</strong>
                    " " {state}
                    " " <span class="muted small">{format!("from {}", inc.source)}</span>
                    {inc.deployment.clone().map(|d| view! { " " <span class="muted small">{format!("after deployment {d}")}</span> })}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="health-incidents" aria-labelledby="health-incidents-title">
            <h3 id="health-incidents-title">"Incidents, last 90 days"</h3>
            {if count == 0 {
                view! { <p class="muted">"No incidents in the last 90 days."</p> }.into_any()
            } else {
                view! {
                    <figure class="chart incident-timeline">
                        <svg viewBox=format!("0 0 {W} {h}") role="img" aria-label=label.clone()>
                            {lanes}
                            <text class="axis-label" x=LEFT y=h - 2.0>"90 days ago"</text>
                            <text class="axis-label" x=W y=h - 2.0 text-anchor="end">"now"</text>
                        </svg>
                        <figcaption class="small muted">{label}</figcaption>
                    </figure>
                    <ol class="incident-list">{items}</ol>
                }
                .into_any()
            }}
        </section>
    }
}

/// How long a resolved incident lasted.
fn incident_duration(i: &IncidentEntry) -> String {
    i.end_ms.map(|e| crate::deploys::duration((e - i.start_ms) / 1000)).unwrap_or_default()
}

#[component]
fn EnvironmentSection(env: EnvironmentHealth, history: Option<HealthHistory>) -> impl IntoView {
    let id = format!("health-env-{}", env.environment);
    let labelled_by = id.clone();
    let slo = env.slo.clone();
    let budget = if slo.overspent {
        view! { <span class="health-state health-down">"Overspent"</span> }.into_any()
    } else {
        view! { <span>{format!("{} left", percent(slo.error_budget_remaining))}</span> }.into_any()
    };
    let exhaustion = slo
        .hours_to_exhaustion
        .map(|h| format!(" · spent in {} at the last hour's rate", crate::deploys::duration((h * 3600.0) as i64)));
    let u = env.uptime.clone();
    let uptime = format!(
        "24 h {} · 7 d {} · 30 d {} · 90 d {}",
        percent_or_dash(u.h24),
        percent_or_dash(u.d7),
        percent_or_dash(u.d30),
        percent_or_dash(u.d90)
    );
    let l = env.latency_ms.clone();
    let latency = format!("p50 {} · p95 {} · p99 {}", ms(l.p50), ms(l.p95), ms(l.p99));
    let objective =
        format!("{} over {} days (uptime {})", percent(slo.objective), slo.window_days, percent_or_dash(slo.uptime));
    let burns = format!("1 h {} · 6 h {}", burn(slo.burn_rate_1h), burn(slo.burn_rate_6h));
    view! {
        <section class="health-env" aria-labelledby=labelled_by data-environment=env.environment.clone()>
            <h3 id=id>
                {env.environment.clone()}
                {env.production.then(|| view! { " " <span class="badge">"prod"</span> })}
                " "
                <StateBadge state=env.state.clone() />
                {env.since.clone().map(|s| view! { " " <span class="muted small">"since " <time datetime=s.clone()>{utc(&s)}</time></span> })}
            </h3>
            <dl class="facts">
                <dt>"Uptime"</dt><dd>{uptime}</dd>
                <dt>"SLO objective"</dt><dd>{objective}</dd>
                <dt>"Error budget"</dt><dd>{budget}{exhaustion}</dd>
                <dt>"Burn rate"</dt><dd>{burns}</dd>
                <dt>"Latency (24 h)"</dt><dd>{latency}</dd>
            </dl>
            {(!slo.burn_alerts.is_empty()).then(|| view! {
                <div class="alert alert-error" role="alert">
                    <strong>"Burn-rate alerts firing"</strong>
                    <ul>
                        {slo.burn_alerts.iter().map(|a| view! {
                            <li>
                                <span class="badge badge-error">{a.severity.clone()}</span>
                                " "
                                {format!("{}: {:.2}× over the long window, {:.2}× over the short one", a.rule, a.long_burn, a.short_burn)}
                            </li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            {(!env.alerts.is_empty()).then(|| view! {
                <h4>"Alerts"</h4>
                <ul class="health-alerts">
                    {env.alerts.iter().map(|a| view! { <AlertItem alert=a.clone() /> }).collect_view()}
                </ul>
            })}
            {history.map(|h| view! { <UptimeStrip history=h objective=slo.objective /> })}
            {(!env.checks.is_empty()).then(|| view! { <ChecksTable checks=env.checks.clone() /> })}
            {(!env.maintenance.is_empty()).then(|| view! { <MaintenanceList windows=env.maintenance.clone() /> })}
        </section>
    }
}

/// The class of one day's bar: no data (grey), maintenance only, meeting the objective, or below it.
fn day_class(p: &HistoryPoint, objective: f64) -> &'static str {
    match p.uptime {
        None if p.maintenance > 0 => "day day-maintenance",
        None => "day day-none",
        Some(u) if u + 1e-9 >= objective => "day day-ok",
        Some(u) if u >= 0.95 => "day day-degraded",
        Some(_) => "day day-down",
    }
}

fn day_title(p: &HistoryPoint) -> String {
    let day = p.start.get(..10).unwrap_or(&p.start);
    match p.uptime {
        Some(u) if p.down > 0 => {
            format!("{day}: {} uptime, {} failed probe{}", percent(u), p.down, if p.down == 1 { "" } else { "s" })
        }
        Some(u) => format!("{day}: {} uptime", percent(u)),
        None if p.maintenance > 0 => format!("{day}: maintenance"),
        None => format!("{day}: no data"),
    }
}

/// One bar per UTC day, drawn on the server like a public status page; each bar's tooltip gives its date and
/// uptime.
#[component]
fn UptimeStrip(history: HealthHistory, objective: f64) -> impl IntoView {
    const BAR: f64 = 4.0;
    const GAP: f64 = 1.0;
    const H: f64 = 28.0;
    let n = history.points.len();
    let width = (n.max(1) as f64) * (BAR + GAP) - GAP;
    let label = format!(
        "Uptime per day in {}, last {n} days: {}",
        history.environment,
        history.uptime.map(|u| format!("{} overall", percent(u))).unwrap_or_else(|| "no data".to_owned())
    );
    let bars = history
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            view! {
                <rect class=day_class(p, objective) x=format!("{:.0}", i as f64 * (BAR + GAP)) y="0" width=BAR height=H rx="1">
                    <title>{day_title(p)}</title>
                </rect>
            }
        })
        .collect_view();
    let first = history.points.first().map(|p| p.start.get(..10).unwrap_or(&p.start).to_owned()).unwrap_or_default();
    let overall = history
        .uptime
        .map(|u| format!("{} uptime over {n} days", percent(u)))
        .unwrap_or_else(|| "No data yet".to_owned());
    view! {
        <figure class="uptime-strip">
            <svg viewBox=format!("0 0 {width:.0} {H:.0}") preserveAspectRatio="none" role="img" aria-label=label>
                {bars}
            </svg>
            <figcaption class="uptime-strip-scale muted small">
                <span>{first}</span>
                <span>{overall}</span>
                <span>"today (UTC)"</span>
            </figcaption>
        </figure>
    }
}

fn expectation(c: &CheckView) -> String {
    if c.target.starts_with("tcp://") {
        return "connects".to_owned();
    }
    let mut parts = vec![format!("status {}", c.expect_status)];
    if let Some(body) = &c.expect_body {
        parts.push(format!("body contains \u{201c}{body}\u{201d}"));
    }
    if let Some(limit) = c.degraded_ms {
        parts.push(format!("degraded above {limit} ms"));
    }
    parts.join("; ")
}

#[component]
fn ChecksTable(checks: Vec<CheckView>) -> impl IntoView {
    view! {
        <table class="table health-checks">
            <thead>
                <tr>
                    <th scope="col">"Check"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Probe"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Last probe (UTC)"</th>
                    <th scope="col">"Last error"</th>
                    <th scope="col">"Source"</th>
                </tr>
            </thead>
            <tbody>
                {checks.into_iter().map(|c| {
                    let source = if c.source == "annotation" {
                        "declared in the catalog file: edit in repository"
                    } else {
                        "added in the portal"
                    };
                    let last = c.last_checked_at.as_deref().map(|t| {
                        let mut text = utc(t);
                        if let Some(l) = c.last_latency_ms {
                            text.push_str(&format!(" · {l} ms"));
                        }
                        if let Some(s) = c.last_status_code {
                            text.push_str(&format!(" · HTTP {s}"));
                        }
                        text
                    });
                    view! {
                        <tr data-check=c.id.to_string() data-state=c.state.clone()>
                            <td>{c.name.clone()} {(!c.enabled).then(|| view! { " " <span class="badge">"paused"</span> })}</td>
                            <td><code class="health-target">{c.target.clone()}</code></td>
                            <td class="small">{format!("every {}; {}", interval(c.interval_seconds), expectation(&c))}</td>
                            <td>
                                <StateBadge state=c.state.clone() />
                                <div class="muted small">"since " {utc(&c.since)}</div>
                            </td>
                            <td class="small">{last.unwrap_or_else(|| "not probed yet".to_owned())}</td>
                            <td class="small health-error">{c.last_error.clone().unwrap_or_default()}</td>
                            <td class="small">{source}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn MaintenanceList(windows: Vec<MaintenanceView>) -> impl IntoView {
    view! {
        <h4>"Maintenance windows"</h4>
        <ul class="health-maintenance">
            {windows.into_iter().map(|w| view! {
                <li>
                    <StateBadge state="maintenance".to_owned() />
                    " "
                    {format!(
                        "{} to {} ({}): {} · planned by {}",
                        utc(&w.starts_at),
                        utc(&w.ends_at),
                        w.environment.clone().unwrap_or_else(|| "every environment".to_owned()),
                        w.reason,
                        w.created_by
                    )}
                </li>
            }).collect_view()}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_have_two_decimals_and_never_round_up_to_a_perfect_score() {
        assert_eq!(percent(1.0), "100.00%");
        assert_eq!(percent(0.99999), "99.99%");
        assert_eq!(percent(0.9995), "99.95%");
        assert_eq!(percent(0.5), "50.00%");
        assert_eq!(percent(0.0), "0.00%");
        assert_eq!(percent_or_dash(None), "—");
    }

    #[test]
    fn filter_urls_keep_only_what_is_set() {
        let f = HealthFilter {
            window: Some("7d".into()),
            owner: Some("pay ments".into()),
            mine: true,
            ..Default::default()
        };
        assert_eq!(f.url(), "/health?window=7d&owner=pay%20ments&mine=true");
        assert_eq!(HealthFilter::default().url(), "/health");
        assert!(f.narrows());
        assert!(!HealthFilter { window: Some("30d".into()), ..Default::default() }.narrows());
        assert!(checked(Some("on")) && checked(Some("true")) && !checked(Some("")) && !checked(None));
    }

    #[test]
    fn every_state_has_its_own_word() {
        let words: Vec<&str> = ["up", "degraded", "down", "unknown", "maintenance"].map(state_label).to_vec();
        assert_eq!(words, ["Up", "Degraded", "Down", "Unknown", "Maintenance"]);
        assert_eq!(state_label("something new"), "Unknown");
    }

    #[test]
    fn days_without_data_are_grey_and_each_bar_says_its_date() {
        let p = |uptime: Option<f64>, down: i64, maintenance: i64| HistoryPoint {
            start: "2026-12-01T00:00:00Z".into(),
            uptime,
            up: 10,
            degraded: 0,
            down,
            maintenance,
            p95_ms: None,
        };
        assert_eq!(day_class(&p(None, 0, 0), 0.999), "day day-none");
        assert_eq!(day_class(&p(None, 0, 5), 0.999), "day day-maintenance");
        assert_eq!(day_class(&p(Some(1.0), 0, 0), 0.999), "day day-ok");
        assert_eq!(day_class(&p(Some(0.99), 1, 0), 0.999), "day day-degraded");
        assert_eq!(day_class(&p(Some(0.5), 10, 0), 0.999), "day day-down");
        assert_eq!(day_title(&p(None, 0, 0)), "2026-12-01: no data");
        assert_eq!(day_title(&p(Some(0.99), 1, 0)), "2026-12-01: 99.00% uptime, 1 failed probe");
    }

    #[cfg(feature = "ssr")]
    fn sample(target: &str, problems: Vec<String>) -> EntityHealthData {
        use portolan_types::health::{LatencyView, SloView, UptimeWindows};
        let check = CheckView {
            id: 7,
            entity_ref: "component:default/payments-api".into(),
            environment: "production".into(),
            name: "health-url".into(),
            source: "annotation".into(),
            target: target.into(),
            interval_seconds: 30.0,
            expect_status: "200-399".into(),
            expect_body: None,
            degraded_ms: None,
            slo: 99.9,
            enabled: true,
            state: "down".into(),
            since: "2026-12-01T10:00:00Z".into(),
            last_checked_at: Some("2026-12-01T10:05:00Z".into()),
            last_latency_ms: Some(12),
            last_status_code: Some(503),
            last_error: Some("status 503 <b>overloaded</b>".into()),
            tls_expires_at: None,
        };
        let env = EnvironmentHealth {
            environment: "production".into(),
            production: true,
            state: "down".into(),
            since: Some("2026-12-01T10:00:00Z".into()),
            uptime: UptimeWindows { h24: Some(0.99), d7: Some(0.999), d30: None, d90: None },
            slo: SloView { objective: 0.999, window_days: 30, overspent: true, ..Default::default() },
            latency_ms: LatencyView { p50: Some(4.0), p95: Some(9.0), p99: None },
            checks: vec![check],
            alerts: Vec::new(),
            maintenance: Vec::new(),
        };
        let day = |start: &str, uptime: Option<f64>| HistoryPoint {
            start: start.into(),
            uptime,
            up: 1,
            degraded: 0,
            down: 0,
            maintenance: 0,
            p95_ms: None,
        };
        let history = HealthHistory {
            entity_ref: "component:default/payments-api".into(),
            environment: "production".into(),
            from: "2026-11-30T00:00:00Z".into(),
            to: "2026-12-01T12:00:00Z".into(),
            step: "day".into(),
            uptime: Some(0.995),
            points: vec![day("2026-11-30T00:00:00Z", None), day("2026-12-01T00:00:00Z", Some(0.99))],
            state_changes: Vec::new(),
        };
        let health = EntityHealth {
            entity_ref: "component:default/payments-api".into(),
            environments: vec![env],
            problems,
            panels: Vec::new(),
            notices: Vec::new(),
            alert_history: Vec::new(),
        };
        EntityHealthData {
            health,
            history: vec![history],
            latency: PanelView {
                query: "p95 latency (ms) per hour".into(),
                series: Vec::new(),
                error: Some("No probe answered in the last 24 hours.".into()),
            },
            incidents: Vec::new(),
            timeline: (0, 90 * 86_400_000),
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_card_shows_states_in_words_problems_and_escaped_user_text() {
        let problems = vec!["portolan.dev/health-url.qa: `qa` is not a configured environment <i>".to_owned()];
        let html = view! { <HealthCard data=sample("https://x.example/<script>", problems) /> }.to_html();
        assert!(html.contains(">Down<"), "{html}");
        assert!(html.contains(">Overspent<"), "{html}");
        assert!(html.contains("24 h 99.00% · 7 d 99.90% · 30 d — · 90 d —"), "{html}");
        assert!(html.contains("`qa` is not a configured environment &lt;i&gt;"), "{html}");
        assert!(html.contains("https://x.example/&lt;script&gt;"), "{html}");
        assert!(html.contains("status 503 &lt;b&gt;overloaded&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<script>") && !html.contains("<b>"), "{html}");
        assert!(html.contains("declared in the catalog file: edit in repository"), "{html}");
        assert!(html.contains("<title>2026-11-30: no data</title>"), "{html}");
        assert!(html.contains("<title>2026-12-01: 99.00% uptime</title>"), "{html}");
        assert!(html.contains("href=\"/api/v1/incidents?entity=component%3Adefault%2Fpayments-api\""), "{html}");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn panels_notices_and_alerts_are_drawn_with_their_runbooks() {
        use portolan_types::health::SeriesView;
        let mut d = sample("https://x.example/health", Vec::new());
        let points = vec![(0, 1.0), (300_000, 2.0), (600_000, 1.5), (1_800_000, 3.0)];
        d.health.panels = vec![
            PanelView {
                query: "rate(http_requests_total[5m])".into(),
                series: vec![SeriesView { label: "api <1>".into(), points }],
                error: None,
            },
            PanelView { query: "up".into(), series: Vec::new(), error: Some("bad_data: parse error".into()) },
        ];
        d.health.notices = vec!["Prometheus keeps 15 days of data".into()];
        let alert = AlertView {
            name: "PaymentsDown".into(),
            state: "firing".into(),
            severity: Some("critical".into()),
            runbook_url: Some("/docs/runbooks/payments-down".into()),
            runbook_title: Some("Payments <down>".into()),
            summary: None,
            since: Some("2026-12-01T10:00:00Z".into()),
            ended_at: None,
            source: "webhook".into(),
        };
        d.health.environments[0].alerts = vec![alert.clone()];
        d.health.alert_history =
            vec![AlertView { state: "resolved".into(), ended_at: Some("2026-12-01T10:20:00Z".into()), ..alert }];
        let html = view! { <HealthCard data=d /> }.to_html();
        assert!(html.contains("Runbook: Payments &lt;down&gt;"), "{html}");
        assert_eq!(html.matches("href=\"/docs/runbooks/payments-down\"").count(), 2, "{html}");
        assert_eq!(html.matches("<polyline").count(), 1, "a 20-minute gap breaks the line: {html}");
        assert_eq!(html.matches("<circle ").count(), 1, "the point after the gap: {html}");
        assert!(html.contains("r=\"2\" class=\"panel-line series-0\""), "the point after the gap: {html}");
        assert!(html.contains("api &lt;1&gt;") && !html.contains("api <1>"), "{html}");
        assert!(html.contains("00:30 UTC"), "the time axis ends at the last point: {html}");
        assert!(html.contains(">bad_data: parse error<"), "{html}");
        assert!(html.contains("Prometheus keeps 15 days of data"), "{html}");
        assert!(html.contains("Alert history"), "{html}");
        assert!(html.contains("data-state=\"resolved\""), "{html}");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn latency_is_charted_and_incidents_lie_on_a_90_day_timeline() {
        use portolan_types::health::SeriesView;
        let mut d = sample("https://x.example/health", Vec::new());
        let html = view! { <HealthCard data=d.clone() /> }.to_html();
        assert!(html.contains("No probe answered in the last 24 hours."), "{html}");
        assert!(html.contains("No incidents in the last 90 days."), "{html}");
        d.latency.error = None;
        d.latency.series = vec![SeriesView { label: "production".into(), points: vec![(0, 40.0), (3_600_000, 95.0)] }];
        let day = 86_400_000;
        let incident = |id: i64, env: &str, title: &str, start: i64, end: Option<i64>| IncidentEntry {
            incident: IncidentView {
                id,
                component: "component:default/payments-api".into(),
                environment: env.into(),
                title: title.into(),
                severity: "critical".into(),
                started_at: "2026-11-20T10:00:00Z".into(),
                resolved_at: end.map(|_| "2026-11-20T10:45:00Z".into()),
                external_id: format!("x-{id}"),
                deployment: None,
                source: "health".into(),
            },
            start_ms: start,
            end_ms: end,
        };
        d.incidents = vec![
            incident(2, "staging", "Still <broken>", 89 * day, None),
            incident(1, "production", "Payments down", 45 * day, Some(45 * day + 2_700_000)),
        ];
        let html = view! { <HealthCard data=d /> }.to_html();
        assert_eq!(html.matches("<polyline").count(), 1, "{html}");
        assert!(html.contains("p95 per hour, by environment (ms)"), "{html}");
        assert!(html.contains("Incidents over the last 90 days: 2, 1 open"), "{html}");
        // production is the card's lane; staging, named only by an incident, gets a lane below it.
        assert!(html.contains(">production</text>") && html.contains(">staging</text>"), "{html}");
        assert_eq!(html.matches("class=\"incident-bar").count(), 2, "{html}");
        // The open incident started a day before the end and lasts until now.
        assert!(
            html.contains(
                "<rect x=\"475.7\" y=\"19.0\" width=\"4.3\" height=\"10\" class=\"incident-bar incident-open\">"
            ),
            "{html}"
        );
        assert!(html.contains("resolved after 45 min"), "{html}");
        assert!(html.contains("Still &lt;broken&gt;") && !html.contains("Still <broken>"), "{html}");
        let list = &html[html.find("incident-list").expect("the list")..];
        assert!(list.find("Still &lt;broken&gt;") < list.find("Payments down"), "newest first: {html}");
    }

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(axis_number(3.0), "3");
        assert_eq!(axis_number(0.12345), "0.123");
        assert_eq!(axis_number(1234.5), "1235");
        assert_eq!(axis_number(-0.0001), "0");
    }

    #[test]
    fn intervals_read_like_people_say_them() {
        assert_eq!(interval(0.5), "500 ms");
        assert_eq!(interval(5.0), "5 s");
        assert_eq!(interval(90.0), "90 s");
        assert_eq!(interval(60.0), "1 min");
        assert_eq!(interval(3600.0), "1 h");
    }
}
