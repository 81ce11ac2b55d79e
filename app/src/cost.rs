//! Cost pages: the organisation's (or one team's) spend for a month against the month before, by team,
//! component, environment and cloud service, with the top movers, the allocated share and a daily chart; the
//! import form for administrators; and the cost section of a service's page.
//!
//! Amounts arrive as decimal text and are shown as such; only the charts' bar heights are approximated.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use portolan_types::Viewer;
use portolan_types::catalog::entity_path;
use serde::{Deserialize, Serialize};

use crate::auth::RequireViewer;
use crate::catalog::short_ref;
use crate::error::{AppError, ErrorPage};

/// The cost page's parameters, as in its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostPageQuery {
    /// `YYYY-MM`; by default the month of the latest imported cost.
    pub month: Option<String>,
    /// `effective` or `billed`.
    pub metric: Option<String>,
    /// A team: its view.
    pub team: Option<String>,
}

/// One row of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostRow {
    /// The group's key (an entity ref, an environment, a service).
    pub key: String,
    /// What is shown.
    pub label: String,
    /// A link, for entities.
    pub href: Option<String>,
    /// Decimal amount.
    pub amount: String,
    /// Share of the total, percent.
    pub share: Option<String>,
}

/// A component whose spend moved most against the previous month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostMover {
    /// Entity ref.
    pub key: String,
    /// Spend this month.
    pub current: String,
    /// Spend the month before.
    pub previous: String,
    /// The difference.
    pub change: String,
    /// The difference in percent of the previous month.
    pub change_percent: Option<String>,
}

/// What the cost page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostPageData {
    /// `YYYY-MM`.
    pub month: String,
    /// `effective` or `billed`.
    pub metric: String,
    /// The team in view.
    pub team: Option<String>,
    /// Currency of every amount.
    pub currency: Option<String>,
    /// Other currencies with spend.
    pub other_currencies: Vec<String>,
    /// Total.
    pub total: String,
    /// The previous month's total.
    pub previous_total: String,
    /// Change.
    pub change: String,
    /// Change in percent.
    pub change_percent: Option<String>,
    /// Allocated to components.
    pub allocated: String,
    /// Allocated share, percent.
    pub allocated_percent: Option<String>,
    /// Shared.
    pub shared: String,
    /// Unallocated.
    pub unallocated: String,
    /// Per team.
    pub by_team: Vec<CostRow>,
    /// Per component.
    pub by_component: Vec<CostRow>,
    /// Per environment.
    pub by_environment: Vec<CostRow>,
    /// Per cloud service.
    pub by_service: Vec<CostRow>,
    /// Top movers.
    pub movers: Vec<CostMover>,
    /// Per day: (`2026-11-02`, amount).
    pub days: Vec<(String, String)>,
    /// Whether the viewer may import billing files.
    pub can_import: bool,
    /// Budgets (of the team in view, or all), for the month of the latest imported cost.
    pub budgets: Vec<portolan_types::cost::BudgetView>,
    /// Anomalies on the month's complete days (of the team in view, or all), the newest [`PAGE_ROWS`].
    pub anomalies: Vec<AnomalyRow>,
    /// Anomalies beyond those shown (all are in `GET /api/v1/cost/anomalies`).
    pub anomalies_left_out: usize,
    /// Rows beyond the largest [`PAGE_ROWS`] of each table, by its grouping (all are in its CSV download).
    pub rows_left_out: Vec<(String, usize)>,
}

/// The most rows a table of the cost page shows: the largest groups; the CSV download has every one. A thousand
/// services make a page of over a megabyte that nobody reads to the end.
pub const PAGE_ROWS: usize = 100;

/// The allocation rules editor of the cost page (administrators).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesEditorData {
    /// The text in the editor: a refused draft, else the rules in force as YAML.
    pub text: String,
    /// The version the text was opened at (sent back with the save).
    pub base: String,
    /// The version in force (`<time> by <login>`; empty for the defaults).
    pub current: String,
    /// Whether the text is a refused draft.
    pub draft: bool,
}

/// The rules editor's text and version; `None` for people who may not change the rules.
#[server(prefix = "/fn", endpoint = "cost_rules_editor", input = server_fn::codec::Json)]
pub async fn cost_rules_editor(
    draft: Option<String>,
    base: Option<String>,
) -> Result<Option<RulesEditorData>, AppError> {
    use portolan_core::access::{Action, Target};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    if !crate::ssr::allowed(&state, &viewer, Action::CostImport, &Target::global()).await? {
        return Ok(None);
    }
    let fail = |e| crate::ssr::internal("reading the cost rules", e);
    let (text, version) = portolan_core::cost::rules_for_editing(&state.db).await.map_err(fail)?;
    Ok(Some(match draft {
        Some(d) => RulesEditorData { text: d, base: base.unwrap_or_default(), current: version, draft: true },
        None => RulesEditorData { text, base: version.clone(), current: version, draft: false },
    }))
}

