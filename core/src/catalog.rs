//! The software catalog: Backstage descriptors read from locations, stored with their relations, and queried by
//! pages and APIs. `model`, `parse` and `relations` are pure; `ingest` reads files; `store` talks to the database.

pub mod cache;
pub mod discovery;
pub mod entity;
pub mod fetch;
pub mod fields;
pub mod form;
pub mod graph;
pub mod ingest;
pub mod model;
pub mod openapi;
pub mod parse;
pub mod relations;
pub mod store;
pub mod visibility;

use sea_orm::DbErr;

use crate::AppState;

pub use store::ImportSummary;

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path or URL cannot be a location.
    #[error("{0}")]
    Target(String),
    /// The database failed; nothing was changed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Registers (if new) and refreshes one location given as a path or URL, recording who asked. With the
/// `PORTOLAN_CATALOG_DELETE_ORPHANS` setting, entities it stops declaring are deleted rather than marked.
pub async fn import(state: &AppState, input: &str, actor: &str) -> Result<(String, ImportSummary), ImportError> {
    import_with_progress(state, input, actor, None).await
}

/// [`import`], telling `progress` how many files of a directory have been read.
pub async fn import_with_progress(
    state: &AppState,
    input: &str,
    actor: &str,
    progress: Option<std::sync::Arc<ingest::Progress>>,
) -> Result<(String, ImportSummary), ImportError> {
    let target = ingest::normalize_target(input).map_err(ImportError::Target)?;
    let summary = read_and_apply(state, &target, actor, true, progress).await?.unwrap_or_default();
    Ok((target, summary))
}

/// Reads a location target (`file:…` or `url:…`) and applies what it declares. A target that is not registered
/// yet is registered, unless `register` is false and its file does not exist (discovery probing a repository
/// without a catalog file): then nothing is stored and `None` is returned. A refresh that changed something, or
/// that a person asked for, is audited.
pub async fn refresh_target(
    state: &AppState,
    target: &str,
    actor: &str,
    register: bool,
) -> Result<Option<ImportSummary>, ImportError> {
    read_and_apply(state, target, actor, register, None).await
}

async fn read_and_apply(
    state: &AppState,
    target: &str,
    actor: &str,
    register: bool,
    progress: Option<std::sync::Arc<ingest::Progress>>,
) -> Result<Option<ImportSummary>, ImportError> {
    let db = &state.db;
    let urls = state.urls.clone();
    let read_target = target.to_owned();
    let outcome = tokio::task::spawn_blocking(move || {
        ingest::read_location_with_progress(&read_target, urls.as_ref(), progress.as_deref())
    })
    .await
    .map_err(|e| ImportError::Target(format!("reading {target} failed: {e}")))?;
    let location = match store::find_location(db, target).await? {
        Some(l) => l,
        None if !register && (outcome.not_found || outcome.fatal) => return Ok(None),
        None => store::ensure_location(db, target, actor).await?,
    };
    let summary = store::apply(db, &location, outcome, state.config.catalog_delete_orphans).await?;
    let changed = summary.added + summary.updated + summary.orphaned + summary.removed > 0;
    let automatic = matches!(actor, discovery::DISCOVERY_ACTOR | discovery::PUSH_ACTOR);
    if changed || !automatic {
        // Each changed entity by reference; the first ones (`store::AUDITED_BODIES`) with before and after.
        let parsed =
            |text: &Option<String>| text.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
        let entities: Vec<serde_json::Value> = summary
            .changes
            .iter()
            .map(|c| {
                let mut entry = serde_json::json!({ "ref": c.entity_ref, "change": c.change });
                if c.before.is_some() || c.after.is_some() {
                    entry["before"] = parsed(&c.before).unwrap_or_default();
                    entry["after"] = parsed(&c.after).unwrap_or_default();
                }
                entry
            })
            .collect();
        let detail = serde_json::json!({
            "target": target, "added": summary.added, "updated": summary.updated,
            "unchanged": summary.unchanged, "orphaned": summary.orphaned, "removed": summary.removed,
            "errors": summary.errors.len(), "entities": entities,
        });
        crate::audit::record(
            db,
            crate::audit::Entry {
                actor,
                action: "catalog.refresh",
                target: Some(target),
                detail: Some(detail),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(Some(summary))
}
