//! A trigram index for the catalog's partial-word search (`search_text LIKE '%word%'`), so search does not read
//! every row: an FTS5 table with the trigram tokenizer on SQLite, kept in step by triggers; a `pg_trgm` GIN index on
//! PostgreSQL. Where `pg_trgm` cannot be installed (a managed database without the right), the migration warns and
//! search keeps working without the index.

const SQLITE_UP: [&str; 5] = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS entities_fts USING fts5(search_text, content='entities', \
     content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS entities_fts_insert AFTER INSERT ON entities BEGIN \
     INSERT INTO entities_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS entities_fts_delete AFTER DELETE ON entities BEGIN \
     INSERT INTO entities_fts(entities_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS entities_fts_update AFTER UPDATE OF search_text ON entities BEGIN \
     INSERT INTO entities_fts(entities_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); \
     INSERT INTO entities_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "INSERT INTO entities_fts(entities_fts) VALUES ('rebuild')",
];

const SQLITE_DOWN: [&str; 4] = [
    "DROP TRIGGER IF EXISTS entities_fts_update",
    "DROP TRIGGER IF EXISTS entities_fts_delete",
    "DROP TRIGGER IF EXISTS entities_fts_insert",
    "DROP TABLE IF EXISTS entities_fts",
];

const POSTGRES_UP: &str = "DO $$ BEGIN \
    CREATE EXTENSION IF NOT EXISTS pg_trgm; \
    EXECUTE 'CREATE INDEX IF NOT EXISTS ix_entities_search_trgm ON entities USING gin (search_text gin_trgm_ops)'; \
EXCEPTION WHEN OTHERS THEN \
    RAISE WARNING 'pg_trgm is not available (%); catalog search will read every row', SQLERRM; \
END $$";

pub(crate) const MIGRATION: crate::PerBackendSql = crate::PerBackendSql::new(
    file!(),
    (&SQLITE_UP, &SQLITE_DOWN),
    (&[POSTGRES_UP], &["DROP INDEX IF EXISTS ix_entities_search_trgm"]),
);
