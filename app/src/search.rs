//! Search: the `/search` page (a plain GET form, so it works without JavaScript) and the keyboard palette
//! (Ctrl/Cmd-K from any page, hydrated): results as you type, arrows to choose, Enter to go.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use portolan_types::Viewer;
use portolan_types::search::{Highlight, SearchHit, SearchResults};

use crate::auth::RequireViewer;
use crate::error::AppError;

/// Kinds the search page filters by: page kinds, then catalog kinds.
const KINDS: [&str; 9] = ["runbook", "guide", "reference", "component", "api", "system", "resource", "group", "user"];

/// Pages and entities matching every word.
#[server(prefix = "/fn", endpoint = "search")]
pub async fn run_search(
    q: String,
    space: Option<String>,
    kind: Option<String>,
    limit: Option<u64>,
) -> Result<SearchResults, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    let query = portolan_types::search::SearchQuery { q, space, kind, owner: None, limit };
    portolan_core::search::search(&state.db, &state.docs_cache.texts, &vis, &query)
        .await
        .map_err(|e| crate::ssr::internal("searching", e))
}

fn marks(parts: Vec<Highlight>) -> impl IntoView {
    parts
        .into_iter()
        .map(|h| if h.hit { view! { <mark>{h.text}</mark> }.into_any() } else { h.text.into_any() })
        .collect_view()
}

/// `/search?q=&kind=&space=`.
#[component]
pub fn SearchPage() -> impl IntoView {
    view! {
        <Title text="Search" />
        <RequireViewer signed_in=|_: Viewer| view! { <SearchView /> } />
    }
}

