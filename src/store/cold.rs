//! The cold tier's bookkeeping: which part of the log lives in segment objects, cutting
//! the hot log into a new segment, and offsets that count segments.
//!
//! Rotation is two-phase so it never blocks appends: [`Store::plan_rotation`] snapshots
//! the hot log and encodes it; the caller uploads the object; [`Store::commit_rotation`]
//! then indexes it and drops the rows it covers, in one transaction. Appends during the
//! upload land after the planned end and stay in the hot log. A plan that went stale (the
//! stream was deleted, or another rotation won) commits nothing.

use super::log;
use super::meta::{self, Meta};
use super::rows::Row;
use super::segment;
use super::sql::{Columns, NamedRow, Sql, SqlExt, StorageError, Value};
use super::Store;
use crate::protocol::{Offset, ProtocolError};

/// When the hot log is cut into a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentLimits {
    /// Messages (JSON) or records (other types) in the hot log.
    pub max_messages: u64,
    /// Bytes in the hot log.
    pub max_bytes: u64,
}

impl Default for SegmentLimits {
    fn default() -> Self {
        Self { max_messages: 1000, max_bytes: 4 << 20 }
    }
}

/// One indexed segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Its number, from 0.
    pub read_seq: u64,
    /// First position.
    pub start: u64,
    /// Position after the last byte.
    pub end: u64,
    /// The object's key.
    pub key: String,
}

/// The `segments` columns a [`SegmentInfo`] is read from.
const SEGMENTS: Columns = Columns::new("segments", &["read_seq", "start", "\"end\"", "object_key"]);

impl SegmentInfo {
    /// The entry in a row of [`SEGMENTS`] values.
    fn decode(values: &mut [Value]) -> Result<Self, StorageError> {
        Self::from_row(&SEGMENTS.read(values)?)
    }

    /// The entry in a row that has the [`SEGMENTS`] columns (and maybe others).
    fn from_row(r: &NamedRow<'_>) -> Result<Self, StorageError> {
        Ok(Self {
            read_seq: r.get("read_seq")?.uint(),
            start: r.get("start")?.uint(),
            end: r.get("end")?.uint(),
            key: r.get("object_key")?.text(),
        })
    }
}

/// A segment's whole index entry, as an admin sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentEntry {
    /// What reads use.
    pub info: SegmentInfo,
    /// The object's size in bytes.
    pub object_bytes: u64,
    /// Log rows it holds.
    pub rows: u64,
    /// When it was indexed (ms).
    pub created_at: i64,
}

/// The `segments` columns a [`SegmentEntry`] is read from.
const ENTRIES: Columns = Columns::new(
    "segments",
    &["read_seq", "start", "\"end\"", "object_key", "object_bytes", "rows", "created_at"],
);

/// The offsets of any positions of one stream, from one listing of its segments: what
/// [`Store::offset`] answers, without a query per position, so listing many segments or
/// producers costs one scan of the index rather than one per row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offsets {
    read_seq_base: u64,
    /// Where each segment ends, ascending.
    ends: Vec<u64>,
}

impl Offsets {
    /// The offsets of stream `m`, whose segments are `all` (every one of them, as
    /// [`Store::segment_entries`] lists them).
    pub fn new(m: &Meta, all: &[SegmentEntry]) -> Self {
        let mut ends: Vec<u64> = all.iter().map(|s| s.info.end).collect();
        ends.sort_unstable();
        Self { read_seq_base: m.tiering.read_seq_base, ends }
    }

    /// The offset of `pos`: the position, and how many segments end before it.
    pub fn of(&self, pos: u64) -> Offset {
        let before = self.ends.partition_point(|&end| end < pos) as u64;
        Offset::in_segment(self.read_seq_base + before, pos)
    }
}

/// A planned rotation: the encoded object and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The stream incarnation it belongs to.
    pub incarnation: u64,
    /// The new segment's number.
    pub read_seq: u64,
    /// First position.
    pub start: u64,
    /// Position after the last byte.
    pub end: u64,
    /// The object key.
    pub key: String,
    /// The encoded object.
    pub object: Vec<u8>,
    /// Its size in bytes.
    pub object_bytes: u64,
    /// Rows it holds.
    pub rows: u64,
    /// Hot-log messages it takes over.
    pub messages: u64,
}

impl<S: Sql> Store<S> {
    /// The offset of `pos` in stream `m`: the position, and how many of the stream's
    /// segments end before it.
    pub fn offset(&self, m: &Meta, pos: u64) -> Result<Offset, StorageError> {
        let t = &m.tiering;
        let before = match t.cold_end {
            None => 0,
            Some(cold_end) if pos > cold_end => t.segments,
            Some(_) => self
                .sql()
                .query_int("SELECT count(*) FROM segments WHERE \"end\" < ?", &[pos.into()])?
                .unwrap_or(0)
                .max(0) as u64,
        };
        Ok(Offset::in_segment(t.read_seq_base + before, pos))
    }