/// An anomaly as a page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyRow {
    /// The anomaly.
    pub anomaly: portolan_types::cost::CostAnomaly,
    /// Whether the viewer may dismiss, snooze or reopen it.
    pub can_triage: bool,
}

#[cfg(feature = "ssr")]
mod server {
    use super::{CostMover, CostRow};
    use chrono::NaiveDate;
    use portolan_core::cost::Amount;
    use portolan_core::cost::query::{self, CostQuery, GroupBy, Metric};
    use portolan_types::catalog::entity_path;

    pub use portolan_core::cost::query::month_bounds;

    pub fn previous_month(first: NaiveDate) -> NaiveDate {
        month_bounds(first.pred_opt().unwrap_or(first)).0
    }

    pub fn amount(text: &str) -> Amount {
        Amount::parse(text).unwrap_or_default()
    }

    pub fn rows(report: &portolan_types::cost::CostReport, entities: bool) -> Vec<CostRow> {
        let total = amount(&report.total);
        report
            .groups
            .iter()
            .map(|g| CostRow {
                key: g.key.clone(),
                label: if entities { crate::catalog::short_ref(&g.key) } else { g.key.clone() },
                href: entities.then(|| entity_path(&g.key)),
                amount: amount(&g.amount).to_cents_text(),
                share: query::percent(amount(&g.amount), total),
            })
            .collect()
    }

    pub fn movers(now: &portolan_types::cost::CostReport, before: &portolan_types::cost::CostReport) -> Vec<CostMover> {
        let mut all: std::collections::BTreeMap<String, (Amount, Amount)> = Default::default();
        for g in &now.groups {
            all.entry(g.key.clone()).or_default().0 = amount(&g.amount);
        }
        for g in &before.groups {
            all.entry(g.key.clone()).or_default().1 = amount(&g.amount);
        }
        let mut list: Vec<(String, Amount, Amount)> = all.into_iter().map(|(k, (a, b))| (k, a, b)).collect();
        list.sort_by(|a, b| (b.1 - b.2).0.abs().cmp(&(a.1 - a.2).0.abs()).then(a.0.cmp(&b.0)));
        list.into_iter()
            .filter(|(_, a, b)| a != b)
            .take(5)
            .map(|(key, a, b)| CostMover {
                key,
                current: a.to_cents_text(),
                previous: b.to_cents_text(),
                change: (a - b).to_cents_text(),
                change_percent: query::percent(a - b, b),
            })
            .collect()
    }

    pub fn q(group_by: GroupBy, metric: Metric, from: NaiveDate, to: NaiveDate) -> CostQuery {
        CostQuery { group_by, metric, from, to, component: None, team: None, currency: None }
    }

    /// Recent anomalies, newest first, at most `limit` of them, each with whether the viewer may decide about it;
    /// and how many more there were.
    pub async fn anomaly_rows(
        state: &portolan_core::AppState,
        viewer: &portolan_types::Viewer,
        q: portolan_core::cost::anomalies::AnomalyQuery,
        limit: usize,
    ) -> Result<(Vec<super::AnomalyRow>, usize), crate::error::AppError> {
        use portolan_core::access::{Action, Checker};
        use portolan_core::cost::anomalies;
        let fail = |e| crate::ssr::internal("reading cost anomalies", e);
        let mut list = anomalies::list(&state.db, &state.config.cost, &q, anomalies::today()).await.map_err(fail)?;
        let left_out = list.anomalies.len().saturating_sub(limit);
        list.anomalies.truncate(limit);
        let scopes: Vec<&str> = list.anomalies.iter().map(|a| a.scope.as_str()).collect();
        let owners = anomalies::owners_of(&state.db, &scopes).await.map_err(fail)?;
        let checker =
            Checker::load(&state.db, viewer).await.map_err(|e| crate::ssr::internal("deciding a permission", e))?;
        let rows = list
            .anomalies
            .into_iter()
            .map(|anomaly| {
                let target = anomalies::target(&anomaly.scope, owners.get(&anomaly.scope).map(String::as_str));
                let can_triage = checker.allows(Action::CostAnomalyTriage, &target);
                super::AnomalyRow { anomaly, can_triage }
            })
            .collect();
        Ok((rows, left_out))
    }
}

