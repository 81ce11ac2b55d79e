//! The software catalog: locations (where descriptors come from), entities and their relations.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Locations::Table)
                    .col(big_pk_auto(Locations::Id))
                    .col(string_uniq(Locations::Target))
                    .col(string(Locations::Status))
                    .col(text_null(Locations::LastError))
                    .col(timestamp_with_time_zone_null(Locations::LastRefreshAt))
                    .col(string(Locations::CreatedBy))
                    .col(timestamp_with_time_zone(Locations::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Entities::Table)
                    .col(string_len(Entities::Uid, 36).primary_key())
                    .col(string_uniq(Entities::EntityRef))
                    .col(string(Entities::Kind))
                    .col(string(Entities::Namespace))
                    .col(string(Entities::Name))
                    .col(string_null(Entities::Title))
                    .col(text_null(Entities::Description))
                    .col(string_null(Entities::SpecType))
                    .col(string_null(Entities::Lifecycle))
                    .col(string_null(Entities::OwnerRef))
                    .col(string_null(Entities::SystemRef))
                    .col(text(Entities::Tags))
                    .col(text(Entities::SearchText))
                    .col(text(Entities::Body))
                    .col(text(Entities::SourceYaml))
                    .col(string_null(Entities::SourcePath))
                    .col(big_integer_null(Entities::LocationId))
                    .col(string(Entities::ManagedBy))
                    .col(boolean(Entities::Orphan).default(false))
                    .col(string(Entities::Etag))
                    .col(timestamp_with_time_zone(Entities::CreatedAt))
                    .col(timestamp_with_time_zone(Entities::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entities_location")
                            .from(Entities::Table, Entities::LocationId)
                            .to(Locations::Table, Locations::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_entities_kind_name", Entities::Kind),
            ("ix_entities_owner", Entities::OwnerRef),
            ("ix_entities_system", Entities::SystemRef),
            ("ix_entities_location", Entities::LocationId),
            ("ix_entities_name", Entities::Name),
        ] {
            let mut index = Index::create().name(name).table(Entities::Table).col(col).to_owned();
            if name == "ix_entities_kind_name" {
                index.col(Entities::Name);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Relations::Table)
                    .col(big_pk_auto(Relations::Id))
                    .col(string(Relations::SourceRef))
                    .col(string(Relations::Type))
                    .col(string(Relations::TargetRef))
                    .col(string_len(Relations::OriginUid, 36))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_relations_origin")
                            .from(Relations::Table, Relations::OriginUid)
                            .to(Entities::Table, Entities::Uid)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_relations_source", Relations::SourceRef),
            ("ix_relations_target", Relations::TargetRef),
            ("ix_relations_origin", Relations::OriginUid),
        ] {
            manager.create_index(Index::create().name(name).table(Relations::Table).col(col).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Relations::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Entities::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Locations::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Locations {
    Table,
    Id,
    Target,
    Status,
    LastError,
    LastRefreshAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Entities {
    Table,
    Uid,
    EntityRef,
    Kind,
    Namespace,
    Name,
    Title,
    Description,
    SpecType,
    Lifecycle,
    OwnerRef,
    SystemRef,
    Tags,
    SearchText,
    Body,
    SourceYaml,
    SourcePath,
    LocationId,
    ManagedBy,
    Orphan,
    Etag,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Relations {
    Table,
    Id,
    SourceRef,
    Type,
    TargetRef,
    OriginUid,
}
