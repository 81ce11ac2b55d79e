//! Database connection: SQLite (embedded default) or PostgreSQL, migrated on start-up.

use std::time::Duration;

use portolan_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

/// Opens a connection pool. SQLite gets WAL mode, foreign keys and a busy timeout so concurrent writers wait
/// instead of failing; the file (and its directory) is created when missing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create the data directory {}: {e}", dir.display())))?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
    if url.starts_with("sqlite:") {
        // SQLite allows one writer at a time; a small pool avoids lock convoys.
        options.max_connections(8).min_connections(1);
    } else {
        options.max_connections(20).min_connections(1);
    }
    Database::connect(options).await
}

/// The file behind a `sqlite://` URL, if it names one.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Opens the pool and applies pending migrations. On SQLite the pool is then opened afresh: a pooled connection
/// that read the schema before a migration compiles statements against the old schema (an upsert then fails to
/// find its new unique index), and fresh connections read the final one.
pub async fn open(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    migrate(&db).await?;
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(db);
    }
    db.close().await?;
    connect(url).await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Pool figures for `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
}

/// Reads the pool's current size and idle count.
pub fn pool_stats(db: &DatabaseConnection) -> PoolStats {
    let (size, idle) = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let p = db.get_sqlite_connection_pool();
            (p.size(), p.num_idle())
        }
        _ => {
            let p = db.get_postgres_connection_pool();
            (p.size(), p.num_idle())
        }
    };
    PoolStats { size, idle: u32::try_from(idle).unwrap_or(u32::MAX) }
}

/// The backend's name as shown in logs and metrics.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}

/// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: it waits for the write lock up front
/// (within the busy timeout) instead of starting as a reader and failing with "database is locked" when another
/// connection wrote in between, which a deferred transaction cannot wait out. Elsewhere it is a plain `BEGIN`.
pub async fn begin_write<C: sea_orm::TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Reads the rows of `select` as one JSON document: `columns` of each row as a JSON array, all rows aggregated
/// into one array by the database (`json_group_array` on SQLite, `json_agg` on PostgreSQL), and decoded as `T`.
///
/// For reports that read tens of thousands of rows: the SQLite driver hands each row from its worker thread to
/// the caller separately, which costs more than the query itself; one row holding them all does not.
/// `columns` are plain column names of the selected table. Timestamps arrive as text in the backend's format
/// (decode them with [`DbTime`]) and booleans as `0`/`1` on SQLite (decode them with [`DbBool`]).
pub async fn json_rows<T, E, C>(db: &C, select: sea_orm::Select<E>, columns: &[&str]) -> Result<Vec<T>, DbErr>
where
    T: serde::de::DeserializeOwned,
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::QuerySelect;
    let list = columns.join(", ");
    let aggregate = match db.get_database_backend() {
        DbBackend::Sqlite => format!("json_group_array(json_array({list}))"),
        _ => format!("CAST(json_agg(json_build_array({list})) AS TEXT)"),
    };
    let text: Option<Option<String>> =
        select.select_only().column_as(sea_orm::sea_query::Expr::cust(aggregate), "rows").into_tuple().one(db).await?;
    match text.flatten() {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(&t).map_err(|e| DbErr::Custom(format!("decoding aggregated rows: {e}"))),
    }
}

/// A timestamp inside [`json_rows`]: SQLite's stored text (`2026-11-02 10:05:00+00:00`) or PostgreSQL's JSON
/// rendering (`2026-11-02T10:05:00+00:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbTime(pub chrono::DateTime<chrono::Utc>);

impl<'de> serde::Deserialize<'de> for DbTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        parse_db_time(&text).map(DbTime).ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: {text}")))
    }
}

fn parse_db_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDateTime, Utc};
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(d) = DateTime::parse_from_str(t, format) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, format) {
            return Some(d.and_utc());
        }
    }
    None
}

/// A boolean inside [`json_rows`]: `true`/`false`, or SQLite's `1`/`0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbBool(pub bool);

impl<'de> serde::Deserialize<'de> for DbBool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(b) => Ok(DbBool(b)),
            serde_json::Value::Number(n) => Ok(DbBool(n.as_i64().is_some_and(|i| i != 0))),
            other => Err(serde::de::Error::custom(format!("not a boolean: {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Statement};

    #[test]
    fn sqlite_file_is_found_in_urls() {
        assert_eq!(sqlite_file("sqlite://./data/portolan.db?mode=rwc"), Some("./data/portolan.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }

    #[test]
    fn timestamps_of_both_backends_are_read() {
        let want = chrono::DateTime::parse_from_rfc3339("2026-11-02T10:05:00.25Z").unwrap().with_timezone(&chrono::Utc);
        for text in [
            "2026-11-02 10:05:00.250+00:00",
            "2026-11-02T10:05:00.25+00:00",
            "2026-11-02 10:05:00.25",
            "2026-11-02T11:05:00.25+01:00",
            "2026-11-02 10:05:00.25+00",
        ] {
            assert_eq!(parse_db_time(text), Some(want), "{text}");
        }
        assert_eq!(parse_db_time("yesterday"), None);
        let flags: Vec<DbBool> = serde_json::from_str("[true, 0, 1, false]").unwrap();
        assert_eq!(flags, [DbBool(true), DbBool(false), DbBool(true), DbBool(false)]);
    }

    #[tokio::test]
    async fn rows_come_back_aggregated_as_json() {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let dir = std::env::temp_dir().join(format!("portolan-db-json-{}", std::process::id()));
        let url = format!("sqlite://{}/p.db?mode=rwc", dir.display());
        let db = open(&url).await.unwrap();
        use crate::catalog::entity::entities;
        let none: Vec<(String,)> =
            json_rows(&db, entities::Entity::find().filter(entities::Column::Kind.eq("nothing")), &["entity_ref"])
                .await
                .unwrap();
        assert!(none.is_empty());
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
        let dir = std::env::temp_dir().join(format!("portolan-db-test-{}", std::process::id()));
        let url = format!("sqlite://{}/nested/p.db?mode=rwc", dir.display());
        let db = connect(&url).await.unwrap();
        migrate(&db).await.unwrap();
        let row =
            db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA journal_mode")).await.unwrap().unwrap();
        assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "wal");
        let row =
            db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA foreign_keys")).await.unwrap().unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);
        assert!(pool_stats(&db).size >= 1);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
