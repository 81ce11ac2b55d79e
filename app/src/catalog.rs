//! The catalog pages: the filterable table of every entity, and each entity's page with its relations.
//!
//! Filters live in the URL (`/catalog?kind=component&owner=payments&q=pay`), so a view can be shared and the page
//! works without JavaScript: the filter form is a plain GET form and paging is plain links.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use portolan_types::Viewer;
use portolan_types::catalog::{
    CREATABLE_KINDS, EntityDetail, EntityForm, EntityPage, EntityQuery, EntitySummary, GRAPH_PRESETS, GraphView,
    ImportReport, LocationView, entity_path,
};

use crate::auth::RequireViewer;
use crate::docs::{EntityDocs, TeamGuides};
use crate::error::{AppError, ErrorPage};

/// One page of the catalog table. JSON-encoded: a URL-encoded body cannot tell an all-empty query from none.
#[server(prefix = "/fn", endpoint = "catalog_list", input = server_fn::codec::Json)]
pub async fn list_entities(query: EntityQuery) -> Result<EntityPage, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    portolan_core::catalog::store::list_counted(&state.db, Some(&state.entity_cache), &query, &vis)
        .await
        .map_err(|e| crate::ssr::internal("listing entities", e))
}

/// One entity with its relations.
#[server(prefix = "/fn", endpoint = "catalog_entity")]
pub async fn get_entity(kind: String, namespace: String, name: String) -> Result<EntityDetail, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let r = portolan_core::catalog::model::EntityRef::new(&kind, &namespace, &name);
    let mut detail = portolan_core::catalog::store::detail(&state.db, &r, &vis, &state.config)
        .await
        .map_err(|e| crate::ssr::internal("loading an entity", e))?
        .ok_or_else(|| AppError::NotFound(format!("The entity {r}")))?;
    detail.highlighted = Some(portolan_core::catalog::store::highlighted(&detail));
    Ok(detail)
}

/// Groups and users for the owner picker: (reference, name).
#[server(prefix = "/fn", endpoint = "catalog_owner_options")]
pub async fn owner_options() -> Result<Vec<(String, String)>, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::catalog::store::owner_options(&state.db).await.map_err(|e| crate::ssr::internal("listing owners", e))
}

/// Whether the viewer may edit (`catalog.entity.edit`) this entity in the portal, so pages show only the buttons
/// that will work.
#[server(prefix = "/fn", endpoint = "catalog_may_edit")]
pub async fn may_edit_entity(entity_ref: String, owner_ref: Option<String>) -> Result<bool, AppError> {
    use portolan_core::access::{Action, Target};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    crate::ssr::allowed(&state, &viewer, Action::CatalogEntityEdit, &Target::entity(entity_ref, owner_ref.as_deref()))
        .await
}

