//! Database schema migrations for Portolan, written once for SQLite and PostgreSQL.
//!
//! Each migration lives in its own `mYYYYMMDD_NNNNNN_verb_noun.rs` file with its own `Iden` enums, so the schema
//! history never depends on the current entity code. Migrations run at start-up and with `portolan migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_foundation;
mod m20261124_000002_create_catalog;
mod m20261125_000003_create_github_sync;
mod m20261125_000004_create_access;
mod m20261125_000005_index_catalog_search;
mod m20261125_000006_create_docs;
mod m20261125_000007_docs_links_and_search;
mod m20261125_000008_docs_reviews;
mod m20261125_000009_docs_redirects;
mod m20261125_000010_onboarding;
mod m20261125_000011_docs_tree_files_sources;
mod m20261203_000012_create_deploys;
mod m20261203_000013_git_pushes_and_pulls;
mod m20261204_000014_first_in_production;
mod m20261204_000015_revision_history_index;
mod m20261204_000016_create_health;
mod m20261204_000017_health_grid_index;
mod m20261204_000018_health_hot_updates;
mod m20261204_000019_create_cost;
mod m20261204_000020_cost_budgets;
mod m20261205_000021_cost_anomaly_triage;
mod m20261205_000022_scaffold_tasks;
mod m20261205_000023_cost_rollups;
mod m20261205_000024_drop_stat4_samples;
mod m20261206_000025_catalog_generation;
mod m20261206_000026_docs_title_search;
mod m20261206_000027_docs_title_lookup;
mod m20261206_000028_docs_search_text_storage;
mod m20261206_000029_revision_history_covers_id;
mod m20261207_000030_relations_without_origin_check;

/// Runs `sqlite` on SQLite and `postgres` on PostgreSQL, each statement in turn (for indexes and triggers whose SQL
/// differs by backend).
async fn per_backend(manager: &SchemaManager<'_>, sqlite: &[&str], postgres: &[&str]) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        sea_orm_migration::sea_orm::DbBackend::Sqlite => sqlite,
        sea_orm_migration::sea_orm::DbBackend::Postgres => postgres,
        _ => &[],
    };
    for sql in statements {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

/// A migration that is only SQL, its statements written per backend (indexes, triggers and storage settings whose
/// SQL differs between SQLite and PostgreSQL). Like `DeriveMigrationName`, it is named after its file's stem, which
/// is what databases have recorded: each file sets `file: file!()`.
struct PerBackendSql {
    file: &'static str,
    sqlite_up: Statements,
    sqlite_down: Statements,
    postgres_up: Statements,
    postgres_down: Statements,
}

type Statements = &'static [&'static str];

impl PerBackendSql {
    /// Statements `(up, down)` for SQLite and for PostgreSQL.
    const fn new(file: &'static str, sqlite: (Statements, Statements), postgres: (Statements, Statements)) -> Self {
        Self { file, sqlite_up: sqlite.0, sqlite_down: sqlite.1, postgres_up: postgres.0, postgres_down: postgres.1 }
    }

    /// A change that SQLite does not need.
    const fn postgres(file: &'static str, up: Statements, down: Statements) -> Self {
        Self::new(file, (&[], &[]), (up, down))
    }
}

impl MigrationName for PerBackendSql {
    fn name(&self) -> &str {
        sea_orm_migration::util::get_file_stem(self.file)
    }
}

#[async_trait::async_trait]
impl MigrationTrait for PerBackendSql {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        per_backend(manager, self.sqlite_up, self.postgres_up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        per_backend(manager, self.sqlite_down, self.postgres_down).await
    }
}

/// Applies every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_foundation::Migration),
            Box::new(m20261124_000002_create_catalog::Migration),
            Box::new(m20261125_000003_create_github_sync::Migration),
            Box::new(m20261125_000004_create_access::Migration),
            Box::new(m20261125_000005_index_catalog_search::MIGRATION),
            Box::new(m20261125_000006_create_docs::Migration),
            Box::new(m20261125_000007_docs_links_and_search::Migration),
            Box::new(m20261125_000008_docs_reviews::Migration),
            Box::new(m20261125_000009_docs_redirects::Migration),
            Box::new(m20261125_000010_onboarding::Migration),
            Box::new(m20261125_000011_docs_tree_files_sources::Migration),
            Box::new(m20261203_000012_create_deploys::Migration),
            Box::new(m20261203_000013_git_pushes_and_pulls::Migration),
            Box::new(m20261204_000014_first_in_production::Migration),
            Box::new(m20261204_000015_revision_history_index::Migration),
            Box::new(m20261204_000016_create_health::Migration),
            Box::new(m20261204_000017_health_grid_index::Migration),
            Box::new(m20261204_000018_health_hot_updates::Migration),
            Box::new(m20261204_000019_create_cost::Migration),
            Box::new(m20261204_000020_cost_budgets::Migration),
            Box::new(m20261205_000021_cost_anomaly_triage::Migration),
            Box::new(m20261205_000022_scaffold_tasks::Migration),
            Box::new(m20261205_000023_cost_rollups::Migration),
            Box::new(m20261205_000024_drop_stat4_samples::Migration),
            Box::new(m20261206_000025_catalog_generation::Migration),
            Box::new(m20261206_000026_docs_title_search::MIGRATION),
            Box::new(m20261206_000027_docs_title_lookup::MIGRATION),
            Box::new(m20261206_000028_docs_search_text_storage::MIGRATION),
            Box::new(m20261206_000029_revision_history_covers_id::MIGRATION),
            Box::new(m20261207_000030_relations_without_origin_check::MIGRATION),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Databases record each applied migration by name, so a name must never change: each is its file's stem, and
    /// the list runs in the files' order.
    #[test]
    fn every_migration_is_named_after_its_file_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.starts_with('m') && f.ends_with(".rs"))
            .map(|f| f.trim_end_matches(".rs").to_owned())
            .collect();
        files.sort();
        let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        assert_eq!(names, files);
        assert_eq!(names[29], "m20261207_000030_relations_without_origin_check");
    }
}
