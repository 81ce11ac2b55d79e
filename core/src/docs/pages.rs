//! Pages and their revisions. Every save appends a revision; the page points at its current one. A save names the
//! revision it started from and is applied only if that is still the current one (a conditional update, so two
//! replicas cannot both win): otherwise nothing is written and the caller gets the current page and what changed.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

use portolan_types::docs::{
    DiffRow, NewPage, PAGE_KINDS, PageLink, PageSource, PageSummary, PageUpdate, PageView, ReviewState,
    RevisionContent, RevisionDiff, RevisionView, TocItem,
};

use super::{diff as diffs, markdown};
use crate::catalog::model::EntityRef;

/// The `doc_pages` table.
pub mod page_rows {
    use sea_orm::entity::prelude::*;

    /// A page.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "doc_pages")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Space.
        pub space: String,
        /// Slug, unique in the space.
        pub slug: String,
        /// Current title.
        pub title: String,
        /// `runbook`, `guide` or `reference`.
        pub kind: String,
        /// Owning team.
        pub owner_ref: Option<String>,
        /// Linked entity references, comma-separated.
        #[sea_orm(column_type = "Text")]
        pub entity_refs: String,
        /// The current revision.
        pub current_revision_id: Option<i64>,
        /// Who made the page.
        pub created_by: String,
        /// When.
        pub created_at: DateTimeUtc,
        /// Last save.
        pub updated_at: DateTimeUtc,
        /// Last marked reviewed.
        pub reviewed_at: Option<DateTimeUtc>,
        /// By whom.
        pub reviewed_by: Option<String>,
        /// Days between reviews.
        pub review_days: i32,
        /// The page this one is nested under (same space).
        pub parent_id: Option<i64>,
        /// For an imported page: the entity whose docs it is.
        pub source_entity: Option<String>,
        /// Its file's path in the repository.
        pub source_path: Option<String>,
        /// Its file on the forge.
        #[sea_orm(column_type = "Text", nullable)]
        pub source_url: Option<String>,
        /// The git blob it was last read from.
        pub source_sha: Option<String>,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `doc_links` table: the wiki links each page's current revision makes, by target key.
pub mod links {
    use sea_orm::entity::prelude::*;

    /// One link.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "doc_links")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The linking page.
        pub page_id: i64,
        /// `page:<space>/<slug>`, `title:<lower-case title>` or an entity reference.
        pub target_key: String,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `doc_redirects` table: old addresses of moved pages.
pub mod redirects {
    use sea_orm::entity::prelude::*;

    /// An old address.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "doc_redirects")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The old space.
        pub space: String,
        /// The old slug.
        pub slug: String,
        /// The page now.
        pub page_id: i64,
        /// When it moved.
        pub created_at: DateTimeUtc,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `doc_revisions` table.
pub mod revisions {
    use sea_orm::entity::prelude::*;