/// Creates (no `etag`) or updates (with the `etag` the form was opened with) a portal-managed entity, then goes
/// to its page. The form's inputs are named `form[field]`, so it also posts without JavaScript.
#[server(prefix = "/fn", endpoint = "catalog_save_entity")]
pub async fn save_entity(etag: String, form: EntityForm) -> Result<(), AppError> {
    use portolan_core::access::{Action, Target};
    use portolan_core::catalog::{form as descriptor, store, store::EditRefusal};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let fail = |e| crate::ssr::internal("saving an entity", e);
    let entity = descriptor::to_entity(&form).map_err(|e| {
        AppError::Invalid(match e.field {
            Some(f) => format!("{f}: {}", e.message),
            None => e.message,
        })
    })?;
    let owner = entity.spec_str("owner").and_then(|o| {
        portolan_core::catalog::model::EntityRef::parse(o, Some("group"), &entity.metadata.namespace)
            .ok()
            .map(|r| r.to_string())
    });
    let entity_ref = entity.entity_ref();
    let target = |owner: Option<&str>| Target::entity(entity_ref.to_string(), owner);
    let result = if etag.is_empty() {
        // Anyone may create what they will own; administrators and granted rules may create for others.
        crate::ssr::authorize(&state, &viewer, Action::CatalogEntityCreate, &target(owner.as_deref())).await?;
        store::create_portal_entity(&state.db, entity, &viewer.login).await.map_err(fail)?.map(|_| ())
    } else {
        let current = store::find(&state.db, &entity_ref).await.map_err(fail)?;
        let current_owner = current.and_then(|c| c.owner_ref);
        // Both the present owner's and the new owner's rights: an edit cannot hand an entity to a stranger.
        crate::ssr::authorize(&state, &viewer, Action::CatalogEntityEdit, &target(current_owner.as_deref())).await?;
        if owner != current_owner {
            crate::ssr::authorize(&state, &viewer, Action::CatalogEntityEdit, &target(owner.as_deref())).await?;
        }
        store::update_portal_entity(&state.db, &entity_ref, &etag, entity, &viewer.login)
            .await
            .map_err(fail)?
            .map(|_| ())
    };
    match result {
        Ok(()) => {
            leptos_axum::redirect(&entity_path(&entity_ref.to_string()));
            Ok(())
        }
        Err(EditRefusal::Invalid(m)) => Err(AppError::Invalid(m)),
        Err(EditRefusal::Conflict) => Err(AppError::Invalid(
            "Someone changed this entity after you opened it. Reload to see their version; nothing was overwritten."
                .to_owned(),
        )),
        Err(EditRefusal::NotFound) => Err(AppError::NotFound(format!("The entity {entity_ref}"))),
        Err(EditRefusal::ManagedElsewhere) => {
            Err(AppError::Invalid(format!("{entity_ref} is managed in its repository; edit it there")))
        }
    }
}

/// Removes an orphaned entity (administrators and its owners).
#[server(prefix = "/fn", endpoint = "catalog_remove_orphan")]
pub async fn remove_orphan(entity_ref: String) -> Result<(), AppError> {
    use portolan_core::catalog::{model::EntityRef, store, store::EditRefusal};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let fail = |e| crate::ssr::internal("removing an orphan", e);
    let r: EntityRef =
        entity_ref.parse().map_err(|e: portolan_core::catalog::model::RefError| AppError::Invalid(e.to_string()))?;
    let current =
        store::find(&state.db, &r).await.map_err(fail)?.ok_or_else(|| AppError::NotFound(format!("The entity {r}")))?;
    let target = portolan_core::access::Target::entity(r.to_string(), current.owner_ref.as_deref());
    crate::ssr::authorize(&state, &viewer, portolan_core::access::Action::CatalogOrphanRemove, &target).await?;
    match store::remove_orphan(&state.db, &r, &viewer.login).await.map_err(fail)? {
        Ok(()) => {
            leptos_axum::redirect("/catalog");
            Ok(())
        }
        Err(EditRefusal::Invalid(m)) => Err(AppError::Invalid(m)),
        Err(_) => Err(AppError::NotFound(format!("The entity {r}"))),
    }
}

