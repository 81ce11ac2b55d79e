//! Signing in and out: the login page, and the viewer every page can read.
//!
//! The OAuth redirects themselves are plain HTTP handlers in the server crate (`/auth/github`,
//! `/auth/github/callback`, `/auth/local`, `/auth/logout`); this module renders what people see.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use portolan_types::{LoginError, LoginOptions, Viewer};

use crate::error::AppError;

/// The viewer of this page load, fetched once and shared through context.
pub type ViewerResource = Resource<Result<Option<Viewer>, AppError>>;

/// Who is signed in (`None` when nobody is).
#[server(prefix = "/fn", endpoint = "viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, AppError> {
    Ok(crate::ssr::viewer())
}

/// Which sign-in methods the login page offers.
#[server(prefix = "/fn", endpoint = "login_options")]
pub async fn get_login_options() -> Result<LoginOptions, AppError> {
    let state = crate::ssr::state()?;
    Ok(LoginOptions { github: state.config.github_oauth.is_some(), local_admin: state.config.local_admin_enabled() })
}

/// Creates the viewer resource and puts it in context. Blocking, so the top bar is complete in the first HTML.
pub fn provide_viewer() {
    let viewer: ViewerResource = Resource::new_blocking(|| (), |_| get_viewer());
    provide_context(viewer);
}

/// The viewer resource from context.
pub fn use_viewer() -> ViewerResource {
    expect_context::<ViewerResource>()
}

/// Renders `signed_in` for a signed-in viewer and sends everyone else to the login page.
#[component]
pub fn RequireViewer<F, V>(signed_in: F) -> impl IntoView
where
    F: FnOnce(Viewer) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let viewer = use_viewer();
    let location = leptos_router::hooks::use_location();
    // Come back here after signing in.
    let search = location.search.get_untracked();
    let here = if search.is_empty() {
        location.pathname.get_untracked()
    } else {
        format!("{}?{}", location.pathname.get_untracked(), search.trim_start_matches('?'))
    };
    let login = if here == "/" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", portolan_types::encode_query_value(&here))
    };
    // One `Suspend`, not a closure making one: on the server `<Suspense>` walks its children up to three times
    // (to find their resources, to check again, to render), and a closure would build the page, with every
    // resource it fetches, each time. A `Suspend` keeps what it resolved to, so the page is built once. The
    // viewer never changes under a mounted page (signing in or out loads a new one).
    view! {
        <Suspense>
            {Suspend::new(async move {
                match viewer.await {
                    Ok(Some(v)) => signed_in(v).into_any(),
                    Ok(None) | Err(AppError::Unauthorized) => view! { <Redirect path=login /> }.into_any(),
                    Err(e) => view! { <crate::error::ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/login`: sign in with GitHub, or as the local admin on a laptop set-up.
#[component]
pub fn LoginPage() -> impl IntoView {
    let viewer = use_viewer();
    let options = Resource::new_blocking(|| (), |_| get_login_options());
    let query = use_query_map();
    let error = move || query.read().get("error").and_then(|c| LoginError::from_code(&c));
    let next = move || portolan_types::safe_next(query.read().get("next").as_deref());

    view! {
        <Title text="Sign in" />
        <section class="login card" aria-labelledby="login-title">
            <h1 id="login-title">"Sign in to Portolan"</h1>
            <p class="muted">"Your organisation's services, owners, runbooks and health in one place."</p>
            {move || error().map(|e| view! { <p class="alert alert-error" role="alert">{e.message()}</p> })}
            <Suspense>
                {move || Suspend::new(async move {
                    if let Ok(Some(_)) = viewer.await {
                        return view! { <Redirect path=next() /> }.into_any();
                    }
                    match options.await {
                        Ok(o) => view! { <LoginMethods options=o next=next() /> }.into_any(),
                        Err(e) => view! { <crate::error::ErrorPage error=e /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn LoginMethods(options: LoginOptions, next: String) -> impl IntoView {
    let nothing = !options.github && !options.local_admin;
    let query =
        if next == "/" { String::new() } else { format!("?next={}", portolan_types::encode_query_value(&next)) };
    let github = format!("/auth/github{query}");
    let local = format!("/auth/local{query}");
    view! {
        <div class="login-methods">
            <Show when=move || options.github>
                // rel=external: the router must not handle this; the server redirects to GitHub.
                <a class="button button-primary" href=github.clone() rel="external">
                    "Sign in with GitHub"
                </a>
            </Show>
            <Show when=move || options.local_admin>
                <form method="post" action=local.clone()>
                    <button class="button" type="submit">
                        "Continue as local admin"
                    </button>
                </form>
                <p class="muted small">
                    "No GitHub app is configured and this server only listens on this machine, so you may sign in as the local administrator."
                </p>
            </Show>
            <Show when=move || nothing>
                <p class="alert">
                    "No sign-in method is configured. An administrator needs to set PORTOLAN_GITHUB_CLIENT_ID and PORTOLAN_GITHUB_CLIENT_SECRET."
                </p>
            </Show>
        </div>
    }
}
