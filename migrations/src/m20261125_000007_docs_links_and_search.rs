//! Docs: the wiki links each page makes (`[[Page title]]`, `[[payments/deploys]]`, `[[component:payments-api]]`),
//! for backlinks; and the text search reads (`search_text`: the title and current source, lower-cased), indexed
//! for partial-word search like the catalog's: FTS5 trigram on SQLite kept in step by triggers, `pg_trgm` GIN on
//! PostgreSQL (a warning and an unindexed search where the extension cannot be installed).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: [&str; 5] = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS doc_pages_fts USING fts5(search_text, content='doc_pages', \
     content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS doc_pages_fts_insert AFTER INSERT ON doc_pages BEGIN \
     INSERT INTO doc_pages_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS doc_pages_fts_delete AFTER DELETE ON doc_pages BEGIN \
     INSERT INTO doc_pages_fts(doc_pages_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS doc_pages_fts_update AFTER UPDATE OF search_text ON doc_pages BEGIN \
     INSERT INTO doc_pages_fts(doc_pages_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); \
     INSERT INTO doc_pages_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO doc_pages_fts(doc_pages_fts) VALUES ('rebuild')",
];

const SQLITE_DOWN: [&str; 4] = [
    "DROP TRIGGER IF EXISTS doc_pages_fts_update",
    "DROP TRIGGER IF EXISTS doc_pages_fts_delete",
    "DROP TRIGGER IF EXISTS doc_pages_fts_insert",
    "DROP TABLE IF EXISTS doc_pages_fts",
];

const POSTGRES_UP: &str = "DO $$ BEGIN \
    CREATE EXTENSION IF NOT EXISTS pg_trgm; \
    EXECUTE 'CREATE INDEX IF NOT EXISTS ix_doc_pages_search_trgm ON doc_pages USING gin (search_text gin_trgm_ops)'; \
EXCEPTION WHEN OTHERS THEN \
    RAISE WARNING 'pg_trgm is not available (%); docs search will read every page', SQLERRM; \
END $$";

const BACKFILL: &str = "UPDATE doc_pages SET search_text = lower(title || ' ' || coalesce((SELECT r.markdown FROM \
     doc_revisions r WHERE r.id = doc_pages.current_revision_id), ''))";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DocLinks::Table)
                    .col(big_pk_auto(DocLinks::Id))
                    .col(big_integer(DocLinks::PageId))
                    .col(string(DocLinks::TargetKey))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_doc_links_page")
                            .from(DocLinks::Table, DocLinks::PageId)
                            .to(DocPages::Table, DocPages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [("ix_doc_links_page", DocLinks::PageId), ("ix_doc_links_target", DocLinks::TargetKey)] {
            manager.create_index(Index::create().name(name).table(DocLinks::Table).col(col).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter().table(DocPages::Table).add_column(text(DocPages::SearchText).default("")).to_owned(),
            )
            .await?;
        manager.get_connection().execute_unprepared(BACKFILL).await?;
        crate::per_backend(manager, &SQLITE_UP, &[POSTGRES_UP]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::per_backend(manager, &SQLITE_DOWN, &["DROP INDEX IF EXISTS ix_doc_pages_search_trgm"]).await?;
        manager.alter_table(Table::alter().table(DocPages::Table).drop_column(DocPages::SearchText).to_owned()).await?;
        manager.drop_table(Table::drop().table(DocLinks::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum DocLinks {
    Table,
    Id,
    PageId,
    TargetKey,
}

#[derive(DeriveIden)]
enum DocPages {
    Table,
    Id,
    SearchText,
}