/// The cost page's data for a month.
#[server(prefix = "/fn", endpoint = "cost_page", input = server_fn::codec::Json)]
pub async fn cost_page(query: CostPageQuery) -> Result<CostPageData, AppError> {
    use portolan_core::access::{Action, Target};
    use portolan_core::cost::query::{self as cq, GroupBy, Metric};
    use server::*;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let db = &state.db;
    let fail = |e| crate::ssr::internal("reading cost", e);
    let metric = match query.metric.as_deref() {
        Some("billed") => Metric::Billed,
        _ => Metric::Effective,
    };
    let month = match query.month.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .map_err(|_| AppError::Invalid(format!("`{m}` is not a month (YYYY-MM)")))?,
        None => cq::latest_day(db).await.map_err(fail)?.unwrap_or_else(|| chrono::Utc::now().date_naive()),
    };
    let (from, to) = month_bounds(month);
    let prev = previous_month(from);
    let team = query
        .team
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| portolan_core::cost::rules::entity_ref("group", t));
    let run = |group_by, from, to, currency: Option<String>| {
        let mut q = q(group_by, metric, from, to);
        q.team = team.clone();
        q.currency = currency;
        async move { cq::report(db, &q).await }
    };
    let by_component = run(GroupBy::Component, from, to, None).await.map_err(fail)?;
    let currency = by_component.currency.clone();
    let before = run(GroupBy::Component, prev, from, currency.clone()).await.map_err(fail)?;
    let by_team = run(GroupBy::Team, from, to, currency.clone()).await.map_err(fail)?;
    let by_env = run(GroupBy::Environment, from, to, currency.clone()).await.map_err(fail)?;
    let by_service = run(GroupBy::Service, from, to, currency.clone()).await.map_err(fail)?;
    let by_day = run(GroupBy::Day, from, to, currency.clone()).await.map_err(fail)?;
    let total = amount(&by_component.total);
    let previous_total = amount(&before.total);
    let allocated = total - amount(&by_component.shared) - amount(&by_component.unallocated);
    let can_import = crate::ssr::allowed(&state, &viewer, Action::CostImport, &Target::global()).await?;
    let budgets = portolan_core::cost::budgets::list(db)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|b| team.as_ref().is_none_or(|t| &b.scope == t))
        .collect();
    let (anomalies, anomalies_left_out) = anomaly_rows(
        &state,
        &viewer,
        portolan_core::cost::anomalies::AnomalyQuery {
            from: Some(from),
            to: Some(to),
            team: team.clone(),
            ..Default::default()
        },
        PAGE_ROWS,
    )
    .await?;
    let mut rows_left_out = Vec::new();
    let mut table = |group_by: &str, report: &portolan_types::cost::CostReport, entities: bool| {
        let mut all = rows(report, entities);
        if all.len() > PAGE_ROWS {
            rows_left_out.push((group_by.to_owned(), all.len() - PAGE_ROWS));
            all.truncate(PAGE_ROWS);
        }
        all
    };
    let (by_team, by_component_rows, by_environment, by_service_rows) = (
        table("team", &by_team, true),
        table("component", &by_component, true),
        table("environment", &by_env, false),
        table("service", &by_service, false),
    );
    Ok(CostPageData {
        anomalies_left_out,
        rows_left_out,
        month: from.format("%Y-%m").to_string(),
        metric: metric.as_str().to_owned(),
        team,
        other_currencies: by_component.currencies.iter().filter(|c| Some(*c) != currency.as_ref()).cloned().collect(),
        currency,
        total: total.to_cents_text(),
        previous_total: previous_total.to_cents_text(),
        change: (total - previous_total).to_cents_text(),
        change_percent: cq::percent(total - previous_total, previous_total),
        allocated: allocated.to_cents_text(),
        allocated_percent: cq::percent(allocated, total),
        shared: amount(&by_component.shared).to_cents_text(),
        unallocated: amount(&by_component.unallocated).to_cents_text(),
        by_team,
        movers: movers(&by_component, &before),
        by_component: by_component_rows,
        by_environment,
        by_service: by_service_rows,
        days: by_day.groups.iter().map(|g| (g.key.clone(), g.amount.clone())).collect(),
        can_import,
        budgets,
        anomalies,
    })
}

/// `/cost`.
#[component]
pub fn CostPage() -> impl IntoView {
    view! {
        <Title text="Cost" />
        <RequireViewer signed_in=|_: Viewer| view! { <Cost /> } />
    }
}

