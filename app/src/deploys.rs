//! Deploy pages: the organisation's deploy timeline with "what runs where", a service's deploys with the commits
//! each brought, and the DORA four keys with their trends, drill-downs and an explanation of every figure.
//!
//! Filters live in the URL and forms are plain GET forms, so every view works without JavaScript and can be
//! shared. Charts are SVG drawn on the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use portolan_types::Viewer;
use portolan_types::catalog::entity_path;
use portolan_types::deploys::{
    DEPLOYMENT_STATUSES, DeploymentPage, DeploymentView, DoraDetails, DoraReport, Environment, RunsWhere,
};
use serde::{Deserialize, Serialize};

use crate::auth::RequireViewer;
use crate::catalog::short_ref;
use crate::error::{AppError, ErrorPage};
use crate::utc;

/// Filters of the deploys page, as in its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploysFilter {
    /// A team (group name or ref).
    pub team: Option<String>,
    /// A system.
    pub system: Option<String>,
    /// A component.
    pub component: Option<String>,
    /// An environment.
    pub environment: Option<String>,
    /// A status.
    pub status: Option<String>,
    /// Where the previous page stopped.
    pub cursor: Option<String>,
}

impl DeploysFilter {
    fn url(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("team", &self.team),
            ("system", &self.system),
            ("component", &self.component),
            ("environment", &self.environment),
            ("status", &self.status),
            ("cursor", &self.cursor),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", portolan_types::encode_query_value(v)));
            }
        }
        if parts.is_empty() { "/deploys".to_owned() } else { format!("/deploys?{}", parts.join("&")) }
    }
}

/// What the deploys page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploysData {
    /// The environments.
    pub environments: Vec<Environment>,
    /// A page of the timeline.
    pub page: DeploymentPage,
    /// What runs where (first page only).
    pub matrix: Option<RunsWhere>,
    /// The time the page was made (ages are counted from it).
    pub now: String,
    /// A filter that named nothing known.
    pub problem: Option<String>,
}

#[cfg(feature = "ssr")]
fn with_kind(text: &str, kind: &str) -> String {
    if text.contains(':') { text.to_owned() } else { format!("{kind}:{text}") }
}

/// The components a team, system or component filter covers (`None`: all).
#[cfg(feature = "ssr")]
async fn components_for(
    state: &portolan_core::AppState,
    filter: &DeploysFilter,
) -> Result<Result<Option<Vec<String>>, String>, AppError> {
    use portolan_core::deploys::{DeployError, scope_components};
    let mut out: Option<Vec<String>> = None;
    for (text, kind) in [(&filter.component, "component"), (&filter.team, "group"), (&filter.system, "system")] {
        let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else { continue };
        let found = match scope_components(&state.db, &with_kind(text, kind)).await {
            Ok(found) => found.unwrap_or_default(),
            Err(DeployError::Invalid { reason, .. }) => return Ok(Err(reason)),
            Err(e) => return Err(crate::ssr::internal("resolving a filter", e)),
        };
        out = Some(match out {
            None => found,
            Some(prev) => prev.into_iter().filter(|c| found.contains(c)).collect(),
        });
    }
    Ok(Ok(out))
}

/// The deploys timeline and the "what runs where" matrix.
#[server(prefix = "/fn", endpoint = "deploys_overview", input = server_fn::codec::Json)]
pub async fn deploys_overview(filter: DeploysFilter) -> Result<DeploysData, AppError> {
    use portolan_core::deploys;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let hidden = vis.hidden_refs(&state.db).await.map_err(|e| crate::ssr::internal("loading visibility", e))?;
    let environments = deploys::environment_list(&state.config);
    let now = deploys::rfc3339(chrono::Utc::now());
    let empty = DeploymentPage { items: Vec::new(), next_cursor: None };
    let components = match components_for(&state, &filter).await? {
        Ok(c) => c,
        Err(problem) => {
            return Ok(DeploysData { environments, page: empty, matrix: None, now, problem: Some(problem) });
        }
    };
    let query = deploys::DeploymentQuery {
        components: components.clone(),
        environment: filter.environment.clone().filter(|e| !e.is_empty()),
        status: filter.status.clone().filter(|s| !s.is_empty()),
        limit: Some(50),
        cursor: filter.cursor.clone().filter(|c| !c.is_empty()),
        ..Default::default()
    };
    let page = match deploys::list_deployments(&state.db, &state.config, &query, &hidden).await {
        Ok(p) => p,
        Err(deploys::DeployError::Invalid { field, reason }) => {
            return Ok(DeploysData {
                environments,
                page: empty,
                matrix: None,
                now,
                problem: Some(format!("{field}: {reason}")),
            });
        }
        Err(e) => return Err(crate::ssr::internal("listing deployments", e)),
    };
    let matrix = if filter.cursor.as_deref().unwrap_or_default().is_empty() {
        Some(
            deploys::runs_where(&state.db, &state.config, components.as_deref(), &hidden, 200)
                .await
                .map_err(|e| crate::ssr::internal("loading what runs where", e))?,
        )
    } else {
        None
    };
    Ok(DeploysData { environments, page, matrix, now, problem: None })
}

