//! Reading ranges and records out of stored rows, wherever the rows come from: the hot
//! log in SQLite, or cold segments in R2. Rows are fed in position order; the readers
//! keep the rules of where a read may start, stop and be cut.

use serde::{Deserialize, Serialize};

use crate::protocol::ErrorCode;
use crate::protocol::{json, ProtocolError};

/// The flag of the first row of a record (an append).
pub const RECORD_START: i64 = 1;
/// The flag of a row that continues a JSON message begun in the previous row.
pub const CONTINUES_MESSAGE: i64 = 2;

/// One stored row: a run of log bytes and what its first byte is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The global position of the first byte.
    pub start: u64,
    /// The bytes, in stored form.
    pub body: Vec<u8>,
    /// [`RECORD_START`] and/or [`CONTINUES_MESSAGE`].
    pub flags: i64,
}

impl Row {
    /// The position after the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.body.len() as u64
    }
}

/// A read of stored bytes: from `from` towards `until`, at most `cap` bytes. JSON reads
/// end on a message boundary; with `must_progress` they return at least one whole
/// message even if it is larger than `cap`. Two reads of one stream incarnation with the
/// same span get the same bytes, so a span is what identical reads share (see
/// `stream_do::coalesce`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// The first position.
    pub from: u64,
    /// Where the read ends at the latest.
    pub until: u64,
    /// The most bytes returned.
    pub cap: usize,
    /// Return at least one JSON message even beyond the cap.
    pub must_progress: bool,
}

impl Span {
    /// A client's page: from `from` to `until`, at most `cap` bytes but at least one
    /// message.
    pub fn page(from: u64, until: u64, cap: usize) -> Self {
        Self { from, until, cap, must_progress: true }
    }

    /// No bytes at all: only checks that a JSON read may start at `at`.
    pub fn boundary(at: u64, until: u64) -> Self {
        Self { from: at, until, cap: 0, must_progress: false }
    }

    /// The same read, ending at `end` at the latest (a stream's tail).
    pub fn ending_by(self, end: u64) -> Self {
        Self { until: self.until.min(end), ..self }
    }
}

/// Bytes read from the log and the position after them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    /// Stored bytes (for JSON streams, `value,` runs).
    pub bytes: Vec<u8>,
    /// The position after the last byte.
    pub end: u64,
}

fn gap() -> ProtocolError {
    ProtocolError::internal("the stored log has a gap")
}

/// How far into the first row a read starting at `from` begins, checking that a JSON read
/// starts on a message boundary.
fn first_skip(row: &Row, from: u64, json_mode: bool) -> Result<usize, ProtocolError> {
    if row.start > from {
        return Err(gap());
    }
    let skip = (from - row.start) as usize;
    if json_mode {
        let at_boundary = row.flags & CONTINUES_MESSAGE == 0
            && (skip == 0 || json::message_ends(&row.body).contains(&skip));
        if !at_boundary {
            return Err(ProtocolError::new(ErrorCode::InvalidOffset, "offset is not at a message boundary"));
        }
    }
    Ok(skip.min(row.body.len()))
}

/// The bytes of `row` after the first `skip`, up to `until`. A row that does not reach
/// past `skip` before `until` means the log does not hold what its positions say.
fn visible_part(row: &Row, skip: usize, until: u64) -> Result<&[u8], ProtocolError> {
    let visible = usize::try_from(until.saturating_sub(row.start)).unwrap_or(usize::MAX).min(row.body.len());
    row.body.get(skip..visible).ok_or_else(gap)
}

/// Something that takes stored rows in position order: a range read or a record lookup.
pub trait RowReader {
    /// The position reached.
    fn position(&self) -> u64;
    /// Where it must end at the latest.
    fn until(&self) -> u64;
    /// Whether another row is wanted.
    fn wants_more(&self) -> bool;
    /// Takes the next row: the first must contain the start, each later one must start
    /// where the previous ended. Returns whether another row is wanted.
    fn feed(&mut self, row: &Row) -> Result<bool, ProtocolError>;
}

/// A read of a [`Span`].
pub struct RangeRead {
    until: u64,
    cap: usize,
    json_mode: bool,
    must_progress: bool,
    out: Vec<u8>,
    pos: u64,
    started: bool,
    stopped: bool,
}

impl RangeRead {
    /// A read that has not seen any row yet.
    pub fn new(span: Span, json_mode: bool) -> Self {
        Self {
            until: span.until,
            cap: span.cap,
            json_mode,
            must_progress: span.must_progress,
            out: Vec::new(),
            pos: span.from,
            started: false,
            stopped: span.from >= span.until,
        }
    }

    /// The bytes read and where they end.
    pub fn finish(self) -> Chunk {
        Chunk { bytes: self.out, end: self.pos }
    }
}

