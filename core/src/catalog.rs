//! The software catalog: Backstage descriptors read from locations, stored with their relations, and queried by
//! pages and APIs. `model`, `parse` and `relations` are pure; `ingest` reads files; `store` talks to the database.

pub mod entity;
pub mod graph;
pub mod ingest;
pub mod model;
pub mod parse;
pub mod relations;
pub mod store;

use sea_orm::{DatabaseConnection, DbErr};

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

/// Registers (if new) and refreshes one location given as a path or URL, recording who asked.
pub async fn import(db: &DatabaseConnection, input: &str, actor: &str) -> Result<(String, ImportSummary), ImportError> {
    let target = ingest::normalize_target(input).map_err(ImportError::Target)?;
    let location = store::ensure_location(db, &target, actor).await?;
    let read_target = target.clone();
    let outcome = tokio::task::spawn_blocking(move || ingest::read_location(&read_target))
        .await
        .map_err(|e| ImportError::Target(format!("reading {target} failed: {e}")))?;
    let summary = store::apply(db, &location, outcome).await?;
    let detail = serde_json::json!({
        "target": target, "added": summary.added, "updated": summary.updated,
        "unchanged": summary.unchanged, "orphaned": summary.orphaned, "errors": summary.errors.len(),
    });
    crate::audit::record(
        db,
        crate::audit::Entry {
            actor,
            action: "catalog.refresh",
            target: Some(&target),
            detail: Some(detail),
            ..Default::default()
        },
    )
    .await?;
    Ok((target, summary))
}
