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
    /// Days between reviews (default 90; runbooks are flagged when overdue).
    #[serde(default)]
    pub review_days: Option<i32>,
    /// The slug of the page to nest this one under, in the same space.
    #[serde(default)]
    pub parent: Option<String>,
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
    /// Wiki links (`[[…]]`) that lead to no page or entity, as written.
    #[serde(default)]
    pub broken_links: Vec<String>,
    /// Id of the current revision (send it back as `base_revision`).
    pub revision_id: i64,
    /// Its number: 1 for the first save.
    pub revision_number: i32,
    /// Who saved it.
    pub updated_by: String,
    /// When, RFC 3339 UTC.
    pub updated_at: String,
    /// The review state (runbooks are flagged when overdue).
    pub review: ReviewState,
    /// The pages above this one in its space, outermost first (for breadcrumbs).
    #[serde(default)]
    pub breadcrumbs: Vec<PageLink>,
    /// The pages directly under this one, by title.
    #[serde(default)]
    pub children: Vec<PageLink>,
    /// For a page imported from a repository (docs-as-code): where its Markdown lives. Such pages are kept in
    /// sync from the repository and cannot be edited in the portal.
    #[serde(default)]
    pub source: Option<PageSource>,
}

/// A page by its address, for breadcrumbs and lists of sub-pages.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageLink {
    /// Id.
    pub id: i64,
    /// Space.
    pub space: String,
    /// Slug.
    pub slug: String,
    /// Title.
    pub title: String,
}

/// Where an imported page's Markdown lives in its repository.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSource {
    /// The catalog entity whose `backstage.io/techdocs-ref` brought the page in.
    pub entity: String,
    /// The file's path in the repository (`docs/index.md`).
    pub path: String,
    /// The file on the forge.
    pub url: String,
    /// Where to edit it on the forge.
    pub edit_url: String,
}

/// A file attached to a page (an image shown in it, a PDF, a log excerpt).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Id.
    pub id: i64,
    /// The page it belongs to.
    pub page_id: i64,
    /// File name (letters, digits, `.`, `-`, `_`), unique on the page; uploading the same name replaces it.
    pub name: String,
    /// Its type, as checked from the content (`image/png`).
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When, RFC 3339 UTC.
    pub uploaded_at: String,
    /// Where it is served (`/files/12/diagram.png`).
    pub url: String,
    /// Markdown that shows or links it (`![diagram.png](/files/12/diagram.png)`).
    pub markdown: String,
}

/// Result of syncing an entity's docs from its repository.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocsSyncReport {
    /// The entity.
    pub entity: String,
    /// The space its pages live in.
    pub space: String,
    /// Pages made.
    pub created: usize,
    /// Pages given a new revision.
    pub updated: usize,
    /// Pages left as they were.
    pub unchanged: usize,
    /// Pages whose file is gone, removed.
    pub removed: usize,
}

/// When a page was last reviewed and when it is due again.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewState {
    /// Last marked reviewed, RFC 3339 UTC (none yet: the page's creation counts).
    pub reviewed_at: Option<String>,
    /// By whom.
    pub reviewed_by: Option<String>,
    /// Days between reviews.
    pub interval_days: i32,
    /// When the next review is due, RFC 3339 UTC.
    pub due_at: String,
    /// A runbook past its due date.
    pub stale: bool,
}

/// `POST /api/v1/pages/{id}/review` body: the page was read and is right (`docs.edit`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRequest {
    /// A new interval in days (1 to 730); the current one when absent.
    #[serde(default)]
    pub interval_days: Option<i32>,
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
    /// The same change, row by row for a side-by-side view.
    pub rows: Vec<DiffRow>,
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
    /// The older revision's number.
    pub from_number: i32,
    /// The newer revision's number.
    pub to_number: i32,
    /// The change row by row, side by side, with the changed words of edited lines marked.
    pub rows: Vec<DiffRow>,
}

/// A run of text in a diff row; `changed` marks the words that differ between the two sides of an edited line.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSpan {
    /// The text.
    pub text: String,
    /// Whether it differs from the other side.
    pub changed: bool,
}

