//! The home page: a greeting, and the person's teams. "My services" and "my recent edits" join it as the
//! catalog and the docs land.

use leptos::prelude::*;
use leptos_meta::Title;
use portolan_types::{PersonView, Viewer};

use crate::auth::RequireViewer;
use crate::people::get_person;

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
