//! Search wire types: one search over docs pages and catalog entities.

use serde::{Deserialize, Serialize};

/// A run of text in a snippet; `hit` marks where the words searched for occur.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Highlight {
    /// The text.
    pub text: String,
    /// Whether it matched.
    pub hit: bool,
}

/// One result.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    /// `page` or `entity`.
    pub kind: String,
    /// Page title, or the entity's title or name.
    pub title: String,
    /// Where it is in the portal (`/docs/payments/restart`, `/catalog/default/component/payments-api`).
    pub path: String,
    /// What it is: `payments · runbook`, `component · service`.
    pub detail: String,
    /// The title with the words marked.
    pub title_marks: Vec<Highlight>,
    /// A piece of the body (page source, entity description) around the first match, words marked.
    pub snippet: Vec<Highlight>,
    /// Rank: higher first (title matches weigh most, then whole words, then how often the words occur).
    pub score: u32,
}

/// `GET /api/v1/search` answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The words searched for, as understood.
    pub query: String,
    /// Best first.
    pub hits: Vec<SearchHit>,
}

/// `GET /api/v1/search` parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct SearchQuery {
    /// Words; each must occur (partially: `pay` finds `payments`).
    pub q: String,
    /// Only pages of this space.
    pub space: Option<String>,
    /// A page kind (`runbook`, `guide`, `reference`) or an entity kind (`component`, `api`, …).
    pub kind: Option<String>,
    /// Owning team (`group:default/payments` or `payments`).
    pub owner: Option<String>,
    /// Results (default 20, at most 50).
    pub limit: Option<u64>,
}
