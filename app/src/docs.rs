//! `/docs`: runbooks, guides and reference pages, read in the browser. The Markdown is rendered and sanitized on
//! the server (`portolan_core::docs::markdown`), so the page body is inserted as the sanitized HTML it already is.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use portolan_types::Viewer;
use portolan_types::catalog::entity_path;
use portolan_types::docs::{PageSummary, PageView};

use crate::auth::RequireViewer;
use crate::error::{AppError, ErrorPage};
use crate::utc;

/// Every page, by space then title.
#[server(prefix = "/fn", endpoint = "docs_list")]
pub async fn list_pages() -> Result<Vec<PageSummary>, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::docs::pages::list(&state.db, None).await.map_err(|e| crate::ssr::internal("listing pages", e))
}

/// One page by space and slug.
#[server(prefix = "/fn", endpoint = "docs_page")]
pub async fn get_page(space: String, slug: String) -> Result<PageView, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::docs::pages::get_by_slug(&state.db, &space, &slug)
        .await
        .map_err(|e| crate::ssr::internal("loading a page", e))?
        .ok_or_else(|| AppError::NotFound(format!("The page {space}/{slug}")))
}

/// `/docs`.
#[component]
pub fn DocsPage() -> impl IntoView {
    view! {
        <Title text="Docs" />
        <RequireViewer signed_in=|_: Viewer| view! { <DocsList /> } />
    }
}

#[component]
fn DocsList() -> impl IntoView {
    let pages = Resource::new(|| (), |_| list_pages());
    view! {
        <h1>"Docs"</h1>
        <p class="muted">"Runbooks, guides and reference pages, by space."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match pages.await {
                    Ok(list) if list.is_empty() => view! { <p class="card">"No pages yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table entity-table">
                            <thead><tr>
                                <th scope="col">"Page"</th><th scope="col">"Space"</th><th scope="col">"Kind"</th>
                                <th scope="col">"Owner"</th><th scope="col">"Updated"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|p| view! {
                                    <tr>
                                        <td><a href=format!("/docs/{}/{}", p.space, p.slug)>{p.title.clone()}</a></td>
                                        <td>{p.space.clone()}</td>
                                        <td><span class="badge">{p.kind.clone()}</span></td>
                                        <td>{p.owner_ref.clone().map(|o| view! { <a href=entity_path(&o)>{o.clone()}</a> })}</td>
                                        <td>{utc(&p.updated_at)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/docs/:space/:slug`.
#[component]
pub fn DocPageRoute() -> impl IntoView {
    view! { <RequireViewer signed_in=|_: Viewer| view! { <DocView /> } /> }
}

#[component]
fn DocView() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (p.get("space").unwrap_or_default(), p.get("slug").unwrap_or_default())
    };
    let page = Resource::new(key, |(space, slug)| get_page(space, slug));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <DocBody page=p /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DocBody(page: PageView) -> impl IntoView {
    let toc = page.toc.clone();
    view! {
        <Title text=page.title.clone() />
        <p class="muted small"><a href="/docs">"Docs"</a> " / " {page.space.clone()}</p>
        <h1>{page.title.clone()} " " <span class="badge">{page.kind.clone()}</span></h1>
        <p class="muted small">
            {format!("Revision {} by {}, {}", page.revision_number, page.updated_by, utc(&page.updated_at))}
            {page.owner_ref.clone().map(|o| view! { " · owned by " <a href=entity_path(&o)>{o.clone()}</a> })}
        </p>
        {(!page.entities.is_empty()).then(|| view! {
            <p class="small">"About: "
                {page.entities.iter().map(|e| view! { <a class="tag" href=entity_path(e)>{e.clone()}</a> " " }).collect_view()}
            </p>
        })}
        <div class="doc-layout">
            {(toc.len() > 1).then(|| view! {
                <nav class="doc-toc card" aria-label="Contents">
                    <ul>
                        {toc.into_iter().map(|t| view! {
                            <li class=format!("toc-{}", t.level)><a href=format!("#{}", t.id)>{t.text}</a></li>
                        }).collect_view()}
                    </ul>
                </nav>
            })}
            // Rendered and sanitized on the server (ammonia allow list); see portolan_core::docs::markdown.
            <article class="doc-body card" inner_html=page.html.clone()></article>
        </div>
    }
}