#[component]
fn SearchView() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        let q = query.read();
        let opt = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
        (q.get("q").unwrap_or_default(), opt("space"), opt("kind"))
    };
    let results = Resource::new(params, |(q, space, kind)| async move {
        if q.trim().is_empty() {
            Ok(SearchResults { query: String::new(), hits: Vec::new() })
        } else {
            run_search(q, space, kind, Some(50)).await
        }
    });
    let (q, space, kind) = params();
    view! {
        <h1>"Search"</h1>
        <form method="get" action="/search" class="card filters" role="search">
            <label>
                "Words"
                <input type="search" name="q" value=q placeholder="restart payments" autofocus />
            </label>
            <label>
                "Kind"
                <select name="kind">
                    <option value="">"Anything"</option>
                    {KINDS.iter().map(|k| {
                        let selected = kind.as_deref() == Some(*k);
                        view! { <option value=*k selected=selected>{*k}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Space"
                <input name="space" value=space.unwrap_or_default() placeholder="any" />
            </label>
            <button class="button button-primary" type="submit">"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(r) if r.query.is_empty() => view! { <p class="muted">"Type a few letters of what you look for: a page title, a service, a command in a runbook. Ctrl-K (⌘-K) opens search from any page."</p> }.into_any(),
                    Ok(r) if r.hits.is_empty() => view! { <p class="card">"Nothing matches " <strong>{r.query}</strong> "."</p> }.into_any(),
                    Ok(r) => view! {
                        <ol class="search-results" data-testid="search-results">
                            {r.hits.into_iter().map(|h| view! { <ResultItem hit=h /> }).collect_view()}
                        </ol>
                    }.into_any(),
                    Err(e) => view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ResultItem(hit: SearchHit) -> impl IntoView {
    view! {
        <li class="card search-result">
            <a class="search-title" href=hit.path.clone()>{marks(hit.title_marks)}</a>
            " " <span class="badge">{hit.detail}</span>
            {(!hit.snippet.is_empty()).then(|| view! { <p class="snippet">{marks(hit.snippet)}</p> })}
        </li>
    }
}

/// The search link in the top bar and the palette it opens (Ctrl/Cmd-K anywhere). Without JavaScript the link
/// goes to `/search`.
#[component]
pub fn CommandPalette() -> impl IntoView {
    let open = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let hits = RwSignal::new(Vec::<SearchHit>::new());
    let selected = RwSignal::new(0usize);
    let generation = StoredValue::new(0u64);
    let input = NodeRef::<leptos::html::Input>::new();
    let navigate = use_navigate();

    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("k") {
                ev.prevent_default();
                open.set(true);
            } else if ev.key() == "Escape" && open.get_untracked() {
                open.set(false);
            }
        });
        on_cleanup(move || handle.remove());
    }
    Effect::new(move |_| {
        if open.get()
            && let Some(el) = input.get()
        {
            let _ = el.focus();
        }
    });

    let on_input = move |value: String| {
        text.set(value.clone());
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        set_timeout(
            move || {
                if generation.get_value() != mine {
                    return;
                }
                if value.trim().is_empty() {
                    hits.set(Vec::new());
                    return;
                }
                leptos::task::spawn_local(async move {
                    if let Ok(r) = run_search(value, None, None, Some(8)).await
                        && generation.get_value() == mine
                    {
                        selected.set(0);
                        hits.set(r.hits);
                    }
                });
            },
            std::time::Duration::from_millis(120),
        );
    };
    let go = Callback::new(move |path: String| {
        open.set(false);
        navigate(&path, Default::default());
    });
    let on_keydown = {
        move |ev: leptos::ev::KeyboardEvent| {
            let count = hits.with_untracked(Vec::len);
            match ev.key().as_str() {
                "ArrowDown" if count > 0 => {
                    ev.prevent_default();
                    selected.update(|s| *s = (*s + 1) % count);
                }
                "ArrowUp" if count > 0 => {
                    ev.prevent_default();
                    selected.update(|s| *s = (*s + count - 1) % count);
                }
                "Enter" => {
                    ev.prevent_default();
                    let target = hits.with_untracked(|h| h.get(selected.get_untracked()).map(|h| h.path.clone()));
                    match target {
                        Some(path) => go.run(path),
                        None => {
                            go.run(format!("/search?q={}", portolan_types::encode_query_value(&text.get_untracked())))
                        }
                    }
                }
                _ => {}
            }
        }
    };
    view! {
        <a class="search-link" href="/search" on:click=move |ev| { ev.prevent_default(); open.set(true); }>
            "Search" " " <kbd>"Ctrl K"</kbd>
        </a>
        <Show when=move || open.get()>
            <div class="palette-backdrop" on:click=move |_| open.set(false)>
                <div class="palette card" role="dialog" aria-modal="true" aria-label="Search" on:click=|ev| ev.stop_propagation()>
                    <input
                        node_ref=input
                        type="search"
                        placeholder="Search pages and the catalog"
                        aria-label="Search pages and the catalog"
                        prop:value=move || text.get()
                        on:input:target=move |ev| on_input(ev.target().value())
                        on:keydown=on_keydown
                    />
                    <ul class="palette-results" role="listbox" aria-label="Results">
                        {move || {
                            hits.get().into_iter().enumerate().map(move |(i, h)| {
                                let path = h.path.clone();
                                view! {
                                    <li role="option" aria-selected=move || (selected.get() == i).to_string() class:selected=move || selected.get() == i>
                                        <a href=h.path.clone() on:click=move |ev| { ev.prevent_default(); go.run(path.clone()); }>
                                            {marks(h.title_marks)}
                                        </a>
                                        " " <span class="muted small">{h.detail}</span>
                                        {(!h.snippet.is_empty()).then(|| view! { <div class="snippet palette-snippet">{marks(h.snippet)}</div> })}
                                    </li>
                                }
                            }).collect_view()
                        }}
                    </ul>
                    <p class="muted small">"↑ ↓ to choose, Enter to open, Esc to close. "
                        <a href=move || format!("/search?q={}", portolan_types::encode_query_value(&text.get())) on:click=move |_| open.set(false)>"All results"</a>
                    </p>
                </div>
            </div>
        </Show>
    }
}
