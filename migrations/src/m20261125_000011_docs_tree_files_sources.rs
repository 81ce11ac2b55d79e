//! Docs: nested pages (a page may have a parent page in its space, for breadcrumbs and a page tree), files
//! attached to a page (stored in the database, so replicas sharing it serve the same files), and pages imported
//! from a repository's Markdown (docs-as-code: where the file lives, the blob it was read from, and the entity
//! whose `backstage.io/techdocs-ref` brought it in; such pages are read-only in the portal).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            big_integer_null(DocPages::ParentId),
            string_null(DocPages::SourceEntity),
            string_null(DocPages::SourcePath),
            text_null(DocPages::SourceUrl),
            string_null(DocPages::SourceSha),
        ] {
            let mut col = col;
            manager.alter_table(Table::alter().table(DocPages::Table).add_column(&mut col).to_owned()).await?;
        }
        manager
            .create_index(
                Index::create().name("ix_doc_pages_parent").table(DocPages::Table).col(DocPages::ParentId).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_doc_pages_source_entity")
                    .table(DocPages::Table)
                    .col(DocPages::SourceEntity)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DocAttachments::Table)
                    .col(big_pk_auto(DocAttachments::Id))
                    .col(big_integer(DocAttachments::PageId))
                    .col(string(DocAttachments::Name))
                    .col(string(DocAttachments::ContentType))
                    .col(big_integer(DocAttachments::Size))
                    .col(string(DocAttachments::Sha256))
                    .col(blob(DocAttachments::Data))
                    .col(string(DocAttachments::UploadedBy))
                    .col(timestamp_with_time_zone(DocAttachments::UploadedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_doc_attachments_page")
                            .from(DocAttachments::Table, DocAttachments::PageId)
                            .to(DocPages::Table, DocPages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_doc_attachments_page_name")
                    .table(DocAttachments::Table)
                    .col(DocAttachments::PageId)
                    .col(DocAttachments::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(DocAttachments::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("ix_doc_pages_source_entity").table(DocPages::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("ix_doc_pages_parent").table(DocPages::Table).to_owned()).await?;
        for col in
            [DocPages::SourceSha, DocPages::SourceUrl, DocPages::SourcePath, DocPages::SourceEntity, DocPages::ParentId]
        {
            manager.alter_table(Table::alter().table(DocPages::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum DocAttachments {
    Table,
    Id,
    PageId,
    Name,
    ContentType,
    Size,
    Sha256,
    Data,
    UploadedBy,
    UploadedAt,
}

#[derive(DeriveIden)]
enum DocPages {
    Table,
    Id,
    ParentId,
    SourceEntity,
    SourcePath,
    SourceUrl,
    SourceSha,
}
