//! Numbered, append-only schema migrations, the same numbers for both backends.
//!
//! Never edit a migration once it has landed: add a new one.

/// One migration: its number, name, and SQL per backend.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "key-value table",
    sqlite:
        "CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, revision INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
             INSERT INTO meta (name, value) VALUES ('revision', 0);",
    postgres: "CREATE TABLE kv (key TEXT COLLATE \"C\" PRIMARY KEY, value BYTEA NOT NULL, revision BIGINT NOT NULL);
               CREATE SEQUENCE kv_revision;",
}];
