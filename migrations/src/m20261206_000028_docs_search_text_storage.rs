//! The page search text on PostgreSQL is stored out of line without compression. Each search reads the search
//! text of up to 120 candidate pages (about 5 KB each) to check and rank them, and `pg_trgm` rechecks `LIKE` against
//! it too. Stored compressed (the default), PostgreSQL decompressed every one of them on every search: half of the
//! database's time for a two-word search over 2,000 pages. The column is a lower-cased copy of the page, so the
//! space it takes matters less than the time. Existing rows are rewritten so that they are stored the new way too.
//! SQLite is unchanged: it never compresses.

const POSTGRES_UP: [&str; 2] = [
    "ALTER TABLE doc_pages ALTER COLUMN search_text SET STORAGE EXTERNAL",
    // A concatenation makes a new, uncompressed value, which is stored under the column's new setting.
    "UPDATE doc_pages SET search_text = search_text || ''",
];

const POSTGRES_DOWN: [&str; 1] = ["ALTER TABLE doc_pages ALTER COLUMN search_text SET STORAGE EXTENDED"];

pub(crate) const MIGRATION: crate::PerBackendSql =
    crate::PerBackendSql::postgres(file!(), &POSTGRES_UP, &POSTGRES_DOWN);