    /// One saved version of a page.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "doc_revisions")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The page.
        pub page_id: i64,
        /// 1, 2, 3… per page.
        pub number: i32,
        /// Title at this revision.
        pub title: String,
        /// Markdown source.
        #[sea_orm(column_type = "Text")]
        pub markdown: String,
        /// Edit summary.
        pub summary: String,
        /// Who saved it.
        pub author: String,
        /// When.
        pub created_at: DateTimeUtc,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Largest Markdown source a page takes.
pub const MAX_MARKDOWN: usize = 1024 * 1024;

/// Why a page operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// A field is wrong; the text names it.
    #[error("{0}")]
    Invalid(String),
    /// No such page (or revision).
    #[error("no such page")]
    NotFound,
    /// Someone saved since `base_revision`: the page as it is now, and the unified diff from the base to it.
    #[error("the page changed since revision {base}")]
    Conflict {
        /// The revision the save started from.
        base: i64,
        /// The page now.
        current: Box<PageView>,
        /// What changed.
        diff: String,
        /// The same, side by side.
        rows: Vec<DiffRow>,
    },
    /// The page is imported from a repository and kept in sync from there; the text is where to edit it.
    #[error("this page is kept in sync from its repository; edit it there: {0}")]
    ReadOnly(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Where to edit an imported page's file: GitHub's `…/blob/<ref>/<path>` becomes `…/edit/<ref>/<path>`.
pub fn edit_url(source_url: &str) -> String {
    source_url.replacen("/blob/", "/edit/", 1)
}

/// Refuses changes to an imported page.
fn writable(page: &page_rows::Model) -> Result<(), DocsError> {
    match (&page.source_path, &page.source_url) {
        (Some(_), url) => Err(DocsError::ReadOnly(edit_url(url.as_deref().unwrap_or_default()))),
        _ => Ok(()),
    }
}

/// How deep pages nest; deeper parents are refused.
pub const MAX_DEPTH: usize = 8;

/// The page with slug `parent` in `space`, to nest a page under: it must exist and must not be the page itself or
/// below it. `None` or empty: the top of the space.
async fn parent_in<C: ConnectionTrait>(
    db: &C,
    space: &str,
    parent: Option<&str>,
    moving: Option<i64>,
) -> Result<Option<i64>, DocsError> {
    let Some(slug) = parent.map(str::trim).filter(|p| !p.is_empty()) else { return Ok(None) };
    let slug = slug.trim_start_matches(&format!("{space}/")).to_lowercase();
    let found = page_rows::Entity::find()
        .filter(page_rows::Column::Space.eq(space))
        .filter(page_rows::Column::Slug.eq(&slug))
        .one(db)
        .await?
        .ok_or_else(|| DocsError::Invalid(format!("parent: no page {space}/{slug}")))?;
    let chain = ancestors(db, &found).await?;
    if moving.is_some_and(|id| id == found.id || chain.iter().any(|a| a.id == id)) {
        return Err(DocsError::Invalid("parent: a page cannot go under itself or a page below it".to_owned()));
    }
    if chain.len() + 1 >= MAX_DEPTH {
        return Err(DocsError::Invalid(format!("parent: pages nest at most {MAX_DEPTH} deep")));
    }
    Ok(Some(found.id))
}

/// The pages above `page`, outermost first (a broken chain or a cycle stops the walk).
async fn ancestors<C: ConnectionTrait>(db: &C, page: &page_rows::Model) -> Result<Vec<PageLink>, DbErr> {
    let mut chain: Vec<PageLink> = Vec::new();
    let mut next = page.parent_id;
    while let Some(id) = next {
        if chain.len() >= MAX_DEPTH || id == page.id || chain.iter().any(|c| c.id == id) {
            break;
        }
        let Some(p) = page_rows::Entity::find_by_id(id).one(db).await? else { break };
        next = p.parent_id;
        chain.push(PageLink { id: p.id, space: p.space, slug: p.slug, title: p.title });
    }
    chain.reverse();
    Ok(chain)
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `a-z0-9-` from a title: `Restart the payments API` → `restart-the-payments-api`.
pub fn slugify(title: &str) -> String {
    let mut out = String::new();
    for c in title.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() { "page".to_owned() } else { out.chars().take(80).collect() }
}

fn valid_space(space: &str) -> bool {
    !space.is_empty()
        && space.len() <= 63
        && space.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !space.starts_with('-')
}

fn check_text(title: &str, markdown: &str) -> Result<(), DocsError> {
    if title.trim().is_empty() || title.len() > 200 {
        return Err(DocsError::Invalid("title: 1 to 200 characters".to_owned()));
    }
    if markdown.len() > MAX_MARKDOWN {
        return Err(DocsError::Invalid(format!("markdown: at most {MAX_MARKDOWN} bytes")));
    }
    Ok(())
}

/// The owner reference a page stores (`group:default/payments`), from what was typed.
pub fn owner_ref(owner: Option<&str>) -> Result<Option<String>, DocsError> {
    match owner.map(str::trim).filter(|o| !o.is_empty()) {
        None => Ok(None),
        Some(o) => EntityRef::parse(o, Some("group"), "default")
            .map(|r| Some(r.to_string()))
            .map_err(|e| DocsError::Invalid(format!("owner: {e}"))),
    }
}

/// What `docs.edit` is decided on for a page: a target named `page:<space>/<slug>` owned by the page's team, so
/// the pages, the server functions and the JSON API ask the same question.
pub fn access_target(space: &str, slug: &str, owner: Option<&str>) -> crate::access::Target {
    crate::access::Target::entity(format!("page:{space}/{slug}"), owner)
}

/// Catalog kinds a wiki link may name (`[[component:payments-api]]`).
const ENTITY_KINDS: [&str; 9] =
    ["component", "api", "system", "domain", "resource", "group", "user", "template", "location"];

/// What a wiki link points at.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LinkTarget {
    /// A catalog entity, by full reference.
    Entity(String),
    /// A page by space and slug (`[[payments/restart-the-api]]`).
    Page(String, String),
    /// A page by title, lower-cased (`[[Restart the API]]`).
    Title(String),
}

impl LinkTarget {
    fn parse(target: &str) -> LinkTarget {
        let target = target.trim();
        if let Some((kind, _)) = target.split_once(':')
            && ENTITY_KINDS.contains(&kind.trim().to_lowercase().as_str())
            && let Ok(r) = EntityRef::parse(target, None, "default")
        {
            return LinkTarget::Entity(r.to_string());
        }
        if let Some((space, slug)) = target.split_once('/') {
            let space = space.trim().to_lowercase();
            if valid_space(&space) && !slug.trim().is_empty() {
                return LinkTarget::Page(space, slug.trim().to_lowercase());
            }
        }
        LinkTarget::Title(target.to_lowercase())
    }

    /// The key stored in `doc_links`.
    fn key(&self) -> String {
        match self {
            LinkTarget::Entity(r) => r.clone(),
            LinkTarget::Page(space, slug) => format!("page:{space}/{slug}"),
            LinkTarget::Title(t) => format!("title:{t}"),
        }
    }
}

/// Where each of a page's wiki links leads, for those that lead somewhere: the target as written → path. A few
/// queries for all of a page's links (entities, addresses, old addresses, titles), whatever their number.
pub async fn resolve_links<C: ConnectionTrait>(db: &C, markdown: &str) -> Result<HashMap<String, String>, DbErr> {
    use sea_orm::{Condition, QuerySelect};
    let targets: Vec<(String, LinkTarget)> =
        markdown::wiki_targets(markdown).into_iter().map(|w| (w.clone(), LinkTarget::parse(&w))).collect();
    let mut out = HashMap::new();
    if targets.is_empty() {
        return Ok(out);
    }
    let path = |space: &str, slug: &str| format!("/docs/{space}/{slug}");
    // Entities.
    let refs: Vec<&String> =
        targets.iter().filter_map(|(_, t)| if let LinkTarget::Entity(r) = t { Some(r) } else { None }).collect();
    if !refs.is_empty() {
        use crate::catalog::entity::entities;
        let found: Vec<String> = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .filter(entities::Column::EntityRef.is_in(refs.iter().map(|r| r.as_str())))
            .into_tuple()
            .all(db)
            .await?;
        for (written, t) in &targets {
            if let LinkTarget::Entity(r) = t
                && found.contains(r)
            {
                out.insert(written.clone(), portolan_types::catalog::entity_path(r));
            }
        }
    }
    // Addresses (space/slug), then old addresses of moved pages.
    let addresses: Vec<(&String, &String)> =
        targets.iter().filter_map(|(_, t)| if let LinkTarget::Page(a, b) = t { Some((a, b)) } else { None }).collect();
    if !addresses.is_empty() {
        let mut any = Condition::any();
        for (space, slug) in &addresses {
            any = any.add(page_rows::Column::Space.eq(*space).and(page_rows::Column::Slug.eq(*slug)));
        }
        let live: Vec<(String, String)> = page_rows::Entity::find()
            .select_only()
            .columns([page_rows::Column::Space, page_rows::Column::Slug])
            .filter(any)
            .into_tuple()
            .all(db)
            .await?;
        let mut missing = Condition::any();
        let mut any_missing = false;
        for (space, slug) in &addresses {
            if !live.iter().any(|(a, b)| a == *space && b == *slug) {
                missing = missing.add(redirects::Column::Space.eq(*space).and(redirects::Column::Slug.eq(*slug)));
                any_missing = true;
            }
        }
        let mut moved: HashMap<(String, String), String> = HashMap::new();
        if any_missing {
            let olds = redirects::Entity::find().filter(missing).all(db).await?;
            let ids: Vec<i64> = olds.iter().map(|r| r.page_id).collect();
            let now: Vec<(i64, String, String)> = page_rows::Entity::find()
                .select_only()
                .columns([page_rows::Column::Id, page_rows::Column::Space, page_rows::Column::Slug])
                .filter(page_rows::Column::Id.is_in(ids))
                .into_tuple()
                .all(db)
                .await?;
            for old in olds {
                if let Some((_, space, slug)) = now.iter().find(|(id, _, _)| *id == old.page_id) {
                    moved.insert((old.space, old.slug), path(space, slug));
                }
            }
        }
        for (written, t) in &targets {
            if let LinkTarget::Page(space, slug) = t {
                if live.iter().any(|(a, b)| a == space && b == slug) {
                    out.insert(written.clone(), path(space, slug));
                } else if let Some(p) = moved.get(&(space.clone(), slug.clone())) {
                    out.insert(written.clone(), p.clone());
                }
            }
        }
    }
    let titles: Vec<&str> = targets
        .iter()
        .filter_map(|(_, t)| if let LinkTarget::Title(t) = t { Some(t.as_str()) } else { None })
        .collect();
    if !titles.is_empty() {
        let found: Vec<(i64, String, String, String)> =
            titled(db.get_database_backend(), &titles).into_tuple().all(db).await?;
        for (written, t) in &targets {
            if let LinkTarget::Title(t) = t
                && let Some((_, space, slug, _)) = found.iter().find(|(_, _, _, title)| title.to_lowercase() == *t)
            {
                out.insert(written.clone(), path(space, slug));
            }
        }
    }
    Ok(out)
}

/// Id, space, slug and title of the pages whose lower-cased title is one of `titles`, by id: how `[[Page title]]`
/// links resolve, through an index on lower(title). On PostgreSQL the comparison is under the "C" collation, which
/// only that index has: `pg_trgm`'s index on lower(title) answers `=` too, and the planner preferred it although
/// titles share most of their trigrams with many others (migration 27).
pub fn titled(backend: sea_orm::DbBackend, titles: &[&str]) -> sea_orm::Select<page_rows::Entity> {
    use sea_orm::QuerySelect;
    let lower = match backend {
        sea_orm::DbBackend::Postgres => Expr::cust("LOWER(\"doc_pages\".\"title\") COLLATE \"C\""),
        _ => Expr::expr(sea_orm::sea_query::Func::lower(Expr::col((page_rows::Entity, page_rows::Column::Title)))),
    };
    page_rows::Entity::find()
        .select_only()
        .columns([page_rows::Column::Id, page_rows::Column::Space, page_rows::Column::Slug, page_rows::Column::Title])
        .filter(lower.is_in(titles.iter().copied()))
        .order_by_asc(page_rows::Column::Id)
}

/// Renders a page's source with its wiki links resolved (the editor's preview and every page view).
pub async fn render<C: ConnectionTrait>(db: &C, source: &str) -> Result<markdown::Rendered, DbErr> {
    Ok(markdown::render_linked(source, &resolve_links(db, source).await?))
}

/// A stored revision's source, rendered with its wiki links resolved now. Renderings are kept by source and link
/// targets (`docs::cache::rendered`), so reading a page again costs the link lookups and no rendering; a page
/// whose link targets appear, move or go away renders anew. (Drafts use [`render`], so previews never fill it.)
pub async fn render_stored<C: ConnectionTrait>(db: &C, source: &str) -> Result<markdown::Rendered, DbErr> {
    let links = resolve_links(db, source).await?;
    let key = super::cache::render_key(source, &links);
    let cache = super::cache::rendered();
    if let Some(hit) = cache.get(&key) {
        return Ok(markdown::Rendered::clone(&hit));
    }
    let rendered = markdown::render_linked(source, &links);
    cache.put(key, std::sync::Arc::new(rendered.clone()));
    Ok(rendered)
}

/// The keys of the wiki links a page's source makes, sorted and without repeats: what `doc_page_links` holds for
/// the page's current revision (written only by [`store_links`], in the transaction that makes the revision
/// current).
fn link_keys(source: &str) -> Vec<String> {
    let mut keys: Vec<String> =
        markdown::wiki_targets(source).iter().map(|t| LinkTarget::parse(t).key().chars().take(250).collect()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Replaces a page's recorded links with `keys` (from [`link_keys`]).
async fn store_links<C: ConnectionTrait>(db: &C, page_id: i64, keys: Vec<String>) -> Result<(), DbErr> {
    links::Entity::delete_many().filter(links::Column::PageId.eq(page_id)).exec(db).await?;
    if keys.is_empty() {
        return Ok(());
    }
    let rows = keys.into_iter().map(|k| links::ActiveModel {
        page_id: Set(page_id),
        target_key: Set(k),
        ..Default::default()
    });
    links::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Default days between reviews.
pub const REVIEW_DAYS: i32 = 90;

fn check_review_days(days: Option<i32>) -> Result<Option<i32>, DocsError> {
    match days {
        Some(d) if !(1..=730).contains(&d) => Err(DocsError::Invalid("review_days: 1 to 730".to_owned())),
        other => Ok(other),
    }
}

/// When the page was reviewed and is due again; a runbook past its due date is stale. A page never marked
/// reviewed counts from its creation.
pub fn review_state(page: &page_rows::Model, now: chrono::DateTime<Utc>) -> ReviewState {
    let since = page.reviewed_at.unwrap_or(page.created_at);
    let due = since + chrono::Duration::days(i64::from(Ord::max(page.review_days, 1)));
    ReviewState {
        reviewed_at: page.reviewed_at.map(rfc3339),
        reviewed_by: page.reviewed_by.clone(),
        interval_days: page.review_days,
        due_at: rfc3339(due),
        stale: page.kind == "runbook" && now > due,
    }
}

/// Marks a page reviewed now (and sets a new interval when given).
pub async fn mark_reviewed(
    db: &DatabaseConnection,
    actor: &str,
    id: i64,
    interval_days: Option<i32>,
) -> Result<PageView, DocsError> {
    let interval = check_review_days(interval_days)?;
    let (page, rev) = current(db, id).await?.ok_or(DocsError::NotFound)?;
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let mut active: page_rows::ActiveModel = page.into();
    active.reviewed_at = Set(Some(now));
    active.reviewed_by = Set(Some(actor.to_owned()));
    if let Some(days) = interval {
        active.review_days = Set(days);
    }
    let page = active.update(&txn).await?;
    let target = format!("page:{id}");
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "docs.page.review",
            target: Some(&target),
            detail: Some(serde_json::json!({"interval_days": page.review_days})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view(db, &page, &rev).await?)
}

/// Runbooks past their review date (of one owning team when given), longest overdue first.
pub async fn stale(db: &DatabaseConnection, owner: Option<&str>) -> Result<Vec<PageSummary>, DbErr> {
    let mut select = page_rows::Entity::find().filter(page_rows::Column::Kind.eq("runbook"));
    if let Some(owner) = owner {
        select = select.filter(page_rows::Column::OwnerRef.eq(owner));
    }
    let mut found: Vec<PageSummary> = select.all(db).await?.into_iter().map(summary).filter(|p| p.stale).collect();
    found.sort_by(|a, b| a.review_due.cmp(&b.review_due));
    Ok(found)
}

/// The `doc_pages` column search reads (the title and current source, lower-cased). It is not part of the row
/// model, so reading pages never drags kilobytes of index text along.
pub fn search_text_column() -> sea_orm::sea_query::Alias {
    sea_orm::sea_query::Alias::new("search_text")
}

/// What search reads for a page.
fn search_text(title: &str, source: &str) -> String {
    format!("{} {}", title.trim(), source).to_lowercase()
}

/// The pages whose wiki links lead to this one (by space and slug, or by its current title), by title.
pub async fn backlinks(db: &DatabaseConnection, page: &PageView) -> Result<Vec<PageSummary>, DbErr> {
    let mut keys =
        vec![format!("page:{}/{}", page.space, page.slug), format!("title:{}", page.title.trim().to_lowercase())];
    for old in redirects::Entity::find().filter(redirects::Column::PageId.eq(page.id)).all(db).await? {
        keys.push(format!("page:{}/{}", old.space, old.slug));
    }
    let ids: Vec<i64> = links::Entity::find()
        .filter(links::Column::TargetKey.is_in(keys))
        .filter(links::Column::PageId.ne(page.id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.page_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(page_rows::Entity::find()
        .filter(page_rows::Column::Id.is_in(ids))
        .order_by_asc(page_rows::Column::Title)
        .all(db)
        .await?
        .into_iter()
        .map(summary)
        .collect())
}

/// The page as read, rendered with its links resolved (also what [`save_loaded`] answered).
pub async fn view<C: ConnectionTrait>(
    db: &C,
    page: &page_rows::Model,
    rev: &revisions::Model,
) -> Result<PageView, DbErr> {
    let rendered = render_stored(db, &rev.markdown).await?;
    Ok(PageView {
        id: page.id,
        space: page.space.clone(),
        slug: page.slug.clone(),
        title: page.title.clone(),
        kind: page.kind.clone(),
        owner_ref: page.owner_ref.clone(),
        entities: page.entity_refs.split(',').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
        markdown: rev.markdown.clone(),
        html: rendered.html,
        toc: rendered.toc.into_iter().map(|t| TocItem { level: t.level, id: t.id, text: t.text }).collect(),
        broken_links: rendered.broken,
        revision_id: rev.id,
        revision_number: rev.number,
        updated_by: rev.author.clone(),
        updated_at: rfc3339(rev.created_at),
        review: review_state(page, Utc::now()),
        breadcrumbs: ancestors(db, page).await?,
        children: page_rows::Entity::find()
            .filter(page_rows::Column::ParentId.eq(page.id))
            .order_by_asc(page_rows::Column::Title)
            .all(db)
            .await?
            .into_iter()
            .map(|p| PageLink { id: p.id, space: p.space, slug: p.slug, title: p.title })
            .collect(),
        source: match (&page.source_entity, &page.source_path) {
            (Some(entity), Some(path)) => {
                let url = page.source_url.clone().unwrap_or_default();
                Some(PageSource { entity: entity.clone(), path: path.clone(), edit_url: edit_url(&url), url })
            }
            _ => None,
        },
    })
}

/// A page by id, with its current revision.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<(page_rows::Model, PageView)>, DbErr> {
    match current(db, id).await? {
        Some((page, rev)) => {
            let v = view(db, &page, &rev).await?;
            Ok(Some((page, v)))
        }
        None => Ok(None),
    }
}

/// A page's current revision id, if the page exists: one indexed read of two columns, for answers that only need
/// to know the page is there (its history, say) and must not read and decompress its source for that.
pub async fn current_revision_id(db: &DatabaseConnection, id: i64) -> Result<Option<i64>, DbErr> {
    use sea_orm::QuerySelect;
    let found: Option<Option<i64>> = page_rows::Entity::find_by_id(id)
        .select_only()
        .column(page_rows::Column::CurrentRevisionId)
        .into_tuple()
        .one(db)
        .await?;
    Ok(found.flatten())
}

/// A page's row and its current revision, unrendered (for permission checks and saves).
pub async fn current(db: &DatabaseConnection, id: i64) -> Result<Option<(page_rows::Model, revisions::Model)>, DbErr> {
    let Some(page) = page_rows::Entity::find_by_id(id).one(db).await? else { return Ok(None) };
    let Some(rev_id) = page.current_revision_id else { return Ok(None) };
    Ok(revisions::Entity::find_by_id(rev_id).one(db).await?.map(|rev| (page, rev)))
}

/// The entities a runbook is about (its linked entities and, for imported docs, the entity whose docs it is), in
/// order; empty for other kinds of pages and for pages that do not exist.
pub async fn runbook_entities(db: &DatabaseConnection, space: &str, slug: &str) -> Result<Vec<String>, DbErr> {
    let Some(page) = row_by_slug(db, space, slug).await?.filter(|p| p.kind == "runbook") else {
        return Ok(Vec::new());
    };
    let mut refs: Vec<String> = Vec::new();
    for r in page.entity_refs.split(',').map(str::trim).filter(|r| !r.is_empty()).chain(page.source_entity.as_deref()) {
        if !refs.iter().any(|x| x == r) {
            refs.push(r.to_owned());
        }
    }
    Ok(refs)
}

/// A page's row by space and slug (both case-insensitive).
async fn row_by_slug(db: &DatabaseConnection, space: &str, slug: &str) -> Result<Option<page_rows::Model>, DbErr> {
    page_rows::Entity::find()
        .filter(page_rows::Column::Space.eq(space.to_lowercase()))
        .filter(page_rows::Column::Slug.eq(slug.to_lowercase()))
        .one(db)
        .await
}

/// A page by space and slug, with its current revision.
pub async fn get_by_slug(db: &DatabaseConnection, space: &str, slug: &str) -> Result<Option<PageView>, DbErr> {
    match row_by_slug(db, space, slug).await? {
        Some(page) => Ok(get(db, page.id).await?.map(|(_, v)| v)),
        None => Ok(None),
    }
}

/// Where a page is: `(page, moved)` for an address that is the page's own (`moved` false) or one it had before a
/// move (`moved` true).
pub async fn find_address(db: &DatabaseConnection, space: &str, slug: &str) -> Result<Option<(PageView, bool)>, DbErr> {
    if let Some(page) = get_by_slug(db, space, slug).await? {
        return Ok(Some((page, false)));
    }
    let old = redirects::Entity::find()
        .filter(redirects::Column::Space.eq(space.to_lowercase()))
        .filter(redirects::Column::Slug.eq(slug.to_lowercase()))
        .one(db)
        .await?;
    match old {
        Some(r) => Ok(get(db, r.page_id).await?.map(|(_, v)| (v, true))),
        None => Ok(None),
    }
}

/// Moves a page to another space and/or slug; its old address keeps leading to it. The new address must be free
/// (an old address of another page is taken over).
pub async fn move_page(
    db: &DatabaseConnection,
    actor: &str,
    id: i64,
    space: &str,
    slug: Option<&str>,
    parent: Option<&str>,
) -> Result<PageView, DocsError> {
    let space = space.trim().to_lowercase();
    if !valid_space(&space) {
        return Err(DocsError::Invalid("space: lower-case letters, digits and -, at most 63".to_owned()));
    }
    let (page, rev) = current(db, id).await?.ok_or(DocsError::NotFound)?;
    writable(&page)?;
    let slug = slugify(slug.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(&page.title));
    let parent_id = match parent {
        Some(p) => parent_in(db, &space, Some(p), Some(id)).await?,
        None if space == page.space => page.parent_id,
        None => None,
    };
    if space == page.space && slug == page.slug {
        if parent_id != page.parent_id {
            let mut active: page_rows::ActiveModel = page.into();
            active.parent_id = Set(parent_id);
            let page = active.update(db).await?;
            return Ok(view(db, &page, &rev).await?);
        }
        return Ok(view(db, &page, &rev).await?);
    }
    let txn = crate::db::begin_write(db).await?;
    if space != page.space {
        // Its sub-pages stay in their space, one level up.
        page_rows::Entity::update_many()
            .col_expr(page_rows::Column::ParentId, Expr::value(page.parent_id))
            .filter(page_rows::Column::ParentId.eq(id))
            .exec(&txn)
            .await?;
    }
    let taken = page_rows::Entity::find()
        .filter(page_rows::Column::Space.eq(&space))
        .filter(page_rows::Column::Slug.eq(&slug))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(DocsError::Invalid(format!("slug: {space}/{slug} is another page's address")));
    }
    redirects::Entity::delete_many()
        .filter(redirects::Column::Space.eq(&space))
        .filter(redirects::Column::Slug.eq(&slug))
        .exec(&txn)
        .await?;
    redirects::Entity::delete_many()
        .filter(redirects::Column::Space.eq(&page.space))
        .filter(redirects::Column::Slug.eq(&page.slug))
        .exec(&txn)
        .await?;
    redirects::ActiveModel {
        space: Set(page.space.clone()),
        slug: Set(page.slug.clone()),
        page_id: Set(id),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let from = format!("{}/{}", page.space, page.slug);
    let mut active: page_rows::ActiveModel = page.into();
    active.space = Set(space.clone());
    active.slug = Set(slug.clone());
    active.parent_id = Set(parent_id);
    let page = active.update(&txn).await?;
    let target = format!("page:{id}");
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "docs.page.move",
            target: Some(&target),
            detail: Some(serde_json::json!({"from": from, "to": format!("{space}/{slug}")})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view(db, &page, &rev).await?)
}

/// Where an imported page's Markdown lives (see [`super::techdocs`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Source {
    /// The entity whose docs it is.
    pub entity: String,
    /// The file's path in its repository.
    pub path: String,
    /// The file on the forge.
    pub url: String,
    /// The blob read.
    pub sha: String,
    /// The slug to give it (from its path, not its title).
    pub slug: String,
}

/// Records the blob an imported page was last synced from, and where it nests.
pub(crate) async fn set_source(
    db: &DatabaseConnection,
    id: i64,
    sha: &str,
    url: &str,
    parent_id: Option<i64>,
) -> Result<(), DbErr> {
    page_rows::Entity::update_many()
        .col_expr(page_rows::Column::SourceSha, Expr::value(sha))
        .col_expr(page_rows::Column::SourceUrl, Expr::value(url))
        .col_expr(page_rows::Column::ParentId, Expr::value(parent_id))
        .filter(page_rows::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Makes a page with its first revision, in one transaction.
pub async fn create(db: &DatabaseConnection, actor: &str, new: &NewPage) -> Result<PageView, DocsError> {
    create_with(db, actor, new, None).await
}

/// [`create`], for an imported page with where it comes from.
pub(crate) async fn create_with(
    db: &DatabaseConnection,
    actor: &str,
    new: &NewPage,
    source: Option<Source>,
) -> Result<PageView, DocsError> {
    let space = new.space.trim().to_lowercase();
    if !valid_space(&space) {
        return Err(DocsError::Invalid("space: lower-case letters, digits and -, at most 63".to_owned()));
    }
    check_text(&new.title, &new.markdown)?;
    let kind = new.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()).unwrap_or("reference").to_lowercase();
    if !PAGE_KINDS.contains(&kind.as_str()) {
        return Err(DocsError::Invalid(format!("kind: one of {}", PAGE_KINDS.join(", "))));
    }
    let owner = owner_ref(new.owner.as_deref())?;
    let review_days = check_review_days(new.review_days)?.unwrap_or(REVIEW_DAYS);
    let mut entities = Vec::new();
    for e in new.entities.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let r = EntityRef::parse(e, Some("component"), "default")
            .map_err(|err| DocsError::Invalid(format!("entities: {err}")))?;
        entities.push(r.to_string());
    }
    let base = slugify(source.as_ref().map_or(&new.title, |s| &s.slug));
    let txn = crate::db::begin_write(db).await?;
    let parent_id = parent_in(&txn, &space, new.parent.as_deref(), None).await?;
    // The first free slug: `deploys`, `deploys-2`, …
    let taken: Vec<String> = page_rows::Entity::find()
        .filter(page_rows::Column::Space.eq(&space))
        .filter(page_rows::Column::Slug.starts_with(&base))
        .all(&txn)
        .await?
        .into_iter()
        .map(|p| p.slug)
        .collect();
    let slug = (1..).map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") }).find(|s| !taken.contains(s));
    let slug = slug.unwrap_or(base);
    let now = Utc::now();
    let page = page_rows::ActiveModel {
        space: Set(space),
        slug: Set(slug),
        title: Set(new.title.trim().to_owned()),
        kind: Set(kind),
        owner_ref: Set(owner),
        entity_refs: Set(entities.join(",")),
        current_revision_id: Set(None),
        created_by: Set(actor.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        reviewed_at: Set(None),
        reviewed_by: Set(None),
        review_days: Set(review_days),
        parent_id: Set(parent_id),
        source_entity: Set(source.as_ref().map(|s| s.entity.clone())),
        source_path: Set(source.as_ref().map(|s| s.path.clone())),
        source_url: Set(source.as_ref().map(|s| s.url.clone())),
        source_sha: Set(source.as_ref().map(|s| s.sha.clone())),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    page_rows::Entity::update_many()
        .col_expr(search_text_column(), Expr::value(search_text(&new.title, &new.markdown)))
        .filter(page_rows::Column::Id.eq(page.id))
        .exec(&txn)
        .await?;
    store_links(&txn, page.id, link_keys(&new.markdown)).await?;
    let rev = revisions::ActiveModel {
        page_id: Set(page.id),
        number: Set(1),
        title: Set(page.title.clone()),
        markdown: Set(new.markdown.clone()),
        summary: Set(new.summary.clone().unwrap_or_else(|| "Created".to_owned())),
        author: Set(actor.to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut active: page_rows::ActiveModel = page.into();
    active.current_revision_id = Set(Some(rev.id));
    let page = active.update(&txn).await?;
    let target = format!("page:{}", page.id);
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "docs.page.create",
            target: Some(&target),
            detail: Some(serde_json::json!({"space": page.space, "slug": page.slug, "title": page.title})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view(db, &page, &rev).await?)
}

/// A unified line diff from `old` (the base) to `new` (the current text).
pub fn diff(old: &str, new: &str) -> String {
    diffs::unified(old, new, "base", "current")
}

/// Saves a new revision if `update.base_revision` is still the current one; a conflict otherwise, writing nothing.
pub async fn save(db: &DatabaseConnection, actor: &str, id: i64, update: &PageUpdate) -> Result<PageView, DocsError> {
    let loaded = current(db, id).await?.ok_or(DocsError::NotFound)?;
    let (page, rev) = save_loaded(db, actor, loaded, update).await?;
    Ok(view(db, &page, &rev).await?)
}

/// [`save`] of a page whose row and current revision the caller has just read with [`current`] (to decide the
/// permission), so they are not read twice; the answer is the saved row and revision, unrendered, for callers
/// that only go on to the page. What was read may be stale: the save is still refused as a conflict when
/// someone saved since `update.base_revision`.
pub async fn save_loaded(
    db: &DatabaseConnection,
    actor: &str,
    loaded: (page_rows::Model, revisions::Model),
    update: &PageUpdate,
) -> Result<(page_rows::Model, revisions::Model), DocsError> {
    save_revision(db, actor, loaded, update, false).await
}

/// [`save_loaded`], and for `imported` also on a page kept in sync from its repository (only the sync does that).
pub(crate) async fn save_revision(
    db: &DatabaseConnection,
    actor: &str,
    (page, current): (page_rows::Model, revisions::Model),
    update: &PageUpdate,
    imported: bool,
) -> Result<(page_rows::Model, revisions::Model), DocsError> {
    let id = page.id;
    if !imported {
        writable(&page)?;
    }
    let title = update.title.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or(&page.title).to_owned();
    check_text(&title, &update.markdown)?;
    let conflict = |current: PageView, base_markdown: &str| DocsError::Conflict {
        base: update.base_revision,
        diff: diff(base_markdown, &current.markdown),
        rows: diffs::rows(base_markdown, &current.markdown),
        current: Box::new(current),
    };
    if current.id != update.base_revision {
        let base = revisions::Entity::find_by_id(update.base_revision)
            .filter(revisions::Column::PageId.eq(id))
            .one(db)
            .await?
            .ok_or_else(|| {
                DocsError::Invalid(format!("base_revision: {} is not a revision of this page", update.base_revision))
            })?;
        return Err(conflict(view(db, &page, &current).await?, &base.markdown));
    }
    // What the write needs is worked out before it takes the database's one writer: the index text, and the links
    // (most saves keep the links the page had, and then their rows stay as they are).
    let indexed = search_text(&title, &update.markdown);
    let keys = link_keys(&update.markdown);
    let links_changed = keys != link_keys(&current.markdown);
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let rev = revisions::ActiveModel {
        page_id: Set(id),
        number: Set(current.number + 1),
        title: Set(title.clone()),
        markdown: Set(update.markdown.clone()),
        summary: Set(update.summary.clone().unwrap_or_default().chars().take(300).collect()),
        author: Set(actor.to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    // Two saves from the same base race for the same revision number; the unique index lets one win.
    let rev = match rev {
        Ok(r) => r,
        Err(_) => {
            txn.rollback().await?;
            let (_, now_current) = get(db, id).await?.ok_or(DocsError::NotFound)?;
            return Err(conflict(now_current, &current.markdown));
        }
    };
    let moved = page_rows::Entity::update_many()
        .col_expr(page_rows::Column::CurrentRevisionId, Expr::value(rev.id))
        .col_expr(page_rows::Column::Title, Expr::value(title.clone()))
        .col_expr(page_rows::Column::UpdatedAt, Expr::value(now))
        .col_expr(search_text_column(), Expr::value(indexed))
        .filter(page_rows::Column::Id.eq(id))
        .filter(page_rows::Column::CurrentRevisionId.eq(update.base_revision))
        .exec(&txn)
        .await?;
    if moved.rows_affected == 0 {
        txn.rollback().await?;
        let (_, now_current) = get(db, id).await?.ok_or(DocsError::NotFound)?;
        return Err(conflict(now_current, &current.markdown));
    }
    if links_changed {
        store_links(&txn, id, keys).await?;
    }
    let target = format!("page:{id}");
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "docs.page.save",
            target: Some(&target),
            detail: Some(serde_json::json!({"revision": rev.number, "summary": rev.summary})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok((page_rows::Model { title, current_revision_id: Some(rev.id), updated_at: now, ..page }, rev))
}

/// A page's history up to its current revision `until`, newest first, from `cache` when it holds that list. A
/// page's revisions are only ever added, with higher ids, so the list up to a revision never changes: a read
/// that finds the page at the revision it found before answers from memory, on every replica.
pub async fn history_until(
    db: &DatabaseConnection,
    cache: &super::cache::Histories,
    id: i64,
    until: i64,
) -> Result<std::sync::Arc<super::cache::History>, DbErr> {
    if let Some(kept) = cache.get(&id).filter(|h| h.until == until) {
        return Ok(kept);
    }
    let history =
        std::sync::Arc::new(super::cache::History { until, revisions: history_rows_until(db, id, until).await? });
    cache.put(id, history.clone());
    Ok(history)
}

/// The revisions of a page with ids up to `until`, newest first (without their text). On SQLite they are read as
/// one aggregated JSON document: a long history is a thousand rows, and the SQLite driver's per-row cost was most
/// of the answer's time. PostgreSQL streams rows cheaply, while building the same JSON (`json_agg`) took it three
/// times as long as sending the rows, so there the rows are read as they are.
async fn history_rows_until(db: &DatabaseConnection, id: i64, until: i64) -> Result<Vec<RevisionView>, DbErr> {
    use crate::db::DbTime;
    let mut rows: Vec<(i64, i32, String, String, String, DbTime)> = if db.get_database_backend()
        == sea_orm::DbBackend::Sqlite
    {
        let select =
            revisions::Entity::find().filter(revisions::Column::PageId.eq(id)).filter(revisions::Column::Id.lte(until));
        crate::db::json_rows(db, select, &["id", "number", "title", "summary", "author", "created_at"]).await?
    } else {
        let rows: Vec<(i64, i32, String, String, String, chrono::DateTime<Utc>)> =
            history_rows(id, until).into_tuple().all(db).await?;
        rows.into_iter().map(|(a, b, c, d, e, t)| (a, b, c, d, e, DbTime(t))).collect()
    };
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    Ok(rows
        .into_iter()
        .map(|(id, number, title, summary, author, DbTime(created_at))| RevisionView {
            id,
            number,
            title,
            summary,
            author,
            created_at: rfc3339(created_at),
        })
        .collect())
}

/// What a page's history up to revision `until` reads on PostgreSQL: the columns its history index covers
/// (migration 29), so the listing is an index-only scan.
pub fn history_rows(id: i64, until: i64) -> sea_orm::Select<revisions::Entity> {
    use sea_orm::QuerySelect;
    let select = revisions::Entity::find().filter(revisions::Column::PageId.eq(id));
    select.filter(revisions::Column::Id.lte(until)).select_only().columns([
        revisions::Column::Id,
        revisions::Column::Number,
        revisions::Column::Title,
        revisions::Column::Summary,
        revisions::Column::Author,
        revisions::Column::CreatedAt,
    ])
}

/// The diff between two revisions of a page (`from` older or newer: the answer always goes old → new).
pub async fn diff_revisions(db: &DatabaseConnection, id: i64, from: i64, to: i64) -> Result<RevisionDiff, DocsError> {
    let load = |rev: i64| async move {
        revisions::Entity::find_by_id(rev)
            .filter(revisions::Column::PageId.eq(id))
            .one(db)
            .await?
            .ok_or_else(|| DocsError::Invalid(format!("revision {rev} is not a revision of page {id}")))
    };
    let (a, b) = (load(from).await?, load(to).await?);
    let (old, new) = if a.number <= b.number { (a, b) } else { (b, a) };
    let (added, removed) = diffs::counts(&old.markdown, &new.markdown);
    Ok(RevisionDiff {
        from: old.id,
        to: new.id,
        diff: diffs::unified(
            &old.markdown,
            &new.markdown,
            &format!("revision {}", old.number),
            &format!("revision {}", new.number),
        ),
        added,
        removed,
        from_number: old.number,
        to_number: new.number,
        rows: diffs::rows(&old.markdown, &new.markdown),
    })
}

fn revision_view(r: revisions::Model) -> RevisionView {
    RevisionView {
        id: r.id,
        number: r.number,
        title: r.title,
        summary: r.summary,
        author: r.author,
        created_at: rfc3339(r.created_at),
    }
}

/// One revision of a page by its number, rendered.
pub async fn revision(db: &DatabaseConnection, id: i64, number: i32) -> Result<RevisionContent, DocsError> {
    let (page, _) = current(db, id).await?.ok_or(DocsError::NotFound)?;
    let rev = revisions::Entity::find()
        .filter(revisions::Column::PageId.eq(id))
        .filter(revisions::Column::Number.eq(number))
        .one(db)
        .await?
        .ok_or(DocsError::NotFound)?;
    let html = render_stored(db, &rev.markdown).await?.html;
    let markdown = rev.markdown.clone();
    Ok(RevisionContent {
        current: page.current_revision_id == Some(rev.id),
        markdown,
        html,
        revision: revision_view(rev),
    })
}

/// Brings an old revision back as a new one (its text and title; nothing is rewritten), if the page is still at
/// `base_revision`; a conflict otherwise.
pub async fn restore(
    db: &DatabaseConnection,
    actor: &str,
    id: i64,
    revision: i64,
    base_revision: i64,
) -> Result<PageView, DocsError> {
    let old = revisions::Entity::find_by_id(revision)
        .filter(revisions::Column::PageId.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| DocsError::Invalid(format!("revision: {revision} is not a revision of page {id}")))?;
    let update = PageUpdate {
        base_revision,
        markdown: old.markdown,
        title: Some(old.title),
        summary: Some(format!("Restored revision {}", old.number)),
    };
    save(db, actor, id, &update).await
}

/// Pages about an entity (`component:default/payments-api`), runbooks first, then by title.
/// Those linked to it as the page's subject, those it owns (a team's pages), and those whose text links to it
/// (`[[component:payments-api]]`); stale runbooks come first.
pub async fn for_entity(db: &DatabaseConnection, entity_ref: &str) -> Result<Vec<PageSummary>, DbErr> {
    let linking: Vec<i64> = links::Entity::find()
        .filter(links::Column::TargetKey.eq(entity_ref))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.page_id)
        .collect();
    let rows = page_rows::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(page_rows::Column::EntityRefs.contains(entity_ref))
                .add(page_rows::Column::OwnerRef.eq(entity_ref))
                .add(page_rows::Column::Id.is_in(linking.clone())),
        )
        .order_by_asc(page_rows::Column::Title)
        .all(db)
        .await?;
    let mut found: Vec<PageSummary> = rows
        .into_iter()
        .filter(|p| {
            p.entity_refs.split(',').any(|e| e == entity_ref)
                || p.owner_ref.as_deref() == Some(entity_ref)
                || linking.contains(&p.id)
        })
        .map(summary)
        .collect();
    found.sort_by_key(|p| (!p.stale, p.kind != "runbook"));
    Ok(found)
}

pub(crate) fn summary(p: page_rows::Model) -> PageSummary {
    let review = review_state(&p, Utc::now());
    PageSummary {
        stale: review.stale,
        review_due: review.due_at,
        id: p.id,
        space: p.space,
        slug: p.slug,
        title: p.title,
        kind: p.kind,
        owner_ref: p.owner_ref,
        updated_at: rfc3339(p.updated_at),
        parent_id: p.parent_id,
    }
}

/// Deletes a page with its revisions and links (audited with the last title), in one transaction.
pub async fn delete(db: &DatabaseConnection, actor: &str, id: i64) -> Result<(), DocsError> {
    delete_with(db, actor, id, false).await
}

/// [`delete`], and for `imported` also a page kept in sync from its repository (only the sync does that).
pub(crate) async fn delete_with(
    db: &DatabaseConnection,
    actor: &str,
    id: i64,
    imported: bool,
) -> Result<(), DocsError> {
    let txn = crate::db::begin_write(db).await?;
    let page = page_rows::Entity::find_by_id(id).one(&txn).await?.ok_or(DocsError::NotFound)?;
    if !imported {
        writable(&page)?;
    }
    // Its sub-pages move up a level.
    page_rows::Entity::update_many()
        .col_expr(page_rows::Column::ParentId, Expr::value(page.parent_id))
        .filter(page_rows::Column::ParentId.eq(id))
        .exec(&txn)
        .await?;
    links::Entity::delete_many().filter(links::Column::PageId.eq(id)).exec(&txn).await?;
    redirects::Entity::delete_many().filter(redirects::Column::PageId.eq(id)).exec(&txn).await?;
    revisions::Entity::delete_many().filter(revisions::Column::PageId.eq(id)).exec(&txn).await?;
    page_rows::Entity::delete_by_id(id).exec(&txn).await?;
    let target = format!("page:{id}");
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "docs.page.delete",
            target: Some(&target),
            detail: Some(serde_json::json!({"space": page.space, "slug": page.slug, "title": page.title})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Pages, by space then title; one space when given.
pub async fn list(db: &DatabaseConnection, space: Option<&str>) -> Result<Vec<PageSummary>, DbErr> {
    let mut select = page_rows::Entity::find();
    if let Some(space) = space.map(str::trim).filter(|s| !s.is_empty()) {
        select = select.filter(page_rows::Column::Space.eq(space.to_lowercase()));
    }
    Ok(select
        .order_by_asc(page_rows::Column::Space)
        .order_by_asc(page_rows::Column::Title)
        .all(db)
        .await?
        .into_iter()
        .map(summary)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain_and_never_empty() {
        assert_eq!(slugify("Restart the Payments API!"), "restart-the-payments-api");
        assert_eq!(slugify("  ../../etc/passwd "), "etc-passwd");
        assert_eq!(slugify("***"), "page");
        assert!(valid_space("payments-team") && !valid_space("Payments") && !valid_space("../x") && !valid_space(""));
    }

    #[test]
    fn a_diff_shows_what_the_other_person_changed() {
        let d = diff("one\ntwo\nthree\n", "one\n2\nthree\n");
        assert!(d.contains("-two\n") && d.contains("+2\n"), "{d}");
    }
}
