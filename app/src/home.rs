//! The home page: a greeting, and the person's teams. "My services" and "my recent edits" join it as the
//! catalog and the docs land.

use leptos::prelude::*;
use leptos_meta::Title;
use portolan_types::{PersonView, Viewer};

use portolan_types::catalog::EntitySummary;

use crate::auth::RequireViewer;
use crate::error::AppError;
use crate::people::get_person;

/// What the signed-in person's user and teams own in the catalog.
#[server(prefix = "/fn", endpoint = "my_services")]
pub async fn my_services() -> Result<Vec<EntitySummary>, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let fail = |e| crate::ssr::internal("loading my services", e);
    let person = portolan_core::auth::person(&state.db, &viewer.login).await.map_err(fail)?;
    let slugs: Vec<String> = person.map(|p| p.teams.into_iter().map(|t| t.slug).collect()).unwrap_or_default();
    let owners = portolan_core::catalog::store::owners_for(&state.db, &viewer.login, &slugs).await.map_err(fail)?;
    let vis = crate::ssr::visibility(&state, &viewer).await?;
    portolan_core::catalog::store::owned_by(&state.db, &owners, 50, &vis).await.map_err(fail)
}

/// `/`.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Home" />
        <RequireViewer signed_in=|v: Viewer| view! { <Home viewer=v /> } />
    }
}

#[component]
fn Home(viewer: Viewer) -> impl IntoView {
    let login = viewer.login.clone();
    let person = Resource::new(move || login.clone(), get_person);
    let services = Resource::new(|| (), |_| my_services());
    view! {
        <section class="greeting">
            <h1>"Welcome, " {viewer.name.clone()}</h1>
            <p class="muted">
                {if viewer.is_admin {
                    "You are an administrator of this portal."
                } else {
                    "Here is where you and your teams stand."
                }}
            </p>
        </section>
        <section class="card" aria-labelledby="services-title">
            <h2 id="services-title">"My services"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match services.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted">"Nothing in the catalog is owned by you or your teams yet. "
                                <a href="/catalog">"Browse the catalog"</a></p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="team-list">
                                {list.into_iter().map(|e| view! {
                                    <li>
                                        <a href=e.path()>{e.display_name().to_owned()}</a>
                                        " "
                                        <span class="muted small">{e.kind.clone()} {e.spec_type.clone().map(|t| format!(" · {t}"))}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(_) => view! { <p class="muted">"Your services could not be loaded."</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <section class="card" aria-labelledby="teams-title">
            <h2 id="teams-title">"Your teams"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match person.await {
                        Ok(p) => view! { <TeamList person=p /> }.into_any(),
                        Err(_) => view! { <p class="muted">"Your teams could not be loaded."</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The teams of a person, or a sentence saying there are none.
#[component]
pub fn TeamList(person: PersonView) -> impl IntoView {
    if person.teams.is_empty() {
        return view! { <p class="muted">"No GitHub teams yet. Teams are read from GitHub at each sign-in."</p> }
            .into_any();
    }
    view! {
        <ul class="team-list">
            {person
                .teams
                .into_iter()
                .map(|t| {
                    view! {
                        <li>
                            <span class="team-name">{t.name.clone()}</span>
                            " "
                            <code class="muted">{t.qualified()}</code>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}
