//! The frame around every page: product name, navigation, theme switch and the signed-in person.

use leptos::prelude::*;
use leptos_router::hooks::use_location;
use portolan_types::Viewer;

use crate::auth::use_viewer;
use crate::search::CommandPalette;
use crate::theme::ThemeSwitch;

/// A top-level navigation entry. Capabilities appear here as they land, so nobody clicks into an empty page.
struct NavItem {
    label: &'static str,
    href: &'static str,
}

const NAV: &[NavItem] = &[
    NavItem { label: "Home", href: "/" },
    NavItem { label: "Catalog", href: "/catalog" },
    NavItem { label: "Create", href: "/create" },
    NavItem { label: "Docs", href: "/docs" },
    NavItem { label: "Deploys", href: "/deploys" },
    NavItem { label: "DORA", href: "/dora" },
    NavItem { label: "Health", href: "/health" },
    NavItem { label: "Cost", href: "/cost" },
];

/// The top bar.
#[component]
pub fn TopBar() -> impl IntoView {
    let viewer = use_viewer();
    let location = use_location();
    view! {
        <header class="topbar">
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <a class="brand" href="/">
                <img src="/favicon.svg" alt="" width="24" height="24" />
                <span>"Portolan"</span>
            </a>
            <nav class="mainnav" aria-label="Main">
                {NAV
                    .iter()
                    .map(|item| {
                        let href = item.href;
                        let current = move || {
                            let path = location.pathname.get();
                            let here = if href == "/" { path == "/" } else { path.starts_with(href) };
                            here.then_some("page")
                        };
                        view! {
                            <a href=href aria-current=current>
                                {item.label}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
            <div class="topbar-end">
                <CommandPalette />
                <ThemeSwitch />
                <Suspense>
                    {move || Suspend::new(async move {
                        match viewer.await {
                            Ok(Some(v)) => view! { <UserMenu viewer=v /> }.into_any(),
                            _ => {
                                view! {
                                    <a class="button" href="/login">
                                        "Sign in"
                                    </a>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </div>
        </header>
    }
}

#[component]
fn UserMenu(viewer: Viewer) -> impl IntoView {
    let initial = viewer.name.chars().next().unwrap_or('?').to_uppercase().to_string();
    let profile = format!("/people/{}", viewer.login);
    view! {
        <div class="user-menu">
            <a class="user" href=profile title="Your profile">
                {match viewer.avatar_url.clone() {
                    Some(url) => view! { <img class="avatar" src=url alt="" width="28" height="28" /> }.into_any(),
                    None => view! { <span class="avatar avatar-initial" aria-hidden="true">{initial}</span> }.into_any(),
                }}
                <span class="user-name">{viewer.name.clone()}</span>
            </a>
            <a class="button button-quiet" href="/settings/tokens">"API tokens"</a>
            <a class="button button-quiet" href="/settings/access">"Access"</a>
            <form method="post" action="/auth/logout">
                <button class="button button-quiet" type="submit">
                    "Sign out"
                </button>
            </form>
        </div>
    }
}