    /// Whether the hot log should be cut now.
    pub fn rotation_due(m: &Meta, limits: &SegmentLimits) -> bool {
        let t = &m.tiering;
        t.hot_bytes > 0
            && (t.hot_messages >= limits.max_messages || t.hot_bytes >= limits.max_bytes || m.closed)
    }

    /// Encodes the whole hot log as the next segment, if a cut is due.
    pub fn plan_rotation(&self, m: &Meta, limits: &SegmentLimits) -> Result<Option<Rotation>, ProtocolError> {
        if !Self::rotation_due(m, limits) {
            return Ok(None);
        }
        let (start, end) = (m.hot_start(), m.tail);
        let rows = log::rows(self.sql(), start, end)?;
        let contiguous = rows.first().map(|r| r.start) == Some(start)
            && rows.iter().zip(rows.iter().skip(1)).all(|(a, b)| a.end() == b.start)
            && rows.last().map(Row::end) == Some(end);
        if !contiguous {
            return Err(ProtocolError::internal("the hot log is not contiguous; rotation skipped"));
        }
        let plan = Rotation {
            incarnation: m.incarnation,
            read_seq: m.tiering.segments,
            start,
            end,
            key: segment::object_key(&m.stream_id, m.incarnation, m.tiering.segments),
            object_bytes: 0,
            object: segment::encode(start, &rows),
            rows: rows.len() as u64,
            messages: m.tiering.hot_messages,
        };
        Ok(Some(Rotation { object_bytes: plan.object.len() as u64, ..plan }))
    }

    /// Indexes an uploaded segment and drops the rows it covers. `false` if the plan went
    /// stale; the object is then not part of the stream.
    pub fn commit_rotation(&self, r: &Rotation, now_ms: i64) -> Result<bool, ProtocolError> {
        let sql = self.sql();
        sql.in_transaction(|| {
            let current = meta::load(sql)?;
            let fresh =
                current.as_ref().is_some_and(|m| m.incarnation == r.incarnation && m.hot_start() == r.start);
            if !fresh {
                return Ok(false);
            }
            sql.execute(
                "INSERT INTO segments (read_seq, start, \"end\", object_key, object_bytes, rows, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    r.read_seq.into(),
                    r.start.into(),
                    r.end.into(),
                    r.key.as_str().into(),
                    r.object_bytes.into(),
                    r.rows.into(),
                    now_ms.into(),
                ],
            )?;
            sql.execute("DELETE FROM log WHERE start >= ? AND start < ?", &[r.start.into(), r.end.into()])?;
            sql.execute(
                "UPDATE stream SET segments = segments + 1, cold_end = ?,
                    hot_messages = max(hot_messages - ?, 0), hot_bytes = max(hot_bytes - ?, 0)
                 WHERE singleton = 1",
                &[r.end.into(), r.messages.into(), (r.end - r.start).into()],
            )?;
            Ok(true)
        })
    }

    /// The segments holding any of `[from, until)`, in order.
    pub fn segments_between(&self, from: u64, until: u64) -> Result<Vec<SegmentInfo>, StorageError> {
        self.segments("WHERE \"end\" > ? AND start < ?", &[from.into(), until.into()])
    }

    /// Every segment's index entry, in order.
    pub fn segment_entries(&self) -> Result<Vec<SegmentEntry>, StorageError> {
        let mut out = Vec::new();
        self.sql().try_query(
            &format!("SELECT {} FROM segments ORDER BY read_seq", ENTRIES.list()),
            &[],
            |values| {
                let r = ENTRIES.read(values)?;
                out.push(SegmentEntry {
                    info: SegmentInfo::from_row(&r)?,
                    object_bytes: r.get("object_bytes")?.uint(),
                    rows: r.get("rows")?.uint(),
                    created_at: r.get("created_at")?.int(),
                });
                Ok::<_, StorageError>(true)
            },
        )?;
        Ok(out)
    }

    /// The keys of every segment object.
    pub(super) fn segment_keys(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.segments("", &[])?.into_iter().map(|s| s.key).collect())
    }

    /// The segments `filter` (a `WHERE` clause, or nothing) selects, in order.
    fn segments(&self, filter: &str, params: &[Value]) -> Result<Vec<SegmentInfo>, StorageError> {
        let mut out = Vec::new();
        self.sql().try_query(
            &format!("SELECT {} FROM segments {filter} ORDER BY read_seq", SEGMENTS.list()),
            params,
            |values| {
                out.push(SegmentInfo::decode(values)?);
                Ok::<_, StorageError>(true)
            },
        )?;
        Ok(out)
    }
}
