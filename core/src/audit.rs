//! The audit log: who did what, when. Every write path records an entry.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

/// The `audit_log` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One audit entry.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        /// Sequence number.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// When it happened (UTC).
        pub at: DateTimeUtc,
        /// Who did it: a login, `api-token` or `system`.
        pub actor: String,
        /// What was done, as `capability.verb` (e.g. `auth.login`).
        pub action: String,
        /// What it was done to.
        pub target: Option<String>,
        /// Extra JSON detail; never secrets.
        #[sea_orm(column_type = "Text", nullable)]
        pub detail: Option<String>,
        /// The request id, to join with the logs.
        pub request_id: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A new audit entry.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    /// Who acted.
    pub actor: &'a str,
    /// `capability.verb`.
    pub action: &'a str,
    /// What was acted on.
    pub target: Option<&'a str>,
    /// Extra JSON detail; never secrets.
    pub detail: Option<serde_json::Value>,
    /// The request id.
    pub request_id: Option<&'a str>,
}

/// Appends an entry.
pub async fn record<C: ConnectionTrait>(db: &C, entry: Entry<'_>) -> Result<(), DbErr> {
    entity::ActiveModel {
        at: Set(Utc::now()),
        actor: Set(entry.actor.to_owned()),
        action: Set(entry.action.to_owned()),
        target: Set(entry.target.map(str::to_owned)),
        detail: Set(entry.detail.map(|d| d.to_string())),
        request_id: Set(entry.request_id.map(str::to_owned)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The most recent entries, newest first.
pub async fn recent<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<entity::Model>, DbErr> {
    entity::Entity::find().order_by_desc(entity::Column::Id).limit(limit).all(db).await
}
