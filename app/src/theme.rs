//! Light and dark themes: follows the system until someone picks one, remembered in a cookie so the server
//! renders the right colours before any script runs.

use leptos::prelude::*;
use portolan_types::Theme;

use crate::error::AppError;

/// The cookie holding the chosen theme.
pub const THEME_COOKIE: &str = "portolan_theme";

/// Remembers the chosen theme.
#[server(prefix = "/fn", endpoint = "set_theme")]
pub async fn set_theme(theme: String) -> Result<(), AppError> {
    use http::header::{HeaderValue, SET_COOKIE};
    let theme = Theme::parse(&theme);
    let secure = crate::ssr::state().map(|s| s.config.secure_cookies()).unwrap_or(false);
    let cookie = format!(
        "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{}",
        theme.as_str(),
        if secure { "; Secure" } else { "" }
    );
    if let (Some(options), Ok(value)) = (use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(&cookie))
    {
        options.append_header(SET_COOKIE, value);
    }
    Ok(())
}

/// Creates the theme signal (from the cookie on the server, from the rendered page in the browser).
pub fn provide_theme() -> RwSignal<Theme> {
    let theme = RwSignal::new(initial_theme());
    provide_context(theme);
    theme
}

#[cfg(feature = "ssr")]
fn initial_theme() -> Theme {
    crate::ssr::cookie(THEME_COOKIE).map(|v| Theme::parse(&v)).unwrap_or_default()
}

#[cfg(not(feature = "ssr"))]
fn initial_theme() -> Theme {
    #[cfg(feature = "hydrate")]
    {
        document()
            .document_element()
            .and_then(|e| e.get_attribute("data-theme"))
            .map(|v| Theme::parse(&v))
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Theme::default()
    }
}

/// Three buttons: System, Light, Dark. Each is a form, so it works without JavaScript; hydrated, the page
/// switches at once without a reload.
#[component]
pub fn ThemeSwitch() -> impl IntoView {
    let theme = expect_context::<RwSignal<Theme>>();
    let action = ServerAction::<SetTheme>::new();
    Effect::new(move |_| {
        if let Some(input) = action.input().get() {
            theme.set(Theme::parse(&input.theme));
        }
    });
    view! {
        <div class="theme-switch" role="group" aria-label="Colour theme">
            {Theme::ALL
                .into_iter()
                .map(|t| {
                    view! {
                        <ActionForm action=action>
                            <input type="hidden" name="theme" value=t.as_str() />
                            <button
                                type="submit"
                                class="theme-option"
                                aria-pressed=move || (theme.get() == t).to_string()
                                title=format!("{} theme", t.label())
                            >
                                {t.label()}
                            </button>
                        </ActionForm>
                    }
                })
                .collect_view()}
        </div>
    }
}
