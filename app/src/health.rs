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
use portolan_types::health::{
    CheckView, EntityHealth, EnvironmentHealth, GridCell, GridRow, HealthGrid, HealthHistory, HistoryPoint,
    MaintenanceView,
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
fn with_kind(text: &str, kind: &str) -> String {
    if text.contains(':') { text.to_owned() } else { format!("{kind}:{text}") }
}

#[cfg(feature = "ssr")]
fn now_text(now: chrono::DateTime<chrono::Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The entities the viewer's user and teams own (as the API's `mine=true`).
#[cfg(feature = "ssr")]
async fn owned_by_viewer(
    state: &portolan_core::AppState,
    viewer: &Viewer,
) -> Result<std::collections::HashSet<String>, AppError> {
    use portolan_core::catalog::store;
    let person = portolan_core::auth::person(&state.db, &viewer.login)
        .await
        .map_err(|e| crate::ssr::internal("loading ownership", e))?;
    let slugs: Vec<String> = person.map(|p| p.teams.into_iter().map(|t| t.slug).collect()).unwrap_or_default();
    let owners = store::owners_for(&state.db, &viewer.login, &slugs)
        .await
        .map_err(|e| crate::ssr::internal("loading ownership", e))?;
    let mut out = std::collections::HashSet::new();
    for o in owners {
        if let Ok(Some(found)) = portolan_core::deploys::scope_components(&state.db, &o).await {
            out.extend(found);
        }
    }
    Ok(out)
}

/// Services by environment over a window. JSON-encoded, like the other filter forms' functions.
#[server(prefix = "/fn", endpoint = "health_grid", input = server_fn::codec::Json)]
pub async fn health_overview(filter: HealthFilter) -> Result<GridData, AppError> {
    use portolan_core::deploys::{DeployError, scope_components};
    use portolan_core::health::HealthError;
    use portolan_core::health::query::{self, GridFilter};
    use std::collections::HashSet;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let now = chrono::Utc::now();
    let refused = |problem: String| Ok(GridData { grid: None, problem: Some(problem), now: now_text(now) });
    let (window, span) = match query::grid_window(filter.window.as_deref()) {
        Ok(w) => w,
        Err(HealthError::Invalid { reason, .. }) => return refused(format!("Window: {reason}")),
        Err(e) => return Err(crate::ssr::internal("reading the window", e)),
    };
    let mut only: Option<HashSet<String>> = None;
    for (text, kind, label) in [(&filter.owner, "group", "Owner"), (&filter.system, "system", "System")] {
        let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else { continue };
        let found: HashSet<String> = match scope_components(&state.db, &with_kind(text, kind)).await {
            Ok(found) => found.unwrap_or_default().into_iter().collect(),
            Err(DeployError::Invalid { reason, .. }) => return refused(format!("{label}: {reason}")),
            Err(e) => return Err(crate::ssr::internal("resolving a filter", e)),
        };
        only = Some(match only {
            None => found,
            Some(prev) => prev.intersection(&found).cloned().collect(),
        });
    }
    if filter.mine {
        let mine = owned_by_viewer(&state, &viewer).await?;
        only = Some(match only {
            None => mine,
            Some(prev) => prev.intersection(&mine).cloned().collect(),
        });
    }
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let hidden = vis.hidden_refs(&state.db).await.map_err(|e| crate::ssr::internal("loading visibility", e))?;
    let grid = query::grid(&state.db, &state.config, &window, span, &GridFilter { only, hidden }, now)
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
    Ok(Some(EntityHealthData { health, history }))
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
            if pending.replace(true) {
                return;
            }
            let (pending, reload) = (pending.clone(), reload.clone());
            set_timeout(
                move || {
                    pending.set(false);
                    reload();
                },
                std::time::Duration::from_millis(300),
            );
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
            {envs}
        </section>
    }
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
                <ul>
                    {env.alerts.iter().map(|a| {
                        let runbook = a.runbook_url.clone().filter(|u| portolan_types::catalog::is_http_url(u) || u.starts_with('/'));
                        view! {
                            <li>
                                <strong>{a.name.clone()}</strong>
                                " " <span class="badge badge-warn">{a.state.clone()}</span>
                                {a.severity.clone().map(|s| view! { " " <span class="badge">{s}</span> })}
                                {a.summary.clone().map(|s| view! { " " {s} })}
                                {a.since.clone().map(|s| view! { " " <span class="muted small">{format!("since {}", utc(&s))}</span> })}
                                {runbook.map(|u| view! { " " <a href=u rel="noopener noreferrer">"runbook"</a> })}
                            </li>
                        }
                    }).collect_view()}
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
        };
        EntityHealthData { health, history: vec![history] }
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

    #[test]
    fn intervals_read_like_people_say_them() {
        assert_eq!(interval(0.5), "500 ms");
        assert_eq!(interval(5.0), "5 s");
        assert_eq!(interval(90.0), "90 s");
        assert_eq!(interval(60.0), "1 min");
        assert_eq!(interval(3600.0), "1 h");
    }
}
