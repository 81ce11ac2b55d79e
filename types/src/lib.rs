//! Wire types: what server functions and the JSON API take and return.
//!
//! Everything here is a plain serde struct that compiles to wasm. Database models never appear here; the
//! services in `portolan-core` convert them at their boundary.

pub mod access;
pub mod catalog;
pub mod cost;
pub mod deploys;
pub mod docs;
pub mod health;
pub mod scaffold;
pub mod search;

use serde::{Deserialize, Serialize};

/// The person (or automation) a request acts for, as pages and the API show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// GitHub login, or `admin` for the local administrator, or `api-token` for the static automation token.
    pub login: String,
    /// Display name; falls back to the login when GitHub has none.
    pub name: String,
    /// Avatar image URL, when the account has one.
    pub avatar_url: Option<String>,
    /// Whether this principal holds every right in the portal.
    pub is_admin: bool,
    /// How the principal authenticated.
    pub kind: ViewerKind,
    /// For a request made with an API token: the scopes it was given (its rights are the owner's, narrowed to
    /// these). `None` for a browser session, which holds all of the person's rights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// For a team token: the GitHub team (`org/slug`) it acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// How a [`Viewer`] authenticated.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewerKind {
    /// Signed in through GitHub OAuth.
    Github,
    /// The zero-configuration administrator offered on loopback-only servers without a GitHub app.
    LocalAdmin,
    /// The static `PORTOLAN_API_TOKEN`.
    ApiToken,
}

/// A GitHub team (or a local team) a person belongs to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    /// GitHub organisation login.
    pub org: String,
    /// Team slug, unique within the organisation.
    pub slug: String,
    /// Human-readable team name.
    pub name: String,
}

impl TeamView {
    /// The `org/slug` form used in settings such as `PORTOLAN_ADMIN_TEAMS`.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.org, self.slug)
    }
}

/// A person's page: who they are and where they belong.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonView {
    /// GitHub login.
    pub login: String,
    /// Display name.
    pub name: String,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Organisations the person belonged to at their last login.
    pub orgs: Vec<String>,
    /// Teams the person belonged to at their last login, sorted by `org/slug`.
    pub teams: Vec<TeamView>,
    /// Last successful login, RFC 3339 in UTC.
    pub last_login_at: Option<String>,
}

/// What the login page may offer; depends on the server's configuration.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginOptions {
    /// A GitHub OAuth app is configured.
    pub github: bool,
    /// "Continue as local admin" is available (no GitHub app, loopback-only listener).
    pub local_admin: bool,
}

/// The colour scheme a person picked. `System` follows the operating system's preference.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow `prefers-color-scheme`.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    /// Every theme, in the order the switcher shows them.
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    /// The value stored in the `theme` cookie and the `data-theme` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// Parses a stored value; anything unknown means [`Theme::System`].
    pub fn parse(value: &str) -> Theme {
        match value {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::System,
        }
    }

    /// The label the switcher shows.
    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }
}

/// Why a login attempt was refused; carried to the login page as `?error=<code>`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginError {
    /// The `state` parameter did not match the one issued (forged, replayed or expired).
    State,
    /// GitHub refused to exchange the authorization code for a token.
    Exchange,
    /// The account is not a member of any allowed organisation.
    Org,
    /// The person cancelled on GitHub's consent page.
    Denied,
    /// GitHub could not be reached or answered something unexpected.
    Github,
}

impl LoginError {
    /// The code used in the login page's query string.
    pub fn code(self) -> &'static str {
        match self {
            LoginError::State => "state",
            LoginError::Exchange => "exchange",
            LoginError::Org => "org",
            LoginError::Denied => "denied",
            LoginError::Github => "github",
        }
    }

    /// Parses a code from the query string.
    pub fn from_code(code: &str) -> Option<LoginError> {
        [Self::State, Self::Exchange, Self::Org, Self::Denied, Self::Github].into_iter().find(|e| e.code() == code)
    }

    /// A sentence for the person who was refused.
    pub fn message(self) -> &'static str {
        match self {
            LoginError::State => {
                "This sign-in link has expired or was already used. Start again from the sign-in button."
            }
            LoginError::Exchange => "GitHub did not confirm the sign-in. Please try again.",
            LoginError::Org => {
                "Your GitHub account is not a member of an organisation that may use this portal. Ask an administrator to add you."
            }
            LoginError::Denied => "Sign-in was cancelled on GitHub.",
            LoginError::Github => "GitHub could not be reached. Please try again in a moment.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theme_round_trips_and_defaults_to_system() {
        for theme in Theme::ALL {
            assert_eq!(Theme::parse(theme.as_str()), theme);
        }
        assert_eq!(Theme::parse("purple"), Theme::System);
    }

    #[test]
    fn login_error_codes_round_trip() {
        for e in [LoginError::State, LoginError::Exchange, LoginError::Org, LoginError::Denied, LoginError::Github] {
            assert_eq!(LoginError::from_code(e.code()), Some(e));
        }
        assert_eq!(LoginError::from_code("nope"), None);
    }
}

/// Where to go after signing in: `next` if it is a path on this portal, `/` otherwise. Anything that a browser
/// could read as another site (`https://…`, `//host`, `/\host`, `javascript:`) or that leads back into the
/// sign-in flow is refused, so `?next=` can never send anyone away from the portal.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else { return "/".to_owned() };
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && next.len() <= 2048
        && !next.starts_with("/auth/")
        && !(next == "/login" || next.starts_with("/login?"));
    if ok { next.to_owned() } else { "/".to_owned() }
}

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved characters).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod navigation_tests {
    use super::{encode_query_value, safe_next};

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query_value("/catalog?kind=api&q=a b"), "%2Fcatalog%3Fkind%3Dapi%26q%3Da%20b");
        assert_eq!(encode_query_value("ü"), "%C3%BC");
    }

    #[test]
    fn next_stays_on_the_portal() {
        for good in ["/", "/catalog?kind=api", "/catalog/default/component/payments-api#runbooks"] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for evil in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/ /evil",
            "/\t/evil.example",
            "evil.example",
            "/auth/logout",
            "/login?next=https://evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(evil)), "/", "{evil:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
