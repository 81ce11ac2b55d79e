//! The catalog pages: the filterable table of every entity, and each entity's page with its relations.
//!
//! Filters live in the URL (`/catalog?kind=component&owner=payments&q=pay`), so a view can be shared and the page
//! works without JavaScript: the filter form is a plain GET form and paging is plain links.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use portolan_types::Viewer;
use portolan_types::catalog::{
    EntityDetail, EntityPage, EntityQuery, EntitySummary, GRAPH_PRESETS, GraphView, ImportReport, LocationView,
    entity_path,
};

use crate::auth::RequireViewer;
use crate::error::{AppError, ErrorPage};

/// One page of the catalog table. JSON-encoded: a URL-encoded body cannot tell an all-empty query from none.
#[server(prefix = "/fn", endpoint = "catalog_list", input = server_fn::codec::Json)]
pub async fn list_entities(query: EntityQuery) -> Result<EntityPage, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::catalog::store::list(&state.db, &query)
        .await
        .map_err(|e| crate::ssr::internal("listing entities", e))
}

/// One entity with its relations.
#[server(prefix = "/fn", endpoint = "catalog_entity")]
pub async fn get_entity(kind: String, namespace: String, name: String) -> Result<EntityDetail, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let r = portolan_core::catalog::model::EntityRef::new(&kind, &namespace, &name);
    portolan_core::catalog::store::detail(&state.db, &r)
        .await
        .map_err(|e| crate::ssr::internal("loading an entity", e))?
        .ok_or_else(|| AppError::NotFound(format!("The entity {r}")))
}

/// The relation graph around an entity.
#[server(prefix = "/fn", endpoint = "catalog_graph")]
pub async fn get_graph(
    kind: String,
    namespace: String,
    name: String,
    depth: u32,
    preset: String,
) -> Result<GraphView, AppError> {
    use portolan_core::catalog::relations::RelationType;
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let r = portolan_core::catalog::model::EntityRef::new(&kind, &namespace, &name);
    let types: Vec<RelationType> =
        portolan_types::catalog::graph_preset(&preset).iter().filter_map(|n| RelationType::parse(n)).collect();
    portolan_core::catalog::store::graph(&state.db, &r, depth as usize, &types)
        .await
        .map_err(|e| crate::ssr::internal("drawing the relation graph", e))
}

/// Every registered location with its last refresh.
#[server(prefix = "/fn", endpoint = "catalog_locations")]
pub async fn list_locations() -> Result<Vec<LocationView>, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::catalog::store::location_views(&state.db)
        .await
        .map_err(|e| crate::ssr::internal("listing locations", e))
}

/// Registers a location (a path on the server or a URL) and reads it at once. Administrators only until
/// per-owner permissions land.
#[server(prefix = "/fn", endpoint = "catalog_register_location")]
pub async fn register_location(target: String) -> Result<ImportReport, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    if !viewer.is_admin {
        return Err(AppError::Forbidden("register a location (catalog.location.create)".to_owned()));
    }
    let state = crate::ssr::state()?;
    match portolan_core::catalog::import(&state.db, &target, &viewer.login).await {
        Ok((target, summary)) => Ok(summary.report(target)),
        Err(portolan_core::catalog::ImportError::Target(message)) => Err(AppError::Invalid(message)),
        Err(e) => Err(crate::ssr::internal("registering a location", e)),
    }
}

/// The kinds the filter offers.
const KINDS: [(&str, &str); 9] = [
    ("component", "Component"),
    ("api", "API"),
    ("system", "System"),
    ("domain", "Domain"),
    ("resource", "Resource"),
    ("group", "Group"),
    ("user", "User"),
    ("template", "Template"),
    ("location", "Location"),
];

/// Percent-encodes a query-string value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `/catalog?…` URL for a query.
pub fn catalog_url(q: &EntityQuery) -> String {
    let pairs = [
        ("q", &q.q),
        ("kind", &q.kind),
        ("type", &q.spec_type),
        ("owner", &q.owner),
        ("lifecycle", &q.lifecycle),
        ("namespace", &q.namespace),
        ("tag", &q.tag),
        ("system", &q.system),
        ("sort", &q.sort),
        ("cursor", &q.cursor),
    ];
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| format!("{k}={}", encode(v))))
        .collect();
    if query.is_empty() { "/catalog".to_owned() } else { format!("/catalog?{}", query.join("&")) }
}

