//! `catalog_generation`: one row whose `value` every transaction that changes the catalog (entities or
//! relations) raises before it commits. Each server keeps a read cache of Backstage's entity JSON; it polls this
//! number to learn of changes made by other processes (a `portolan catalog import` beside the server, other
//! replicas on one PostgreSQL), and forgets its cache when the number moves.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CatalogGeneration {
    Table,
    Id,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogGeneration::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(CatalogGeneration::Id).integer().not_null().primary_key())
                    .col(ColumnDef::new(CatalogGeneration::Value).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        let insert = Query::insert()
            .into_table(CatalogGeneration::Table)
            .columns([CatalogGeneration::Id, CatalogGeneration::Value])
            .values_panic([1.into(), 0.into()])
            .to_owned();
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CatalogGeneration::Table).to_owned()).await
    }
}
