//! Docs wire types: pages, their revisions and conflicts.

use serde::{Deserialize, Serialize};

/// The kinds of page.
pub const PAGE_KINDS: [&str; 3] = ["runbook", "guide", "reference"];

/// `POST /api/v1/pages` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPage {
    /// The space (`payments`, `onboarding`): lower-case letters, digits and `-`.
    pub space: String,
    /// Title; the page's slug is made from it.
    pub title: String,
    /// Markdown source.
    pub markdown: String,
    /// `runbook`, `guide` or `reference` (default `reference`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Owning team (`group:default/payments`, or a bare group name); its members may edit the page.
    #[serde(default)]
    pub owner: Option<String>,
    /// Catalog entities the page is about (`component:default/payments-api`).
    #[serde(default)]
    pub entities: Vec<String>,
    /// Edit summary of the first revision.
    #[serde(default)]
    pub summary: Option<String>,
}

/// `PUT /api/v1/pages/{id}` body: a new revision, based on `base_revision`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageUpdate {
    /// The revision id the edit started from; if someone saved since, the save is refused as a conflict.
    pub base_revision: i64,
    /// The whole new Markdown source.
    pub markdown: String,
    /// A new title (the slug stays).
    #[serde(default)]
    pub title: Option<String>,
    /// What changed, in a few words.
    #[serde(default)]
    pub summary: Option<String>,
}

/// A heading of a page's table of contents.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TocItem {
    /// 1 to 6.
    pub level: u8,
    /// Anchor in the rendered HTML.
    pub id: String,
    /// Heading text.
    pub text: String,
}

/// A page as read.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView {
    /// Id.
    pub id: i64,
    /// Space.
    pub space: String,
    /// Slug, unique in the space.
    pub slug: String,
    /// Title.
    pub title: String,
    /// `runbook`, `guide` or `reference`.
    pub kind: String,
    /// Owning team.
    pub owner_ref: Option<String>,
    /// Linked catalog entities.
    pub entities: Vec<String>,
    /// Markdown source of the current revision.
    pub markdown: String,
    /// Rendered, sanitized HTML.
    pub html: String,
    /// Headings.
    pub toc: Vec<TocItem>,
    /// Id of the current revision (send it back as `base_revision`).
    pub revision_id: i64,
    /// Its number: 1 for the first save.
    pub revision_number: i32,
    /// Who saved it.
    pub updated_by: String,
    /// When, RFC 3339 UTC.
    pub updated_at: String,
}

/// One revision in a page's history.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionView {
    /// Id.
    pub id: i64,
    /// 1, 2, 3…
    pub number: i32,
    /// The title at that revision.
    pub title: String,
    /// Edit summary.
    pub summary: String,
    /// Who saved it.
    pub author: String,
    /// When, RFC 3339 UTC.
    pub created_at: String,
}

/// A refused save: someone saved in between. Nothing was written; the edit is the caller's to merge and resend.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageConflict {
    /// Always `conflict`.
    pub error: String,
    /// The page as it is now.
    pub current: PageView,
    /// What changed since `base_revision`, as a unified diff (`-` removed, `+` added).
    pub diff: String,
}

/// `GET /api/v1/pages/{id}/diff` answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionDiff {
    /// The older revision's id.
    pub from: i64,
    /// The newer revision's id.
    pub to: i64,
    /// Unified diff of the Markdown source (`-` removed, `+` added).
    pub diff: String,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
}

/// A page in a list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSummary {
    /// Id.
    pub id: i64,
    /// Space.
    pub space: String,
    /// Slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: String,
    /// Owning team.
    pub owner_ref: Option<String>,
    /// Last save, RFC 3339 UTC.
    pub updated_at: String,
}
