//! `/docs`: runbooks, guides and reference pages, read and edited in the browser. The Markdown is rendered and
//! sanitized on the server (`portolan_core::docs::markdown`), so page bodies and previews are inserted as the
//! sanitized HTML they already are.
//!
//! The editor is one form that works both ways: hydrated, it previews as you type, saves with Ctrl/Cmd-S, warns
//! before you leave with unsaved text and shows a refused save's conflict beside the text you kept; without
//! JavaScript it posts as a plain form, and a conflict brings you back to the editor with your text and the other
//! person's change (kept in your session for that one round trip).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use portolan_types::Viewer;
use portolan_types::catalog::entity_path;
use portolan_types::docs::{
    Attachment, DiffRow, DiffSpan, EditConflict, GuideProgress, PAGE_KINDS, PageSummary, PageView, RevisionContent,
    RevisionDiff, RevisionView, SaveOutcome, TeamGuide,
};
use serde::{Deserialize, Serialize};

use crate::auth::RequireViewer;
use crate::error::{AppError, ErrorPage};
use crate::utc;

/// Every page, by space then title; one space's when given.
#[server(prefix = "/fn", endpoint = "docs_list")]
pub async fn list_pages(space: Option<String>) -> Result<Vec<PageSummary>, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::docs::pages::list(&state.db, space.as_deref())
        .await
        .map_err(|e| crate::ssr::internal("listing pages", e))
}

/// Pages in tree order: each space's top pages by title, each followed by the pages under it; with their depth.
fn tree_order(pages: Vec<PageSummary>) -> Vec<(PageSummary, usize)> {
    use std::collections::{HashMap, HashSet};
    let ids: HashSet<i64> = pages.iter().map(|p| p.id).collect();
    let mut children: HashMap<Option<i64>, Vec<PageSummary>> = HashMap::new();
    let mut spaces: Vec<String> = Vec::new();
    for p in pages {
        if !spaces.contains(&p.space) {
            spaces.push(p.space.clone());
        }
        // A parent that is not listed (another space, or gone) makes the page a top one.
        let parent = p.parent_id.filter(|id| ids.contains(id));
        children.entry(parent).or_default().push(p);
    }
    fn walk(
        node: PageSummary,
        depth: usize,
        children: &mut HashMap<Option<i64>, Vec<PageSummary>>,
        out: &mut Vec<(PageSummary, usize)>,
    ) {
        let id = node.id;
        out.push((node, depth));
        for child in children.remove(&Some(id)).unwrap_or_default() {
            walk(child, depth + 1, children, out);
        }
    }
    let mut out = Vec::new();
    let tops = children.remove(&None).unwrap_or_default();
    for space in spaces {
        for top in tops.iter().filter(|p| p.space == space) {
            walk(top.clone(), 0, &mut children, &mut out);
        }
    }
    out
}

/// Pages about a catalog entity, runbooks first.
#[server(prefix = "/fn", endpoint = "docs_for_entity")]
pub async fn pages_for_entity(entity_ref: String) -> Result<Vec<PageSummary>, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::docs::pages::for_entity(&state.db, &entity_ref)
        .await
        .map_err(|e| crate::ssr::internal("listing an entity's pages", e))
}

/// A page and whether the viewer may edit it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageWithRights {
    /// The page.
    pub page: PageView,
    /// Whether `docs.edit` is allowed on it.
    pub may_edit: bool,
    /// Pages whose wiki links lead here.
    pub backlinks: Vec<PageSummary>,
    /// Files attached to it (for those who may edit).
    pub attachments: Vec<Attachment>,
    /// For a guide: the viewer's progress.
    pub guide: Option<GuideProgress>,
}

#[cfg(feature = "ssr")]
async fn load_page(space: &str, slug: &str) -> Result<PageWithRights, AppError> {
    use portolan_core::access::Action;
    use portolan_core::docs::pages;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let (page, moved) = pages::find_address(&state.db, space, slug)
        .await
        .map_err(|e| crate::ssr::internal("loading a page", e))?
        .ok_or_else(|| AppError::NotFound(format!("The page {space}/{slug}")))?;
    if moved {
        // An old address: the browser goes to where the page is now.
        leptos_axum::redirect(&page_path(&page.space, &page.slug));
    }
    let target = pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref());
    // A page imported from a repository is edited there, not here.
    let may_edit = page.source.is_none() && crate::ssr::allowed(&state, &viewer, Action::DocsEdit, &target).await?;
    let backlinks =
        pages::backlinks(&state.db, &page).await.map_err(|e| crate::ssr::internal("finding backlinks", e))?;
    let attachments = if may_edit {
        portolan_core::docs::attachments::list(&state.db, page.id)
            .await
            .map_err(|e| crate::ssr::internal("listing files", e))?
    } else {
        Vec::new()
    };
    let guide = if page.kind == "guide" {
        let teams = my_memberships(&state, &viewer).await?;
        Some(
            portolan_core::docs::guides::for_person(&state.db, page.id, &viewer.login, &teams)
                .await
                .map_err(guide_error)?,
        )
    } else {
        None
    };
    Ok(PageWithRights { page, may_edit, backlinks, attachments, guide })
}

/// One page by space and slug, with the viewer's right to edit it.
#[server(prefix = "/fn", endpoint = "docs_page")]
pub async fn get_page(space: String, slug: String) -> Result<PageWithRights, AppError> {
    load_page(&space, &slug).await
}

/// What the editor opens with: the page, and a conflict left by a save posted without JavaScript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditorContent {
    /// The page as it is now.
    pub page: PageView,
    /// The refused save, once, after a plain-form post.
    pub conflict: Option<EditConflict>,
    /// Files attached to the page.
    pub attachments: Vec<Attachment>,
}

#[cfg(feature = "ssr")]
fn conflict_key(page_id: i64) -> String {
    format!("docs.conflict.{page_id}")
}

/// The editor's data; refuses viewers who may not edit, so the form is never shown to them.
#[server(prefix = "/fn", endpoint = "docs_editor")]
pub async fn editor_data(space: String, slug: String) -> Result<EditorContent, AppError> {
    let PageWithRights { page, may_edit, attachments, .. } = load_page(&space, &slug).await?;
    if let Some(source) = &page.source {
        return Err(AppError::Invalid(format!(
            "This page is kept in sync from its repository; edit it there: {}",
            source.edit_url
        )));
    }
    if !may_edit {
        let viewer = crate::ssr::require_viewer()?;
        let state = crate::ssr::state()?;
        let target = portolan_core::docs::pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref());
        crate::ssr::authorize(&state, &viewer, portolan_core::access::Action::DocsEdit, &target).await?;
    }
    // Read, not taken: a page render may ask twice. The draft goes when the page is saved or it is discarded.
    let conflict = match crate::ssr::session() {
        Some(session) => session.get::<EditConflict>(&conflict_key(page.id)).await.ok().flatten(),
        None => None,
    };
    Ok(EditorContent { page, conflict, attachments })
}

/// The editor's preview: the page as it would show, and its wiki links that lead nowhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rendering {
    /// Sanitized HTML.
    pub html: String,
    /// Broken wiki links, as written.
    pub broken: Vec<String>,
}

/// Renders Markdown as the page would show it (links resolved), for the editor's live preview.
#[server(prefix = "/fn", endpoint = "docs_preview")]
pub async fn preview(markdown: String) -> Result<Rendering, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    if markdown.len() > portolan_core::docs::pages::MAX_MARKDOWN {
        return Err(AppError::Invalid("The page is too long to preview.".to_owned()));
    }
    let r = portolan_core::docs::pages::render(&state.db, &markdown)
        .await
        .map_err(|e| crate::ssr::internal("rendering a preview", e))?;
    Ok(Rendering { html: r.html, broken: r.broken })
}

#[cfg(feature = "ssr")]
fn page_path(space: &str, slug: &str) -> String {
    format!("/docs/{space}/{slug}")
}

