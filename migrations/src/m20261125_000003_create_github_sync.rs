//! Talking to GitHub economically and durably: a cache of conditional-request validators (so an unchanged
//! resource is answered with 304 and costs no rate limit), and the queue of webhook deliveries (acknowledged at
//! once, processed from here, so a crash after the 2xx loses nothing). Shared by catalog discovery and deploys.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HttpCache::Table)
                    .col(text(HttpCache::Url).primary_key())
                    .col(string(HttpCache::Etag))
                    .col(text(HttpCache::Body))
                    .col(text_null(HttpCache::Link))
                    .col(timestamp_with_time_zone(HttpCache::FetchedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(string(WebhookDeliveries::Source))
                    .col(string(WebhookDeliveries::DeliveryId))
                    .col(string(WebhookDeliveries::Event))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone(WebhookDeliveries::ReceivedAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_webhook_deliveries_source_delivery")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Source)
                    .col(WebhookDeliveries::DeliveryId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_status")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(HttpCache::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum HttpCache {
    Table,
    Url,
    Etag,
    Body,
    Link,
    FetchedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    Source,
    DeliveryId,
    Event,
    Payload,
    Status,
    Attempts,
    LastError,
    ReceivedAt,
    ProcessedAt,
}