/// Deletes a portal-managed entity.
#[server(prefix = "/fn", endpoint = "catalog_delete_entity")]
pub async fn delete_entity(entity_ref: String, etag: String) -> Result<(), AppError> {
    use portolan_core::catalog::{model::EntityRef, store, store::EditRefusal};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let fail = |e| crate::ssr::internal("deleting an entity", e);
    let r: EntityRef =
        entity_ref.parse().map_err(|e: portolan_core::catalog::model::RefError| AppError::Invalid(e.to_string()))?;
    let current =
        store::find(&state.db, &r).await.map_err(fail)?.ok_or_else(|| AppError::NotFound(format!("The entity {r}")))?;
    let target = portolan_core::access::Target::entity(r.to_string(), current.owner_ref.as_deref());
    crate::ssr::authorize(&state, &viewer, portolan_core::access::Action::CatalogEntityDelete, &target).await?;
    match store::delete_portal_entity(&state.db, &r, &etag, &viewer.login).await.map_err(fail)? {
        Ok(()) => {
            leptos_axum::redirect("/catalog");
            Ok(())
        }
        Err(EditRefusal::Conflict) => {
            Err(AppError::Invalid("Someone changed this entity after you opened it; reload and try again.".to_owned()))
        }
        Err(EditRefusal::ManagedElsewhere) => {
            Err(AppError::Invalid(format!("{r} is managed in its repository; remove it there")))
        }
        Err(EditRefusal::NotFound) => Err(AppError::NotFound(format!("The entity {r}"))),
        Err(EditRefusal::Invalid(m)) => Err(AppError::Invalid(m)),
    }
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
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let r = portolan_core::catalog::model::EntityRef::new(&kind, &namespace, &name);
    let center = portolan_core::catalog::store::find(&state.db, &r)
        .await
        .map_err(|e| crate::ssr::internal("loading an entity", e))?;
    if !center.is_some_and(|row| vis.allows(&row)) {
        return Err(AppError::NotFound(format!("The entity {r}")));
    }
    let types: Vec<RelationType> =
        portolan_types::catalog::graph_preset(&preset).iter().filter_map(|n| RelationType::parse(n)).collect();
    portolan_core::catalog::store::graph(&state.db, &r, depth as usize, &types, &vis)
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

/// Registers a location (a path on the server or a URL) and reads it at once (`catalog.location.create`:
/// administrators, or a granted rule).
#[server(prefix = "/fn", endpoint = "catalog_register_location")]
pub async fn register_location(target: String) -> Result<ImportReport, AppError> {
    use portolan_core::access::{Action, Target};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    crate::ssr::authorize(&state, &viewer, Action::CatalogLocationCreate, &Target::global()).await?;
    match portolan_core::catalog::import(&state, &target, &viewer.login).await {
        Ok((target, summary)) => Ok(summary.report(target)),
        Err(portolan_core::catalog::ImportError::Target(message)) => Err(AppError::Invalid(message)),
        Err(e) => Err(crate::ssr::internal("registering a location", e)),
    }
}

/// The kinds the filter offers.
/// The catalog's orders (`sort`): a leading `-` reverses one.
const SORTS: [(&str, &str); 5] = [
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
    ("kind", "Kind"),
    ("owner", "Owner"),
    ("-updated", "Recently changed"),
];

/// A column heading that sorts the table by `key`, and reverses the order when it already does.
fn sort_heading(query: &EntityQuery, key: &str, label: &'static str) -> impl IntoView + use<> {
    let current = query.sort.as_deref().unwrap_or("name");
    let (next, aria) = match current.strip_prefix('-') {
        Some(k) if k == key => (key.to_owned(), "descending"),
        None if current == key => (format!("-{key}"), "ascending"),
        _ => (key.to_owned(), "none"),
    };
    let href = catalog_url(&EntityQuery { sort: Some(next), cursor: None, ..query.clone() });
    view! {
        <th scope="col" aria-sort=aria>
            <a href=href title="Sort by this column">{label}</a>
        </th>
    }
}

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
            fields: None,
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
            <label>"Namespace" <input name="namespace" value=field(|q| q.namespace.clone()) placeholder="any" /></label>
            // Labelled by id, not by wrapping: a wrapping label's text would take in the options' words
            // ("Kind", "Owner") and make the other filters' labels ambiguous.
            <div class="field">
                <label for="catalog-sort">"Sort"</label>
                <select id="catalog-sort" name="sort">
                    {SORTS
                        .into_iter()
                        .map(|(value, label)| {
                            view! {
                                <option value=value selected=move || query.get().sort.as_deref().unwrap_or("name") == value>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </div>
            <button class="button button-primary" type="submit">
                "Filter"
            </button>
            <a class="button button-quiet" href="/catalog">
                "Clear"
            </a>
            <a class="button button-quiet" href="/catalog/locations">
                "Locations"
            </a>
            <a class="button" href="/catalog/new">
                "New entity"
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
                            {sort_heading(&query, "name", "Name")}
                            {sort_heading(&query, "kind", "Kind")}
                            <th scope="col">"Type"</th>
                            {sort_heading(&query, "owner", "Owner")}
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

/// Code as the server highlighted it (escaped text and `hl-*` spans only, from `docs::highlight`), else plain.
#[component]
fn HighlightedCode(plain: String, html: Option<String>) -> impl IntoView {
    match html {
        Some(html) => view! { <pre class="code"><code inner_html=html></code></pre> }.into_any(),
        None => view! { <pre class="code"><code>{plain}</code></pre> }.into_any(),
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
    provide_context(crate::docs::EntityDocsData::new(move || {
        let (kind, namespace, name) = key();
        format!("{kind}:{namespace}/{name}").to_lowercase()
    }));
    provide_context(crate::deploys::EntityDeploysData::new(move || {
        let (kind, namespace, name) = key();
        format!("{kind}:{namespace}/{name}").to_lowercase()
    }));
    provide_context(crate::cost::EntityCostResource::new(move || {
        let (kind, namespace, name) = key();
        format!("{kind}:{namespace}/{name}").to_lowercase()
    }));
    provide_context(crate::health::EntityHealthResource::new(move || {
        let (kind, namespace, name) = key();
        format!("{kind}:{namespace}/{name}").to_lowercase()
    }));
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

/// The relations of one type, as links (missing ones marked).
fn related(detail: &EntityDetail, relation: &str) -> Vec<portolan_types::catalog::RelationView> {
    detail.relations.iter().filter(|r| r.relation_type == relation).cloned().collect()
}

#[component]
fn RelatedList(items: Vec<portolan_types::catalog::RelationView>, empty: &'static str) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    view! {
        <ul class="related">
            {items.into_iter().map(|r| {
                let label = r.target_title.clone().unwrap_or_else(|| short_ref(&r.target_ref));
                if r.target_exists {
                    view! { <li><a href=entity_path(&r.target_ref)>{label}</a> " " <span class="muted small">{r.target_ref.split(':').next().unwrap_or_default().to_owned()}</span></li> }.into_any()
                } else {
                    view! { <li><code>{r.target_ref.clone()}</code> " " <span class="badge badge-error">"missing"</span></li> }.into_any()
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// A team's or a person's page: where they sit, who is in it, and what they own.
#[component]
fn PeopleSection(detail: EntityDetail) -> impl IntoView {
    let group = detail.summary.kind == "group";
    let owns = related(&detail, "ownerOf");
    view! {
        <section class="card people" aria-labelledby="people-title">
            <h2 id="people-title">{if group { "Team" } else { "Person" }}</h2>
            <div class="people-grid">
                {if group {
                    view! {
                        <div><h3>"Parent"</h3><RelatedList items=related(&detail, "childOf") empty="A top-level group." /></div>
                        <div><h3>"Child groups"</h3><RelatedList items=related(&detail, "parentOf") empty="None." /></div>
                        <div><h3>"Members"</h3><RelatedList items=related(&detail, "hasMember") empty="No members listed." /></div>
                    }.into_any()
                } else {
                    view! {
                        <div><h3>"Member of"</h3><RelatedList items=related(&detail, "memberOf") empty="No groups." /></div>
                    }.into_any()
                }}
                <div>
                    <h3>{format!("Owns ({})", owns.len())}</h3>
                    <RelatedList items=owns empty="Nothing yet." />
                </div>
            </div>
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
            // An orphan's source no longer declares it, so its repository is no place to edit it: it can only be
            // removed, whether or not it has an edit URL (every entity GitHub discovery finds has one).
            {match (&detail.edit_url, s.managed_by.as_str()) {
                (_, "location") if s.orphan => view! { <OrphanActions detail=detail.clone() /> }.into_any(),
                (Some(url), _) => view! { <a class="button" href=url.clone() rel="noopener noreferrer">"Edit in repository"</a> }.into_any(),
                (None, "location") => view! { <p class="muted small">"Managed in its repository; edit it there."</p> }.into_any(),
                _ => view! { <EntityActions detail=detail.clone() /> }.into_any(),
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
                <dd>{crate::utc(&detail.updated_at)}</dd>
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
        {matches!(s.kind.as_str(), "group" | "user").then(|| view! { <PeopleSection detail=detail.clone() /> })}
        {(s.kind == "group").then(|| view! { <TeamGuides /> })}
        <EntityDocs entity_ref=s.entity_ref.clone() />
        {matches!(s.kind.as_str(), "component" | "resource").then(|| view! { <crate::health::EntityHealthCard entity_ref=s.entity_ref.clone() /> })}
        {(s.kind == "component").then(|| view! { <crate::deploys::EntityDeploys entity_ref=s.entity_ref.clone() /> })}
        {(s.kind == "component").then(|| view! { <crate::cost::EntityCost /> })}
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
        {detail.definition.clone().map(|definition| {
            let ops = detail.api_operations.clone();
            view! {
                <section class="card" aria-labelledby="definition-title">
                    <h2 id="definition-title">"Definition"</h2>
                    {(!ops.is_empty()).then(|| view! {
                        <table class="table operations">
                            <thead><tr><th scope="col">"Method"</th><th scope="col">"Path"</th><th scope="col">"Summary"</th></tr></thead>
                            <tbody>
                                {ops.into_iter().map(|o| {
                                    let class = format!("method method-{}", o.method.to_lowercase());
                                    view! {
                                        <tr>
                                            <td><span class=class>{o.method}</span></td>
                                            <td><code>{o.path}</code></td>
                                            <td>{o.summary}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    })}
                    <details open=detail.api_operations.is_empty()>
                        <summary>"Source"</summary>
                        <HighlightedCode plain=definition html=detail.highlighted.as_ref().and_then(|h| h.definition.clone()) />
                    </details>
                </section>
            }
        })}
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
            <HighlightedCode plain=detail.source_yaml.clone() html=detail.highlighted.as_ref().and_then(|h| h.source_yaml.clone()) />
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
                <p class="muted small">
                    "A URL of a file on the configured GitHub may be a glob: "
                    <code>"…/blob/main/services/*/catalog-info.yaml"</code>
                    " reads every file it matches."
                </p>
            </ActionForm>
            {move || register.value().get().map(|result| match result {
                Ok(r) => view! {
                    <p class="alert" role="status">
                        {r.to_string()}
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
                                        <td>{l.last_refresh_at.as_deref().map(crate::utc).unwrap_or_else(|| "never".to_owned())}</td>
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

/// `/catalog/new?kind=…`: create a portal-managed entity.
#[component]
pub fn NewEntityPage() -> impl IntoView {
    let query = use_query_map();
    view! {
        <Title text="New entity" />
        <RequireViewer signed_in=move |_: Viewer| {
            let kind = query.read().get("kind").filter(|k| CREATABLE_KINDS.iter().any(|(v, _)| v == k)).unwrap_or_else(|| "component".to_owned());
            let form = EntityForm { kind: kind.clone(), namespace: "default".to_owned(), ..Default::default() };
            view! {
                <p class="muted small"><a href="/catalog">"Catalog"</a> " / new"</p>
                <h1>"New entity"</h1>
                <nav class="pager" aria-label="Kind">
                    {CREATABLE_KINDS.iter().map(|(value, label)| {
                        let current = (*value == kind).then_some("page");
                        view! { <a href=format!("/catalog/new?kind={value}") aria-current=current>{*label}</a> }
                    }).collect_view()}
                </nav>
                <EntityEditor form=form etag=String::new() />
            }
        } />
    }
}

/// `/catalog/:namespace/:kind/:name/edit`: edit a portal-managed entity.
#[component]
pub fn EditEntityPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (p.get("kind").unwrap_or_default(), p.get("namespace").unwrap_or_default(), p.get("name").unwrap_or_default())
    };
    let entity = Resource::new(key, |(kind, namespace, name)| get_entity(kind, namespace, name));
    view! {
        <Title text="Edit entity" />
        <RequireViewer signed_in=move |_: Viewer| view! {
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match entity.await {
                        Ok(EntityDetail { form: Some(form), etag, summary, .. }) => view! {
                            <p class="muted small"><a href="/catalog">"Catalog"</a> " / " <a href=summary.path()>{summary.display_name().to_owned()}</a> " / edit"</p>
                            <h1>"Edit " {summary.display_name().to_owned()}</h1>
                            <EntityEditor form=form etag=etag />
                        }.into_any(),
                        Ok(d) => view! { <ErrorPage error=AppError::Invalid(format!("{} is managed in its repository; edit it there.", d.summary.entity_ref)) /> }.into_any(),
                        Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                    }
                })}
            </Suspense>
        } />
    }
}

#[component]
fn TextField(
    label: &'static str,
    name: &'static str,
    value: String,
    #[prop(optional)] hint: &'static str,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input name=format!("form[{name}]") value=value />
            {(!hint.is_empty()).then(|| view! { <small class="muted">{hint}</small> })}
        </label>
    }
}

#[component]
fn EntityEditor(form: EntityForm, etag: String) -> impl IntoView {
    let save = ServerAction::<SaveEntity>::new();
    let owners = Resource::new(|| (), |_| owner_options());
    let editing = !etag.is_empty();
    let kind = form.kind.clone();
    let has = move |kinds: &[&str]| kinds.contains(&kind.as_str());
    let f = form.clone();
    let current_owner = form.owner.clone();
    view! {
        <ActionForm action=save attr:class="card editor">
            <input type="hidden" name="etag" value=etag />
            <input type="hidden" name="form[kind]" value=form.kind.clone() />
            {move || save.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
            {if editing {
                view! {
                    <input type="hidden" name="form[namespace]" value=f.namespace.clone() />
                    <input type="hidden" name="form[name]" value=f.name.clone() />
                }.into_any()
            } else {
                view! {
                    <TextField label="Name" name="name" value=f.name.clone() hint="Letters, digits, - _ . (up to 63)" />
                    <TextField label="Namespace" name="namespace" value=f.namespace.clone() />
                }.into_any()
            }}
            <TextField label="Title" name="title" value=f.title.clone() />
            <label class="field">
                <span>"Description"</span>
                <textarea name="form[description]" rows="3">{f.description.clone()}</textarea>
            </label>
            {has(&["component", "api", "system", "domain", "resource"]).then(|| view! {
                <label class="field">
                    <span>"Owner"</span>
                    <Suspense fallback=|| view! { <input name="form[owner]" /> }>
                        {
                            let current_owner = current_owner.clone();
                            move || {
                                let current_owner = current_owner.clone();
                                Suspend::new(async move {
                                    let options = owners.await.unwrap_or_default();
                                    view! {
                                        <select name="form[owner]" required>
                                            <option value="">"Choose a team or person"</option>
                                            {options.into_iter().map(|(r, label)| {
                                                let selected = r == current_owner;
                                                view! { <option value=r.clone() selected=selected>{format!("{label} ({})", short_ref(&r))}</option> }
                                            }).collect_view()}
                                        </select>
                                    }
                                })
                            }
                        }
                    </Suspense>
                </label>
            })}
            {has(&["component", "api", "resource", "group"]).then(|| view! { <TextField label="Type" name="spec_type" value=f.spec_type.clone() hint="e.g. service, website, library, openapi, database, team" /> })}
            {has(&["component", "api"]).then(|| view! { <TextField label="Lifecycle" name="lifecycle" value=f.lifecycle.clone() hint="experimental, production or deprecated" /> })}
            {has(&["component", "api", "resource"]).then(|| view! { <TextField label="System" name="system" value=f.system.clone() /> })}
            {has(&["system"]).then(|| view! { <TextField label="Domain" name="domain" value=f.domain.clone() /> })}
            {has(&["group"]).then(|| view! { <TextField label="Parent group" name="parent" value=f.parent.clone() /> })}
            {has(&["user"]).then(|| view! { <TextField label="Member of" name="member_of" value=f.member_of.clone() hint="Groups, separated by commas" /> })}
            {has(&["api"]).then(|| view! {
                <label class="field">
                    <span>"Definition"</span>
                    <textarea name="form[definition]" rows="8">{f.definition.clone()}</textarea>
                </label>
            })}
            <TextField label="Tags" name="tags" value=f.tags.clone() hint="Separated by commas" />
            <button class="button button-primary" type="submit">{if editing { "Save changes" } else { "Create" }}</button>
        </ActionForm>
    }
}

#[component]
fn OrphanActions(detail: EntityDetail) -> impl IntoView {
    let remove = ServerAction::<RemoveOrphan>::new();
    let key = (detail.summary.entity_ref.clone(), detail.summary.owner_ref.clone());
    let allowed = Resource::new(move || key.clone(), |(r, o)| may_edit_entity(r, o));
    let entity_ref = detail.summary.entity_ref.clone();
    view! {
        <p class="alert">"Its location no longer declares this entity. It stays until someone removes it."</p>
        <Suspense>
            {move || {
                let entity_ref = entity_ref.clone();
                Suspend::new(async move {
                    (allowed.await == Ok(true)).then(|| view! {
                        <ActionForm action=remove>
                            <input type="hidden" name="entity_ref" value=entity_ref />
                            <button class="button" type="submit">"Remove orphan"</button>
                        </ActionForm>
                    })
                })
            }}
        </Suspense>
        {move || remove.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
    }
}

#[component]
fn EntityActions(detail: EntityDetail) -> impl IntoView {
    let delete = ServerAction::<DeleteEntity>::new();
    let key = (detail.summary.entity_ref.clone(), detail.summary.owner_ref.clone());
    let allowed = Resource::new(move || key.clone(), |(r, o)| may_edit_entity(r, o));
    let edit_href = format!("{}/edit", detail.summary.path());
    let entity_ref = detail.summary.entity_ref.clone();
    let etag = detail.etag.clone();
    view! {
        <Suspense>
            {move || {
                let (edit_href, entity_ref, etag) = (edit_href.clone(), entity_ref.clone(), etag.clone());
                Suspend::new(async move {
                    (allowed.await == Ok(true)).then(|| view! {
                        <div class="actions">
                            <a class="button" href=edit_href>"Edit"</a>
                            <ActionForm action=delete>
                                <input type="hidden" name="entity_ref" value=entity_ref />
                                <input type="hidden" name="etag" value=etag />
                                <button class="button button-quiet" type="submit">"Delete"</button>
                            </ActionForm>
                        </div>
                    })
                })
            }}
        </Suspense>
        {move || delete.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
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
    fn sort_headings_reverse_the_current_order_and_keep_the_filters() {
        let q = EntityQuery { kind: Some("component".into()), cursor: Some("o14".into()), ..Default::default() };
        let html = |q: &EntityQuery, key| sort_heading(q, key, "Name").to_html();
        let by_name = html(&q, "name");
        assert!(by_name.contains(r#"aria-sort="ascending""#), "{by_name}");
        assert!(by_name.contains(r#"href="/catalog?kind=component&amp;sort=-name""#), "{by_name}");
        let reversed = EntityQuery { sort: Some("-name".into()), ..q.clone() };
        assert!(html(&reversed, "name").contains(r#"aria-sort="descending""#));
        assert!(html(&reversed, "name").contains("sort=name\""));
        let other = html(&reversed, "owner");
        assert!(other.contains(r#"aria-sort="none""#) && other.contains("sort=owner\""), "{other}");
    }

    #[test]
    fn short_refs_drop_the_default_namespace_only() {
        assert_eq!(short_ref("group:default/payments"), "payments");
        assert_eq!(short_ref("group:finance/payments"), "finance/payments");
    }
}
