//! A stream's metadata: the single row of the `stream` table.

use super::sql::{Columns, Sql, SqlExt, StorageError, Value};
use crate::protocol::content_type;
use crate::protocol::expiry::Expiry;
use crate::protocol::producer::Producer;

/// Where a fork comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkOrigin {
    /// The source stream's id.
    pub source: String,
    /// The fork point: positions below it are read from the source.
    pub offset: u64,
    /// The sub-offset the fork was created with (0 when absent).
    pub sub_offset: u64,
    /// The source's incarnation when the fork was made.
    pub source_incarnation: u64,
}

/// The producer tuple that closed a stream, so its retries are recognised (§5.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedBy {
    /// `Producer-Id`.
    pub id: String,
    /// `Producer-Epoch`.
    pub epoch: u64,
    /// `Producer-Seq`.
    pub seq: u64,
}

impl ClosedBy {
    /// Whether `p` is the same tuple.
    pub fn is(&self, p: &Producer) -> bool {
        self.id == p.id && self.epoch == p.epoch && self.seq == p.seq
    }
}

/// The split between the hot log (SQLite) and cold segments (R2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tiering {
    /// Messages (JSON) or records (other types) in the hot log.
    pub hot_messages: u64,
    /// Bytes in the hot log.
    pub hot_bytes: u64,
    /// Cold segments of this stream.
    pub segments: u64,
    /// Where the cold range ends and the hot log begins, once there are segments.
    pub cold_end: Option<u64>,
    /// For forks: the source's segment count at the fork point, so the fork's offsets
    /// continue the source's.
    pub read_seq_base: u64,
}

/// One stream incarnation's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The stream id (the decoded path after `/v1/stream/`).
    pub stream_id: String,
    /// Distinguishes streams created at the same path over time (for ETags and forks).
    pub incarnation: u64,
    /// The content type, as given at creation.
    pub content_type: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// The position after the last stored byte.
    pub tail: u64,
    /// Whether the stream is closed.
    pub closed: bool,
    /// The producer tuple that closed it, if a producer did.
    pub closed_by: Option<ClosedBy>,
    /// The last accepted `Stream-Seq`.
    pub last_stream_seq: Option<String>,
    /// How the stream expires.
    pub expiry: Expiry,
    /// Whether the expiry was inherited from a fork source (not requested).
    pub expiry_inherited: bool,
    /// The last read or write (ms), for sliding TTLs.
    pub touched_at: i64,
    /// Set for forks.
    pub fork: Option<ForkOrigin>,
    /// Live forks that read from this stream.
    pub fork_count: u64,
    /// Deleted, but retained for its forks.
    pub deleted: bool,
    /// Hot and cold storage.
    pub tiering: Tiering,
    /// Readable without credentials (`?public=true` at creation).
    pub public: bool,
    /// The reader key of a protected stream, if it has one: only reads that name it
    /// (`rk`) are answered as shareable by caches.
    pub reader_key: Option<String>,
}

impl Meta {
    /// Whether the stream is in JSON mode.
    pub fn is_json(&self) -> bool {
        content_type::is_json(&self.content_type)
    }

    /// The first position stored in this stream's own log.
    pub fn own_start(&self) -> u64 {
        self.fork.as_ref().map_or(0, |f| f.offset)
    }

    /// The first position in the hot log (SQLite); below it, cold segments hold the data.
    pub fn hot_start(&self) -> u64 {
        self.tiering.cold_end.unwrap_or_else(|| self.own_start())
    }

    /// When the stream expires, if it does.
    pub fn deadline(&self) -> Option<i64> {
        self.expiry.deadline(self.touched_at)
    }

    /// Whether the stream has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.deadline().is_some_and(|d| now_ms >= d)
    }
}

/// The `stream` table's columns, as loaded and inserted (the `singleton` key aside).
const STREAM: Columns = Columns::new(
    "stream",
    &[
        "stream_id",
        "incarnation",
        "content_type",
        "created_at",
        "tail",
        "closed",
        "closed_by_producer",
        "closed_by_epoch",
        "closed_by_seq",
        "last_stream_seq",
        "ttl_seconds",
        "expires_at",
        "expiry_inherited",
        "touched_at",
        "fork_source",
        "fork_offset",
        "fork_sub_offset",
        "fork_source_incarnation",
        "fork_count",
        "deleted",
        "hot_messages",
        "hot_bytes",
        "segments",
        "cold_end",
        "read_seq_base",
        "public",
        "reader_key",
    ],
);