/// Saves the editor's text as a new revision on top of `base_revision`. Saved: goes to the page. Someone saved in
/// between: nothing is written, and the answer is their change; a plain-form post is sent back to the editor
/// with its text and that change.
#[server(prefix = "/fn", endpoint = "docs_save")]
pub async fn save_page(
    page_id: i64,
    base_revision: i64,
    title: String,
    markdown: String,
    summary: String,
) -> Result<SaveOutcome, AppError> {
    use portolan_core::access::Action;
    use portolan_core::docs::pages::{self, DocsError};
    use portolan_types::docs::PageUpdate;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let loaded = pages::current(&state.db, page_id)
        .await
        .map_err(|e| crate::ssr::internal("loading a page", e))?
        .ok_or_else(|| AppError::NotFound("The page".to_owned()))?;
    let page = &loaded.0;
    let target = pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref());
    crate::ssr::authorize(&state, &viewer, Action::DocsEdit, &target).await?;
    // Browsers send the textarea with CRLF line breaks; the page keeps LF.
    let markdown = markdown.replace("\r\n", "\n");
    let update =
        PageUpdate { base_revision, markdown: markdown.clone(), title: Some(title), summary: Some(summary.clone()) };
    // The browser goes on to the page, which renders it: the save itself renders nothing.
    match pages::save_loaded(&state.db, &viewer.login, loaded, &update).await {
        Ok((saved, rev)) => {
            forget_draft(page_id).await;
            let path = page_path(&saved.space, &saved.slug);
            leptos_axum::redirect(&path);
            Ok(SaveOutcome::Saved { path, revision_id: rev.id })
        }
        Err(DocsError::Conflict { current, rows, .. }) => {
            let mut conflict = EditConflict {
                revision_id: current.revision_id,
                revision_number: current.revision_number,
                author: current.updated_by.clone(),
                saved_at: current.updated_at.clone(),
                rows,
                markdown: current.markdown.clone(),
                draft: None,
                draft_summary: None,
            };
            if crate::ssr::plain_form_post() {
                // No script keeps the text in the browser: the session keeps it for the way back to the editor.
                conflict.draft = Some(markdown);
                conflict.draft_summary = Some(summary);
                let session = crate::ssr::session().ok_or(AppError::Internal)?;
                session
                    .insert(&conflict_key(page_id), &conflict)
                    .await
                    .map_err(|e| crate::ssr::internal("keeping a draft", e))?;
                leptos_axum::redirect(&format!("{}/edit", page_path(&current.space, &current.slug)));
            }
            Ok(SaveOutcome::Conflict(Box::new(conflict)))
        }
        Err(DocsError::Invalid(m)) => Err(AppError::Invalid(m)),
        Err(DocsError::NotFound) => Err(AppError::NotFound("The page".to_owned())),
        Err(e @ DocsError::ReadOnly(_)) => Err(AppError::Invalid(e.to_string())),
        Err(DocsError::Db(e)) => Err(crate::ssr::internal("saving a page", e)),
    }
}

#[cfg(feature = "ssr")]
async fn forget_draft(page_id: i64) {
    if let Some(session) = crate::ssr::session()
        && let Err(e) = session.remove::<EditConflict>(&conflict_key(page_id)).await
    {
        tracing::warn!(error = %e, "dropping a kept draft failed");
    }
}

/// Drops the draft a refused plain-form save left in the session, and goes back to the editor.
#[server(prefix = "/fn", endpoint = "docs_discard_draft")]
pub async fn discard_draft(page_id: i64, path: String) -> Result<(), AppError> {
    crate::ssr::require_viewer()?;
    forget_draft(page_id).await;
    leptos_axum::redirect(&portolan_types::safe_next(Some(&path)));
    Ok(())
}

pub use create::*;

/// The new-page server function, in a module of its own: it takes one argument per form field, more than clippy
/// likes, and the generated client function can only be exempted from the module.
mod create {
    #![allow(clippy::too_many_arguments)]
    use super::*;

    /// Makes a page and goes to it. `entities` is a comma-separated list of entity references.
    #[server(prefix = "/fn", endpoint = "docs_create")]
    pub async fn create_page(
        space: String,
        title: String,
        kind: String,
        owner: String,
        entities: String,
        markdown: String,
        review_days: Option<String>,
        parent: Option<String>,
    ) -> Result<(), AppError> {
        use portolan_core::access::Action;
        use portolan_core::docs::pages::{self, DocsError};
        use portolan_types::docs::NewPage;
        let viewer = crate::ssr::require_viewer()?;
        let state = crate::ssr::state()?;
        let invalid = |e: DocsError| match e {
            DocsError::Invalid(m) => AppError::Invalid(m),
            other => crate::ssr::internal("making a page", other),
        };
        let owner_ref = pages::owner_ref(Some(&owner)).map_err(invalid)?;
        let target = pages::access_target(space.trim(), &pages::slugify(&title), owner_ref.as_deref());
        crate::ssr::authorize(&state, &viewer, Action::DocsEdit, &target).await?;
        let new = NewPage {
            space,
            title,
            markdown: markdown.replace("\r\n", "\n"),
            kind: Some(kind),
            owner: owner_ref,
            entities: entities.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).collect(),
            summary: None,
            review_days: match review_days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                Some(d) => Some(d.parse().map_err(|_| AppError::Invalid("Review every: a number of days".to_owned()))?),
                None => None,
            },
            parent,
        };
        let page = pages::create(&state.db, &viewer.login, &new).await.map_err(invalid)?;
        leptos_axum::redirect(&page_path(&page.space, &page.slug));
        Ok(())
    }
}

/// A page's history: the page, whether the viewer may edit it, and its revisions, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageHistory {
    /// The page and the viewer's right to edit it.
    pub page: PageWithRights,
    /// Newest first.
    pub revisions: Vec<RevisionView>,
}

/// A page's revisions.
#[server(prefix = "/fn", endpoint = "docs_history")]
pub async fn history(space: String, slug: String) -> Result<PageHistory, AppError> {
    let page = load_page(&space, &slug).await?;
    let state = crate::ssr::state()?;
    let (id, current) = (page.page.id, page.page.revision_id);
    let history = portolan_core::docs::pages::history_until(&state.db, &state.docs_cache.histories, id, current)
        .await
        .map_err(|e| crate::ssr::internal("listing revisions", e))?;
    Ok(PageHistory { page, revisions: history.revisions.clone() })
}

/// The diff between two revisions (by number) of a page.
#[server(prefix = "/fn", endpoint = "docs_diff")]
pub async fn diff(space: String, slug: String, from: i32, to: i32) -> Result<RevisionDiff, AppError> {
    use portolan_core::docs::pages::{self, DocsError};
    let page_id = load_page(&space, &slug).await?.page.id;
    let state = crate::ssr::state()?;
    let id_of = |n: i32| {
        let db = state.db.clone();
        async move {
            match pages::revision(&db, page_id, n).await {
                Ok(r) => Ok(r.revision.id),
                Err(DocsError::NotFound) => Err(AppError::NotFound(format!("Revision {n}"))),
                Err(e) => Err(crate::ssr::internal("loading a revision", e)),
            }
        }
    };
    let (a, b) = (id_of(from).await?, id_of(to).await?);
    pages::diff_revisions(&state.db, page_id, a, b).await.map_err(|e| crate::ssr::internal("comparing revisions", e))
}

/// One old revision, rendered, with the page and the viewer's right to restore it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevisionPage {
    /// The page now.
    pub page: PageWithRights,
    /// The revision.
    pub revision: RevisionContent,
}

/// A revision of a page by number.
#[server(prefix = "/fn", endpoint = "docs_revision")]
pub async fn revision(space: String, slug: String, number: i32) -> Result<RevisionPage, AppError> {
    use portolan_core::docs::pages::{self, DocsError};
    let page = load_page(&space, &slug).await?;
    let state = crate::ssr::state()?;
    let revision = match pages::revision(&state.db, page.page.id, number).await {
        Ok(r) => r,
        Err(DocsError::NotFound) => return Err(AppError::NotFound(format!("Revision {number} of {space}/{slug}"))),
        Err(e) => return Err(crate::ssr::internal("loading a revision", e)),
    };
    Ok(RevisionPage { page, revision })
}