/// One row of a side-by-side diff.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffRow {
    /// `same` (context), `removed` (old side only), `added` (new side only), `changed` (a line edited: both
    /// sides, words marked) or `skip` (unchanged lines left out between two changes).
    pub kind: String,
    /// Line number on the old side (1-based), when the row has one.
    pub old_line: Option<u32>,
    /// Line number on the new side.
    pub new_line: Option<u32>,
    /// The old side's text.
    pub old: Vec<DiffSpan>,
    /// The new side's text.
    pub new: Vec<DiffSpan>,
}

/// What the editor's save answers: saved (go to the page), or refused because someone saved in between — their
/// change as a diff from the revision the edit started from, and the revision to base the merged save on. The
/// editor's own text is never part of the answer: it stays where it was typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaveOutcome {
    /// Saved as this revision.
    Saved {
        /// Where the page is.
        path: String,
        /// The new revision's id.
        revision_id: i64,
    },
    /// Someone saved in between.
    Conflict(Box<EditConflict>),
}

/// The other person's change, for the editor to merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditConflict {
    /// The current revision: the merged text is saved on top of it.
    pub revision_id: i64,
    /// Its number.
    pub revision_number: i32,
    /// Who saved it.
    pub author: String,
    /// When, RFC 3339 UTC.
    pub saved_at: String,
    /// Their change since the editor's base revision.
    pub rows: Vec<DiffRow>,
    /// The current Markdown source.
    pub markdown: String,
    /// The text the editor tried to save (set when the form was posted without JavaScript, so the page can put it
    /// back in the editor).
    pub draft: Option<String>,
    /// The draft's edit summary, likewise.
    pub draft_summary: Option<String>,
}

/// An old revision, for reading.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionContent {
    /// The revision.
    pub revision: RevisionView,
    /// Its Markdown source.
    pub markdown: String,
    /// Rendered, sanitized HTML.
    pub html: String,
    /// Whether it is the page's current revision.
    pub current: bool,
}

/// `POST /api/v1/pages/{id}/restore` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    /// The revision to bring back (its id).
    pub revision: i64,
    /// The page's current revision as the caller saw it; a restore on a page that changed since is a conflict.
    pub base_revision: i64,
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
    /// A runbook past its review date.
    #[serde(default)]
    pub stale: bool,
    /// When its next review is due, RFC 3339 UTC.
    #[serde(default)]
    pub review_due: String,
    /// The page it is nested under.
    #[serde(default)]
    pub parent_id: Option<i64>,
}

/// `POST /api/v1/pages/{id}/move` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveRequest {
    /// The space to move to (the same one to rename only).
    pub space: String,
    /// The new slug; made from the title when absent.
    #[serde(default)]
    pub slug: Option<String>,
    /// The slug of the page to nest it under, in the target space; `""` for the top of the space. When absent it
    /// stays under its parent (within a space) or goes to the top (when changing space).
    #[serde(default)]
    pub parent: Option<String>,
}

/// A step of an onboarding guide (a `##` section of a guide page) and whether the viewer did it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuideStep {
    /// Stable key: the section's anchor (`md-get-access`); ticks follow it across edits.
    pub key: String,
    /// The section's heading.
    pub title: String,
    /// Ticked off.
    pub done: bool,
}

/// A guide with one person's progress.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuideProgress {
    /// The guide page.
    pub page: PageSummary,
    /// Assigned to one of the person's teams.
    pub assigned: bool,
    /// Picked by the person.
    pub picked: bool,
    /// The steps, in order, with the person's ticks.
    pub steps: Vec<GuideStep>,
    /// Steps done.
    pub done: usize,
}

/// One person's progress through one guide, for a team's page.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberProgress {
    /// GitHub login.
    pub login: String,
    /// Steps done.
    pub done: usize,
    /// Steps in the guide.
    pub total: usize,
}

/// A team's guide and its members' progress.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamGuide {
    /// The guide page.
    pub page: PageSummary,
    /// Every member, least done first.
    pub members: Vec<MemberProgress>,
}

/// `POST /api/v1/guides/{id}/steps/{key}` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpdate {
    /// Ticked (true) or not.
    pub done: bool,
}
