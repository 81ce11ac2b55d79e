//! Docs: where pages used to be. Moving or renaming a page keeps its old address (space and slug) pointing at it,
//! so bookmarks, links in chat and `[[space/old-slug]]` links keep working. Also an index on `lower(title)`, which
//! resolves `[[Page title]]` links.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DocRedirects::Table)
                    .col(big_pk_auto(DocRedirects::Id))
                    .col(string(DocRedirects::Space))
                    .col(string(DocRedirects::Slug))
                    .col(big_integer(DocRedirects::PageId))
                    .col(timestamp_with_time_zone(DocRedirects::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_doc_redirects_page")
                            .from(DocRedirects::Table, DocRedirects::PageId)
                            .to(DocPages::Table, DocPages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_doc_redirects_space_slug")
                    .table(DocRedirects::Table)
                    .col(DocRedirects::Space)
                    .col(DocRedirects::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX IF NOT EXISTS ix_doc_pages_lower_title ON doc_pages (lower(title))")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS ix_doc_pages_lower_title").await?;
        manager.drop_table(Table::drop().table(DocRedirects::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum DocRedirects {
    Table,
    Id,
    Space,
    Slug,
    PageId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DocPages {
    Table,
    Id,
}
