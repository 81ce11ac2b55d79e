//! Docs-as-code: an entity's `backstage.io/techdocs-ref` points at the folder its Markdown docs live in (the
//! MkDocs layout Backstage's TechDocs reads: `<root>/docs/**/*.md`), and those files become pages of a space named
//! after the entity, read through the GitHub API, kept in sync and read-only in the portal (each shows an "edit in
//! repository" link). Every change in the repository becomes a new revision, so history and diffs work as for
//! any page; a file removed from the repository removes its page.
//!
//! `dir:<path>` is relative to the folder of the entity's own catalog file (`dir:.`: the same folder);
//! `url:<https://github…/owner/repo/tree/<ref>/<path>>` names the folder outright.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::Value;

use portolan_types::docs::{DocsSyncReport, NewPage, PageUpdate};

use super::pages::{self, DocsError, Source, page_rows};
use crate::AppState;
use crate::catalog::entity::entities;
use crate::github::{GithubSync, GithubSyncError};

/// The annotation.
pub const ANNOTATION: &str = "backstage.io/techdocs-ref";

/// Who imported revisions are saved as.
pub const ACTOR: &str = "docs-sync";

/// At most this many Markdown files per entity, and folders this deep, are read.
const MAX_FILES: usize = 300;
const MAX_DEPTH: usize = 5;

