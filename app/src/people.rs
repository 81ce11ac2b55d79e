//! People: who someone is, and the organisations and teams GitHub reported at their last sign-in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use portolan_types::{PersonView, Viewer};

use crate::auth::RequireViewer;
use crate::error::{AppError, ErrorPage};
use crate::home::TeamList;

/// One person, by login.
#[server(prefix = "/fn", endpoint = "person")]
pub async fn get_person(login: String) -> Result<PersonView, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::auth::person(&state.db, &login)
        .await
        .map_err(|e| crate::ssr::internal("loading a person", e))?
        .ok_or_else(|| AppError::NotFound(format!("Nobody called “{login}”")))
}

/// `/people/:login`.
#[component]
pub fn PersonPage() -> impl IntoView {
    view! { <RequireViewer signed_in=|_: Viewer| view! { <Person /> } /> }
}

#[component]
fn Person() -> impl IntoView {
    let params = use_params_map();
    let person = Resource::new(move || params.read().get("login").unwrap_or_default(), get_person);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match person.await {
                    Ok(p) => view! { <PersonCard person=p /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PersonCard(person: PersonView) -> impl IntoView {
    let orgs = if person.orgs.is_empty() { "none".to_owned() } else { person.orgs.join(", ") };
    let last_login = person.last_login_at.as_deref().map(crate::utc);
    view! {
        <Title text=person.name.clone() />
        <section class="person card">
            <header class="person-header">
                {person.avatar_url.clone().map(|url| view! { <img class="avatar avatar-large" src=url alt="" width="64" height="64" /> })}
                <div>
                    <h1>{person.name.clone()}</h1>
                    <p class="muted">"@" {person.login.clone()}</p>
                </div>
            </header>
            <dl class="facts">
                <dt>"Organisations"</dt>
                <dd>{orgs}</dd>
                <dt>"Last sign-in"</dt>
                <dd>{last_login.unwrap_or_else(|| "never".to_owned())}</dd>
            </dl>
            <h2>"Teams"</h2>
            <TeamList person=person />
        </section>
    }
}
