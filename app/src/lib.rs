//! The Leptos application: the HTML shell, the routes, the pages and their server functions.
//!
//! Pages render on the server and hydrate in the browser; every page also works with JavaScript off (links
//! navigate, forms post). Server functions are thin: they take the state and the viewer from the request
//! context, call a service in `portolan-core`, and map its error to an [`error::AppError`].

#![recursion_limit = "256"]

pub mod access;
pub mod auth;
pub mod catalog;
pub mod cost;
pub mod create;
pub mod deploys;
pub mod docs;
pub mod error;
pub mod health;
pub mod home;
pub mod layout;
pub mod people;
pub mod search;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod theme;
pub mod tokens;

use leptos::prelude::*;
use leptos_meta::{Html, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// An RFC 3339 UTC time (`2026-11-25T03:40:00Z`) as pages show it: `2026-11-25 03:40:00 UTC`.
pub fn utc(rfc3339: &str) -> String {
    rfc3339.replace('T', " ").replace('Z', " UTC")
}

/// Calls `reload` in 300 ms unless a call is already waiting, so that a burst of live events reloads once.
/// `pending` is shared by the events of one stream.
#[cfg(feature = "hydrate")]
pub(crate) fn reload_soon(pending: &std::rc::Rc<std::cell::Cell<bool>>, reload: impl Fn() + 'static) {
    if pending.replace(true) {
        return;
    }
    let pending = pending.clone();
    set_timeout(
        move || {
            pending.set(false);
            reload();
        },
        std::time::Duration::from_millis(300),
    );
}

/// Page titles come from people's text (an entity's title). leptos_meta writes the server-rendered `<title>`
/// without escaping it, so the server escapes it here; in the browser the title is set as plain text.
fn title_text(text: &str) -> String {
    if cfg!(feature = "ssr") {
        text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    } else {
        text.to_owned()
    }
}

/// The name of the compiled CSS, JS and wasm files (`/pkg/portolan.*`, written by `./dev`'s site build).
pub const OUTPUT_NAME: &str = "portolan";

/// The prefix of every server function URL, kept apart from the versioned JSON API under `/api/v1`.
pub const SERVER_FN_PREFIX: &str = "/fn";

/// The document around the application, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::set_document_headers();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href=format!("/pkg/{OUTPUT_NAME}.css") />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: top bar, routes and the 404 fallback.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let theme = theme::provide_theme();
    auth::provide_viewer();
    // Effects run only in the browser: this marks the page as hydrated, which browser tests wait for.
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Html attr:data-theme=move || theme.get().as_str() />
        <Title formatter=|text: String| {
            if text.is_empty() { "Portolan".to_owned() } else { format!("{} · Portolan", title_text(&text)) }
        } />
        <Router>
            <layout::TopBar />
            <main id="main" class="page">
                <Routes fallback=|| view! { <error::NotFound /> }>
                    <Route path=path!("/") view=home::HomePage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=auth::LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/people/:login") view=people::PersonPage ssr=SsrMode::Async />
                    <Route path=path!("/settings/tokens") view=tokens::TokensPage ssr=SsrMode::Async />
                    <Route path=path!("/settings/access") view=access::AccessPage ssr=SsrMode::Async />
                    <Route path=path!("/catalog") view=catalog::CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/docs") view=docs::DocsPage ssr=SsrMode::Async />
                    <Route path=path!("/search") view=search::SearchPage ssr=SsrMode::Async />
                    <Route path=path!("/deploys") view=deploys::DeploysPage ssr=SsrMode::Async />
                    <Route path=path!("/dora") view=deploys::DoraPage ssr=SsrMode::Async />
                    <Route path=path!("/dora/how") view=deploys::DoraHowPage ssr=SsrMode::Async />
                    <Route path=path!("/health") view=health::HealthPage ssr=SsrMode::Async />
                    <Route path=path!("/cost") view=cost::CostPage ssr=SsrMode::Async />
                    <Route path=path!("/create") view=create::CreatePage ssr=SsrMode::Async />
                    <Route path=path!("/create/edit") view=create::EditorRoute ssr=SsrMode::Async />
                    <Route
                        path=path!("/create/templates/:namespace/:name")
                        view=create::WizardRoute
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/create/tasks/:id") view=create::TaskRoute ssr=SsrMode::Async />
                    <Route path=path!("/docs/new") view=docs::NewDocPage ssr=SsrMode::Async />
                    <Route path=path!("/docs/:space/:slug") view=docs::DocPageRoute ssr=SsrMode::Async />
                    <Route path=path!("/docs/:space/:slug/edit") view=docs::EditPageRoute ssr=SsrMode::Async />
                    <Route path=path!("/docs/:space/:slug/history") view=docs::HistoryRoute ssr=SsrMode::Async />
                    <Route
                        path=path!("/docs/:space/:slug/revisions/:number")
                        view=docs::RevisionRoute
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/catalog/locations") view=catalog::LocationsPage ssr=SsrMode::Async />
                    <Route path=path!("/catalog/new") view=catalog::NewEntityPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/catalog/:namespace/:kind/:name/edit")
                        view=catalog::EditEntityPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/catalog/:namespace/:kind/:name")
                        view=catalog::EntityPageRoute
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
            <footer class="footer">
                <span>{concat!("Portolan ", env!("CARGO_PKG_VERSION"))}</span>
                // rel=external: served by the server, outside the router.
                <a href="/api/docs" rel="external">"API reference"</a>
                <a href="/api/v1/openapi.json" rel="external">"OpenAPI document"</a>
            </footer>
        </Router>
    }
}