/// Brings an old revision back as a new revision and goes to the page.
#[server(prefix = "/fn", endpoint = "docs_restore")]
pub async fn restore(page_id: i64, revision: i64, base_revision: i64) -> Result<(), AppError> {
    use portolan_core::access::Action;
    use portolan_core::docs::pages::{self, DocsError};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let loaded = pages::current(&state.db, page_id)
        .await
        .map_err(|e| crate::ssr::internal("loading a page", e))?
        .ok_or_else(|| AppError::NotFound("The page".to_owned()))?;
    let page = &loaded.0;
    let target = pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref());
    crate::ssr::authorize(&state, &viewer, Action::DocsEdit, &target).await?;
    match pages::restore(&state.db, &viewer.login, page_id, revision, base_revision).await {
        Ok(saved) => {
            leptos_axum::redirect(&page_path(&saved.space, &saved.slug));
            Ok(())
        }
        Err(DocsError::Conflict { current, .. }) => Err(AppError::Invalid(format!(
            "The page changed while you were looking (now revision {} by {}); nothing was restored. Reload the \
             history and try again.",
            current.revision_number, current.updated_by
        ))),
        Err(DocsError::Invalid(m)) => Err(AppError::Invalid(m)),
        Err(DocsError::NotFound) => Err(AppError::NotFound("The page".to_owned())),
        Err(e @ DocsError::ReadOnly(_)) => Err(AppError::Invalid(e.to_string())),
        Err(DocsError::Db(e)) => Err(crate::ssr::internal("restoring a revision", e)),
    }
}

/// Marks a page reviewed now (with a new interval when given) and goes back to it.
#[server(prefix = "/fn", endpoint = "docs_review")]
pub async fn review(page_id: i64, interval_days: Option<String>) -> Result<(), AppError> {
    use portolan_core::access::Action;
    use portolan_core::docs::pages::{self, DocsError};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let loaded = pages::current(&state.db, page_id)
        .await
        .map_err(|e| crate::ssr::internal("loading a page", e))?
        .ok_or_else(|| AppError::NotFound("The page".to_owned()))?;
    let page = &loaded.0;
    let target = pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref());
    crate::ssr::authorize(&state, &viewer, Action::DocsEdit, &target).await?;
    let interval = match interval_days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Some(d.parse::<i32>().map_err(|_| AppError::Invalid("Review every: a number of days".to_owned()))?),
        None => None,
    };
    match pages::mark_reviewed(&state.db, &viewer.login, page_id, interval).await {
        Ok(saved) => {
            leptos_axum::redirect(&page_path(&saved.space, &saved.slug));
            Ok(())
        }
        Err(DocsError::Invalid(m)) => Err(AppError::Invalid(m)),
        Err(DocsError::NotFound) => Err(AppError::NotFound("The page".to_owned())),
        Err(e) => Err(crate::ssr::internal("marking a page reviewed", e)),
    }
}

/// Moves or renames a page and goes to its new address (the old one keeps leading there).
#[server(prefix = "/fn", endpoint = "docs_move")]
pub async fn move_page(page_id: i64, space: String, slug: String, parent: Option<String>) -> Result<(), AppError> {
    use portolan_core::access::Action;
    use portolan_core::docs::pages::{self, DocsError};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let (page, _) = pages::current(&state.db, page_id)
        .await
        .map_err(|e| crate::ssr::internal("loading a page", e))?
        .ok_or_else(|| AppError::NotFound("The page".to_owned()))?;
    let owner = page.owner_ref.as_deref();
    crate::ssr::authorize(&state, &viewer, Action::DocsEdit, &pages::access_target(&page.space, &page.slug, owner))
        .await?;
    let slug = pages::slugify(if slug.trim().is_empty() { &page.title } else { &slug });
    crate::ssr::authorize(&state, &viewer, Action::DocsEdit, &pages::access_target(space.trim(), &slug, owner)).await?;
    match pages::move_page(&state.db, &viewer.login, page_id, &space, Some(&slug), parent.as_deref()).await {
        Ok(moved) => {
            leptos_axum::redirect(&page_path(&moved.space, &moved.slug));
            Ok(())
        }
        Err(DocsError::Invalid(m)) => Err(AppError::Invalid(m)),
        Err(DocsError::NotFound) => Err(AppError::NotFound("The page".to_owned())),
        Err(e @ DocsError::ReadOnly(_)) => Err(AppError::Invalid(e.to_string())),
        Err(e) => Err(crate::ssr::internal("moving a page", e)),
    }
}

/// Deletes a page with its history (the box must be ticked) and goes to the list.
#[server(prefix = "/fn", endpoint = "docs_delete")]
pub async fn delete_page(page_id: i64, confirm: Option<String>) -> Result<(), AppError> {
    use portolan_core::access::Action;
    use portolan_core::docs::pages::{self, DocsError};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let loaded = pages::current(&state.db, page_id)
        .await
        .map_err(|e| crate::ssr::internal("loading a page", e))?
        .ok_or_else(|| AppError::NotFound("The page".to_owned()))?;
    let page = &loaded.0;
    let target = pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref());
    crate::ssr::authorize(&state, &viewer, Action::DocsEdit, &target).await?;
    if confirm.as_deref() != Some("on") {
        return Err(AppError::Invalid("Tick the box to confirm: the page and its history go for good.".to_owned()));
    }
    match pages::delete(&state.db, &viewer.login, page_id).await {
        Ok(()) | Err(DocsError::NotFound) => {
            leptos_axum::redirect("/docs");
            Ok(())
        }
        Err(e @ DocsError::ReadOnly(_)) => Err(AppError::Invalid(e.to_string())),
        Err(e) => Err(crate::ssr::internal("deleting a page", e)),
    }
}

#[cfg(feature = "ssr")]
async fn my_memberships(state: &portolan_core::AppState, viewer: &Viewer) -> Result<Vec<String>, AppError> {
    portolan_core::access::subject_for(&state.db, viewer)
        .await
        .map(|s| s.memberships)
        .map_err(|e| crate::ssr::internal("finding memberships", e))
}

#[cfg(feature = "ssr")]
fn guide_error(e: portolan_core::docs::pages::DocsError) -> AppError {
    use portolan_core::docs::pages::DocsError;
    match e {
        DocsError::Invalid(m) => AppError::Invalid(m),
        DocsError::NotFound => AppError::NotFound("The guide".to_owned()),
        other => crate::ssr::internal("onboarding guides", other),
    }
}

/// The viewer's onboarding guides (assigned to their teams, or picked), least done first.
#[server(prefix = "/fn", endpoint = "guides_mine")]
pub async fn my_guides() -> Result<Vec<GuideProgress>, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let teams = my_memberships(&state, &viewer).await?;
    portolan_core::docs::guides::for_login(&state.db, &viewer.login, &teams).await.map_err(guide_error)
}

/// One guide with the viewer's ticks.
#[server(prefix = "/fn", endpoint = "guide")]
pub async fn guide(page_id: i64) -> Result<GuideProgress, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let teams = my_memberships(&state, &viewer).await?;
    portolan_core::docs::guides::for_person(&state.db, page_id, &viewer.login, &teams).await.map_err(guide_error)
}

/// Ticks a step off (`done` = `true`) or clears it, for the viewer.
#[server(prefix = "/fn", endpoint = "guide_step")]
pub async fn guide_step(page_id: i64, key: String, done: String) -> Result<(), AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::docs::guides::set_step(&state.db, page_id, &key, &viewer.login, done == "true")
        .await
        .map_err(guide_error)
}

/// Adds a guide to the viewer's own list (`picked` = `true`) or takes it off.
#[server(prefix = "/fn", endpoint = "guide_pick")]
pub async fn guide_pick(page_id: i64, picked: String) -> Result<(), AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::docs::guides::pick(&state.db, page_id, &viewer.login, picked == "true").await.map_err(guide_error)
}

/// A team's guides with its members' progress.
#[server(prefix = "/fn", endpoint = "guides_team")]
pub async fn team_guides(group_ref: String) -> Result<Vec<TeamGuide>, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::docs::guides::for_team(&state.db, &group_ref)
        .await
        .map_err(|e| crate::ssr::internal("team guides", e))
}

fn progress_bar(done: usize, total: usize) -> impl IntoView {
    let label = format!("{done} of {total} steps done");
    view! { <progress max=total.to_string() value=done.to_string() aria-label=label.clone()></progress> " " <span class="small">{label}</span> }
}

/// Runs `refetch` after each completed action (never on the server, never on first render): components that
/// start from data their page loaded and stay current after changes, without a resource of their own (a resource
/// made inside an already-suspended view cannot be hydrated).
fn refresh_after(versions: impl Fn() -> usize + 'static, refetch: impl Fn() + 'static) {
    Effect::new(move |_| {
        if versions() > 0 {
            refetch();
        }
    });
}

