//! PostgreSQL keeps a new version of a row for every update, and an update that changes an indexed column also
//! writes a new entry into every index of the table. The open hourly and daily buckets are updated with every probe
//! (twice a minute per check), so on PostgreSQL the grid's index must not hold the counts, and the buckets' pages
//! keep room for the new versions: the updates are then heap-only (HOT), pruned in place, and leave no index entries
//! behind for the grid's scan to wade through. SQLite updates rows in place; it keeps migration 17's covering index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_health_buckets_grid").await?;
        db.execute_unprepared("CREATE INDEX ix_health_buckets_grid ON health_buckets (period, start, check_id)")
            .await?;
        db.execute_unprepared("ALTER TABLE health_buckets SET (fillfactor = 50)").await?;
        db.execute_unprepared("ALTER TABLE health_checks SET (fillfactor = 70)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE health_checks RESET (fillfactor)").await?;
        db.execute_unprepared("ALTER TABLE health_buckets RESET (fillfactor)").await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ix_health_buckets_grid").await?;
        db.execute_unprepared(
            "CREATE INDEX ix_health_buckets_grid ON health_buckets (period, start, check_id, up, degraded, down)",
        )
        .await?;
        Ok(())
    }
}