/// Loads the stream row, if there is one.
pub fn load(sql: &impl Sql) -> Result<Option<Meta>, StorageError> {
    let row = sql.query_row(&format!("SELECT {} FROM stream WHERE singleton = 1", STREAM.list()), &[])?;
    row.map(|mut values| decode(&mut values)).transpose()
}

/// The metadata in a row of [`STREAM`] values.
fn decode(values: &mut [Value]) -> Result<Meta, StorageError> {
    let r = STREAM.read(values)?;
    let closed_by = match r.get("closed_by_producer")?.opt_text() {
        Some(id) => Some(ClosedBy {
            id,
            epoch: r.get("closed_by_epoch")?.uint(),
            seq: r.get("closed_by_seq")?.uint(),
        }),
        None => None,
    };
    let fork = match r.get("fork_source")?.opt_text() {
        Some(source) => Some(ForkOrigin {
            source,
            offset: r.get("fork_offset")?.uint(),
            sub_offset: r.get("fork_sub_offset")?.uint(),
            source_incarnation: r.get("fork_source_incarnation")?.uint(),
        }),
        None => None,
    };
    Ok(Meta {
        stream_id: r.get("stream_id")?.text(),
        incarnation: r.get("incarnation")?.uint(),
        content_type: r.get("content_type")?.text(),
        created_at: r.get("created_at")?.int(),
        tail: r.get("tail")?.uint(),
        closed: r.get("closed")?.flag(),
        closed_by,
        last_stream_seq: r.get("last_stream_seq")?.opt_text(),
        expiry: Expiry::from_parts(r.get("ttl_seconds")?.opt_uint(), r.get("expires_at")?.opt_int()),
        expiry_inherited: r.get("expiry_inherited")?.flag(),
        touched_at: r.get("touched_at")?.int(),
        fork,
        fork_count: r.get("fork_count")?.uint(),
        deleted: r.get("deleted")?.flag(),
        tiering: Tiering {
            hot_messages: r.get("hot_messages")?.uint(),
            hot_bytes: r.get("hot_bytes")?.uint(),
            segments: r.get("segments")?.uint(),
            cold_end: r.get("cold_end")?.opt_uint(),
            read_seq_base: r.get("read_seq_base")?.uint(),
        },
        public: r.get("public")?.flag(),
        reader_key: r.get("reader_key")?.opt_text(),
    })
}

/// Inserts the stream row (there must be none).
pub fn insert(sql: &impl Sql, m: &Meta) -> Result<(), StorageError> {
    let (ttl_seconds, expires_at) = m.expiry.parts();
    let cb = m.closed_by.as_ref();
    let fork = m.fork.as_ref();
    let values = STREAM.bind([
        ("stream_id", m.stream_id.as_str().into()),
        ("incarnation", m.incarnation.into()),
        ("content_type", m.content_type.as_str().into()),
        ("created_at", m.created_at.into()),
        ("tail", m.tail.into()),
        ("closed", m.closed.into()),
        ("closed_by_producer", cb.map(|c| c.id.clone()).into()),
        ("closed_by_epoch", cb.map(|c| c.epoch).into()),
        ("closed_by_seq", cb.map(|c| c.seq).into()),
        ("last_stream_seq", m.last_stream_seq.clone().into()),
        ("ttl_seconds", ttl_seconds.into()),
        ("expires_at", expires_at.into()),
        ("expiry_inherited", m.expiry_inherited.into()),
        ("touched_at", m.touched_at.into()),
        ("fork_source", fork.map(|f| f.source.clone()).into()),
        ("fork_offset", fork.map(|f| f.offset).into()),
        ("fork_sub_offset", fork.map(|f| f.sub_offset).into()),
        ("fork_source_incarnation", fork.map(|f| f.source_incarnation).into()),
        ("fork_count", m.fork_count.into()),
        ("deleted", m.deleted.into()),
        ("hot_messages", m.tiering.hot_messages.into()),
        ("hot_bytes", m.tiering.hot_bytes.into()),
        ("segments", m.tiering.segments.into()),
        ("cold_end", m.tiering.cold_end.into()),
        ("read_seq_base", m.tiering.read_seq_base.into()),
        ("public", m.public.into()),
        ("reader_key", m.reader_key.clone().into()),
    ])?;
    sql.execute(
        &format!("INSERT INTO stream (singleton, {}) VALUES (1, {})", STREAM.list(), STREAM.placeholders()),
        &values,
    )
}

