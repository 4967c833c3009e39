//! The SQLite schema of one stream's Durable Object.
//!
//! One object holds one stream path. `stream` has at most one row: the live (or
//! soft-deleted) incarnation. `log` holds its bytes in stored form, `producers` the
//! idempotent-producer state. `object_state` survives deletion, so a stream created
//! again at the same path gets a new incarnation number.
//!
//! Version history (bump [`SCHEMA_VERSION`] and add a step to [`MIGRATIONS`]):
//! - 1: initial schema.
//! - 2: cold segments: the `segments` index, and the stream's hot-log counters, segment
//!   count, end of the cold range and fork `read_seq` base.
//! - 3: access: the stream's public flag and reader key.
//! - 4: the time of the last write, for the admin.
//! - 5: subscriptions (§6): each stream's `watchers`; a registry's `registry_streams`
//!   and `watches` (see `store::watch`).

use super::sql::{Sql, SqlExt, StorageError};

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 5;

/// Statements that bring an empty database to version 1.
const V1: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS object_state (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS stream (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        stream_id TEXT NOT NULL,
        incarnation INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        tail INTEGER NOT NULL,
        closed INTEGER NOT NULL DEFAULT 0,
        closed_by_producer TEXT,
        closed_by_epoch INTEGER,
        closed_by_seq INTEGER,
        last_stream_seq TEXT,
        ttl_seconds INTEGER,
        expires_at INTEGER,
        expiry_inherited INTEGER NOT NULL DEFAULT 0,
        touched_at INTEGER NOT NULL,
        fork_source TEXT,
        fork_offset INTEGER,
        fork_sub_offset INTEGER,
        fork_source_incarnation INTEGER,
        fork_count INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0
    )",
    // `start` is the global position of the row's first byte. `flags` bit 0 marks the
    // first row of an append (a record); bit 1 marks a row that continues a JSON message
    // too large for one row.
    "CREATE TABLE IF NOT EXISTS log (
        start INTEGER PRIMARY KEY,
        body BLOB NOT NULL,
        flags INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS producers (
        producer_id TEXT PRIMARY KEY,
        epoch INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        tail INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )",
];

/// Statements that bring version 1 to version 2.
const V2: &[&str] = &[
    "ALTER TABLE stream ADD COLUMN hot_messages INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE stream ADD COLUMN hot_bytes INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE stream ADD COLUMN segments INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE stream ADD COLUMN cold_end INTEGER",
    "ALTER TABLE stream ADD COLUMN read_seq_base INTEGER NOT NULL DEFAULT 0",
    // One row per segment object; `read_seq` counts from 0 and segments are contiguous.
    "CREATE TABLE IF NOT EXISTS segments (
        read_seq INTEGER PRIMARY KEY,
        start INTEGER NOT NULL,
        \"end\" INTEGER NOT NULL,
        object_key TEXT NOT NULL,
        object_bytes INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS segments_end ON segments (\"end\")",
];

/// Statements that bring version 2 to version 3.
const V3: &[&str] = &[
    "ALTER TABLE stream ADD COLUMN public INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE stream ADD COLUMN reader_key TEXT",
];

/// Statements that bring version 3 to version 4.
const V4: &[&str] = &["ALTER TABLE stream ADD COLUMN written_at INTEGER"];

/// Statements that bring version 4 to version 5.
const V5: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS watchers (subscription TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS registry_streams (id TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS watches (
        subscription TEXT PRIMARY KEY,
        pattern TEXT,
        streams TEXT NOT NULL
    )",
];

/// Migrations by target version: `MIGRATIONS[v - 1]` brings version `v - 1` to `v`.
const MIGRATIONS: &[&[&str]] = &[V1, V2, V3, V4, V5];

/// Creates or upgrades the schema. Idempotent and cheap when already current.
pub fn ensure(sql: &impl Sql) -> Result<(), StorageError> {
    let current = current_version(sql)?;
    if current >= SCHEMA_VERSION {
        return Ok(());
    }
    sql.transaction(&mut || {
        for step in MIGRATIONS.iter().skip(usize::try_from(current).unwrap_or(0)) {
            for stmt in *step {
                sql.execute(stmt, &[])?;
            }
        }
        sql.execute(
            "INSERT INTO object_state (key, value) VALUES ('schema_version', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[SCHEMA_VERSION.into()],
        )
    })
}

fn current_version(sql: &impl Sql) -> Result<i64, StorageError> {
    let has_table = sql
        .query_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'object_state'", &[])?
        .unwrap_or(0);
    if has_table == 0 {
        return Ok(0);
    }
    Ok(sql.query_int("SELECT value FROM object_state WHERE key = 'schema_version'", &[])?.unwrap_or(0))
}

/// Allocates the next incarnation number for this object.
pub fn next_incarnation(sql: &impl Sql) -> Result<u64, StorageError> {
    sql.execute(
        "INSERT INTO object_state (key, value) VALUES ('incarnations', 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1",
        &[],
    )?;
    let n = sql.query_int("SELECT value FROM object_state WHERE key = 'incarnations'", &[])?;
    Ok(n.unwrap_or(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::super::sql::native::NativeSql;
    use super::*;

    #[test]
    fn ensure_is_idempotent() {
        let db = NativeSql::new();
        ensure(&db).unwrap();
        ensure(&db).unwrap();
        assert_eq!(current_version(&db).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_version_1_database_is_upgraded_in_place() {
        let db = NativeSql::new();
        for stmt in V1 {
            db.execute(stmt, &[]).unwrap();
        }
        db.execute("INSERT INTO object_state (key, value) VALUES ('schema_version', 1)", &[]).unwrap();
        db.execute(
            "INSERT INTO stream (singleton, stream_id, incarnation, content_type, created_at, tail, touched_at)
             VALUES (1, 's', 1, 'text/plain', 0, 5, 0)",
            &[],
        )
        .unwrap();
        ensure(&db).unwrap();
        assert_eq!(current_version(&db).unwrap(), SCHEMA_VERSION);
        let m = super::super::meta::load(&db).unwrap().unwrap();
        assert_eq!((m.tail, m.tiering.segments, m.tiering.cold_end), (5, 0, None));
        assert_eq!((m.public, m.reader_key), (false, None));
        assert_eq!(db.query_int("SELECT count(*) FROM segments", &[]).unwrap(), Some(0));
    }

    #[test]
    fn incarnations_count_up() {
        let db = NativeSql::new();
        ensure(&db).unwrap();
        assert_eq!(next_incarnation(&db).unwrap(), 1);
        assert_eq!(next_incarnation(&db).unwrap(), 2);
    }
}
