//! Access: API tokens (stored only as a hash) and the extra rights administrators grant.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(big_pk_auto(ApiTokens::Id))
                    .col(string(ApiTokens::Name))
                    .col(string(ApiTokens::Prefix))
                    .col(string_uniq(ApiTokens::TokenHash))
                    .col(text(ApiTokens::Scopes))
                    .col(big_integer_null(ApiTokens::UserId))
                    .col(string(ApiTokens::CreatedBy))
                    .col(string_null(ApiTokens::Team))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_user")
                            .from(ApiTokens::Table, ApiTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_api_tokens_user").table(ApiTokens::Table).col(ApiTokens::UserId).to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccessRules::Table)
                    .col(big_pk_auto(AccessRules::Id))
                    .col(string(AccessRules::Subject))
                    .col(string(AccessRules::Action))
                    .col(string(AccessRules::ScopeType))
                    .col(string_null(AccessRules::ScopeValue))
                    .col(string(AccessRules::CreatedBy))
                    .col(timestamp_with_time_zone(AccessRules::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccessRules::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ApiTokens::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Prefix,
    TokenHash,
    Scopes,
    UserId,
    CreatedBy,
    Team,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AccessRules {
    Table,
    Id,
    Subject,
    Action,
    ScopeType,
    ScopeValue,
    CreatedBy,
    CreatedAt,
}