/// Replaces the reader key.
pub fn set_reader_key(sql: &impl Sql, key: &str) -> Result<(), StorageError> {
    sql.execute("UPDATE stream SET reader_key = ? WHERE singleton = 1", &[key.into()])
}

/// Records a write of `messages` messages (`bytes` stored bytes) at `now_ms`: the new
/// tail, and optionally the sequence and closure. (Activity for a sliding TTL is
/// recorded by [`touch`].)
pub fn record_write(
    sql: &impl Sql,
    now_ms: i64,
    tail: u64,
    (messages, bytes): (u64, u64),
    stream_seq: Option<&str>,
    closed_by: Option<Option<&ClosedBy>>,
) -> Result<(), StorageError> {
    sql.execute(
        "UPDATE stream SET tail = ?, last_stream_seq = COALESCE(?, last_stream_seq),
            hot_messages = hot_messages + ?, hot_bytes = hot_bytes + ?, written_at = ?
         WHERE singleton = 1",
        &[tail.into(), stream_seq.into(), messages.into(), bytes.into(), now_ms.into()],
    )?;
    if let Some(by) = closed_by {
        sql.execute(
            "UPDATE stream SET closed = 1, closed_by_producer = ?, closed_by_epoch = ?,
                closed_by_seq = ? WHERE singleton = 1",
            &[by.map(|b| b.id.clone()).into(), by.map(|b| b.epoch).into(), by.map(|b| b.seq).into()],
        )?;
    }
    Ok(())
}

/// When the stream was last written to (ms), if it has been since it was created.
pub fn written_at(sql: &impl Sql) -> Result<Option<i64>, StorageError> {
    sql.query_int("SELECT written_at FROM stream WHERE singleton = 1", &[])
}

/// Pushes back a sliding TTL.
pub fn touch(sql: &impl Sql, now_ms: i64) -> Result<(), StorageError> {
    sql.execute("UPDATE stream SET touched_at = ? WHERE singleton = 1", &[now_ms.into()])
}

/// Adds `delta` to the live-fork count.
pub fn adjust_fork_count(sql: &impl Sql, delta: i64) -> Result<(), StorageError> {
    sql.execute("UPDATE stream SET fork_count = max(fork_count + ?, 0) WHERE singleton = 1", &[delta.into()])
}

/// Marks the stream deleted but retained for its forks.
pub fn soft_delete(sql: &impl Sql) -> Result<(), StorageError> {
    sql.execute("UPDATE stream SET deleted = 1 WHERE singleton = 1", &[])
}

#[cfg(test)]
mod tests {
    use super::super::{schema, sql::native::NativeSql};
    use super::*;

    #[test]
    fn every_field_survives_insert_and_load() {
        let db = NativeSql::new();
        schema::ensure(&db).unwrap();
        // Distinct values, so a column read into the wrong field shows.
        let m = Meta {
            stream_id: "a/b".into(),
            incarnation: 2,
            content_type: "application/json".into(),
            created_at: 3,
            tail: 4,
            closed: true,
            closed_by: Some(ClosedBy { id: "p".into(), epoch: 5, seq: 6 }),
            last_stream_seq: Some("7".into()),
            expiry: Expiry::At(8),
            expiry_inherited: true,
            touched_at: 9,
            fork: Some(ForkOrigin {
                source: "src".into(),
                offset: 10,
                sub_offset: 11,
                source_incarnation: 12,
            }),
            fork_count: 13,
            deleted: true,
            tiering: Tiering {
                hot_messages: 14,
                hot_bytes: 15,
                segments: 16,
                cold_end: Some(17),
                read_seq_base: 18,
            },
            public: true,
            reader_key: Some("rk".into()),
        };
        insert(&db, &m).unwrap();
        assert_eq!(load(&db).unwrap(), Some(m.clone()));
        db.execute("DELETE FROM stream", &[]).unwrap();
        let bare = Meta { closed_by: None, expiry: Expiry::Ttl(19), fork: None, reader_key: None, ..m };
        insert(&db, &bare).unwrap();
        assert_eq!(load(&db).unwrap(), Some(bare));
    }

    #[test]
    fn a_short_row_is_an_error() {
        assert!(decode(&mut [Value::Text("s".into()), Value::Integer(1)]).is_err());
    }
}
