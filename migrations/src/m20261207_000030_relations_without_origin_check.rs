//! On PostgreSQL, relations no longer carry a foreign key to the entity they came from. Every relation is written
//! in the transaction that writes its origin entity, and the catalog store deletes an entity's relations before the
//! entity itself (`core::catalog::store`), so the key checked nothing the code does not already keep; but
//! PostgreSQL checked it row by row through a trigger, which was 0.45 s of the 2.4 s it took to import 10,250
//! entities with their 80,494 relations (the catalog benchmark's data). SQLite checks the key in-process at a small
//! cost, and dropping it there would mean rebuilding the table: it stays.

const POSTGRES_UP: [&str; 1] = ["ALTER TABLE relations DROP CONSTRAINT IF EXISTS fk_relations_origin"];

const POSTGRES_DOWN: [&str; 2] = [
    "DELETE FROM relations r WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.uid = r.origin_uid)",
    "ALTER TABLE relations ADD CONSTRAINT fk_relations_origin FOREIGN KEY (origin_uid) REFERENCES entities (uid) \
     ON DELETE CASCADE",
];

pub(crate) const MIGRATION: crate::PerBackendSql =
    crate::PerBackendSql::postgres(file!(), &POSTGRES_UP, &POSTGRES_DOWN);
