//! Docs: pages (runbooks, guides, reference) in spaces, each with its revisions; every save is a new revision and
//! the page points at its current one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DocPages::Table)
                    .col(big_pk_auto(DocPages::Id))
                    .col(string(DocPages::Space))
                    .col(string(DocPages::Slug))
                    .col(string(DocPages::Title))
                    .col(string(DocPages::Kind))
                    .col(string_null(DocPages::OwnerRef))
                    .col(text(DocPages::EntityRefs))
                    .col(big_integer_null(DocPages::CurrentRevisionId))
                    .col(string(DocPages::CreatedBy))
                    .col(timestamp_with_time_zone(DocPages::CreatedAt))
                    .col(timestamp_with_time_zone(DocPages::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_doc_pages_space_slug")
                    .table(DocPages::Table)
                    .col(DocPages::Space)
                    .col(DocPages::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DocRevisions::Table)
                    .col(big_pk_auto(DocRevisions::Id))
                    .col(big_integer(DocRevisions::PageId))
                    .col(integer(DocRevisions::Number))
                    .col(string(DocRevisions::Title))
                    .col(text(DocRevisions::Markdown))
                    .col(string(DocRevisions::Summary))
                    .col(string(DocRevisions::Author))
                    .col(timestamp_with_time_zone(DocRevisions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_doc_revisions_page")
                            .from(DocRevisions::Table, DocRevisions::PageId)
                            .to(DocPages::Table, DocPages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_doc_revisions_page_number")
                    .table(DocRevisions::Table)
                    .col(DocRevisions::PageId)
                    .col(DocRevisions::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(DocRevisions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(DocPages::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum DocPages {
    Table,
    Id,
    Space,
    Slug,
    Title,
    Kind,
    OwnerRef,
    EntityRefs,
    CurrentRevisionId,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DocRevisions {
    Table,
    Id,
    PageId,
    Number,
    Title,
    Markdown,
    Summary,
    Author,
    CreatedAt,
}
