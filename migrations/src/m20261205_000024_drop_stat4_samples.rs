//! SQLite only: forgets the planner's per-value samples (`sqlite_stat4`), keeping its per-index averages
//! (`sqlite_stat1`). With samples, every cached statement whose plan read one for a bound value (ours, and the
//! FTS5 index's own lookups) was parsed and planned again each time it was bound to a new value: most of a
//! catalog search's time went to re-preparing them. The catalog's statistics refresh no longer keeps samples
//! either; this clears those an earlier `ANALYZE` wrote.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DbBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        let exists = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
            ))
            .await?
            .is_some();
        if exists {
            db.execute_unprepared("DELETE FROM sqlite_stat4").await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The samples come back with the next full `ANALYZE`; nothing to undo.
        Ok(())
    }
}
