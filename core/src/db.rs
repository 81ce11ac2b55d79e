//! Database connection: SQLite (embedded default) or PostgreSQL, migrated on start-up.

use std::time::Duration;

use portolan_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

/// Opens a connection pool. SQLite gets WAL mode, foreign keys and a busy timeout so concurrent writers wait
/// instead of failing; the file (and its directory) is created when missing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, None).await
}

/// [`connect`] with at most `max_connections` pooled connections (default: two per core, 4 to 8, on SQLite; 20 on
/// PostgreSQL).
pub async fn connect_with(url: &str, max_connections: Option<u32>) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create the data directory {}: {e}", dir.display())))?;
    }
    Database::connect(options(url, max_connections, PING_AFTER_IDLE)).await
}

/// A pooled connection idle at least this long is checked (a round trip) before it is handed out; one in use more
/// recently is handed out as it is. The connection pool's default checks every connection on every hand-out, a
/// round trip to PostgreSQL before each statement (and it checks again when the statement is done, which stays):
/// one more wake-up of a database process per statement, on cores shared with the server. What the check catches
/// is a connection that the network, a proxy or the database dropped while it sat idle; a connection that
/// answered a moment ago and broke since fails its statement like any other error, and the pool replaces it.
const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// The pool's options for `url`: see [`connect_with`] and [`PING_AFTER_IDLE`].
fn options(url: &str, max_connections: Option<u32>, ping_after_idle: Duration) -> ConnectOptions {
    let mut options = ConnectOptions::new(loopback_without_tls(url).into_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire_if_idle_for(ping_after_idle)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
                // 512 KiB of page cache per connection (SQLite's default is 2 MiB): pages beyond it come from the
                // operating system's file cache, a copy away. On the catalog benchmark (10,000 entities, a 45 MB
                // file, 4 connections) 1 MiB took 8 MB off the server's RSS and no time off any scenario; 512 KiB
                // (with the search texts read row by row) took the heap after load from 34 to 28 MiB, and no
                // scenario was slower.
                .pragma("cache_size", "-512")
        });
    if url.starts_with("sqlite:") {
        // SQLite allows one writer at a time, and its reads are CPU work: more connections than about two per core
        // add memory (each has its own page cache and thread), not speed. On 2 cores, 4 answered the catalog
        // benchmark as fast as 8 did, with 15 MiB less RSS.
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let default = u32::try_from(cores * 2).unwrap_or(8).clamp(4, 8);
        options.max_connections(max_connections.unwrap_or(default)).min_connections(1);
    } else {
        options.max_connections(max_connections.unwrap_or(20)).min_connections(1);
    }
    options
}

/// A PostgreSQL URL naming this host (`localhost`, `127.x.x.x`, `[::1]`) and no `sslmode`, with `sslmode=disable`
/// added; any other URL as it is. Without an `sslmode` the driver uses TLS whenever the server offers it, and
/// Debian's does on loopback too, where it protects nothing (the bytes never leave the host) and costs time: sqlx
/// 0.9 leaves Nagle's algorithm on, so a statement split into TLS records can wait for the server's delayed
/// acknowledgement. A URL that names an `sslmode` keeps it.
fn loopback_without_tls(url: &str) -> std::borrow::Cow<'_, str> {
    let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) else {
        return url.into();
    };
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    if query.split('&').any(|p| p.split('=').next().is_some_and(|k| k.eq_ignore_ascii_case("sslmode"))) {
        return url.into();
    }
    let authority = before_query.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return url.into();
    }
    let joiner = if url.contains('?') { if url.ends_with(['?', '&']) { "" } else { "&" } } else { "?" };
    format!("{url}{joiner}sslmode=disable").into()
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
    open_with(url, None).await
}

/// [`open`] with at most `max_connections` pooled connections.
pub async fn open_with(url: &str, max_connections: Option<u32>) -> Result<DatabaseConnection, DbErr> {
    let db = connect_with(url, max_connections).await?;
    migrate(&db).await?;
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(db);
    }
    db.close().await?;
    connect_with(url, max_connections).await
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
///
/// On SQLite the writers of this process also queue, first come first served, on one gate per database file,
/// held until the transaction ends. SQLite admits one writer at a time anyway, and a writer that finds the lock
/// taken waits in its busy handler, which sleeps in growing steps (up to 100 ms) and lets late comers overtake:
/// eight connections saving at once waited up to 240 ms each that way. Writers of other processes (a CLI import
/// beside the server) still meet the busy handler.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    use sea_orm::TransactionTrait;
    let gate = match db.get_database_backend() {
        DbBackend::Sqlite => Some(sqlite_gate(db).lock_owned().await),
        _ => None,
    };
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTxn { txn: Some(txn), gate })
}

/// The write gate of the SQLite database behind `db`, shared by every pool of this process on the same file.
fn sqlite_gate(db: &DatabaseConnection) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static GATES: OnceLock<Mutex<HashMap<std::path::PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let file = db.get_sqlite_connection_pool().connect_options().get_filename().to_path_buf();
    let file = std::fs::canonicalize(&file).unwrap_or(file);
    let mut gates = GATES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    gates.entry(file).or_default().clone()
}