/// A component's latest deployments with their changes.
#[server(prefix = "/fn", endpoint = "deploys_for_entity")]
pub async fn deploys_of_entity(entity_ref: String) -> Result<DeploymentPage, AppError> {
    use portolan_core::deploys;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    if !entity_ref.starts_with("component:") {
        return Ok(DeploymentPage { items: Vec::new(), next_cursor: None });
    }
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let hidden = vis.hidden_refs(&state.db).await.map_err(|e| crate::ssr::internal("loading visibility", e))?;
    let query = deploys::DeploymentQuery {
        components: Some(vec![entity_ref]),
        limit: Some(20),
        changes: true,
        ..Default::default()
    };
    deploys::list_deployments(&state.db, &state.config, &query, &hidden)
        .await
        .map_err(|e| crate::ssr::internal("listing deployments", e))
}

/// Parameters of the DORA page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoraQuery {
    /// `all` or an entity ref (a bare name is a team).
    pub scope: Option<String>,
    /// `production` or an environment.
    pub environment: Option<String>,
    /// Period in days, ending now.
    pub days: Option<i64>,
    /// Band table year.
    pub year: Option<i32>,
    /// Which figure to drill into: `frequency`, `lead-time`, `failures`, `recovery`.
    pub drill: Option<String>,
}

impl DoraQuery {
    fn url(&self, drill: Option<&str>) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.scope.as_deref().filter(|s| !s.is_empty()) {
            parts.push(format!("scope={}", portolan_types::encode_query_value(s)));
        }
        if let Some(e) = self.environment.as_deref().filter(|e| !e.is_empty()) {
            parts.push(format!("environment={}", portolan_types::encode_query_value(e)));
        }
        if let Some(d) = self.days {
            parts.push(format!("days={d}"));
        }
        if let Some(y) = self.year {
            parts.push(format!("year={y}"));
        }
        if let Some(d) = drill {
            parts.push(format!("drill={d}"));
        }
        let q = if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) };
        format!("/dora{q}{}", if drill.is_some() { "#drill-down" } else { "" })
    }
}

/// The DORA page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoraData {
    /// The figures.
    pub report: DoraReport,
    /// What is behind them.
    pub details: DoraDetails,
    /// The environments to choose from.
    pub environments: Vec<Environment>,
}

/// The four keys for a scope over the last `days` days.
#[server(prefix = "/fn", endpoint = "dora_view", input = server_fn::codec::Json)]
pub async fn dora_view(query: DoraQuery) -> Result<DoraData, AppError> {
    use portolan_core::deploys;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let hidden = vis.hidden_refs(&state.db).await.map_err(|e| crate::ssr::internal("loading visibility", e))?;
    let days = query.days.unwrap_or(90).clamp(7, 730);
    let to = chrono::Utc::now();
    let from = to - chrono::Duration::days(days);
    let scope = match query.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => "all".to_owned(),
        Some(s) if s.eq_ignore_ascii_case("all") => "all".to_owned(),
        Some(s) => with_kind(s, "group"),
    };
    let request = deploys::DoraRequest {
        scope: &scope,
        environment: query.environment.as_deref().unwrap_or("production"),
        from,
        to,
        bands_year: query.year,
        details: true,
    };
    match deploys::dora_report(&state.db, &state.config, &request, &hidden).await {
        Ok((report, details)) => {
            Ok(DoraData { report, details, environments: deploys::environment_list(&state.config) })
        }
        Err(deploys::DeployError::Invalid { field, reason }) => Err(AppError::Invalid(format!("{field}: {reason}"))),
        Err(e) => Err(crate::ssr::internal("computing the DORA figures", e)),
    }
}

/// One row of the band table on the explanation page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandRow {
    /// Report year.
    pub year: i32,
    /// `elite`, `high`, `medium`.
    pub band: String,
    /// The limits, as people read them.
    pub frequency: String,
    /// Lead time limit.
    pub lead_time: String,
    /// Failure rate limit.
    pub failure_rate: String,
    /// Recovery limit.
    pub recovery: String,
}

/// The band tables the figures are rated with (one place: `portolan-core`'s `BAND_TABLES`).
#[server(prefix = "/fn", endpoint = "dora_bands")]
pub async fn dora_bands() -> Result<(Vec<BandRow>, i32, String, String, u32, u32), AppError> {
    use portolan_core::deploys::dora::BAND_TABLES;
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let mut rows = Vec::new();
    for t in BAND_TABLES.iter() {
        for (i, band) in ["elite", "high", "medium"].into_iter().enumerate() {
            rows.push(BandRow {
                year: t.year,
                band: band.to_owned(),
                frequency: format!("at least {}", per_period(t.frequency_min_per_day[i])),
                lead_time: format!("under {}", duration(t.lead_time_max[i])),
                failure_rate: format!("at most {}%", (t.failure_rate_max[i] * 100.0).round()),
                recovery: format!("under {}", duration(t.recovery_max[i])),
            });
        }
    }
    let d = &state.config.dora;
    Ok((
        rows,
        d.bands_year,
        d.time_zone.name().to_owned(),
        d.week_start.to_string(),
        d.incident_window_hours,
        d.first_deployment_days,
    ))
}