/// A reference shown short: `group:default/payments` → `payments`, other namespaces kept.
pub fn short_ref(entity_ref: &str) -> String {
    let rest = entity_ref.split_once(':').map_or(entity_ref, |(_, r)| r);
    rest.strip_prefix("default/").unwrap_or(rest).to_owned()
}

/// `/catalog`.
#[component]
pub fn CatalogPage() -> impl IntoView {
    view! {
        <Title text="Catalog" />
        <RequireViewer signed_in=|_: Viewer| view! { <Catalog /> } />
    }
}

#[component]
fn Catalog() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let m = params.read();
        EntityQuery {
            kind: m.get("kind"),
            spec_type: m.get("type"),
            owner: m.get("owner"),
            lifecycle: m.get("lifecycle"),
            namespace: m.get("namespace"),
            tag: m.get("tag"),
            system: m.get("system"),
            q: m.get("q"),
            sort: m.get("sort"),
            cursor: m.get("cursor"),
            limit: None,
        }
    });
    let page = Resource::new(move || query.get(), list_entities);
    let field = move |f: fn(&EntityQuery) -> Option<String>| move || f(&query.get()).unwrap_or_default();

    view! {
        <h1>"Catalog"</h1>
        <form class="filters card" method="get" action="/catalog" role="search">
            <label>
                "Search" <input type="search" name="q" value=field(|q| q.q.clone()) placeholder="name, title or description" />
            </label>
            <label>
                "Kind"
                <select name="kind">
                    <option value="">"Any"</option>
                    {KINDS
                        .into_iter()
                        .map(|(value, label)| {
                            view! {
                                <option value=value selected=move || query.get().kind.as_deref() == Some(value)>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>"Type" <input name="type" value=field(|q| q.spec_type.clone()) /></label>
            <label>"Owner" <input name="owner" value=field(|q| q.owner.clone()) /></label>
            <label>"Lifecycle" <input name="lifecycle" value=field(|q| q.lifecycle.clone()) /></label>
            <label>"System" <input name="system" value=field(|q| q.system.clone()) /></label>
            <label>"Tag" <input name="tag" value=field(|q| q.tag.clone()) /></label>
            <button class="button button-primary" type="submit">
                "Filter"
            </button>
            <a class="button button-quiet" href="/catalog">
                "Clear"
            </a>
            <a class="button button-quiet" href="/catalog/locations">
                "Locations"
            </a>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <EntityTable page=p query=query.get_untracked() /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EntityTable(page: EntityPage, query: EntityQuery) -> impl IntoView {
    let next = page.next_cursor.clone().map(|c| catalog_url(&EntityQuery { cursor: Some(c), ..query.clone() }));
    let first = query.cursor.is_some().then(|| catalog_url(&EntityQuery { cursor: None, ..query.clone() }));
    let shown = page.items.len();
    view! {
        <p class="muted" aria-live="polite">
            {format!("{} entities match", page.total)}
        </p>
        {if page.items.is_empty() {
            view! { <p class="card">"Nothing matches these filters."</p> }.into_any()
        } else {
            view! {
                <table class="table entity-table">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Type"</th>
                            <th scope="col">"Owner"</th>
                            <th scope="col">"System"</th>
                            <th scope="col">"Lifecycle"</th>
                            <th scope="col">"Tags"</th>
                        </tr>
                    </thead>
                    <tbody>{page.items.into_iter().map(|e| view! { <EntityRow entity=e /> }).collect_view()}</tbody>
                </table>
            }
                .into_any()
        }}
        <nav class="pager" aria-label="Pages">
            {first.map(|href| view! { <a href=href>"First page"</a> })}
            {next.map(|href| view! { <a href=href rel="next">{format!("Next {shown}")}</a> })}
        </nav>
    }
}

#[component]
fn RefLink(entity_ref: Option<String>) -> impl IntoView {
    entity_ref.map(|r| view! { <a href=entity_path(&r)>{short_ref(&r)}</a> })
}

#[component]
fn EntityRow(entity: EntitySummary) -> impl IntoView {
    let href = entity.path();
    let name = entity.display_name().to_owned();
    view! {
        <tr>
            <td>
                <a href=href>{name}</a>
                {entity.orphan.then(|| view! { " " <span class="badge badge-warn">"orphan"</span> })}
                {entity.description.clone().map(|d| view! { <div class="muted small">{d}</div> })}
            </td>
            <td>{entity.kind.clone()}</td>
            <td>{entity.spec_type.clone()}</td>
            <td>
                <RefLink entity_ref=entity.owner_ref.clone() />
            </td>
            <td>
                <RefLink entity_ref=entity.system_ref.clone() />
            </td>
            <td>{entity.lifecycle.clone()}</td>
            <td>
                {entity
                    .tags
                    .iter()
                    .map(|t| {
                        let href = catalog_url(&EntityQuery { tag: Some(t.clone()), ..Default::default() });
                        view! { <a class="tag" href=href>{t.clone()}</a> " " }
                    })
                    .collect_view()}
            </td>
        </tr>
    }
}

/// `/catalog/:namespace/:kind/:name`.
#[component]
pub fn EntityPageRoute() -> impl IntoView {
    view! { <RequireViewer signed_in=|_: Viewer| view! { <EntityView /> } /> }
}

#[component]
fn EntityView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let graph_key = move || {
        let p = params.read();
        let q = query.read();
        let depth = q.get("depth").and_then(|d| d.parse::<u32>().ok()).unwrap_or(1).clamp(1, 3);
        (
            p.get("kind").unwrap_or_default(),
            p.get("namespace").unwrap_or_default(),
            p.get("name").unwrap_or_default(),
            depth,
            q.get("relations").unwrap_or_default(),
        )
    };
    let graph = Resource::new(graph_key, |(kind, namespace, name, depth, preset)| {
        get_graph(kind, namespace, name, depth, preset)
    });
    let key = move || {
        let p = params.read();
        (p.get("kind").unwrap_or_default(), p.get("namespace").unwrap_or_default(), p.get("name").unwrap_or_default())
    };
    let entity = Resource::new(key, |(kind, namespace, name)| get_entity(kind, namespace, name));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entity.await {
                    Ok(d) => view! { <EntityDetailView detail=d /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense>
            {move || Suspend::new(async move {
                let (_, _, _, depth, preset) = graph_key();
                graph.await.ok().map(|g| view! { <GraphSection graph=g depth=depth preset=preset /> })
            })}
        </Suspense>
    }
}

/// Shortens a label to fit a node box.
fn fit(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        format!("{}…", label.chars().take(max - 1).collect::<String>())
    }
}

#[component]
fn GraphSection(graph: GraphView, depth: u32, preset: String) -> impl IntoView {
    let positions: std::collections::HashMap<String, (i32, i32)> =
        graph.nodes.iter().map(|n| (n.entity_ref.clone(), (n.x, n.y))).collect();
    let edges = graph
        .edges
        .iter()
        .filter_map(|e| {
            let (x1, y1) = *positions.get(&e.from)?;
            let (x2, y2) = *positions.get(&e.to)?;
            // Stop the line at the target box's edge so the arrowhead stays visible.
            let (dx, dy) = (f64::from(x2 - x1), f64::from(y2 - y1));
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let cut = (75.0 * dx.abs() / len).max(20.0 * dy.abs() / len).min(len / 2.0) + 4.0;
            let (ex, ey) = (f64::from(x2) - dx / len * cut, f64::from(y2) - dy / len * cut);
            let (mx, my) = ((x1 + x2) / 2, (y1 + y2) / 2);
            Some(view! {
                <g class="edge">
                    <line x1=x1 y1=y1 x2=ex.round() as i32 y2=ey.round() as i32 marker-end="url(#arrow)" />
                    <text x=mx y=my - 4 text-anchor="middle">{e.relation_type.clone()}</text>
                </g>
            })
        })
        .collect_view();
    let nodes = graph
        .nodes
        .iter()
        .map(|n| {
            let class = if n.center {
                "node node-center"
            } else if n.title.is_some() {
                "node"
            } else {
                "node node-missing"
            };
            let label = fit(&n.title.clone().unwrap_or_else(|| short_ref(&n.entity_ref)), 20);
            let kind = n.entity_ref.split(':').next().unwrap_or_default().to_owned();
            let body = view! {
                <rect x=n.x - 75 y=n.y - 20 width="150" height="40" rx="6" />
                <text x=n.x y=n.y - 2 text-anchor="middle" class="node-label">{label}</text>
                <text x=n.x y=n.y + 12 text-anchor="middle" class="node-kind">{if n.title.is_some() { kind } else { format!("{kind} · missing") }}</text>
                <title>{n.entity_ref.clone()}</title>
            };
            if n.title.is_some() && !n.center {
                view! { <g class=class><a href=format!("{}?depth={depth}&relations={preset}", entity_path(&n.entity_ref))>{body}</a></g> }.into_any()
            } else {
                view! { <g class=class>{body}</g> }.into_any()
            }
        })
        .collect_view();
    let current = preset.clone();
    view! {
        <section class="card" aria-labelledby="graph-title">
            <h2 id="graph-title">"Relation graph"</h2>
            <form class="filters" method="get">
                <label>
                    "Depth"
                    <select name="depth">
                        {[1u32, 2, 3].into_iter().map(|d| view! { <option value=d.to_string() selected=d == depth>{d.to_string()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Relations"
                    <select name="relations">
                        {GRAPH_PRESETS.iter().map(|(value, label, _)| view! { <option value=*value selected=*value == current>{*label}</option> }).collect_view()}
                    </select>
                </label>
                <button class="button" type="submit">"Redraw"</button>
            </form>
            <svg class="graph" viewBox=format!("0 0 {} {}", graph.width, graph.height) role="img" aria-label="Relation graph">
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" />
                    </marker>
                </defs>
                {edges}
                {nodes}
            </svg>
        </section>
    }
}

#[component]
fn EntityDetailView(detail: EntityDetail) -> impl IntoView {
    let s = detail.summary.clone();
    let title = s.display_name().to_owned();
    let kind_line = match &s.spec_type {
        Some(t) => format!("{} · {t}", s.kind),
        None => s.kind.clone(),
    };
    view! {
        <Title text=title.clone() />
        <section class="entity-header">
            <p class="muted small">
                <a href="/catalog">"Catalog"</a>
                " / "
                {kind_line}
            </p>
            <h1>
                {title}
                {s.orphan.then(|| view! { " " <span class="badge badge-warn" title="Its source no longer declares it">"orphan"</span> })}
            </h1>
            {s.description.clone().map(|d| view! { <p class="lead">{d}</p> })}
            {match (&detail.edit_url, s.managed_by.as_str()) {
                (Some(url), _) => view! { <a class="button" href=url.clone() rel="noopener noreferrer">"Edit in repository"</a> }.into_any(),
                (None, "location") => view! { <p class="muted small">"Managed in its repository; edit it there."</p> }.into_any(),
                _ => ().into_any(),
            }}
        </section>
        <section class="card">
            <dl class="facts">
                <dt>"Reference"</dt>
                <dd><code>{s.entity_ref.clone()}</code></dd>
                <dt>"Owner"</dt>
                <dd><RefLink entity_ref=s.owner_ref.clone() /></dd>
                <dt>"System"</dt>
                <dd><RefLink entity_ref=s.system_ref.clone() /></dd>
                <dt>"Lifecycle"</dt>
                <dd>{s.lifecycle.clone()}</dd>
                <dt>"Tags"</dt>
                <dd>{s.tags.join(", ")}</dd>
                <dt>"Source"</dt>
                <dd><code>{detail.location.clone().unwrap_or_else(|| "created in the portal".to_owned())}</code></dd>
                <dt>"Updated"</dt>
                <dd>{detail.updated_at.replace('T', " ").replace('Z', " UTC")}</dd>
            </dl>
            {(!detail.links.is_empty()).then(|| view! {
                <h2>"Links"</h2>
                <ul>
                    {detail.links.iter().map(|l| {
                        let text = l.title.clone().unwrap_or_else(|| l.url.clone());
                        if portolan_types::catalog::is_http_url(&l.url) {
                            view! { <li><a href=l.url.clone() rel="noopener noreferrer">{text}</a></li> }.into_any()
                        } else {
                            view! { <li>{text} " " <code>{l.url.clone()}</code></li> }.into_any()
                        }
                    }).collect_view()}
                </ul>
            })}
        </section>
        <section class="card" aria-labelledby="relations-title">
            <h2 id="relations-title">"Relations"</h2>
            {if detail.relations.is_empty() {
                view! { <p class="muted">"No relations."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th scope="col">"Relation"</th><th scope="col">"Entity"</th></tr></thead>
                        <tbody>
                            {detail.relations.iter().map(|r| view! {
                                <tr>
                                    <td>{r.relation_type.clone()}</td>
                                    <td>
                                        {if r.target_exists {
                                            view! { <a href=entity_path(&r.target_ref)>{r.target_title.clone().unwrap_or_else(|| short_ref(&r.target_ref))}</a> " " <code class="muted small">{r.target_ref.clone()}</code> }.into_any()
                                        } else {
                                            view! { <code>{r.target_ref.clone()}</code> " " <span class="badge badge-error">"missing"</span> }.into_any()
                                        }}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        {(!detail.annotations.is_empty() || !detail.labels.is_empty()).then(|| view! {
            <section class="card">
                <h2>"Labels and annotations"</h2>
                <table class="table">
                    <tbody>
                        {detail.labels.iter().chain(detail.annotations.iter()).map(|(k, v)| view! {
                            <tr><th scope="row"><code>{k.clone()}</code></th><td>{v.clone()}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        })}
        <section class="card">
            <h2>"YAML"</h2>
            <pre class="yaml"><code>{detail.source_yaml.clone()}</code></pre>
        </section>
    }
}

/// `/catalog/locations`: where the catalog is read from, how each refresh went, and (for administrators) a form
/// to register another location.
#[component]
pub fn LocationsPage() -> impl IntoView {
    view! {
        <Title text="Locations" />
        <RequireViewer signed_in=|v: Viewer| view! { <Locations viewer=v /> } />
    }
}

#[component]
fn Locations(viewer: Viewer) -> impl IntoView {
    let register = ServerAction::<RegisterLocation>::new();
    let locations = Resource::new(move || register.version().get(), |_| list_locations());
    view! {
        <p class="muted small"><a href="/catalog">"Catalog"</a> " / locations"</p>
        <h1>"Locations"</h1>
        <Show when=move || viewer.is_admin>
            <ActionForm action=register attr:class="card filters">
                <label>
                    "Path or URL"
                    <input name="target" required placeholder="/srv/repos/catalog or https://…/catalog-info.yaml" size="48" />
                </label>
                <button class="button button-primary" type="submit">"Register and import"</button>
            </ActionForm>
            {move || register.value().get().map(|result| match result {
                Ok(r) => view! {
                    <p class="alert" role="status">
                        {format!("{}: {} added, {} updated, {} unchanged, {} orphaned, {} errors", r.target, r.added, r.updated, r.unchanged, r.orphaned, r.errors.len())}
                    </p>
                }.into_any(),
                Err(e) => view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Show>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match locations.await {
                    Ok(list) if list.is_empty() => view! { <p class="card">"No locations yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table entity-table">
                            <thead><tr><th scope="col">"Target"</th><th scope="col">"Status"</th><th scope="col">"Last refresh"</th><th scope="col">"Problems"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|l| {
                                    let badge = if l.status == "ok" { "badge badge-ok" } else { "badge badge-error" };
                                    view! {
                                    <tr>
                                        <td><code>{l.target}</code></td>
                                        <td><span class=badge>{l.status}</span></td>
                                        <td>{l.last_refresh_at.map(|t| t.replace('T', " ").replace('Z', " UTC")).unwrap_or_else(|| "never".to_owned())}</td>
                                        <td><pre class="errors">{l.last_error.unwrap_or_default()}</pre></td>
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_urls_carry_filters_and_encode_values() {
        let q = EntityQuery { kind: Some("component".into()), q: Some("pay & go".into()), ..Default::default() };
        assert_eq!(catalog_url(&q), "/catalog?q=pay%20%26%20go&kind=component");
        assert_eq!(catalog_url(&EntityQuery::default()), "/catalog");
    }

    #[test]
    fn short_refs_drop_the_default_namespace_only() {
        assert_eq!(short_ref("group:default/payments"), "payments");
        assert_eq!(short_ref("group:finance/payments"), "finance/payments");
    }
}
