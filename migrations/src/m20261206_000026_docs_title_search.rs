//! Title search for docs pages. Search ranks pages whose title holds a query word first, so those pages are read
//! as candidates whatever the body index returns. Finding them was a scan of every page row: on SQLite each row
//! carries its 5 KB search text, so the scan read the whole table (a few milliseconds at 2,000 pages, on every
//! search). SQLite gets a trigram FTS5 index over titles (external content, kept by triggers like the body
//! index); PostgreSQL a `pg_trgm` index on `lower(title)`, which the same `LIKE` uses.

const SQLITE_UP: [&str; 5] = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS doc_titles_fts USING fts5(title, content='doc_pages', content_rowid='id', \
     tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS doc_titles_fts_insert AFTER INSERT ON doc_pages BEGIN \
     INSERT INTO doc_titles_fts(rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER IF NOT EXISTS doc_titles_fts_delete AFTER DELETE ON doc_pages BEGIN \
     INSERT INTO doc_titles_fts(doc_titles_fts, rowid, title) VALUES ('delete', old.id, old.title); END",
    // Saves set the title whether or not it changed: only a change touches the index.
    "CREATE TRIGGER IF NOT EXISTS doc_titles_fts_update AFTER UPDATE OF title ON doc_pages \
     WHEN old.title IS NOT new.title BEGIN \
     INSERT INTO doc_titles_fts(doc_titles_fts, rowid, title) VALUES ('delete', old.id, old.title); \
     INSERT INTO doc_titles_fts(rowid, title) VALUES (new.id, new.title); END",
    "INSERT INTO doc_titles_fts(doc_titles_fts) VALUES ('rebuild')",
];

const SQLITE_DOWN: [&str; 4] = [
    "DROP TRIGGER IF EXISTS doc_titles_fts_update",
    "DROP TRIGGER IF EXISTS doc_titles_fts_delete",
    "DROP TRIGGER IF EXISTS doc_titles_fts_insert",
    "DROP TABLE IF EXISTS doc_titles_fts",
];

// Without pg_trgm (migration 7 warned already) titles are scanned as before.
const POSTGRES_UP: &str = "DO $$ BEGIN \
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
        EXECUTE 'CREATE INDEX IF NOT EXISTS ix_doc_pages_title_trgm ON doc_pages USING gin (lower(title) gin_trgm_ops)'; \
    END IF; \
END $$";

pub(crate) const MIGRATION: crate::PerBackendSql = crate::PerBackendSql::new(
    file!(),
    (&SQLITE_UP, &SQLITE_DOWN),
    (&[POSTGRES_UP], &["DROP INDEX IF EXISTS ix_doc_pages_title_trgm"]),
);