/// Deployments per day as people say it.
pub fn per_period(per_day: f64) -> String {
    if per_day >= 1.0 {
        format!("{} a day", trim_number(per_day))
    } else if per_day >= 1.0 / 7.0 - 1e-9 {
        format!("{} a week", trim_number(per_day * 7.0))
    } else {
        format!("{} a month", trim_number(per_day * 30.0))
    }
}

fn trim_number(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Seconds as people read a duration: `45 s`, `12 min`, `3.5 h`, `2.1 d`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0) as f64;
    if seconds < 60 {
        format!("{seconds} s")
    } else if s < 3600.0 {
        format!("{} min", (s / 60.0).round())
    } else if s < 86_400.0 * 2.0 {
        format!("{} h", trim_number(s / 3600.0))
    } else {
        format!("{} d", trim_number(s / 86_400.0))
    }
}

/// How long ago, from the page's `now`: `5 min`, `3 h`, `12 d`.
fn age(now: &str, then: &str) -> String {
    let secs = seconds_between(then, now).unwrap_or(0);
    duration(secs)
}

/// Seconds between two RFC 3339 UTC times (`YYYY-MM-DDTHH:MM:SSZ`), without a time library in the browser.
fn seconds_between(a: &str, b: &str) -> Option<i64> {
    Some(epoch(b)? - epoch(a)?)
}

fn epoch(t: &str) -> Option<i64> {
    let (date, time) = t.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut tm = time.split(':').map(|p| p.get(..2).unwrap_or(p).parse::<i64>().ok());
    let (hh, mm, ss) = (tm.next()??, tm.next()??, tm.next().flatten().unwrap_or(0));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn status_class(status: &str) -> &'static str {
    match status {
        "success" => "badge badge-ok",
        "failure" | "error" => "badge badge-error",
        "cancelled" => "badge",
        _ => "badge badge-warn",
    }
}

