//! Reading who someone is on GitHub: profile, organisations and teams, through octocrab at the configured API URL
//! (github.com or GitHub Enterprise). Behind a trait so tests can point it at an in-process fake.

use std::time::Duration;

use async_trait::async_trait;
use octocrab::models::{Author, orgs::Organization, teams::Team};
use octocrab::{Octocrab, Page};
use serde::de::DeserializeOwned;

use crate::config::Secret;

/// What GitHub says about the person behind an access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubIdentity {
    /// Numeric user id (stable across renames).
    pub id: i64,
    /// Login.
    pub login: String,
    /// Display name, when set.
    pub name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Logins of the organisations the token can see the person in.
    pub orgs: Vec<String>,
    /// Teams the person belongs to.
    pub teams: Vec<GithubTeam>,
}

/// A team membership as GitHub reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubTeam {
    /// Numeric team id.
    pub id: i64,
    /// Organisation login.
    pub org: String,
    /// Team slug.
    pub slug: String,
    /// Team name.
    pub name: String,
}

/// Why GitHub could not tell us who someone is.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// The API answered with an error or something we could not read.
    #[error("GitHub API request {route} failed: {message}")]
    Api {
        /// The API route.
        route: &'static str,
        /// What went wrong (never the token).
        message: String,
    },
}

/// The slice of GitHub's REST API the portal uses.
#[async_trait]
pub trait GithubApi: Send + Sync {
    /// Reads the profile, organisations and teams of the person the user access token belongs to.
    async fn identity(&self, access_token: &Secret) -> Result<GithubIdentity, GithubError>;
}

/// [`GithubApi`] over octocrab.
#[derive(Debug, Clone)]
pub struct OctocrabGithub {
    api_url: String,
}

impl OctocrabGithub {
    /// A client for the API at `api_url` (e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`).
    pub fn new(api_url: &url::Url) -> Self {
        OctocrabGithub { api_url: api_url.as_str().trim_end_matches('/').to_owned() }
    }

    fn client(&self, token: &Secret) -> Result<Octocrab, GithubError> {
        Octocrab::builder()
            .base_uri(self.api_url.as_str())
            .and_then(|b| {
                b.user_access_token(token.expose().to_owned())
                    .set_connect_timeout(Some(Duration::from_secs(10)))
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .build()
            })
            .map_err(|e| GithubError::Api { route: "client", message: e.to_string() })
    }
}

/// Reads every page of a list endpoint, following `Link: rel="next"`.
async fn all_pages<T: DeserializeOwned>(gh: &Octocrab, route: &'static str) -> Result<Vec<T>, GithubError> {
    let err = |e: octocrab::Error| GithubError::Api { route, message: describe(&e) };
    let mut page: Page<T> = gh.get(route, Some(&[("per_page", "100")])).await.map_err(err)?;
    let mut items = std::mem::take(&mut page.items);
    // GitHub caps organisations and teams per person far below this; the bound stops a misbehaving server.
    for _ in 0..50 {
        match gh.get_page::<T>(&page.next).await.map_err(err)? {
            Some(mut next) => {
                items.append(&mut next.items);
                page = next;
            }
            None => break,
        }
    }
    Ok(items)
}

fn describe(e: &octocrab::Error) -> String {
    match e {
        octocrab::Error::GitHub { source, .. } => format!("{} ({})", source.message, source.status_code),
        other => other.to_string(),
    }
}

#[async_trait]
impl GithubApi for OctocrabGithub {
    async fn identity(&self, access_token: &Secret) -> Result<GithubIdentity, GithubError> {
        let gh = self.client(access_token)?;
        let user: Author = gh
            .get("/user", None::<&()>)
            .await
            .map_err(|e| GithubError::Api { route: "/user", message: describe(&e) })?;
        let orgs: Vec<Organization> = all_pages(&gh, "/user/orgs").await?;
        let teams: Vec<Team> = all_pages(&gh, "/user/teams").await?;
        Ok(GithubIdentity {
            id: i64::try_from(user.id.0).unwrap_or(i64::MAX),
            login: user.login,
            name: user.name,
            avatar_url: Some(user.avatar_url.to_string()),
            orgs: orgs.into_iter().map(|o| o.login).collect(),
            teams: teams
                .into_iter()
                .filter_map(|t| {
                    let org = t.organization?.login;
                    Some(GithubTeam { id: i64::try_from(t.id.0).unwrap_or(i64::MAX), org, slug: t.slug, name: t.name })
                })
                .collect(),
        })
    }
}