impl RowReader for RangeRead {
    fn position(&self) -> u64 {
        self.pos
    }

    fn until(&self) -> u64 {
        self.until
    }

    fn wants_more(&self) -> bool {
        !self.stopped && self.pos < self.until
    }

    fn feed(&mut self, row: &Row) -> Result<bool, ProtocolError> {
        if !self.wants_more() {
            return Ok(false);
        }
        let skip = if self.started { 0 } else { first_skip(row, self.pos, self.json_mode)? };
        if row.start + skip as u64 != self.pos {
            return Err(gap());
        }
        // A row continuing a message already begun is taken whatever the cap.
        let continuation = self.started && self.json_mode && row.flags & CONTINUES_MESSAGE != 0;
        self.started = true;
        let room = self.cap.saturating_sub(self.out.len());
        if !continuation && room == 0 && !(self.out.is_empty() && self.must_progress) {
            self.stopped = true;
            return Ok(false);
        }
        let piece = visible_part(row, skip, self.until)?;
        let take = if !self.json_mode {
            piece.len().min(room)
        } else if continuation || piece.len() <= room {
            piece.len()
        } else {
            let ends = json::message_ends(piece);
            let fitting = ends.iter().copied().filter(|e| *e <= room).max().unwrap_or(0);
            if fitting == 0 && self.out.is_empty() && self.must_progress {
                // The first message alone is larger than the cap: send it whole.
                ends.first().copied().unwrap_or(piece.len())
            } else {
                fitting
            }
        };
        // `take` never exceeds the piece: the cap, or a message end found inside it.
        self.out.extend_from_slice(piece.get(..take).unwrap_or(piece));
        self.pos += take as u64;
        if take < piece.len() {
            self.stopped = true;
        }
        Ok(self.wants_more())
    }
}

/// The rest of the record containing `at`, up to `until`: what a sub-offset fork slices.
pub struct RecordRead {
    at: u64,
    until: u64,
    json_mode: bool,
    out: Vec<u8>,
    started: bool,
    stopped: bool,
}

impl RecordRead {
    /// A lookup that has not seen any row yet.
    pub fn new(at: u64, until: u64, json_mode: bool) -> Self {
        Self { at, until, json_mode, out: Vec::new(), started: false, stopped: at >= until }
    }

    /// The record's bytes, or `None` if there was no data at the position.
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then_some(self.out)
    }
}

impl RowReader for RecordRead {
    fn position(&self) -> u64 {
        self.at + self.out.len() as u64
    }

    fn until(&self) -> u64 {
        self.until
    }

    fn wants_more(&self) -> bool {
        !self.stopped && self.position() < self.until
    }

    fn feed(&mut self, row: &Row) -> Result<bool, ProtocolError> {
        if !self.wants_more() {
            return Ok(false);
        }
        let skip = if self.started {
            if row.flags & RECORD_START != 0 {
                self.stopped = true;
                return Ok(false);
            }
            0
        } else {
            first_skip(row, self.at, self.json_mode)?
        };
        if row.start + skip as u64 != self.position() {
            return Err(gap());
        }
        self.started = true;
        self.out.extend_from_slice(visible_part(row, skip, self.until)?);
        Ok(self.wants_more())
    }
}

/// How a record is cut into rows: `(offset in record, length, flags)` per row. In a JSON
/// stream a row holds whole messages, except that a message longer than a row is split
/// over rows that hold nothing else.
pub fn split_rows(bytes: &[u8], json_mode: bool, row_bytes: usize) -> Vec<(usize, usize, i64)> {
    let mut rows = Vec::new();
    if json_mode {
        let mut row_start = 0;
        let mut row_end = 0;
        let mut msg_start = 0;
        for msg_end in json::message_ends(bytes) {
            if msg_end - row_start > row_bytes {
                if row_end > row_start {
                    rows.push((row_start, row_end - row_start, 0));
                }
                row_start = msg_start;
                if msg_end - msg_start > row_bytes {
                    let mut at = msg_start;
                    while at < msg_end {
                        let len = row_bytes.min(msg_end - at);
                        let flags = if at == msg_start { 0 } else { CONTINUES_MESSAGE };
                        rows.push((at, len, flags));
                        at += len;
                    }
                    row_start = msg_end;
                }
            }
            row_end = msg_end;
            msg_start = msg_end;
        }
        if row_end > row_start {
            rows.push((row_start, row_end - row_start, 0));
        }
    } else {
        let mut at = 0;
        while at < bytes.len() {
            let len = row_bytes.min(bytes.len() - at);
            rows.push((at, len, 0));
            at += len;
        }
    }
    if let Some(first) = rows.first_mut() {
        first.2 |= RECORD_START;
    }
    rows
}
