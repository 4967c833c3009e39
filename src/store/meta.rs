//! A stream's metadata: the single row of the `stream` table.

use super::sql::{Sql, SqlExt, StorageError, Value};
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

const COLUMNS: &str = "stream_id, incarnation, content_type, created_at, tail, closed,
    closed_by_producer, closed_by_epoch, closed_by_seq, last_stream_seq, ttl_seconds,
    expires_at, expiry_inherited, touched_at, fork_source, fork_offset, fork_sub_offset,
    fork_source_incarnation, fork_count, deleted, hot_messages, hot_bytes, segments, cold_end,
    read_seq_base, public, reader_key";

/// Loads the stream row, if there is one.
pub fn load(sql: &impl Sql) -> Result<Option<Meta>, StorageError> {
    let row = sql.query_row(&format!("SELECT {COLUMNS} FROM stream WHERE singleton = 1"), &[])?;
    Ok(row.map(|r| from_row(&r)))
}

fn from_row(r: &[Value]) -> Meta {
    let u = |i: usize| r[i].int().max(0) as u64;
    let expiry = match (r[10].opt_int(), r[11].opt_int()) {
        (Some(ttl), _) => Expiry::Ttl(ttl.max(0) as u64),
        (None, Some(at)) => Expiry::At(at),
        (None, None) => Expiry::None,
    };
    let closed_by = r[6].opt_text().map(|id| ClosedBy { id, epoch: u(7), seq: u(8) });
    let fork = r[14].opt_text().map(|source| ForkOrigin {
        source,
        offset: u(15),
        sub_offset: u(16),
        source_incarnation: u(17),
    });
    Meta {
        stream_id: r[0].text(),
        incarnation: u(1),
        content_type: r[2].text(),
        created_at: r[3].int(),
        tail: u(4),
        closed: r[5].int() != 0,
        closed_by,
        last_stream_seq: r[9].opt_text(),
        expiry,
        expiry_inherited: r[12].int() != 0,
        touched_at: r[13].int(),
        fork,
        fork_count: u(18),
        deleted: r[19].int() != 0,
        tiering: Tiering {
            hot_messages: u(20),
            hot_bytes: u(21),
            segments: u(22),
            cold_end: r[23].opt_int().map(|v| v.max(0) as u64),
            read_seq_base: u(24),
        },
        public: r[25].int() != 0,
        reader_key: r[26].opt_text(),
    }
}

/// Inserts the stream row (there must be none).
pub fn insert(sql: &impl Sql, m: &Meta) -> Result<(), StorageError> {
    let (ttl, at) = match m.expiry {
        Expiry::None => (None, None),
        Expiry::Ttl(s) => (Some(s), None),
        Expiry::At(a) => (None, Some(a)),
    };
    let cb = m.closed_by.as_ref();
    let fork = m.fork.as_ref();
    sql.execute(
        &format!(
            "INSERT INTO stream (singleton, {COLUMNS})
             VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        &[
            m.stream_id.as_str().into(),
            m.incarnation.into(),
            m.content_type.as_str().into(),
            m.created_at.into(),
            m.tail.into(),
            m.closed.into(),
            cb.map(|c| c.id.clone()).into(),
            cb.map(|c| c.epoch).into(),
            cb.map(|c| c.seq).into(),
            m.last_stream_seq.clone().into(),
            ttl.into(),
            at.into(),
            m.expiry_inherited.into(),
            m.touched_at.into(),
            fork.map(|f| f.source.clone()).into(),
            fork.map(|f| f.offset).into(),
            fork.map(|f| f.sub_offset).into(),
            fork.map(|f| f.source_incarnation).into(),
            m.fork_count.into(),
            m.deleted.into(),
            m.tiering.hot_messages.into(),
            m.tiering.hot_bytes.into(),
            m.tiering.segments.into(),
            m.tiering.cold_end.into(),
            m.tiering.read_seq_base.into(),
            m.public.into(),
            m.reader_key.clone().into(),
        ],
    )
}

/// Replaces the reader key.
pub fn set_reader_key(sql: &impl Sql, key: &str) -> Result<(), StorageError> {
    sql.execute("UPDATE stream SET reader_key = ? WHERE singleton = 1", &[key.into()])
}

/// Records a write of `messages` messages (`bytes` stored bytes): the new tail, and
/// optionally the sequence and closure. (Activity for a sliding TTL is recorded by
/// [`touch`].)
pub fn record_write(
    sql: &impl Sql,
    tail: u64,
    (messages, bytes): (u64, u64),
    stream_seq: Option<&str>,
    closed_by: Option<Option<&ClosedBy>>,
) -> Result<(), StorageError> {
    sql.execute(
        "UPDATE stream SET tail = ?, last_stream_seq = COALESCE(?, last_stream_seq),
            hot_messages = hot_messages + ?, hot_bytes = hot_bytes + ? WHERE singleton = 1",
        &[tail.into(), stream_seq.into(), messages.into(), bytes.into()],
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