#[component]
fn Cost() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let m = params.read();
        CostPageQuery { month: m.get("month"), metric: m.get("metric"), team: m.get("team") }
    });
    let notice = move || params.read().get("notice");
    let problem = move || params.read().get("error");
    let data = Resource::new(move || query.get(), cost_page);
    let rules_input = Memo::new(move |_| {
        let m = params.read();
        (m.get("rules_draft"), m.get("rules_base"))
    });
    let rules = Resource::new(move || rules_input.get(), |(draft, base)| cost_rules_editor(draft, base));
    view! {
        <div class="page-heading">
            <h1>"Cost"</h1>
        </div>
        {move || notice().map(|n| view! { <p class="alert" role="status" id="cost-notice">{n}</p> })}
        {move || problem().map(|p| view! { <p class="alert alert-error" role="alert" id="cost-error">{p}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <CostBody data=d /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(Some(editor)) => view! { <RulesEditor editor=editor /> }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

/// The allocation rules as YAML in a form: saving re-allocates every imported cost. A refused save comes back
/// with the text as typed.
#[component]
fn RulesEditor(editor: RulesEditorData) -> impl IntoView {
    let current = if editor.current.is_empty() {
        "The default rules are in force.".to_owned()
    } else {
        format!("Saved {}.", editor.current)
    };
    let lines = editor.text.lines().count().clamp(8, 40);
    view! {
        <details class="card" id="rules" open=editor.draft>
            <summary><h2>"Allocation rules"</h2></summary>
            <p class="muted">
                "Which tag keys name a component, a team and an environment, which accounts belong to a team, which "
                "Kubernetes namespaces belong to a component, and which costs are shared (split "<code>"even"</code>
                " or "<code>"proportional"</code>" to direct cost). Shared rules apply first, then the component "
                "tags in order, then the namespaces. Saving applies the rules to every imported month. "
                {current}
            </p>
            <form method="post" action="/cost/rules" id="rules-form">
                <input type="hidden" name="base" value=editor.base />
                <label for="rules-text">"Rules (YAML)"</label>
                <textarea id="rules-text" name="rules" rows=lines.to_string() spellcheck="false" class="code">
                    {editor.text}
                </textarea>
                <button class="button button-primary" type="submit">"Save and re-allocate"</button>
            </form>
        </details>
    }
}

fn csv_link(data: &CostPageData, group_by: &str) -> String {
    let (y, m) = data.month.split_once('-').unwrap_or(("1970", "01"));
    let (y, m): (i32, u32) = (y.parse().unwrap_or(1970), m.parse().unwrap_or(1));
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let mut url = format!(
        "/api/v1/cost?format=csv&group_by={group_by}&metric={}&from={y:04}-{m:02}-01&to={ny:04}-{nm:02}-01",
        data.metric
    );
    if let Some(c) = &data.currency {
        url.push_str(&format!("&currency={c}"));
    }
    if let Some(t) = &data.team {
        url.push_str(&format!("&team={}", portolan_types::encode_query_value(t)));
    }
    url
}

#[component]
fn CostBody(data: CostPageData) -> impl IntoView {
    let currency = data.currency.clone().unwrap_or_default();
    let cur = currency.clone();
    let money = move |a: &str| format!("{a} {cur}");
    let change_class = if data.change.starts_with('-') { "change change-down" } else { "change change-up" };
    let heading = match &data.team {
        Some(t) => format!("{} · {}", short_ref(t), data.month),
        None => format!("Organisation · {}", data.month),
    };
    let empty = data.currency.is_none();
    let tables = [
        ("By team", "team", data.by_team.clone()),
        ("By component", "component", data.by_component.clone()),
        ("By environment", "environment", data.by_environment.clone()),
        ("By cloud service", "service", data.by_service.clone()),
    ];
    let d = data.clone();
    view! {
        <form class="filters card" method="get" action="/cost">
            <label>"Month" <input type="month" name="month" value=data.month.clone() /></label>
            <label>
                "Cost"
                <select name="metric">
                    <option value="effective" selected=data.metric == "effective">"Effective (amortised)"</option>
                    <option value="billed" selected=data.metric == "billed">"Billed (invoice)"</option>
                </select>
            </label>
            <label>"Team" <input name="team" value=data.team.clone().map(|t| short_ref(&t)).unwrap_or_default() placeholder="all teams" /></label>
            <button class="button button-primary" type="submit">"Show"</button>
        </form>
        {data.can_import.then(|| view! { <ImportForm /> })}
        <Budgets budgets=data.budgets.clone() team=data.team.clone() />
        <section class="card" aria-labelledby="anomalies-title">
            <h2 id="anomalies-title">"Anomalies"</h2>
            <p class="muted">"Complete days of the month whose spend is well above the days before them."</p>
            <Anomalies rows=data.anomalies.clone() back=format!("/cost?month={}&metric={}{}", data.month, data.metric, data.team.as_ref().map(|t| format!("&team={}", portolan_types::encode_query_value(t))).unwrap_or_default()) />
            {(data.anomalies_left_out > 0).then(|| view! {
                <p class="small muted" id="cost-anomalies-more">{format!("The newest {PAGE_ROWS} shown; {} older ones in ", data.anomalies_left_out)}<code>"GET /api/v1/cost/anomalies"</code>"."</p>
            })}
        </section>
        {if empty {
            view! { <p class="muted" id="cost-empty">"No cost imported for this month. Import a FOCUS, AWS CUR or CUR 2.0 file with `portolan cost import`, the API or the form above."</p> }.into_any()
        } else {
            let money2 = money.clone();
            view! {
                <section class="card" aria-labelledby="cost-total-title">
                    <h2 id="cost-total-title">{heading}</h2>
                    <div class="cost-figures">
                        <p><span class="figure" id="cost-total">{money(&data.total)}</span><br />
                            <span class="muted">{format!("{} cost", if data.metric == "billed" { "Billed" } else { "Effective" })}</span></p>
                        <p><span class=change_class id="cost-change">{format!("{} ({})", money(&data.change), data.change_percent.clone().map(|p| format!("{p}%")).unwrap_or_else(|| "new".into()))}</span><br />
                            <span class="muted">{format!("against {} the month before", money(&data.previous_total))}</span></p>
                        <p><span class="figure" id="cost-allocated">{data.allocated_percent.clone().map(|p| format!("{p}%")).unwrap_or_else(|| "-".into())}</span><br />
                            <span class="muted">{format!("allocated; shared {}, unallocated {}", money(&data.shared), money(&data.unallocated))}</span></p>
                    </div>
                    {(!data.other_currencies.is_empty()).then(|| view! {
                        <p class="muted">{format!("Also spent in {} (shown separately: amounts are never added across currencies).", data.other_currencies.join(", "))}</p>
                    })}
                    <DailyChart days=data.days.clone() currency=currency.clone() />
                </section>
                {(!data.movers.is_empty()).then(|| {
                    let money = money2.clone();
                    view! {
                        <section class="card" aria-labelledby="movers-title">
                            <h2 id="movers-title">"Top movers"</h2>
                            <table class="table" id="cost-movers">
                                <thead><tr><th>"Component"</th><th class="num">"This month"</th><th class="num">"Month before"</th><th class="num">"Change"</th></tr></thead>
                                <tbody>
                                    {data.movers.iter().map(|m| view! {
                                        <tr>
                                            <td><a href=entity_path(&m.key)>{short_ref(&m.key)}</a></td>
                                            <td class="num">{money(&m.current)}</td>
                                            <td class="num">{money(&m.previous)}</td>
                                            <td class="num">{format!("{} ({})", m.change, m.change_percent.clone().map(|p| format!("{p}%")).unwrap_or_else(|| "new".into()))}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }
                })}
                <div class="cost-tables">
                    {tables.into_iter().map(|(title, group_by, rows)| {
                        let money = money2.clone();
                        let id = format!("cost-by-{group_by}");
                        view! {
                            <section class="card">
                                <h2>{title}</h2>
                                <table class="table" id=id>
                                    <thead><tr><th>"Name"</th><th class="num">"Amount"</th><th class="num">"Share"</th></tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|r| view! {
                                            <tr>
                                                <td>{match r.href.clone() {
                                                    Some(h) => view! { <a href=h>{r.label.clone()}</a> }.into_any(),
                                                    None => view! { <span>{r.label.clone()}</span> }.into_any(),
                                                }}</td>
                                                <td class="num">{money(&r.amount)}</td>
                                                <td class="num">{r.share.clone().map(|s| format!("{s}%")).unwrap_or_default()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {d.rows_left_out.iter().find(|(g, _)| g == group_by).map(|(_, n)| view! {
                                    <p class="small muted">{format!("The largest {PAGE_ROWS} shown; {n} more in the CSV download.")}</p>
                                })}
                                <a class="small" rel="external" href=csv_link(&d, group_by)>"Download CSV"</a>
                            </section>
                        }
                    }).collect_view()}
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn Budgets(budgets: Vec<portolan_types::cost::BudgetView>, team: Option<String>) -> impl IntoView {
    let status_class = |s: &str| match s {
        "over" => "badge badge-error",
        "warning" | "forecast_over" => "badge badge-warn",
        _ => "badge badge-ok",
    };
    let status_text = |s: &str| match s {
        "over" => "over budget",
        "warning" => "80 % spent",
        "forecast_over" => "forecast over",
        _ => "on track",
    };
    view! {
        <section class="card" aria-labelledby="budgets-title">
            <h2 id="budgets-title">"Budgets"</h2>
            {if budgets.is_empty() {
                view! { <p class="muted">"No budget set."</p> }.into_any()
            } else {
                view! {
                    <table class="table" id="cost-budgets">
                        <thead><tr><th>"Team or component"</th><th>"Month"</th><th class="num">"Spent"</th><th class="num">"Forecast"</th><th class="num">"Budget"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {budgets.into_iter().map(|b| view! {
                                <tr data-scope=b.scope.clone()>
                                    <td><a href=entity_path(&b.scope)>{short_ref(&b.scope)}</a></td>
                                    <td>{b.month.clone()}</td>
                                    <td class="num">{format!("{} {} ({}%)", b.spent, b.currency, b.spent_percent.clone().unwrap_or_default())}</td>
                                    <td class="num">{format!("{} {}", b.forecast, b.currency)}</td>
                                    <td class="num">{format!("{} {}", b.amount, b.currency)}</td>
                                    <td><span class=status_class(&b.status)>{status_text(&b.status)}</span></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <form class="filters" method="post" action="/cost/budgets" id="budget-form">
                <label>"Team or component" <input name="scope" required=true value=team.map(|t| short_ref(&t)).unwrap_or_default() placeholder="payments or component:payments-api" /></label>
                <label>"Monthly budget" <input name="amount" required=true inputmode="decimal" placeholder="1500.00" /></label>
                <label>"Currency" <input name="currency" value="USD" size="4" /></label>
                <button class="button" type="submit">"Set budget"</button>
            </form>
        </section>
    }
}

/// A list of anomalies, with the forms to dismiss, snooze or reopen each (for those who may).
#[component]
pub fn Anomalies(rows: Vec<AnomalyRow>, back: String) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted" id="cost-anomalies-none">"No anomaly."</p> }.into_any();
    }
    let status_class = |s: &str| match s {
        "open" => "badge badge-error",
        "snoozed" => "badge badge-warn",
        _ => "badge",
    };
    view! {
        <table class="table cost-anomalies" id="cost-anomalies">
            <thead><tr><th>"Day"</th><th>"Where"</th><th class="num">"Spent"</th><th class="num">"Expected"</th><th class="num">"z"</th><th>"Status"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let a = row.anomaly;
                    let scope_view = if a.scope.starts_with("component:") {
                        view! { <a href=entity_path(&a.scope)>{short_ref(&a.scope)}</a> }.into_any()
                    } else {
                        view! { <span>{a.scope.clone()}</span> }.into_any()
                    };
                    let decided = a.reason.clone().map(|r| {
                        let by = a.decided_by.clone().unwrap_or_default();
                        let until = a.until.clone().map(|u| format!(" through {u}")).unwrap_or_default();
                        view! { <p class="small muted">{format!("{}{until} by {by}: ", a.status)}<q>{r}</q></p> }
                    });
                    let form = row.can_triage.then(|| {
                        let hidden = view! {
                            <input type="hidden" name="scope" value=a.scope.clone() />
                            <input type="hidden" name="currency" value=a.currency.clone() />
                            <input type="hidden" name="day" value=a.day.clone() />
                            <input type="hidden" name="back" value=back.clone() />
                        };
                        if a.status == "open" {
                            view! {
                                <form class="anomaly-triage" method="post" action="/cost/anomalies">
                                    {hidden}
                                    <label>"Reason " <input name="reason" required=true maxlength="500" placeholder="expected: load test" /></label>
                                    <button class="button" type="submit" name="action" value="dismiss">"Dismiss"</button>
                                    <label>"Snooze through " <input type="date" name="until" /></label>
                                    <button class="button" type="submit" name="action" value="snooze">"Snooze"</button>
                                </form>
                            }.into_any()
                        } else {
                            view! {
                                <form class="anomaly-triage" method="post" action="/cost/anomalies">
                                    {hidden}
                                    <button class="button" type="submit" name="action" value="reopen">"Reopen"</button>
                                </form>
                            }.into_any()
                        }
                    });
                    view! {
                        <tr data-scope=a.scope.clone() data-day=a.day.clone() data-status=a.status.clone()>
                            <td>{a.day.clone()}</td>
                            <td>{scope_view}</td>
                            <td class="num">{format!("{} {}", a.amount, a.currency)}</td>
                            <td class="num">{format!("{} {}", a.expected, a.currency)}</td>
                            <td class="num">{a.z.clone().unwrap_or_else(|| "flat before".into())}</td>
                            <td><span class=status_class(&a.status)>{a.status.clone()}</span>{decided}{form}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn ImportForm() -> impl IntoView {
    view! {
        <form class="card" id="cost-import" method="post" action="/cost/import" enctype="multipart/form-data">
            <h2>"Import a billing file"</h2>
            <p class="muted">"FOCUS 1.0–1.3, AWS CUR or CUR 2.0, as CSV, gzipped CSV, a zip of CSV files or Parquet. Each billing period in the file replaces what was imported for it before."</p>
            <label>"Billing file " <input type="file" name="file" required=true accept=".csv,.gz,.zip,.parquet,text/csv,application/gzip,application/zip,application/vnd.apache.parquet" /></label>
            <button class="button button-primary" type="submit">"Import"</button>
        </form>
    }
}

/// Daily spend as SVG bars, drawn on the server.
#[component]
pub fn DailyChart(days: Vec<(String, String)>, currency: String) -> impl IntoView {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    const PAD: f64 = 28.0;
    let values: Vec<f64> = days.iter().map(|(_, a)| a.parse::<f64>().unwrap_or(0.0)).collect();
    let max = values.iter().copied().fold(0.0f64, f64::max);
    let top = if max <= 0.0 { 1.0 } else { max };
    let n = days.len().max(1) as f64;
    let step = (W - PAD * 2.0) / n;
    let bars = days
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, ((day, amount), v))| {
            let h = (v.max(0.0) / top * (H - PAD * 2.0)).max(if *v > 0.0 { 1.0 } else { 0.0 });
            let label = format!("{day}: {amount} {currency}");
            view! {
                <rect class="bar" x=format!("{:.1}", PAD + step * i as f64 + step * 0.1) y=format!("{:.1}", H - PAD - h)
                    width=format!("{:.1}", step * 0.8) height=format!("{h:.1}") data-day=day.clone()>
                    <title>{label}</title>
                </rect>
            }
        })
        .collect_view();
    let first = days.first().map(|d| d.0.clone()).unwrap_or_default();
    let last = days.last().map(|d| d.0.clone()).unwrap_or_default();
    let top_label = format!("{top:.2} {currency}");
    view! {
        <figure class="chart chart-wide" id="cost-daily">
            <figcaption>"Daily spend (UTC days)"</figcaption>
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label="Daily spend">
                <line class="axis" x1=PAD y1=H - PAD x2=W - PAD y2=H - PAD />
                <text class="axis-label" x=PAD y=PAD - 10.0>{top_label}</text>
                <text class="axis-label" x=PAD y=H - 8.0>{first}</text>
                <text class="axis-label" x=W - PAD y=H - 8.0 text-anchor="end">{last}</text>
                {bars}
            </svg>
        </figure>
    }
}

/// A service's cost over its last 30 days with data (all empty for entities that are not components).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityCostData {
    /// Currency.
    pub currency: Option<String>,
    /// First day shown.
    pub from: String,
    /// Last day shown (inclusive).
    pub to: String,
    /// Total.
    pub total: String,
    /// The 30 days before.
    pub previous_total: String,
    /// Change.
    pub change: String,
    /// Change in percent.
    pub change_percent: Option<String>,
    /// Per day.
    pub days: Vec<(String, String)>,
    /// Per environment.
    pub by_environment: Vec<CostRow>,
    /// Per cloud service.
    pub by_service: Vec<CostRow>,
    /// Its part of the shared costs over the same days (when there are shared costs).
    pub shared_part: Option<String>,
    /// The shared rules behind that part: (name, `even` or `proportional`).
    pub shared_rules: Vec<(String, String)>,
    /// Its cost (direct and shared) a year at this rate, in engineers at the configured yearly cost, one decimal.
    pub engineers: Option<String>,
    /// Its anomalies of the last 90 days.
    pub anomalies: Vec<AnomalyRow>,
}

/// A component's effective cost for the 30 days up to the latest imported day.
#[server(prefix = "/fn", endpoint = "entity_cost")]
pub async fn entity_cost(entity_ref: String) -> Result<EntityCostData, AppError> {
    use portolan_core::cost::query::{self as cq, GroupBy, Metric};
    use server::*;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let db = &state.db;
    let fail = |e| crate::ssr::internal("reading cost", e);
    if !entity_ref.starts_with("component:") {
        return Ok(EntityCostData::default());
    }
    let last = cq::latest_day(db).await.map_err(fail)?.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let to = last.succ_opt().unwrap_or(last);
    let from = to - chrono::Duration::days(30);
    let prev = from - chrono::Duration::days(30);
    let run = |group_by, from, to, currency: Option<String>| {
        let mut q = q(group_by, Metric::Effective, from, to);
        q.component = Some(entity_ref.to_lowercase());
        q.currency = currency;
        async move { cq::report(db, &q).await }
    };
    let by_day = run(GroupBy::Day, from, to, None).await.map_err(fail)?;
    let currency = by_day.currency.clone();
    let before = run(GroupBy::Day, prev, from, currency.clone()).await.map_err(fail)?;
    let by_env = run(GroupBy::Environment, from, to, currency.clone()).await.map_err(fail)?;
    let by_service = run(GroupBy::Service, from, to, currency.clone()).await.map_err(fail)?;
    let (total, previous_total) = (amount(&by_day.total), amount(&before.total));
    // Every day of the window, zero where nothing was spent.
    let spent: std::collections::HashMap<&str, &str> =
        by_day.groups.iter().map(|g| (g.key.as_str(), g.amount.as_str())).collect();
    let days = (0..30)
        .filter_map(|i| from.checked_add_days(chrono::Days::new(i)))
        .map(|d| {
            let key = d.to_string();
            let a = spent.get(key.as_str()).map(|a| amount(a)).unwrap_or_default();
            (key, a.to_cents_text())
        })
        .collect();
    let (mut shared_part, mut shared_rules) = (None, Vec::new());
    let mut with_shared = total;
    if let Some(c) = &currency {
        let rules = portolan_core::cost::load_rules(db).await.map_err(fail)?;
        let component = entity_ref.to_lowercase();
        let (part, per_rule) =
            cq::shared_part(db, &rules, &component, Metric::Effective, (from, to), c).await.map_err(fail)?;
        if !per_rule.is_empty() {
            shared_part = Some(part.to_cents_text());
            shared_rules = per_rule.into_iter().map(|(name, split, _)| (name, split)).collect();
            with_shared += part;
        }
    }
    let engineers = match (&state.config.cost.engineer_yearly, &currency) {
        (Some((yearly, yc)), Some(c)) if yc == c && yearly.0 > 0 => {
            // A year at the rate of these 30 days, in tenths of an engineer, rounded to the nearest.
            let tenths = (with_shared.0 * 365 * 10 * 2 / (30 * yearly.0) + 1) / 2;
            Some(format!("{}.{}", tenths / 10, (tenths % 10).abs()))
        }
        _ => None,
    };
    let (anomalies, _) = anomaly_rows(
        &state,
        &viewer,
        portolan_core::cost::anomalies::AnomalyQuery {
            from: Some(to - chrono::Duration::days(90)),
            component: Some(entity_ref.to_lowercase()),
            ..Default::default()
        },
        usize::MAX,
    )
    .await?;
    Ok(EntityCostData {
        shared_part,
        shared_rules,
        engineers,
        anomalies,
        currency,
        from: from.to_string(),
        to: last.to_string(),
        total: total.to_cents_text(),
        previous_total: previous_total.to_cents_text(),
        change: (total - previous_total).to_cents_text(),
        change_percent: cq::percent(total - previous_total, previous_total),
        days,
        by_environment: rows(&by_env, false),
        by_service: rows(&by_service, false),
    })
}

/// The cost of the entity a page shows, started with the page (before its suspended parts render) so the
/// browser hydrates it from the server's answer.
#[derive(Clone, Copy, Debug)]
pub struct EntityCostResource(pub Resource<Result<EntityCostData, AppError>>);

impl EntityCostResource {
    /// Starts loading for the entity the page shows.
    pub fn new(entity_ref: impl Fn() -> String + Send + Sync + 'static) -> Self {
        EntityCostResource(Resource::new(entity_ref, entity_cost))
    }
}

/// The cost section of a component's page.
#[component]
pub fn EntityCost() -> impl IntoView {
    let data = expect_context::<EntityCostResource>().0;
    let location = leptos_router::hooks::use_location();
    let params = use_query_map();
    let notice = move || params.read().get("notice");
    let problem = move || params.read().get("error");
    view! {
        <section class="card" id="entity-cost" aria-labelledby="entity-cost-title">
            <h2 id="entity-cost-title">"Cost"</h2>
            {move || notice().map(|n| view! { <p class="alert" role="status" id="entity-cost-notice">{n}</p> })}
            {move || problem().map(|p| view! { <p class="alert alert-error" role="alert" id="entity-cost-error">{p}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let back = location.pathname.get();
                    Suspend::new(async move {
                    match data.await {
                        Ok(d) if d.currency.is_some() => {
                            let c = d.currency.clone().unwrap_or_default();
                            let c2 = c.clone();
                            let c3 = c.clone();
                            view! {
                                <p>
                                    <span class="figure" id="entity-cost-total">{format!("{} {c}", d.total)}</span>
                                    {format!(" effective cost, {} to {} (UTC); ", d.from, d.to)}
                                    <span id="entity-cost-change">{format!("{} {c} ({}) against the 30 days before", d.change, d.change_percent.clone().map(|p| format!("{p}%")).unwrap_or_else(|| "new".into()))}</span>
                                </p>
                                {d.shared_part.clone().map(|p| {
                                    let rules = d.shared_rules.iter().map(|(n, s)| format!("{n} ({s})")).collect::<Vec<_>>().join(", ");
                                    view! { <p id="entity-cost-shared">{format!("Its part of shared costs: {p} {c} (split by {rules}).")}</p> }
                                })}
                                {d.engineers.clone().map(|n| view! { <p id="entity-cost-engineers" class="muted">{format!("A year at this rate is about {n} engineers.")}</p> })}
                                <DailyChart days=d.days.clone() currency=c.clone() />
                                {(!d.anomalies.is_empty()).then(|| view! {
                                    <h3>"Anomalies"</h3>
                                    <Anomalies rows=d.anomalies.clone() back=back.clone() />
                                })}
                                <div class="cost-tables">
                                    <table class="table" id="entity-cost-by-environment">
                                        <thead><tr><th>"Environment"</th><th class="num">"Amount"</th></tr></thead>
                                        <tbody>{d.by_environment.iter().map(|r| view! { <tr><td>{r.label.clone()}</td><td class="num">{format!("{} {c2}", r.amount)}</td></tr> }).collect_view()}</tbody>
                                    </table>
                                    <table class="table" id="entity-cost-by-service">
                                        <thead><tr><th>"Cloud service"</th><th class="num">"Amount"</th></tr></thead>
                                        <tbody>{d.by_service.iter().map(|r| view! { <tr><td>{r.label.clone()}</td><td class="num">{format!("{} {c3}", r.amount)}</td></tr> }).collect_view()}</tbody>
                                    </table>
                                </div>
                            }.into_any()
                        }
                        Ok(_) => view! { <p class="muted">"No cost is tied to this component yet (tag its resources with service, component or app)."</p> }.into_any(),
                        Err(e) => view! { <p class="alert alert-error">{e.to_string()}</p> }.into_any(),
                    }
                })}}
            </Suspense>
        </section>
    }
}