/// Why an entity's docs could not be synced.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The annotation is missing or cannot be followed; the text says why.
    #[error("{0}")]
    Unusable(String),
    /// GitHub failed.
    #[error(transparent)]
    Github(#[from] GithubSyncError),
    /// Storing pages failed.
    #[error(transparent)]
    Docs(#[from] DocsError),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// A docs folder in a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocsFolder {
    /// `owner/repo`.
    pub repo: String,
    /// Branch, tag or commit.
    pub git_ref: String,
    /// The `docs` folder's path in the repository (no leading or trailing `/`).
    pub dir: String,
}

/// Joins `base` and a relative `path`, refusing to climb out of the repository.
fn join(base: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Where an entity's docs are, from its annotations.
pub fn locate(gh: &GithubSync, annotations: &BTreeMap<String, String>) -> Result<DocsFolder, SyncError> {
    let unusable = |m: String| SyncError::Unusable(m);
    let reference = annotations.get(ANNOTATION).ok_or_else(|| unusable(format!("no {ANNOTATION} annotation")))?;
    let reference = reference.trim();
    let (root_repo, git_ref, root) = if let Some(dir) = reference.strip_prefix("dir:") {
        let location = annotations
            .get("backstage.io/managed-by-location")
            .and_then(|l| l.strip_prefix("url:"))
            .and_then(|u| gh.parse_blob_url(u))
            .ok_or_else(|| {
                unusable(format!("{ANNOTATION}: {reference} needs the entity to come from a file on GitHub"))
            })?;
        let folder = location.path.rsplit_once('/').map_or("", |(d, _)| d);
        let root = join(folder, dir.trim())
            .ok_or_else(|| unusable(format!("{ANNOTATION}: {reference} leaves the repository")))?;
        (location.repo, location.git_ref, root)
    } else if let Some(url) = reference.strip_prefix("url:") {
        // `…/owner/repo/tree/<ref>/<path>` is a folder: read it as a file's URL one level down to reuse the checks.
        let as_file = format!("{}/_", url.trim().trim_end_matches('/').replacen("/tree/", "/blob/", 1));
        let blob = gh
            .parse_blob_url(&as_file)
            .ok_or_else(|| unusable(format!("{ANNOTATION}: {reference} is not a folder on this GitHub")))?;
        let folder = blob.path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        (blob.repo, blob.git_ref, folder)
    } else {
        return Err(unusable(format!("{ANNOTATION}: {reference} should start with dir: or url:")));
    };
    let dir =
        join(&root, "docs").ok_or_else(|| unusable(format!("{ANNOTATION}: {reference} leaves the repository")))?;
    Ok(DocsFolder { repo: root_repo, git_ref, dir })
}

/// The space an entity's docs go to: its name, made a valid space.
pub fn space_for(name: &str) -> String {
    pages::slugify(name).chars().take(63).collect()
}

/// A page's slug from its file's path under the docs folder: `runbooks/restart.md` → `runbooks-restart`.
fn slug_for(relative: &str) -> String {
    pages::slugify(relative.trim_end_matches(".md").replace('/', "-").as_str())
}

/// The title: the first `# ` heading, else the file name.
fn title_for(markdown: &str, relative: &str) -> String {
    let heading = markdown.lines().find_map(|l| l.strip_prefix("# ").map(str::trim)).filter(|t| !t.is_empty());
    let name = relative.rsplit('/').next().unwrap_or(relative).trim_end_matches(".md");
    let title = heading.map(str::to_owned).unwrap_or_else(|| name.replace(['-', '_'], " "));
    title.chars().take(200).collect()
}

/// Links between the docs' own files (`[x](../restart.md#steps)`) become links to their pages.
fn rewrite_links(markdown: &str, relative: &str, space: &str) -> String {
    let folder = relative.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = String::with_capacity(markdown.len());
    let mut rest = markdown;
    while let Some(at) = rest.find("](") {
        out.push_str(&rest[..at + 2]);
        rest = &rest[at + 2..];
        let end = rest.find(')').unwrap_or(rest.len());
        let target = &rest[..end];
        let (file, anchor) = target.split_once('#').map_or((target, None), |(f, a)| (f, Some(a)));
        let local = !file.contains("://") && !file.starts_with('/') && !file.contains(' ') && file.ends_with(".md");
        match (local, join(folder, file)) {
            (true, Some(path)) => {
                out.push_str(&format!("/docs/{space}/{}", slug_for(&path)));
                if let Some(a) = anchor {
                    out.push('#');
                    out.push_str(a);
                }
            }
            _ => out.push_str(target),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A Markdown file found under the docs folder.
struct Found {
    /// Path under the docs folder.
    relative: String,
    /// Path in the repository.
    path: String,
    sha: String,
    url: String,
}

async fn list_markdown(gh: &GithubSync, folder: &DocsFolder) -> Result<Option<Vec<Found>>, SyncError> {
    let Some(top) = gh.dir(&folder.repo, &folder.git_ref, &folder.dir).await? else { return Ok(None) };
    let mut found = Vec::new();
    let mut queue = vec![(top, 0usize)];
    while let Some((entries, depth)) = queue.pop() {
        for e in entries {
            match e.kind.as_str() {
                "file" if e.name.ends_with(".md") && found.len() < MAX_FILES => {
                    let relative = e.path.strip_prefix(&format!("{}/", folder.dir)).unwrap_or(&e.path).to_owned();
                    let url = e.html_url.unwrap_or_else(|| gh.blob_url(&folder.repo, &folder.git_ref, &e.path));
                    found.push(Found { relative, path: e.path, sha: e.sha, url });
                }
                "dir" if depth + 1 < MAX_DEPTH => {
                    if let Some(sub) = gh.dir(&folder.repo, &folder.git_ref, &e.path).await? {
                        queue.push((sub, depth + 1));
                    }
                }
                _ => {}
            }
        }
    }
    // Parents before children: `index.md` files first, shallow before deep.
    found.sort_by_key(|f| (f.relative.matches('/').count(), !f.relative.ends_with("index.md"), f.relative.clone()));
    Ok(Some(found))
}

/// The page a file nests under: the nearest `index.md` above it (its own folder's, for a non-index file).
fn parent_path(relative: &str, present: &HashMap<String, i64>) -> Option<String> {
    let mut folder = relative.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_owned());
    if relative.rsplit('/').next() == Some("index.md") {
        // An index nests under the index of the folder above.
        if folder.is_empty() {
            return None;
        }
        folder = folder.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_owned());
    }
    loop {
        let index = if folder.is_empty() { "index.md".to_owned() } else { format!("{folder}/index.md") };
        if index != relative && present.contains_key(&index) {
            return Some(index);
        }
        if folder.is_empty() {
            return None;
        }
        folder = folder.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_owned());
    }
}

/// Syncs one entity's docs from its repository: new files become pages, changed ones new revisions, removed ones
/// are removed. Unchanged files (same blob) cost one listing and nothing else.
pub async fn sync_entity(state: &AppState, entity: &entities::Model) -> Result<DocsSyncReport, SyncError> {
    let body: Value = serde_json::from_str(&entity.body).unwrap_or(Value::Null);
    let annotations: BTreeMap<String, String> = body
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default();
    let folder = locate(&state.github_sync, &annotations)?;
    let gh = &state.github_sync;
    let space = space_for(&entity.name);
    let mut report = DocsSyncReport { entity: entity.entity_ref.clone(), space: space.clone(), ..Default::default() };
    let Some(files) = list_markdown(gh, &folder).await? else {
        return Err(SyncError::Unusable(format!(
            "{}: no folder {} in {} at {}",
            entity.entity_ref, folder.dir, folder.repo, folder.git_ref
        )));
    };
    let db = &state.db;
    let existing: HashMap<String, page_rows::Model> = page_rows::Entity::find()
        .filter(page_rows::Column::SourceEntity.eq(&entity.entity_ref))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.source_path.clone().map(|path| (path, p)))
        .collect();
    let mut ids: HashMap<String, i64> = HashMap::new();
    let present: HashMap<String, i64> = files.iter().map(|f| (f.relative.clone(), 0)).collect();
    for f in &files {
        let parent = parent_path(&f.relative, &present).and_then(|p| ids.get(&p).copied());
        let parent_slug = match parent {
            Some(id) => page_rows::Entity::find_by_id(id).one(db).await?.map(|p| p.slug),
            None => None,
        };
        if let Some(page) = existing.get(&f.path) {
            ids.insert(f.relative.clone(), page.id);
            if page.source_sha.as_deref() == Some(f.sha.as_str()) && page.parent_id == parent {
                report.unchanged += 1;
                continue;
            }
            let Some(text) = gh
                .file(&crate::github::BlobUrl {
                    repo: folder.repo.clone(),
                    git_ref: folder.git_ref.clone(),
                    path: f.path.clone(),
                })
                .await?
            else {
                continue;
            };
            let markdown = rewrite_links(&text, &f.relative, &space);
            let (row, current) = pages::current(db, page.id).await?.ok_or(DocsError::NotFound)?;
            let title = title_for(&text, &f.relative);
            if current.markdown != markdown || page.title != title {
                let update = PageUpdate {
                    base_revision: current.id,
                    markdown,
                    title: Some(title),
                    summary: Some(format!("Synced from {}@{}", f.path, &f.sha[..f.sha.len().min(12)])),
                };
                pages::save_revision(db, ACTOR, (row, current), &update, true).await?;
                report.updated += 1;
            } else {
                report.unchanged += 1;
            }
            pages::set_source(db, page.id, &f.sha, &f.url, parent).await?;
        } else {
            let Some(text) = gh
                .file(&crate::github::BlobUrl {
                    repo: folder.repo.clone(),
                    git_ref: folder.git_ref.clone(),
                    path: f.path.clone(),
                })
                .await?
            else {
                continue;
            };
            let new = NewPage {
                space: space.clone(),
                title: title_for(&text, &f.relative),
                markdown: rewrite_links(&text, &f.relative, &space),
                kind: Some("reference".to_owned()),
                owner: entity.owner_ref.clone(),
                entities: vec![entity.entity_ref.clone()],
                summary: Some(format!("Imported from {}", f.path)),
                review_days: None,
                parent: parent_slug,
            };
            let source = Source {
                entity: entity.entity_ref.clone(),
                path: f.path.clone(),
                url: f.url.clone(),
                sha: f.sha.clone(),
                slug: slug_for(&f.relative),
            };
            let page = pages::create_with(db, ACTOR, &new, Some(source)).await?;
            ids.insert(f.relative.clone(), page.id);
            report.created += 1;
        }
    }
    let kept: Vec<&String> = files.iter().map(|f| &f.path).collect();
    for (path, page) in &existing {
        if !kept.contains(&path) {
            pages::delete_with(db, ACTOR, page.id, true).await?;
            report.removed += 1;
        }
    }
    Ok(report)
}

/// The entities that declare docs in a repository.
pub async fn documented_entities(db: &DatabaseConnection) -> Result<Vec<entities::Model>, sea_orm::DbErr> {
    Ok(entities::Entity::find()
        .filter(entities::Column::Body.contains(ANNOTATION))
        .all(db)
        .await?
        .into_iter()
        .filter(|e| {
            serde_json::from_str::<Value>(&e.body)
                .ok()
                .and_then(|b| b.pointer("/metadata/annotations").and_then(|a| a.get(ANNOTATION)).cloned())
                .is_some()
        })
        .collect())
}

/// Syncs every documented entity (those whose folder is in `repo` only, when given); pages of entities that no
/// longer declare docs are removed. One entity's failure is logged and does not stop the others.
pub async fn sync_all(state: &AppState, repo: Option<&str>) -> Result<Vec<DocsSyncReport>, sea_orm::DbErr> {
    let documented = documented_entities(&state.db).await?;
    let mut reports = Vec::new();
    for entity in &documented {
        if let Some(repo) = repo {
            let annotations = annotations_of(entity);
            match locate(&state.github_sync, &annotations) {
                Ok(f) if f.repo.eq_ignore_ascii_case(repo) => {}
                _ => continue,
            }
        }
        match sync_entity(state, entity).await {
            Ok(r) => reports.push(r),
            Err(e) => tracing::warn!(entity = %entity.entity_ref, error = %e, "docs sync failed"),
        }
    }
    if repo.is_none() {
        let live: Vec<&str> = documented.iter().map(|e| e.entity_ref.as_str()).collect();
        let orphans =
            page_rows::Entity::find().filter(page_rows::Column::SourceEntity.is_not_null()).all(&state.db).await?;
        for page in orphans.into_iter().filter(|p| !live.contains(&p.source_entity.as_deref().unwrap_or_default())) {
            if let Err(e) = pages::delete_with(&state.db, ACTOR, page.id, true).await {
                tracing::warn!(page = page.id, error = %e, "removing the page of an entity without docs failed");
            }
        }
    }
    Ok(reports)
}

fn annotations_of(entity: &entities::Model) -> BTreeMap<String, String> {
    serde_json::from_str::<Value>(&entity.body)
        .ok()
        .and_then(|b| b.pointer("/metadata/annotations").and_then(Value::as_object).cloned())
        .map(|m| m.into_iter().filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned()))).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gh() -> GithubSync {
        let db = sea_orm::DatabaseConnection::default();
        let api = url::Url::parse("https://api.github.com").unwrap();
        let web = url::Url::parse("https://github.com/").unwrap();
        GithubSync::new(db, &api, &web, None).unwrap()
    }

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[tokio::test]
    async fn dir_refs_are_relative_to_the_catalog_file_and_url_refs_name_the_folder() {
        let located = locate(
            &gh(),
            &annotations(&[
                (ANNOTATION, "dir:."),
                (
                    "backstage.io/managed-by-location",
                    "url:https://github.com/acme/payments/blob/main/services/api/catalog-info.yaml",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(
            located,
            DocsFolder { repo: "acme/payments".into(), git_ref: "main".into(), dir: "services/api/docs".into() }
        );
        let located = locate(
            &gh(),
            &annotations(&[
                (ANNOTATION, "dir:../shared"),
                (
                    "backstage.io/managed-by-location",
                    "url:https://github.com/acme/payments/blob/main/services/api/catalog-info.yaml",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(located.dir, "services/shared/docs");
        let located = locate(
            &gh(),
            &annotations(&[(ANNOTATION, "url:https://github.com/acme/handbook/tree/trunk/teams/payments")]),
        )
        .unwrap();
        assert_eq!(
            located,
            DocsFolder { repo: "acme/handbook".into(), git_ref: "trunk".into(), dir: "teams/payments/docs".into() }
        );
    }

    #[tokio::test]
    async fn refs_that_cannot_be_followed_say_why() {
        let from_file =
            ("backstage.io/managed-by-location", "url:https://github.com/acme/p/blob/main/catalog-info.yaml");
        for (refs, expect) in [
            (annotations(&[(ANNOTATION, "dir:.")]), "from a file on GitHub"),
            (annotations(&[(ANNOTATION, "dir:../../.."), from_file]), "leaves the repository"),
            (annotations(&[(ANNOTATION, "url:https://gitlab.com/a/b/tree/main")]), "not a folder on this GitHub"),
            (annotations(&[(ANNOTATION, "s3:bucket")]), "dir: or url:"),
            (annotations(&[]), "no backstage.io/techdocs-ref"),
        ] {
            let e = locate(&gh(), &refs).unwrap_err().to_string();
            assert!(e.contains(expect), "{e}");
        }
    }

    #[test]
    fn files_become_slugs_titles_and_a_tree_under_their_index() {
        assert_eq!(slug_for("runbooks/restart.md"), "runbooks-restart");
        assert_eq!(title_for("intro\n# Restarting safely\n", "runbooks/restart.md"), "Restarting safely");
        assert_eq!(title_for("no heading", "runbooks/rotate_keys.md"), "rotate keys");
        let present: HashMap<String, i64> = ["index.md", "runbooks/index.md", "runbooks/restart.md", "howto/deploy.md"]
            .iter()
            .map(|p| ((*p).to_owned(), 0))
            .collect();
        assert_eq!(parent_path("index.md", &present), None);
        assert_eq!(parent_path("runbooks/index.md", &present).as_deref(), Some("index.md"));
        assert_eq!(parent_path("runbooks/restart.md", &present).as_deref(), Some("runbooks/index.md"));
        assert_eq!(parent_path("howto/deploy.md", &present).as_deref(), Some("index.md"));
    }

    #[test]
    fn links_between_doc_files_lead_to_their_pages() {
        let md =
            "See [restart](restart.md#steps), [home](../index.md), [web](https://x.example/a.md) and [img](a.png).";
        assert_eq!(
            rewrite_links(md, "runbooks/failover.md", "payments-api"),
            "See [restart](/docs/payments-api/runbooks-restart#steps), [home](/docs/payments-api/index), [web](https://x.example/a.md) and [img](a.png)."
        );
    }
}