/// A transaction from [`begin_write`]: used like a [`sea_orm::DatabaseTransaction`] (it is a connection, and
/// derefs to one), ended by [`WriteTxn::commit`] or [`WriteTxn::rollback`], or rolled back when dropped. It holds
/// the SQLite write gate until the transaction has ended.
pub struct WriteTxn {
    /// Taken only by `commit`, `rollback` and `drop`, which end the value.
    txn: Option<sea_orm::DatabaseTransaction>,
    gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    /// Commits, then lets the next writer in.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        self.take().commit().await
    }

    /// Rolls back, then lets the next writer in.
    pub async fn rollback(mut self) -> Result<(), DbErr> {
        self.take().rollback().await
    }

    fn take(&mut self) -> sea_orm::DatabaseTransaction {
        self.txn.take().expect("a WriteTxn holds its transaction until it ends")
    }

    fn txn(&self) -> &sea_orm::DatabaseTransaction {
        self.txn.as_ref().expect("a WriteTxn holds its transaction until it ends")
    }
}

impl Drop for WriteTxn {
    /// Dropped without `commit` or `rollback` (an error on the way, a cancelled request): rolls back, and lets
    /// the next writer in only once that is done. Dropping a sea-orm transaction merely queues its rollback on the
    /// connection; opening the gate at once would let the next writer meet the write lock still held (and wait in
    /// SQLite's busy handler, or fail without a busy timeout).
    fn drop(&mut self) {
        if let (Some(txn), Ok(runtime)) = (self.txn.take(), tokio::runtime::Handle::try_current()) {
            let gate = self.gate.take();
            runtime.spawn(async move {
                if let Err(e) = txn.rollback().await {
                    tracing::warn!(error = %e, "rolling back a dropped write transaction failed");
                }
                drop(gate);
            });
        }
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = sea_orm::DatabaseTransaction;
    fn deref(&self) -> &sea_orm::DatabaseTransaction {
        self.txn()
    }
}

#[async_trait::async_trait]
impl sea_orm::ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        sea_orm::ConnectionTrait::get_database_backend(self.txn())
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn().execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn().execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: sea_orm::Statement) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn().query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: sea_orm::Statement) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn().query_all_raw(stmt).await
    }
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
    fn postgres_on_this_host_goes_without_tls_unless_the_url_says_otherwise() {
        for (url, want) in [
            ("postgres://postgres@127.0.0.1:5432/p", "postgres://postgres@127.0.0.1:5432/p?sslmode=disable"),
            (
                "postgresql://u:pw@localhost/p?application_name=x",
                "postgresql://u:pw@localhost/p?application_name=x&sslmode=disable",
            ),
            ("postgres://[::1]:5433/p", "postgres://[::1]:5433/p?sslmode=disable"),
            ("postgres://127.0.0.1", "postgres://127.0.0.1?sslmode=disable"),
            // An sslmode of the user's, another host, SQLite: untouched.
            ("postgres://postgres@127.0.0.1/p?sslmode=require", "postgres://postgres@127.0.0.1/p?sslmode=require"),
            ("postgres://localhost/p?SSLMode=verify-full", "postgres://localhost/p?SSLMode=verify-full"),
            ("postgres://db.internal:5432/p", "postgres://db.internal:5432/p"),
            ("postgres://u:127.0.0.1@db.example/p", "postgres://u:127.0.0.1@db.example/p"),
            ("sqlite://./data/p.db?mode=rwc", "sqlite://./data/p.db?mode=rwc"),
        ] {
            assert_eq!(loopback_without_tls(url), want, "{url}");
        }
    }

    #[test]
    fn pooled_connections_are_checked_only_after_sitting_idle() {
        for url in ["sqlite://./p.db?mode=rwc", "postgres://postgres@127.0.0.1:5432/p"] {
            let o = options(url, None, PING_AFTER_IDLE);
            assert!(!o.get_test_before_acquire(), "no round trip before every statement: {url}");
            assert_eq!(o.get_test_before_acquire_if_idle_for(), Some(PING_AFTER_IDLE), "{url}");
        }
    }

    /// A connection the database dropped while it sat idle is found out by the check and replaced before any
    /// statement meets it; one dropped while in use fails at most one statement, and the next gets a new one.
    #[tokio::test]
    async fn a_connection_postgresql_dropped_is_replaced() {
        let url = std::env::var("PORTOLAN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = connect_with(&url, Some(1)).await.unwrap();
        let pid = |db: DatabaseConnection| async move {
            let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_backend_pid()")).await?;
            row.expect("a row").try_get_by_index::<i32>(0)
        };
        let kill = |victim: i32| {
            let admin = admin.clone();
            async move {
                let sql = format!("SELECT pg_terminate_backend({victim})");
                admin.execute_unprepared(&sql).await.unwrap();
                // Until the process is gone, so the dropped connection is what the next statement meets.
                for _ in 0..200 {
                    let gone = format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {victim}");
                    let row = admin.query_one_raw(Statement::from_string(DbBackend::Postgres, gone)).await.unwrap();
                    if row.unwrap().try_get_by_index::<i64>(0).unwrap() == 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!("backend {victim} did not exit");
            }
        };

        // Idle past the threshold: checked, replaced, and the statement succeeds.
        let checked = Database::connect(options(&url, Some(1), Duration::from_millis(100))).await.unwrap();
        let first = pid(checked.clone()).await.unwrap();
        kill(first).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = pid(checked.clone()).await.expect("the dropped connection was replaced before the statement");
        assert_ne!(first, second);

        // Used a moment ago: handed out unchecked; whatever the next statement meets, the one after it succeeds.
        let hot = Database::connect(options(&url, Some(1), Duration::from_secs(60))).await.unwrap();
        let first = pid(hot.clone()).await.unwrap();
        kill(first).await;
        let _ = pid(hot.clone()).await;
        let second = pid(hot.clone()).await.expect("a new connection after the broken one");
        assert_ne!(first, second);
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
    async fn sqlite_runs_in_wal_mode_with_foreign_keys_and_a_small_page_cache() {
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
        let row =
            db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA cache_size")).await.unwrap().unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), -512, "512 KiB of pages per connection");
        assert!(pool_stats(&db).size >= 1);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A bound `LIMIT ?` must stay a parameter in the compiled statement: when SQLite plans with its value instead
    /// (it does unless the query planner stability guarantee is on, `.cargo/config.toml`), binding it again, as
    /// sqlx does on every run, throws the compiled statement away, and every list page and `.one()` lookup is
    /// parsed and planned anew.
    #[tokio::test]
    async fn sqlite_keeps_bound_limits_as_parameters_so_cached_statements_are_reused() {
        let db = connect("sqlite::memory:").await.unwrap();
        let options = db
            .query_all_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA compile_options"))
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| r.try_get_by_index::<String>(0).ok())
            .collect::<Vec<_>>();
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
        let program = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "EXPLAIN SELECT name FROM sqlite_schema LIMIT ?",
                [sea_orm::Value::from(5_i64)],
            ))
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| r.try_get::<String>("", "opcode").ok())
            .collect::<Vec<_>>();
        assert!(program.iter().any(|op| op == "MustBeInt"), "the limit is read when the statement runs: {program:?}");
    }

    /// With no busy timeout at all, a writer that met another's lock would fail at once with "database is
    /// locked": every one of eight concurrent writers succeeding shows they queue on the gate instead, in two
    /// pools on one file (as replicas in one process would), and in the order they arrived.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_sqlite_writers_queue_on_the_gate_in_arrival_order() {
        let dir = std::env::temp_dir().join(format!("portolan-db-gate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/p.db?mode=rwc", dir.display());
        let pool = || async {
            let mut options = ConnectOptions::new(url.clone());
            options.sqlx_logging(false).max_connections(8).map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal).busy_timeout(Duration::ZERO).create_if_missing(true)
            });
            Database::connect(options).await.unwrap()
        };
        let (a, b) = (pool().await, pool().await);
        a.execute_unprepared("CREATE TABLE t (n INTEGER)").await.unwrap();
        let mut tasks = Vec::new();
        for n in 0..8i64 {
            let db = if n % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let txn = begin_write(&db).await?;
                txn.execute_unprepared(&format!("INSERT INTO t (n) VALUES ({n})")).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                txn.commit().await
            }));
            // Arrivals 5 ms apart: each is queued before the one ahead of it is done.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for t in tasks {
            t.await.unwrap().expect("a writer waited its turn instead of failing");
        }
        let rows = a.query_all_raw(Statement::from_string(DbBackend::Sqlite, "SELECT n FROM t ORDER BY rowid")).await;
        let order: Vec<i64> = rows.unwrap().iter().map(|r| r.try_get_by_index::<i64>(0).unwrap()).collect();
        assert_eq!(order, (0..8).collect::<Vec<_>>());

        // A transaction dropped without commit rolls back, and only then lets the next writer in: the next one,
        // on the other pool and without a busy timeout, finds the write lock free every time.
        for round in 0..20 {
            let (first, next) = if round % 2 == 0 { (&b, &a) } else { (&a, &b) };
            let txn = begin_write(first).await.unwrap();
            txn.execute_unprepared("INSERT INTO t (n) VALUES (99)").await.unwrap();
            drop(txn);
            let txn = begin_write(next).await.expect("the dropped writer's lock was gone when the gate opened");
            let left = txn.query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT COUNT(*) FROM t")).await;
            assert_eq!(left.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap(), 8, "round {round}");
            txn.commit().await.unwrap();
        }
        drop((a, b));
        let _ = std::fs::remove_dir_all(dir);
    }
}