/// The checklist above a guide: its steps, each ticked off by the viewer, and progress.
#[component]
fn GuideChecklist(page_id: i64, initial: GuideProgress) -> impl IntoView {
    let step = ServerAction::<GuideStep>::new();
    let pick = ServerAction::<GuidePick>::new();
    let data = RwSignal::new(initial);
    refresh_after(
        move || step.version().get() + pick.version().get(),
        move || {
            leptos::task::spawn_local(async move {
                if let Ok(g) = guide(page_id).await {
                    data.set(g);
                }
            })
        },
    );
    view! {
        {move || {
            let g = data.get();
            let total = g.steps.len();
            let mine = g.assigned || g.picked;
            view! {
                <section class="card guide" aria-labelledby="guide-title" data-testid="guide">
                    <h2 id="guide-title">"Your progress"</h2>
                    <p>{progress_bar(g.done, total)}</p>
                    <ol class="guide-steps">
                        {g.steps.into_iter().map(|s| {
                            let next = if s.done { "false" } else { "true" };
                            view! {
                                <li class:done=s.done>
                                    <ActionForm action=step attr:class="actions">
                                        <input type="hidden" name="page_id" value=page_id.to_string() />
                                        <input type="hidden" name="key" value=s.key.clone() />
                                        <input type="hidden" name="done" value=next />
                                        <button class="button step-toggle" type="submit" aria-pressed=s.done.to_string() aria-label=format!("{}: {}", s.title, if s.done { "done; mark not done" } else { "mark done" })>
                                            {if s.done { "✓" } else { "○" }}
                                        </button>
                                        <a href=format!("#{}", s.key)>{s.title.clone()}</a>
                                    </ActionForm>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                    {if g.assigned {
                        view! { <p class="muted small">"Assigned to your team."</p> }.into_any()
                    } else {
                        view! {
                            <ActionForm action=pick>
                                <input type="hidden" name="page_id" value=page_id.to_string() />
                                <input type="hidden" name="picked" value=if mine { "false" } else { "true" } />
                                <button class="button" type="submit">{if mine { "Remove from my guides" } else { "Add to my guides" }}</button>
                            </ActionForm>
                        }.into_any()
                    }}
                </section>
            }
        }}
        {move || step.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
    }
}

/// "Your onboarding" on the docs list.
#[component]
fn MyGuides() -> impl IntoView {
    let data = Resource::new(|| (), |_| my_guides());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(list) if !list.is_empty() => view! {
                        <section class="card" aria-labelledby="my-guides-title">
                            <h2 id="my-guides-title">"Your onboarding"</h2>
                            <ul class="doc-links">
                                {list.into_iter().map(|g| view! {
                                    <li>
                                        <a href=format!("/docs/{}/{}", g.page.space, g.page.slug)>{g.page.title.clone()}</a>
                                        " " {progress_bar(g.done, g.steps.len())}
                                    </li>
                                }).collect_view()}
                            </ul>
                        </section>
                    }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

/// A team's page: its guides and how far each member got.
#[component]
pub fn TeamGuides() -> impl IntoView {
    let data = expect_context::<EntityDocsData>().guides;
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(list) if !list.is_empty() => view! {
                        <section class="card" aria-labelledby="team-guides-title" data-testid="team-guides">
                            <h2 id="team-guides-title">"Onboarding"</h2>
                            {list.into_iter().map(|g| view! {
                                <h3><a href=format!("/docs/{}/{}", g.page.space, g.page.slug)>{g.page.title.clone()}</a></h3>
                                {if g.members.is_empty() {
                                    view! { <p class="muted">"No members have signed in yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table">
                                            <thead><tr><th scope="col">"Member"</th><th scope="col">"Progress"</th></tr></thead>
                                            <tbody>
                                                {g.members.into_iter().map(|m| view! {
                                                    <tr>
                                                        <td><a href=format!("/people/{}", m.login)>{m.login.clone()}</a></td>
                                                        <td>{progress_bar(m.done, m.total)}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            }).collect_view()}
                        </section>
                    }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/docs`.
#[component]
pub fn DocsPage() -> impl IntoView {
    view! {
        <Title text="Docs" />
        <RequireViewer signed_in=|_: Viewer| view! { <DocsList /> } />
    }
}

#[component]
fn DocsList() -> impl IntoView {
    let query = use_query_map();
    let space = move || query.read().get("space").filter(|s| !s.is_empty());
    let pages = Resource::new(space, list_pages);
    view! {
        <div class="page-heading">
            <h1>"Docs"</h1>
            <a class="button" href="/docs/new">"New page"</a>
        </div>
        <p class="muted">"Runbooks, guides and reference pages, by space."</p>
        <MyGuides />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match pages.await {
                    Ok(list) if list.is_empty() => view! { <p class="card">"No pages yet."</p> }.into_any(),
                    Ok(list) => {
                        let stale: Vec<PageSummary> = list.iter().filter(|p| p.stale).cloned().collect();
                        view! {
                            {(!stale.is_empty()).then(|| view! {
                                <section class="card review-due" aria-labelledby="review-due-title">
                                    <h2 id="review-due-title">"Runbooks due for review"</h2>
                                    <PageTable pages=stale />
                                </section>
                            })}
                            <PageTable pages=list nested=true />
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PageTable(pages: Vec<PageSummary>, #[prop(optional)] nested: bool) -> impl IntoView {
    let rows: Vec<(PageSummary, usize)> =
        if nested { tree_order(pages) } else { pages.into_iter().map(|p| (p, 0)).collect() };
    view! {
        <table class="table entity-table">
            <thead><tr>
                <th scope="col">"Page"</th><th scope="col">"Space"</th><th scope="col">"Kind"</th>
                <th scope="col">"Owner"</th><th scope="col">"Updated"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|(p, depth)| view! {
                    <tr>
                        <td style=(depth > 0).then(|| format!("padding-left: {}rem", 0.75 + 1.25 * depth as f32))>
                            {(depth > 0).then(|| view! { <span class="muted" aria-hidden="true">"↳ "</span> })}
                            <a href=format!("/docs/{}/{}", p.space, p.slug)>{p.title.clone()}</a>
                            {p.stale.then(|| view! { " " <span class="badge badge-warn">{format!("review overdue since {}", utc_date(&p.review_due))}</span> })}
                        </td>
                        <td>{p.space.clone()}</td>
                        <td><span class="badge">{p.kind.clone()}</span></td>
                        <td>{p.owner_ref.clone().map(|o| view! { <a href=entity_path(&o)>{o.clone()}</a> })}</td>
                        <td>{utc(&p.updated_at)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// What an entity page shows of the docs: pages about the entity, and for a team its onboarding. The entity page
/// makes these resources next to its own (see [`refresh_after`]: resources made inside a suspended view do not
/// hydrate) and the sections find them in the context.
#[derive(Clone, Copy)]
pub struct EntityDocsData {
    /// Pages about the entity.
    pub pages: Resource<Result<Vec<PageSummary>, AppError>>,
    /// For a group: its guides and members' progress.
    pub guides: Resource<Result<Vec<TeamGuide>, AppError>>,
}

impl EntityDocsData {
    /// The resources for the entity `entity_ref()` names (`component:default/payments-api`).
    pub fn new(entity_ref: impl Fn() -> String + Clone + Send + Sync + 'static) -> EntityDocsData {
        EntityDocsData {
            pages: Resource::new(entity_ref.clone(), pages_for_entity),
            guides: Resource::new(entity_ref, |r| async move {
                if r.starts_with("group:") { team_guides(r).await } else { Ok(Vec::new()) }
            }),
        }
    }
}

/// The entity page's "Runbooks and docs" section.
#[component]
pub fn EntityDocs(entity_ref: String) -> impl IntoView {
    let new_href = format!("/docs/new?entity={}", portolan_types::encode_query_value(&entity_ref));
    let pages = expect_context::<EntityDocsData>().pages;
    view! {
        <section class="card" aria-labelledby="entity-docs-title">
            <h2 id="entity-docs-title">"Runbooks and docs"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                let new_href = new_href.clone();
                Suspend::new(async move {
                    match pages.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted">"No pages are linked to this entity yet. " <a href=new_href>"Write one"</a></p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="doc-links">
                                {list.into_iter().map(|p| view! {
                                    <li>
                                        <a href=format!("/docs/{}/{}", p.space, p.slug)>{p.title.clone()}</a>
                                        " " <span class="badge">{p.kind.clone()}</span>
                                        {p.stale.then(|| view! { " " <span class="badge badge-warn">"review overdue"</span> })}
                                        " " <span class="muted small">{format!("updated {}", utc(&p.updated_at))}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="alert alert-error">{e.to_string()}</p> }.into_any(),
                    }
                })
                }}
            </Suspense>
        </section>
    }
}

/// `(space, slug)` from the route.
fn page_key() -> impl Fn() -> (String, String) + Clone + Send + Sync + 'static {
    let params = use_params_map();
    move || {
        let p = params.read();
        (p.get("space").unwrap_or_default(), p.get("slug").unwrap_or_default())
    }
}

/// `/docs/:space/:slug`.
#[component]
pub fn DocPageRoute() -> impl IntoView {
    view! { <RequireViewer signed_in=|_: Viewer| view! { <DocView /> } /> }
}

#[component]
fn DocView() -> impl IntoView {
    let page = Resource::new(page_key(), |(space, slug)| get_page(space, slug));
    provide_context(crate::health::RunbookLiveResource::new(page_key()));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <DocBody page=p.page may_edit=p.may_edit backlinks=p.backlinks attachments=p.attachments guide=p.guide /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// "Docs / space / Title" above a page's views.
#[component]
fn Crumbs(page: PageView, #[prop(optional)] last: &'static str) -> impl IntoView {
    let href = format!("/docs/{}/{}", page.space, page.slug);
    view! {
        <nav class="muted small crumbs" aria-label="Breadcrumbs">
            <a href="/docs">"Docs"</a> " / " <a href=format!("/docs?space={}", page.space)>{page.space.clone()}</a>
            {page.breadcrumbs.iter().map(|c| view! {
                " / " <a href=format!("/docs/{}/{}", c.space, c.slug)>{c.title.clone()}</a>
            }).collect_view()}
            {if last.is_empty() {
                ().into_any()
            } else {
                view! { " / " <a href=href>{page.title.clone()}</a> " / " {last} }.into_any()
            }}
        </nav>
    }
}

#[component]
fn DocBody(
    page: PageView,
    may_edit: bool,
    backlinks: Vec<PageSummary>,
    attachments: Vec<Attachment>,
    guide: Option<GuideProgress>,
) -> impl IntoView {
    let broken = page.broken_links.clone();
    let toc = page.toc.clone();
    let base = format!("/docs/{}/{}", page.space, page.slug);
    view! {
        <Title text=page.title.clone() />
        <Crumbs page=page.clone() />
        <div class="page-heading">
            <h1>{page.title.clone()} " " <span class="badge">{page.kind.clone()}</span></h1>
            <div class="actions">
                {may_edit.then(|| view! { <a class="button button-primary" href=format!("{base}/edit")>"Edit"</a> })}
                {page.source.clone().map(|src| view! {
                    <a class="button button-primary" href=src.edit_url rel="noopener noreferrer" target="_blank">"Edit in repository"</a>
                })}
                <a class="button" href=format!("{base}/history")>"History"</a>
            </div>
        </div>
        {page.source.clone().map(|src| view! {
            <p class="alert alert-info" data-testid="doc-source">
                "Kept in sync from " <a href=src.url.clone() rel="noopener noreferrer">{src.path.clone()}</a>
                " (the docs of " <a href=entity_path(&src.entity)>{src.entity.clone()}</a>
                "); changes are made in the repository and show up here on the next sync."
            </p>
        })}
        <p class="muted small">
            {format!("Revision {} by {}, {}", page.revision_number, page.updated_by, utc(&page.updated_at))}
            {page.owner_ref.clone().map(|o| view! { " · owned by " <a href=entity_path(&o)>{o.clone()}</a> })}
        </p>
        <ReviewLine page=page.clone() may_edit=may_edit />
        {(page.kind == "runbook").then(|| view! { <crate::health::RunbookLiveState /> })}
        {guide.map(|g| view! { <GuideChecklist page_id=page.id initial=g /> })}
        {(!page.entities.is_empty()).then(|| view! {
            <p class="small">"About: "
                {page.entities.iter().map(|e| view! { <a class="tag" href=entity_path(e)>{e.clone()}</a> " " }).collect_view()}
            </p>
        })}
        <div class="doc-layout">
            {(toc.len() > 1).then(|| view! {
                <nav class="doc-toc card" aria-label="Contents">
                    <ul>
                        {toc.into_iter().map(|t| view! {
                            <li class=format!("toc-{}", t.level)><a href=format!("#{}", t.id)>{t.text}</a></li>
                        }).collect_view()}
                    </ul>
                </nav>
            })}
            // Rendered and sanitized on the server (ammonia allow list); see portolan_core::docs::markdown.
            <article class="doc-body card" inner_html=page.html.clone()></article>
        </div>
        {(!page.children.is_empty() || may_edit).then(|| view! {
            <section class="card" aria-labelledby="children-title">
                <h2 id="children-title">"Pages under this one"</h2>
                {if page.children.is_empty() {
                    view! { <p class="muted">"None yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="doc-links">
                            {page.children.iter().map(|c| view! {
                                <li><a href=format!("/docs/{}/{}", c.space, c.slug)>{c.title.clone()}</a></li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                {may_edit.then(|| view! {
                    <a class="button" href=format!("/docs/new?space={}&parent={}", page.space, page.slug)>"New page under this one"</a>
                })}
            </section>
        })}
        {may_edit.then(|| view! { <Attachments page_id=page.id may_edit=true initial=attachments /> })}
        {(may_edit && !broken.is_empty()).then(|| view! { <BrokenLinks broken=broken.clone() /> })}
        {(!backlinks.is_empty()).then(|| view! {
            <section class="card" aria-labelledby="backlinks-title">
                <h2 id="backlinks-title">"Linked from"</h2>
                <ul class="doc-links">
                    {backlinks.into_iter().map(|p| view! {
                        <li><a href=format!("/docs/{}/{}", p.space, p.slug)>{p.title.clone()}</a> " " <span class="muted small">{p.space.clone()}</span></li>
                    }).collect_view()}
                </ul>
            </section>
        })}
    }
}

/// The review state of a runbook: overdue (flagged), or when it was reviewed and is due; editors mark it reviewed.
#[component]
fn ReviewLine(page: PageView, may_edit: bool) -> impl IntoView {
    let review = ServerAction::<Review>::new();
    let r = page.review.clone();
    let reviewed = match (&r.reviewed_at, &r.reviewed_by) {
        (Some(at), Some(by)) => format!("Last reviewed {} by {by}.", utc_date(at)),
        _ => "Not reviewed since it was written.".to_owned(),
    };
    let due = utc_date(&r.due_at);
    let button = may_edit.then(|| view! {
        <ActionForm action=review attr:class="actions">
            <input type="hidden" name="page_id" value=page.id.to_string() />
            <label class="small">"Review every " <input name="interval_days" type="number" min="1" max="730" value=r.interval_days.to_string() class="days" /> " days"</label>
            <button class="button" type="submit">"Mark reviewed"</button>
        </ActionForm>
    });
    (page.kind == "runbook").then(|| view! {
        <div class=if r.stale { "alert review-stale" } else { "review-ok muted small" } role=r.stale.then_some("status")>
            {if r.stale {
                view! { <strong>{format!("Review overdue since {due}.")}</strong> " " {reviewed} " Check the steps still work." }.into_any()
            } else {
                view! { {reviewed} " " {format!("Next review by {due}.")} }.into_any()
            }}
            {button}
            {move || review.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
        </div>
    })
}

/// `2026-11-25` from an RFC 3339 time (the dates are UTC).
fn utc_date(rfc3339: &str) -> String {
    format!("{} UTC", rfc3339.get(..10).unwrap_or(rfc3339))
}

/// Wiki links that lead nowhere, for those who can fix them.
#[component]
fn BrokenLinks(broken: Vec<String>) -> impl IntoView {
    view! {
        <p class="alert broken-links" role="status">
            "Broken links: "
            {broken.into_iter().map(|b| view! { <code>{format!("[[{b}]]")}</code> " " }).collect_view()}
        </p>
    }
}

/// `/docs/:space/:slug/edit`.
#[component]
pub fn EditPageRoute() -> impl IntoView {
    view! { <RequireViewer signed_in=|_: Viewer| view! { <EditView /> } /> }
}

#[component]
fn EditView() -> impl IntoView {
    let data = Resource::new(page_key(), |(space, slug)| editor_data(space, slug));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! {
                        <Title text=format!("Edit {}", d.page.title) />
                        <Crumbs page=d.page.clone() last="edit" />
                        <h1>"Edit " {d.page.title.clone()}</h1>
                        <Editor page=d.page conflict=d.conflict attachments=d.attachments />
                    }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The other person's change, shown when a save was refused.
#[component]
fn ConflictNotice(conflict: EditConflict, page_id: i64, edit_path: String) -> impl IntoView {
    let discard = ServerAction::<DiscardDraft>::new();
    view! {
        <div class="alert alert-error conflict" role="alert">
            <p>
                <strong>"Not saved: someone else saved first."</strong>
                {format!(
                    " Revision {} was saved by {} at {} while you were editing. Their change is shown below; your \
                     text is still in the editor. Merge what you need and save again: it will go on top of revision {}.",
                    conflict.revision_number, conflict.author, utc(&conflict.saved_at), conflict.revision_number
                )}
            </p>
            <DiffTable rows=conflict.rows.clone() old_label="Your starting point".to_owned() new_label=format!("Revision {}", conflict.revision_number) />
            <details>
                <summary>"Their whole text"</summary>
                <textarea class="source" readonly rows="12" aria-label="The current text">{conflict.markdown.clone()}</textarea>
            </details>
            {conflict.draft.is_some().then(|| view! {
                <ActionForm action=discard>
                    <input type="hidden" name="page_id" value=page_id.to_string() />
                    <input type="hidden" name="path" value=edit_path />
                    <button class="button" type="submit">"Discard my draft"</button>
                </ActionForm>
            })}
        </div>
    }
}

/// Markdown source and live preview. Hydrated: the preview follows the text (debounced, rendered by the server's
/// own renderer), Ctrl/Cmd-S saves, and leaving with unsaved text asks first.
#[component]
fn Editor(page: PageView, conflict: Option<EditConflict>, attachments: Vec<Attachment>) -> impl IntoView {
    let save = ServerAction::<SavePage>::new();
    let dirty = RwSignal::new(conflict.as_ref().is_some_and(|c| c.draft.is_some()));
    let base = RwSignal::new(conflict.as_ref().map_or(page.revision_id, |c| c.revision_id));
    let shown_conflict = RwSignal::new(conflict.clone());
    let text = conflict.as_ref().and_then(|c| c.draft.clone()).unwrap_or_else(|| page.markdown.clone());
    let summary = conflict.as_ref().and_then(|c| c.draft_summary.clone()).unwrap_or_default();
    let preview_html = RwSignal::new(page.html.clone());
    let broken = RwSignal::new(page.broken_links.clone());
    let generation = StoredValue::new(0u64);
    let submit = NodeRef::<leptos::html::Button>::new();
    let edit_path = format!("/docs/{}/{}/edit", page.space, page.slug);
    let page_id = page.id;

    // A refused save shows the other person's change and moves the base to their revision; the text stays.
    Effect::new(move |_| {
        if let Some(Ok(SaveOutcome::Conflict(c))) = save.value().get() {
            base.set(c.revision_id);
            shown_conflict.set(Some(*c));
        }
    });
    guard_unsaved(dirty);

    let on_input = move |value: String| {
        dirty.set(true);
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        set_timeout(
            move || {
                if generation.get_value() != mine {
                    return;
                }
                leptos::task::spawn_local(async move {
                    if let Ok(r) = preview(value).await
                        && generation.get_value() == mine
                    {
                        preview_html.set(r.html);
                        broken.set(r.broken);
                    }
                });
            },
            std::time::Duration::from_millis(250),
        );
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("s") {
            ev.prevent_default();
            if let Some(button) = submit.get() {
                button.click();
            }
        }
    };
    view! {
        {move || shown_conflict.get().map(|c| view! { <ConflictNotice conflict=c page_id=page_id edit_path=edit_path.clone() /> })}
        {move || save.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
        <ActionForm action=save attr:class="card doc-editor" on:keydown=on_keydown on:submit=move |_| dirty.set(false)>
            <input type="hidden" name="page_id" value=page.id.to_string() />
            <input type="hidden" name="base_revision" value=move || base.get().to_string() />
            <label class="field">
                <span>"Title"</span>
                <input name="title" value=page.title.clone() required maxlength="200" on:input=move |_| dirty.set(true) />
            </label>
            <div class="editor-panes">
                <label class="field">
                    <span>"Markdown"</span>
                    <textarea
                        name="markdown"
                        class="source"
                        rows="24"
                        spellcheck="true"
                        on:input:target=move |ev| on_input(ev.target().value())
                    >{text}</textarea>
                </label>
                <div class="field">
                    <span>"Preview"</span>
                    // Sanitized by the server's renderer.
                    <article class="doc-body preview" aria-live="polite" data-testid="preview" inner_html=move || preview_html.get()></article>
                    {move || { let b = broken.get(); (!b.is_empty()).then(|| view! { <BrokenLinks broken=b /> }) }}
                </div>
            </div>
            <label class="field">
                <span>"Edit summary"</span>
                <input name="summary" value=summary maxlength="300" placeholder="What changed, in a few words" />
            </label>
            <div class="actions">
                <button class="button button-primary" type="submit" node_ref=submit>"Save"</button>
                <span class="muted small">"Ctrl-S or ⌘-S saves."</span>
                <a class="button" href=format!("/docs/{}/{}", page.space, page.slug)>"Cancel"</a>
            </div>
        </ActionForm>
        <Attachments page_id=page_id may_edit=true initial=attachments />
    }
    .into_any()
}

/// A page's attached files.
#[server(prefix = "/fn", endpoint = "docs_attachments")]
pub async fn page_attachments(page_id: i64) -> Result<Vec<Attachment>, AppError> {
    crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::docs::attachments::list(&state.db, page_id)
        .await
        .map_err(|e| crate::ssr::internal("listing files", e))
}

/// Removes an attached file (`docs.edit` on its page).
#[server(prefix = "/fn", endpoint = "docs_attachment_delete")]
pub async fn delete_attachment(id: i64) -> Result<(), AppError> {
    use portolan_core::access::Action;
    use portolan_core::docs::{attachments, pages};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let Some(file) = attachments::find(&state.db, id).await.map_err(|e| crate::ssr::internal("loading a file", e))?
    else {
        return Ok(());
    };
    let (page, _) = pages::current(&state.db, file.page_id)
        .await
        .map_err(|e| crate::ssr::internal("loading a page", e))?
        .ok_or_else(|| AppError::NotFound("The page".to_owned()))?;
    let target = pages::access_target(&page.space, &page.slug, page.owner_ref.as_deref());
    crate::ssr::authorize(&state, &viewer, Action::DocsEdit, &target).await?;
    attachments::delete(&state.db, &viewer.login, id).await.map_err(|e| crate::ssr::internal("removing a file", e))
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// Files attached to a page: a list with the Markdown that shows each, removal, and an upload form. The form is a
/// plain multipart post that comes back here; hydrated, it uploads in the background instead (so unsaved text in
/// the editor stays) and puts the new file's Markdown at the editor's cursor.
#[component]
fn Attachments(page_id: i64, may_edit: bool, initial: Vec<Attachment>) -> impl IntoView {
    let query = use_query_map();
    let remove = ServerAction::<DeleteAttachment>::new();
    let uploaded = RwSignal::new(0u32);
    let message = RwSignal::new(query.read_untracked().get("attached").map(Ok::<String, String>));
    if let Some(e) = query.read_untracked().get("attach_error") {
        message.set(Some(Err(e)));
    }
    let files = RwSignal::new(initial);
    refresh_after(
        move || remove.version().get() + uploaded.get() as usize,
        move || {
            leptos::task::spawn_local(async move {
                if let Ok(list) = page_attachments(page_id).await {
                    files.set(list);
                }
            })
        },
    );
    let upload_url = format!("/api/v1/pages/{page_id}/attachments");
    let return_to = leptos_router::hooks::use_location().pathname.get_untracked();
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    let on_submit = {
        let upload_url = upload_url.clone();
        move |ev: leptos::ev::SubmitEvent| {
            #[cfg(feature = "hydrate")]
            {
                ev.prevent_default();
                let url = upload_url.clone();
                if let Some(form) =
                    ev.target().and_then(|t| leptos::wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlFormElement>(t).ok())
                {
                    leptos::task::spawn_local(async move {
                        match upload_in_background(&url, &form).await {
                            Ok(a) => {
                                insert_at_cursor(&format!("{}\n", a.markdown));
                                form.reset();
                                message.set(Some(Ok(a.name)));
                                uploaded.update(|n| *n += 1);
                            }
                            Err(e) => message.set(Some(Err(e))),
                        }
                    });
                }
            }
        }
    };
    view! {
        <section class="card" id="attachments" aria-labelledby="attachments-title" data-testid="attachments">
            <h2 id="attachments-title">"Files"</h2>
            {move || message.get().map(|m| match m {
                Ok(name) => view! { <p class="alert alert-info" role="status">{format!("Attached {name}.")}</p> }.into_any(),
                Err(e) => view! { <p class="alert alert-error" role="alert">{e}</p> }.into_any(),
            })}
            {move || remove.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
            {move || {
                let list = files.get();
                if list.is_empty() {
                    return view! { <p class="muted">"No files yet."</p> }.into_any();
                }
                view! {
                    <table class="table">
                        <thead><tr>
                            <th scope="col">"File"</th><th scope="col">"Size"</th><th scope="col">"Markdown"</th>
                            <th scope="col">"Uploaded"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|a| view! {
                                <tr>
                                    <td><a href=a.url.clone()>{a.name.clone()}</a> " " <span class="muted small">{a.content_type.clone()}</span></td>
                                    <td>{human_size(a.size)}</td>
                                    <td><code class="snippet">{a.markdown.clone()}</code></td>
                                    <td class="small">{format!("{} · {}", a.uploaded_by, utc(&a.uploaded_at))}</td>
                                    <td>{may_edit.then(|| view! {
                                        <ActionForm action=remove>
                                            <input type="hidden" name="id" value=a.id.to_string() />
                                            <button class="button" type="submit" aria-label=format!("Remove {}", a.name)>"Remove"</button>
                                        </ActionForm>
                                    })}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {may_edit.then(|| view! {
                <form class="actions" method="post" enctype="multipart/form-data" action=upload_url.clone() on:submit=on_submit>
                    <input type="hidden" name="return_to" value=return_to.clone() />
                    <label>"Attach a file " <input type="file" name="file" required accept=".png,.jpg,.jpeg,.gif,.webp,.svg,.pdf,.zip,.txt,.log,.md,.csv,.json,.yaml,.yml" /></label>
                    <button class="button" type="submit">"Upload"</button>
                    <span class="muted small">"Images, PDF, zip or text. Show an image with the Markdown in the list."</span>
                </form>
            })}
        </section>
    }
}

/// Posts the upload form with `fetch` and reads the stored file or the refusal.
#[cfg(feature = "hydrate")]
async fn upload_in_background(url: &str, form: &web_sys::HtmlFormElement) -> Result<Attachment, String> {
    use leptos::wasm_bindgen::JsCast;
    let failed = |_| "The upload did not reach the portal; try again.".to_owned();
    let data = web_sys::FormData::new_with_form(form).map_err(failed)?;
    let headers = web_sys::Headers::new().map_err(failed)?;
    headers.set("Accept", "application/json").map_err(failed)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&data);
    init.set_headers(&headers);
    let window = web_sys::window().ok_or("no window")?;
    let response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(failed)?;
    let response: web_sys::Response = response.dyn_into().map_err(failed)?;
    let text = wasm_bindgen_futures::JsFuture::from(response.text().map_err(failed)?).await.map_err(failed)?;
    let text = text.as_string().unwrap_or_default();
    if response.ok() {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("The upload was refused ({}).", response.status()));
        Err(message)
    }
}

/// Puts text at the editor's cursor (when an editor is on the page) and lets the preview know.
#[cfg(feature = "hydrate")]
fn insert_at_cursor(snippet: &str) {
    use leptos::wasm_bindgen::JsCast;
    let Some(area) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("textarea[name=markdown]:not([readonly])").ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
    else {
        return;
    };
    let value = area.value();
    let at = area.selection_start().ok().flatten().map_or(value.len(), |n| n as usize);
    // selectionStart counts UTF-16 units; find the matching byte offset.
    let mut units = 0usize;
    let byte = value.char_indices().find(|(_, c)| {
        let hit = units >= at;
        units += c.len_utf16();
        hit
    });
    let byte = byte.map_or(value.len(), |(i, _)| i);
    area.set_value(&format!("{}{snippet}{}", &value[..byte], &value[byte..]));
    if let Ok(ev) = web_sys::Event::new("input") {
        let _ = area.dispatch_event(&ev);
    }
}

/// Asks before leaving the page with unsaved text: closing or reloading the tab (`beforeunload`) and following a
/// link inside the portal (the router navigates without unloading, so clicks are checked first).
fn guard_unsaved(dirty: RwSignal<bool>) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        use leptos::wasm_bindgen::closure::Closure;
        let unload = window_event_listener(leptos::ev::beforeunload, move |ev| {
            if dirty.get_untracked() {
                ev.prevent_default();
                ev.set_return_value("You have unsaved changes.");
            }
        });
        let on_click = Closure::<dyn Fn(web_sys::MouseEvent)>::new(move |ev: web_sys::MouseEvent| {
            if !dirty.get_untracked() || ev.default_prevented() || ev.button() != 0 {
                return;
            }
            let link = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("a[href]").ok().flatten());
            if link.is_none() {
                return;
            }
            let leave =
                window().confirm_with_message("You have unsaved changes. Leave without saving?").unwrap_or(true);
            if leave {
                dirty.set(false);
            } else {
                ev.prevent_default();
                ev.stop_propagation();
            }
        });
        let _ = document().add_event_listener_with_callback_and_bool("click", on_click.as_ref().unchecked_ref(), true);
        let callback = StoredValue::new_local(Some(on_click));
        on_cleanup(move || {
            unload.remove();
            if let Some(Some(on_click)) = callback.try_update_value(Option::take) {
                let _ = document().remove_event_listener_with_callback_and_bool(
                    "click",
                    on_click.as_ref().unchecked_ref(),
                    true,
                );
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = dirty;
}

/// `/docs/new`.
#[component]
pub fn NewDocPage() -> impl IntoView {
    view! {
        <Title text="New page" />
        <RequireViewer signed_in=|_: Viewer| view! { <NewDocForm /> } />
    }
}

#[component]
fn NewDocForm() -> impl IntoView {
    let create = ServerAction::<CreatePage>::new();
    let query = use_query_map();
    let entity = query.read_untracked().get("entity").unwrap_or_default();
    let space = query.read_untracked().get("space").unwrap_or_default();
    let parent = query.read_untracked().get("parent").unwrap_or_default();
    view! {
        <p class="muted small"><a href="/docs">"Docs"</a> " / new"</p>
        <h1>"New page"</h1>
        {move || create.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
        <ActionForm action=create attr:class="card doc-editor">
            <div class="filters">
                <label class="field">
                    <span>"Space"</span>
                    <input name="space" value=space required pattern="[a-z0-9][a-z0-9\\-]*" placeholder="payments" />
                    <small class="muted">"Lower-case letters, digits and -"</small>
                </label>
                <label class="field">
                    <span>"Title"</span>
                    <input name="title" required maxlength="200" />
                </label>
                <label class="field">
                    <span>"Kind"</span>
                    <select name="kind">
                        {PAGE_KINDS.iter().map(|k| view! { <option value=*k selected=*k == "runbook">{*k}</option> }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span>"Owning team"</span>
                    <input name="owner" placeholder="group:default/payments" />
                    <small class="muted">"Its members may edit the page"</small>
                </label>
                <label class="field">
                    <span>"About"</span>
                    <input name="entities" value=entity placeholder="component:default/payments-api" />
                    <small class="muted">"Catalog entities, separated by commas"</small>
                </label>
                <label class="field">
                    <span>"Review every (days)"</span>
                    <input name="review_days" type="number" min="1" max="730" value="90" />
                    <small class="muted">"Runbooks past it are flagged"</small>
                </label>
                <label class="field">
                    <span>"Under page"</span>
                    <input name="parent" value=parent placeholder="slug of the page above" />
                    <small class="muted">"Empty: a top-level page"</small>
                </label>
            </div>
            <label class="field">
                <span>"Markdown"</span>
                <textarea name="markdown" class="source" rows="18"></textarea>
            </label>
            <button class="button button-primary" type="submit">"Create"</button>
        </ActionForm>
    }
}

/// `/docs/:space/:slug/history`, with `?from=&to=` (revision numbers) for a diff.
#[component]
pub fn HistoryRoute() -> impl IntoView {
    view! { <RequireViewer signed_in=|_: Viewer| view! { <HistoryView /> } /> }
}

#[component]
fn HistoryView() -> impl IntoView {
    let key = page_key();
    let data = Resource::new(key.clone(), |(space, slug)| history(space, slug));
    let query = use_query_map();
    let pair = move || {
        let q = query.read();
        let n = |k: &str| q.get(k).and_then(|v| v.parse::<i32>().ok());
        (key(), n("from").zip(n("to")))
    };
    let diff = Resource::new(pair, |((space, slug), pair)| async move {
        match pair {
            Some((from, to)) => diff(space, slug, from, to).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(h) => {
                        let page = h.page.page.clone();
                        view! {
                            <Title text=format!("History of {}", page.title) />
                            <Crumbs page=page.clone() last="history" />
                            <h1>"History of " {page.title.clone()}</h1>
                            <Suspense fallback=|| view! { <p class="muted">"Comparing…"</p> }>
                                {move || Suspend::new(async move {
                                    match diff.await {
                                        Ok(Some(d)) => view! { <DiffSection diff=d /> }.into_any(),
                                        Ok(None) => ().into_any(),
                                        Err(e) => view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> }.into_any(),
                                    }
                                })}
                            </Suspense>
                            <RevisionList page=page.clone() revisions=h.revisions />
                            {h.page.may_edit.then(|| view! {
                                <MoveForm page=page.clone() />
                                <DeleteForm page_id=page.id />
                            })}
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RevisionList(page: PageView, revisions: Vec<RevisionView>) -> impl IntoView {
    let base = format!("/docs/{}/{}", page.space, page.slug);
    let newest = revisions.first().map_or(0, |r| r.number);
    let previous = revisions.get(1).map_or(newest, |r| r.number);
    view! {
        <form method="get" action=format!("{base}/history") class="card">
            <table class="table revisions">
                <thead><tr>
                    <th scope="col">"From"</th><th scope="col">"To"</th><th scope="col">"Revision"</th>
                    <th scope="col">"Author"</th><th scope="col">"Saved"</th><th scope="col">"Summary"</th>
                </tr></thead>
                <tbody>
                    {revisions.into_iter().map(|r| view! {
                        <tr>
                            <td><input type="radio" name="from" value=r.number.to_string() checked=r.number == previous aria-label=format!("Compare from revision {}", r.number) /></td>
                            <td><input type="radio" name="to" value=r.number.to_string() checked=r.number == newest aria-label=format!("Compare to revision {}", r.number) /></td>
                            <td><a href=format!("{base}/revisions/{}", r.number)>{format!("#{}", r.number)}</a></td>
                            <td><a href=format!("/people/{}", r.author)>{r.author.clone()}</a></td>
                            <td>{utc(&r.created_at)}</td>
                            <td>{r.summary.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <button class="button" type="submit">"Compare"</button>
        </form>
    }
}

#[component]
fn MoveForm(page: PageView) -> impl IntoView {
    let action = ServerAction::<MovePage>::new();
    view! {
        <details class="card">
            <summary>"Move or rename"</summary>
            <p class="muted small">"The old address keeps leading here, so links and bookmarks keep working."</p>
            {move || action.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
            <ActionForm action=action attr:class="filters">
                <input type="hidden" name="page_id" value=page.id.to_string() />
                <label>"Space" <input name="space" value=page.space.clone() required pattern="[a-z0-9][a-z0-9\\-]*" /></label>
                <label>"Slug" <input name="slug" value=page.slug.clone() /></label>
                <label>"Under page (slug)" <input name="parent" value=page.breadcrumbs.last().map(|p| p.slug.clone()).unwrap_or_default() placeholder="top of the space" /></label>
                <button class="button" type="submit">"Move"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn DeleteForm(page_id: i64) -> impl IntoView {
    let delete = ServerAction::<DeletePage>::new();
    view! {
        <details class="card danger-zone">
            <summary>"Delete this page"</summary>
            {move || delete.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
            <ActionForm action=delete attr:class="actions">
                <input type="hidden" name="page_id" value=page_id.to_string() />
                <label><input type="checkbox" name="confirm" required /> " The page and all its revisions go for good"</label>
                <button class="button" type="submit">"Delete page"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn DiffSection(diff: RevisionDiff) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="diff-title">
            <h2 id="diff-title">
                {format!("Revision {} → {}", diff.from_number, diff.to_number)}
                " " <span class="badge badge-ok">{format!("+{}", diff.added)}</span>
                " " <span class="badge badge-error">{format!("−{}", diff.removed)}</span>
            </h2>
            {if diff.rows.is_empty() {
                view! { <p class="muted">"The two revisions have the same text."</p> }.into_any()
            } else {
                view! { <DiffTable rows=diff.rows old_label=format!("Revision {}", diff.from_number) new_label=format!("Revision {}", diff.to_number) /> }.into_any()
            }}
        </section>
    }
}

fn spans(spans: Vec<DiffSpan>) -> impl IntoView {
    spans
        .into_iter()
        .map(|s| if s.changed { view! { <mark>{s.text}</mark> }.into_any() } else { s.text.into_any() })
        .collect_view()
}

/// A side-by-side diff: old on the left, new on the right, changed words marked.
#[component]
fn DiffTable(rows: Vec<DiffRow>, old_label: String, new_label: String) -> impl IntoView {
    view! {
        <div class="diff-scroll">
            <table class="diff">
                <thead><tr><th colspan="2" scope="col">{old_label}</th><th colspan="2" scope="col">{new_label}</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        if r.kind == "skip" {
                            return view! { <tr class="diff-skip"><td colspan="4">"⋯"</td></tr> }.into_any();
                        }
                        let class = format!("diff-{}", r.kind);
                        let (old_line, new_line) = (r.old_line.map(|n| n.to_string()), r.new_line.map(|n| n.to_string()));
                        let old_class = if r.old_line.is_some() { "diff-old" } else { "diff-empty" };
                        let new_class = if r.new_line.is_some() { "diff-new" } else { "diff-empty" };
                        view! {
                            <tr class=class>
                                <td class="diff-num">{old_line}</td>
                                <td class=old_class><code>{spans(r.old)}</code></td>
                                <td class="diff-num">{new_line}</td>
                                <td class=new_class><code>{spans(r.new)}</code></td>
                            </tr>
                        }.into_any()
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// `/docs/:space/:slug/revisions/:number`.
#[component]
pub fn RevisionRoute() -> impl IntoView {
    view! { <RequireViewer signed_in=|_: Viewer| view! { <RevisionLoader /> } /> }
}

#[component]
fn RevisionLoader() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (
            p.get("space").unwrap_or_default(),
            p.get("slug").unwrap_or_default(),
            p.get("number").and_then(|n| n.parse::<i32>().ok()).unwrap_or(0),
        )
    };
    let data = Resource::new(key, |(space, slug, number)| revision(space, slug, number));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(r) => view! { <OldRevision data=r /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OldRevision(data: RevisionPage) -> impl IntoView {
    let restore = ServerAction::<Restore>::new();
    let page = data.page.page.clone();
    let rev = data.revision.revision.clone();
    let base = format!("/docs/{}/{}", page.space, page.slug);
    let can_restore = data.page.may_edit && !data.revision.current;
    view! {
        <Title text=format!("{} (revision {})", rev.title, rev.number) />
        <Crumbs page=page.clone() last="revision" />
        <h1>{rev.title.clone()} " " <span class="badge">{format!("revision {}", rev.number)}</span></h1>
        <p class="muted small">{format!("Saved by {}, {}", rev.author, utc(&rev.created_at))} {(!rev.summary.is_empty()).then(|| format!(" · {}", rev.summary))}</p>
        <div class="actions">
            {if data.revision.current {
                view! { <span class="badge badge-ok">"current revision"</span> }.into_any()
            } else {
                view! {
                    <a class="button" href=format!("{base}/history?from={}&to={}", rev.number, page.revision_number)>"Compare with current"</a>
                }.into_any()
            }}
            {can_restore.then(|| view! {
                <ActionForm action=restore>
                    <input type="hidden" name="page_id" value=page.id.to_string() />
                    <input type="hidden" name="revision" value=rev.id.to_string() />
                    <input type="hidden" name="base_revision" value=page.revision_id.to_string() />
                    <button class="button button-primary" type="submit">"Restore this revision"</button>
                </ActionForm>
            })}
        </div>
        {move || restore.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
        <article class="doc-body card" inner_html=data.revision.html.clone()></article>
    }
}