fn short_sha(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// `/deploys`.
#[component]
pub fn DeploysPage() -> impl IntoView {
    view! {
        <Title text="Deploys" />
        <RequireViewer signed_in=|_: Viewer| view! { <Deploys /> } />
    }
}

#[component]
fn Deploys() -> impl IntoView {
    let params = use_query_map();
    let filter = Memo::new(move |_| {
        let m = params.read();
        DeploysFilter {
            team: m.get("team"),
            system: m.get("system"),
            component: m.get("component"),
            environment: m.get("environment"),
            status: m.get("status"),
            cursor: m.get("cursor"),
        }
    });
    let data = Resource::new(move || filter.get(), deploys_overview);
    let field = move |f: fn(&DeploysFilter) -> Option<String>| move || f(&filter.get()).unwrap_or_default();
    view! {
        <div class="page-heading">
            <h1>"Deploys"</h1>
            <a class="button" href="/dora">"DORA four keys"</a>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => {
                        let f = filter.get_untracked();
                        view! {
                            <form class="filters card" method="get" action="/deploys" role="search">
                                <label>"Team" <input name="team" value=field(|f| f.team.clone()) placeholder="payments" /></label>
                                <label>"System" <input name="system" value=field(|f| f.system.clone()) /></label>
                                <label>"Component" <input name="component" value=field(|f| f.component.clone()) /></label>
                                <label>
                                    "Environment"
                                    <select name="environment">
                                        <option value="">"Any"</option>
                                        {d.environments.iter().map(|e| {
                                            let selected = f.environment.as_deref() == Some(e.name.as_str());
                                            view! { <option value=e.name.clone() selected=selected>{e.name.clone()}</option> }
                                        }).collect_view()}
                                    </select>
                                </label>
                                <label>
                                    "Status"
                                    <select name="status">
                                        <option value="">"Any"</option>
                                        {DEPLOYMENT_STATUSES.iter().map(|s| {
                                            let selected = f.status.as_deref() == Some(*s);
                                            view! { <option value=*s selected=selected>{s.replace('_', " ")}</option> }
                                        }).collect_view()}
                                    </select>
                                </label>
                                <button class="button button-primary" type="submit">"Filter"</button>
                                <a class="button button-quiet" href="/deploys">"Clear"</a>
                            </form>
                            <DeploysBody data=d filter=f />
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DeploysBody(data: DeploysData, filter: DeploysFilter) -> impl IntoView {
    let now = data.now.clone();
    let next = data.page.next_cursor.clone().map(|c| DeploysFilter { cursor: Some(c), ..filter.clone() }.url());
    let first = filter.cursor.is_some().then(|| DeploysFilter { cursor: None, ..filter.clone() }.url());
    view! {
        {data.problem.clone().map(|p| view! { <p class="alert alert-error" role="alert">{p}</p> })}
        {data.matrix.clone().map(|m| view! { <RunsWhereTable matrix=m now=now.clone() /> })}
        <section class="card" aria-labelledby="timeline-title">
            <h2 id="timeline-title">"Timeline"</h2>
            {if data.page.items.is_empty() {
                view! {
                    <p class="muted">
                        "No deployments match. CD tools report them with POST /api/v1/deployments; see the API reference."
                    </p>
                }
                    .into_any()
            } else {
                view! { <DeploymentTable items=data.page.items.clone() show_component=true /> }.into_any()
            }}
            <nav class="pager" aria-label="Pages">
                {first.map(|href| view! { <a href=href>"Newest"</a> })}
                {next.map(|href| view! { <a href=href rel="next">"Older deployments"</a> })}
            </nav>
        </section>
    }
}

#[component]
fn RunsWhereTable(matrix: RunsWhere, now: String) -> impl IntoView {
    if matrix.rows.is_empty() {
        return ().into_any();
    }
    let heads = matrix.environments.iter().map(|e| view! { <th scope="col">{e.clone()}</th> }).collect_view();
    let rows = matrix
        .rows
        .into_iter()
        .map(|row| {
            let cells = row
                .cells
                .into_iter()
                .map(|cell| match cell {
                    None => view! { <td class="muted">"—"</td> }.into_any(),
                    Some(c) => {
                        let ahead = c.ahead_of_production.filter(|n| *n > 0).map(|n| {
                            view! {
                                " "
                                <span class="badge badge-warn" title="commits not yet in production">
                                    {format!("+{n} ahead")}
                                </span>
                            }
                        });
                        view! {
                            <td>
                                <code>{c.version.clone().unwrap_or_else(|| "?".to_owned())}</code>
                                {ahead}
                                <div class="muted small" title=utc(&c.at)>{format!("{} ago", age(&now, &c.at))}</div>
                            </td>
                        }
                        .into_any()
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <th scope="row"><a href=entity_path(&row.component)>{short_ref(&row.component)}</a></th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="matrix-title">
            <h2 id="matrix-title">"What runs where"</h2>
            <table class="table runs-where">
                <thead>
                    <tr>
                        <th scope="col">"Component"</th>
                        {heads}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}

/// Deployments as a table; each row's changes open below it (a `<details>`, so no script is needed).
#[component]
pub fn DeploymentTable(items: Vec<DeploymentView>, show_component: bool) -> impl IntoView {
    view! {
        <table class="table deploy-table">
            <thead>
                <tr>
                    <th scope="col">"When (UTC)"</th>
                    {show_component.then(|| view! { <th scope="col">"Component"</th> })}
                    <th scope="col">"Environment"</th>
                    <th scope="col">"Version"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Duration"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"Changes"</th>
                </tr>
            </thead>
            <tbody>
                {items.into_iter().map(|d| view! { <DeploymentRow d=d show_component=show_component /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn DeploymentRow(d: DeploymentView, show_component: bool) -> impl IntoView {
    let version = d.version.clone().or_else(|| d.commit_sha.as_deref().map(short_sha)).unwrap_or_default();
    let changes = d.changes.clone();
    let count = d.change_count;
    let notes = [
        d.first_deployment.then_some("first deployment"),
        d.changes_truncated.then_some("list truncated"),
        d.rollback_of.as_ref().map(|_| "rollback"),
        d.fixes.as_ref().map(|_| "fix"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    view! {
        <tr data-deployment=d.external_id.clone()>
            <td><time datetime=d.at.clone()>{utc(&d.at)}</time></td>
            {show_component.then(|| view! { <td><a href=entity_path(&d.component)>{short_ref(&d.component)}</a></td> })}
            <td>
                {d.environment.clone()}
                {d.production.then(|| view! { " " <span class="badge">"prod"</span> })}
            </td>
            <td>
                <code>{version}</code>
                {d.url.clone().filter(|u| u.starts_with("https://") || u.starts_with("http://")).map(|u| view! { " " <a href=u rel="noopener noreferrer">"log"</a> })}
            </td>
            <td><span class=status_class(&d.status)>{d.status.replace('_', " ")}</span></td>
            <td>{d.duration_seconds.map(duration).unwrap_or_default()}</td>
            <td>{d.actor.clone().unwrap_or_default()}</td>
            <td>
                {match changes {
                    Some(list) if !list.is_empty() => view! {
                        <details>
                            <summary>{format!("{count} commit{}", if count == 1 { "" } else { "s" })}</summary>
                            <ul class="commit-list">
                                {list.into_iter().map(|c| view! {
                                    <li>
                                        <code>{short_sha(&c.sha)}</code>
                                        {c.pr_number.map(|n| view! { " " <span class="tag">{format!("#{n}")}</span> })}
                                        {c.committed_at.map(|t| view! { " " <span class="muted small">{utc(&t)}</span> })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        </details>
                    }.into_any(),
                    _ => view! { <span>{count.to_string()}</span> }.into_any(),
                }}
                {(!notes.is_empty()).then(|| view! { <div class="muted small">{notes.clone()}</div> })}
            </td>
        </tr>
    }
}

/// The data behind a component's deploys section, loaded by the entity page.
#[derive(Clone, Copy, Debug)]
pub struct EntityDeploysData(pub Resource<Result<DeploymentPage, AppError>>);

impl EntityDeploysData {
    /// Starts loading for the entity the page shows.
    pub fn new(entity_ref: impl Fn() -> String + Send + Sync + 'static) -> Self {
        EntityDeploysData(Resource::new(entity_ref, deploys_of_entity))
    }
}

/// A component's deploys section on its page.
#[component]
pub fn EntityDeploys(entity_ref: String) -> impl IntoView {
    let data = expect_context::<EntityDeploysData>().0;
    let all = format!("/deploys?component={}", portolan_types::encode_query_value(&entity_ref));
    let dora = format!("/dora?scope={}", portolan_types::encode_query_value(&entity_ref));
    view! {
        <Suspense>
            {move || {
                let all = all.clone();
                let dora = dora.clone();
                Suspend::new(async move {
                    let page = data.await.ok()?;
                    Some(view! {
                        <section class="card" id="deploys" aria-labelledby="deploys-title">
                            <div class="page-heading">
                                <h2 id="deploys-title">"Deploys"</h2>
                                <span>
                                    <a href=all>"All deploys"</a> " · " <a href=dora>"DORA figures"</a>
                                </span>
                            </div>
                            {if page.items.is_empty() {
                                view! { <p class="muted">"No deployments recorded yet."</p> }.into_any()
                            } else {
                                view! { <DeploymentTable items=page.items show_component=false /> }.into_any()
                            }}
                        </section>
                    })
                })
            }}
        </Suspense>
    }
}

/// `/dora`.
#[component]
pub fn DoraPage() -> impl IntoView {
    view! {
        <Title text="DORA four keys" />
        <RequireViewer signed_in=|_: Viewer| view! { <Dora /> } />
    }
}

#[component]
fn Dora() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let m = params.read();
        DoraQuery {
            scope: m.get("scope"),
            environment: m.get("environment"),
            days: m.get("days").and_then(|d| d.parse().ok()),
            year: m.get("year").and_then(|y| y.parse().ok()),
            drill: m.get("drill"),
        }
    });
    let data = Resource::new(move || query.get(), dora_view);
    view! {
        <div class="page-heading">
            <h1>"DORA four keys"</h1>
            <a href="/dora/how">"How is this computed?"</a>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let q = query.get_untracked();
                match data.await {
                    Ok(d) => view! { <DoraBody data=d query=q /> }.into_any(),
                    Err(e) => view! { <DoraForm query=q environments=Vec::new() /> <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DoraForm(query: DoraQuery, environments: Vec<Environment>) -> impl IntoView {
    let days = query.days.unwrap_or(90);
    let env = query.environment.clone().unwrap_or_else(|| "production".to_owned());
    let year = query.year;
    view! {
        <form class="filters card" method="get" action="/dora">
            <label>
                "Scope"
                <input
                    name="scope"
                    value=query.scope.clone().unwrap_or_default()
                    placeholder="all, a team, system:checkout, component:payments-api"
                />
            </label>
            <label>
                "Environment"
                <select name="environment">
                    <option value="production" selected=env == "production">"All production"</option>
                    {environments.into_iter().filter(|e| e.name != "production").map(|e| {
                        let selected = env == e.name;
                        view! { <option value=e.name.clone() selected=selected>{e.name.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Period"
                <select name="days">
                    {[30i64, 90, 180, 365].into_iter().map(|d| view! {
                        <option value=d.to_string() selected=d == days>{format!("Last {d} days")}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Bands"
                <select name="year">
                    <option value="" selected=year.is_none()>"Configured"</option>
                    {[2024i32, 2023].into_iter().map(|y| view! {
                        <option value=y.to_string() selected=year == Some(y)>{format!("DORA {y}")}</option>
                    }).collect_view()}
                </select>
            </label>
            <button class="button button-primary" type="submit">"Show"</button>
        </form>
    }
}

fn band_badge(band: Option<String>) -> impl IntoView {
    band.map(|b| {
        let class = match b.as_str() {
            "elite" | "high" => "badge badge-ok",
            "medium" => "badge badge-warn",
            _ => "badge badge-error",
        };
        let label = b.clone();
        view! { <span class=class data-band=b>{label}</span> }
    })
}

#[component]
fn DoraBody(data: DoraData, query: DoraQuery) -> impl IntoView {
    let r = data.report.clone();
    let drill = query.drill.clone();
    let link = |metric: &'static str| query.url(Some(metric));
    let pct = |x: f64| format!("{}%", trim_number(x * 100.0));
    let weeks = r.weeks.clone();
    let chart = |f: fn(&portolan_types::deploys::DoraWeek) -> Option<f64>| -> Vec<(String, Option<f64>)> {
        weeks.iter().map(|w| (w.week.clone(), f(w))).collect()
    };
    let freq_points = chart(|w| Some(w.deployments as f64));
    let lead_points = chart(|w| w.lead_time_median_seconds.map(|s| s as f64 / 3600.0));
    let cfr_points = chart(|w| w.change_failure_ratio.map(|r| r * 100.0));
    let rec_points = chart(|w| w.recovery_median_seconds.map(|s| s as f64 / 3600.0));
    let dq = r.data_quality.clone();
    view! {
        <DoraForm query=query.clone() environments=data.environments.clone() />
        <p class="muted small">
            {format!(
                "{} · {} · {} to {} · days counted in {} · bands of DORA {}",
                if r.scope == "all" { "Whole organisation".to_owned() } else { short_ref(&r.scope) },
                r.environments.join(", "),
                utc(&r.from),
                utc(&r.to),
                r.time_zone,
                r.bands_year
            )}
        </p>
        <div class="kpis">
            <section class="card kpi" aria-labelledby="kpi-frequency">
                <h2 id="kpi-frequency">"Deployment frequency"</h2>
                <p class="kpi-value">{per_period(r.deployment_frequency.per_day)}</p>
                <p>{band_badge(Some(r.deployment_frequency.band.clone()))}</p>
                <p class="small">
                    <a href=link("frequency")>{format!("{} deployments", r.deployment_frequency.deployments)}</a>
                    " · " <a href="/dora/how#frequency">"how"</a>
                </p>
            </section>
            <section class="card kpi" aria-labelledby="kpi-lead">
                <h2 id="kpi-lead">"Lead time for changes"</h2>
                <p class="kpi-value">{r.lead_time.median_seconds.map(duration).unwrap_or_else(|| "—".to_owned())}</p>
                <p>{band_badge(r.lead_time.band.clone())}</p>
                <p class="small">
                    <a href=link("lead-time")>{format!("{} changes", r.lead_time.changes)}</a>
                    {r.lead_time.p90_seconds.map(|p| format!(" · p90 {}", duration(p)))}
                    " · " <a href="/dora/how#lead-time">"how"</a>
                </p>
            </section>
            <section class="card kpi" aria-labelledby="kpi-cfr">
                <h2 id="kpi-cfr">"Change failure rate"</h2>
                <p class="kpi-value">{r.change_failure_rate.ratio.map(pct).unwrap_or_else(|| "—".to_owned())}</p>
                <p>{band_badge(r.change_failure_rate.band.clone())}</p>
                <p class="small">
                    <a href=link("failures")>
                        {format!("{} of {} deployments", r.change_failure_rate.failed, r.change_failure_rate.total)}
                    </a>
                    " · " <a href="/dora/how#change-failure-rate">"how"</a>
                </p>
            </section>
            <section class="card kpi" aria-labelledby="kpi-recovery">
                <h2 id="kpi-recovery">"Failed deployment recovery time"</h2>
                <p class="kpi-value">
                    {r.recovery_time.median_seconds.map(duration).unwrap_or_else(|| "—".to_owned())}
                </p>
                <p>{band_badge(r.recovery_time.band.clone())}</p>
                <p class="small">
                    <a href=link("recovery")>{format!("{} recoveries", r.recovery_time.count)}</a>
                    " · " <a href="/dora/how#recovery-time">"how"</a>
                </p>
            </section>
        </div>
        <p class="muted">
            {format!(
                "Pipeline failures (status failure or error, not counted as change failures): {}",
                r.pipeline_failures
            )}
        </p>
        <section class="card" aria-labelledby="trend-title">
            <h2 id="trend-title">"Weekly trend"</h2>
            <div class="charts">
                <TrendChart title="Deployments per week" unit="" points=freq_points bars=true />
                <TrendChart title="Median lead time (hours)" unit=" h" points=lead_points bars=false />
                <TrendChart title="Change failure rate (%)" unit="%" points=cfr_points bars=false />
                <TrendChart title="Median recovery time (hours)" unit=" h" points=rec_points bars=false />
            </div>
        </section>
        {drill.map(|d| view! { <DrillDown metric=d data=data.clone() /> })}
        <section class="card" aria-labelledby="quality-title">
            <h2 id="quality-title">"Data quality"</h2>
            <ul>
                <li>{format!("{} successful deployments carried no commits (they count for frequency, not lead time)", dq.deployments_without_commits)}</li>
                <li>{format!("{} deployments had their change list cut short", dq.truncated_changes)}</li>
                <li>{format!("{} first deployments (their changes look back a bounded window)", dq.first_deployments)}</li>
                <li>
                    {format!("{} deployed components have no github.com/project-slug annotation", dq.components_without_repository.len())}
                    {(!dq.components_without_repository.is_empty()).then(|| view! {
                        ": "
                        {dq.components_without_repository.iter().map(|c| view! { <a href=entity_path(c)>{short_ref(c)}</a> " " }).collect_view()}
                    })}
                </li>
            </ul>
        </section>
    }
}

#[component]
fn DrillDown(metric: String, data: DoraData) -> impl IntoView {
    let by_id: std::collections::HashMap<i64, DeploymentView> =
        data.details.deployments.iter().map(|d| (d.id, d.clone())).collect();
    let body = match metric.as_str() {
        "frequency" => view! {
            <h2 id="drill-title">"Deployments counted for frequency"</h2>
            <DeploymentTable items=data.details.deployments.clone() show_component=true />
        }
        .into_any(),
        "failures" => {
            let failed: Vec<DeploymentView> =
                data.details.failed.iter().filter_map(|id| by_id.get(id).cloned()).collect();
            view! {
                <h2 id="drill-title">"Deployments that caused a failure"</h2>
                <DeploymentTable items=failed show_component=true />
            }
            .into_any()
        }
        "lead-time" => {
            let mut items = data.details.lead_times.clone();
            items.sort_by_key(|l| std::cmp::Reverse(l.seconds));
            view! {
                <h2 id="drill-title">"Changes and their lead times"</h2>
                <table class="table">
                    <thead><tr><th scope="col">"Commit"</th><th scope="col">"Lead time"</th><th scope="col">"Shipped by"</th></tr></thead>
                    <tbody>
                        {items.into_iter().map(|l| {
                            let d = by_id.get(&l.deployment_id);
                            view! {
                                <tr>
                                    <td><code>{short_sha(&l.sha)}</code></td>
                                    <td>{duration(l.seconds)}</td>
                                    <td>{d.map(|d| format!("{} {} {}", short_ref(&d.component), d.environment, utc(&d.at)))}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        }
        "recovery" => view! {
            <h2 id="drill-title">"Recoveries"</h2>
            <table class="table">
                <thead><tr><th scope="col">"Failing deployment"</th><th scope="col">"Restored after"</th></tr></thead>
                <tbody>
                    {data.details.recoveries.iter().map(|r| {
                        let d = by_id.get(&r.deployment_id);
                        view! {
                            <tr>
                                <td>{d.map(|d| format!("{} {} {} ({})", short_ref(&d.component), d.environment, utc(&d.at), d.external_id))}</td>
                                <td>{duration(r.seconds)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        _ => view! { <p>"Nothing to drill into."</p> }.into_any(),
    };
    view! {
        <section class="card" id="drill-down" aria-labelledby="drill-title">
            {body}
        </section>
    }
}

/// A small weekly chart, drawn as SVG on the server: bars or a line, an empty week left as a gap.
#[component]
pub fn TrendChart(
    title: &'static str,
    unit: &'static str,
    points: Vec<(String, Option<f64>)>,
    bars: bool,
) -> impl IntoView {
    const W: f64 = 320.0;
    const H: f64 = 120.0;
    const PAD: f64 = 24.0;
    let max = points.iter().filter_map(|p| p.1).fold(0.0f64, f64::max);
    let top = if max <= 0.0 { 1.0 } else { max };
    let n = points.len().max(1) as f64;
    let step = (W - PAD * 2.0) / n;
    let y = |v: f64| H - PAD - (v / top) * (H - PAD * 2.0);
    let x = |i: usize| PAD + step * (i as f64 + 0.5);
    let marks = points
        .iter()
        .enumerate()
        .filter_map(|(i, (week, v))| {
            let v = (*v)?;
            let label = format!("week of {week}: {}{unit}", trim_number(v));
            Some(if bars {
                let h = (H - PAD - y(v)).max(if v > 0.0 { 1.0 } else { 0.0 });
                view! {
                    <rect class="bar" x=format!("{:.1}", x(i) - step * 0.35) y=format!("{:.1}", H - PAD - h)
                        width=format!("{:.1}", step * 0.7) height=format!("{h:.1}")>
                        <title>{label}</title>
                    </rect>
                }
                .into_any()
            } else {
                view! {
                    <circle class="dot" cx=format!("{:.1}", x(i)) cy=format!("{:.1}", y(v)) r="3">
                        <title>{label}</title>
                    </circle>
                }
                .into_any()
            })
        })
        .collect_view();
    // A line through consecutive known weeks; unknown weeks break it.
    let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (i, (_, v)) in points.iter().enumerate() {
        match v {
            Some(v) => segments.last_mut().map(|s| s.push((x(i), y(*v)))).unwrap_or_default(),
            None => segments.push(Vec::new()),
        }
    }
    let lines = (!bars).then(|| {
        segments
            .into_iter()
            .filter(|s| s.len() > 1)
            .map(|s| {
                let d = s.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect::<Vec<_>>().join(" ");
                view! { <polyline class="line" points=d /> }
            })
            .collect_view()
    });
    let first = points.first().map(|p| p.0.clone()).unwrap_or_default();
    let last = points.last().map(|p| p.0.clone()).unwrap_or_default();
    view! {
        <figure class="chart">
            <figcaption>{title}</figcaption>
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=title>
                <line class="axis" x1=PAD y1=H - PAD x2=W - PAD y2=H - PAD />
                <text class="axis-label" x=PAD y=PAD - 8.0>{format!("{}{unit}", trim_number(top))}</text>
                <text class="axis-label" x=PAD y=H - 6.0>{first}</text>
                <text class="axis-label" x=W - PAD y=H - 6.0 text-anchor="end">{last}</text>
                {lines}
                {marks}
            </svg>
        </figure>
    }
}

/// `/dora/how`: every rule behind the figures, and the band tables.
#[component]
pub fn DoraHowPage() -> impl IntoView {
    let bands = Resource::new(|| (), |_| dora_bands());
    view! {
        <Title text="How the four keys are computed" />
        <h1>"How the four keys are computed"</h1>
        <section class="card prose">
            <h2 id="changes">"Changes"</h2>
            <p>
                "A deployment's changes are the commits reachable from its sha and not from the previous successful deployment of the same component to the same environment. Portolan learns what a sha contains from what deployments report (the CD API's commits, GitHub's compare): a redeploy of the same sha or a rollback to an older one brings no changes, and promoting a sha from staging brings what staging got. A component's first deployment to an environment only looks back a bounded window and is marked; a cut-short list is flagged."
            </p>
            <h2 id="frequency">"Deployment frequency"</h2>
            <p>
                "Successful deployments to production environments, counted once per component, sha and day: the same sha rolled out to two production regions on one day counts once. Per day is that count over the days of the period."
            </p>
            <h2 id="lead-time">"Lead time for changes"</h2>
            <p>
                "Per change, from its start (the first commit of its pull request when known, which keeps squash merges honest; otherwise its commit time) to the end of the first successful production deployment that carried it. A change shipped to a second region later is not counted again. Median and 90th percentile."
            </p>
            <h2 id="change-failure-rate">"Change failure rate"</h2>
            <p>
                "Production deployments (counted as for frequency) that caused a failure, over all of them. A deployment caused a failure when an incident names it, when an incident on the same component and environment starts after it, within the attribution window and before that component's next deployment there, or when a later deployment says it rolls it back or fixes it. Deployments whose pipeline failed (status failure or error) changed nothing: they are shown apart as pipeline failures."
            </p>
            <h2 id="recovery-time">"Failed deployment recovery time"</h2>
            <p>
                "From the failing deployment's end (or its incident's start, if that came first) until service was restored: the rollback or fix deployment succeeded, or its incidents were all resolved, whichever came first. Median; failures not yet recovered from are left out."
            </p>
        </section>
        <Suspense>
            {move || Suspend::new(async move {
                let (rows, year, zone, week_start, window, first) = bands.await.ok()?;
                Some(view! {
                    <section class="card" aria-labelledby="settings-title">
                        <h2 id="settings-title">"This portal's settings"</h2>
                        <dl class="facts">
                            <dt>"Bands shown"</dt><dd>{format!("DORA {year} (PORTOLAN_DORA_BANDS_YEAR)")}</dd>
                            <dt>"Days and weeks"</dt><dd>{format!("{zone}, weeks start on {week_start} (PORTOLAN_DORA_TIME_ZONE, PORTOLAN_DORA_WEEK_START)")}</dd>
                            <dt>"Incident attribution window"</dt><dd>{format!("{window} h (PORTOLAN_DORA_INCIDENT_WINDOW_HOURS)")}</dd>
                            <dt>"First deployment looks back"</dt><dd>{format!("{first} days (PORTOLAN_DORA_FIRST_DEPLOYMENT_DAYS)")}</dd>
                        </dl>
                    </section>
                    <section class="card" aria-labelledby="bands-title">
                        <h2 id="bands-title">"Performance bands"</h2>
                        <p class="muted">
                            "From the Accelerate State of DevOps reports. Each figure gets the best band whose limit it meets; anything else is low."
                        </p>
                        <table class="table">
                            <thead>
                                <tr>
                                    <th scope="col">"Report"</th><th scope="col">"Band"</th><th scope="col">"Frequency"</th>
                                    <th scope="col">"Lead time"</th><th scope="col">"Failure rate"</th><th scope="col">"Recovery"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{r.year}</td><td>{r.band}</td><td>{r.frequency}</td>
                                        <td>{r.lead_time}</td><td>{r.failure_rate}</td><td>{r.recovery}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </section>
                })
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(duration(42), "42 s");
        assert_eq!(duration(600), "10 min");
        assert_eq!(duration(3 * 3600), "3 h");
        assert_eq!(duration(5400), "1.5 h");
        assert_eq!(duration(3 * 86_400), "3 d");
        assert_eq!(per_period(2.0), "2 a day");
        assert_eq!(per_period(0.5), "3.5 a week");
        assert_eq!(per_period(1.0 / 30.0), "1 a month");
    }

    #[test]
    fn ages_are_counted_from_the_page_time() {
        assert_eq!(seconds_between("2026-11-30T23:00:00Z", "2026-12-01T01:00:00Z"), Some(7200));
        assert_eq!(seconds_between("2024-02-28T00:00:00Z", "2024-03-01T00:00:00Z"), Some(2 * 86_400));
        assert_eq!(age("2026-12-03T10:00:00Z", "2026-12-01T10:00:00Z"), "2 d");
        assert_eq!(seconds_between("garbage", "2026-12-01T01:00:00Z"), None);
    }

    #[test]
    fn filter_urls_keep_only_what_is_set() {
        let f = DeploysFilter { team: Some("pay ments".into()), status: Some(String::new()), ..Default::default() };
        assert_eq!(f.url(), "/deploys?team=pay%20ments");
        assert_eq!(DeploysFilter::default().url(), "/deploys");
        let q = DoraQuery { scope: Some("group:default/payments".into()), days: Some(30), ..Default::default() };
        assert_eq!(q.url(Some("failures")), "/dora?scope=group%3Adefault%2Fpayments&days=30&drill=failures#drill-down");
    }
}
