//! A tower-sessions store in the portal's own database, so several replicas share sessions.

use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::entity::sessions;

/// Sessions kept in the `sessions` table, as JSON.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    /// A store over this connection pool.
    pub fn new(db: DatabaseConnection) -> Self {
        DbSessionStore { db }
    }

    /// Deletes sessions past their expiry; returns how many went.
    pub async fn delete_expired(&self) -> Result<u64, DbErr> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let res = sessions::Entity::delete_many().filter(sessions::Column::ExpiresAt.lte(now)).exec(&self.db).await?;
        Ok(res.rows_affected)
    }

    async fn exists(&self, id: &Id) -> Result<bool, DbErr> {
        Ok(sessions::Entity::find_by_id(id.to_string()).one(&self.db).await?.is_some())
    }
}

fn backend(e: DbErr) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits, but a collision must never hand one person's session to another.
        while self.exists(&record.id).await.map_err(backend)? {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let row = sessions::ActiveModel {
            id: Set(record.id.to_string()),
            data: Set(data),
            expires_at: Set(record.expiry_date.unix_timestamp()),
        };
        sessions::Entity::insert(row)
            .on_conflict(
                OnConflict::column(sessions::Column::Id)
                    .update_columns([sessions::Column::Data, sessions::Column::ExpiresAt])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let Some(row) = sessions::Entity::find_by_id(id.to_string())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&row.data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(row.expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sessions::Entity::delete_by_id(id.to_string()).exec(&self.db).await.map_err(backend)?;
        Ok(())
    }
}
