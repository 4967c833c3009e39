//! The hot log: a stream's bytes in stored form, as rows of the `log` table.
//!
//! Each append (a *record*) is stored as one or more rows. Rows are at most
//! [`ROW_BYTES`] long, because a Durable Object's SQLite caps a row at 2 MB. In a JSON
//! stream a row holds whole `value,` messages, except that a message longer than a row
//! is split across rows that hold nothing else; the rows after its first are flagged
//! [`CONTINUES_MESSAGE`], so a read never ends inside a message.

use super::sql::{Sql, StorageError, Value};
use crate::protocol::{json, ProtocolError};

/// The largest row body.
pub const ROW_BYTES: usize = 1 << 20;

/// Flag: the row is the first of a record (an append).
pub const RECORD_START: i64 = 1;
/// Flag: the row continues a JSON message begun in the previous row.
pub const CONTINUES_MESSAGE: i64 = 2;

/// Bytes read from the log and the position after them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    /// Stored bytes (for JSON streams, `value,` runs).
    pub bytes: Vec<u8>,
    /// The position after the last byte.
    pub end: u64,
}

/// How a record is cut into rows: `(offset in record, length, flags)` per row.
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

/// Stores one record at `start` and returns the position after it.
pub fn append_record(sql: &impl Sql, start: u64, bytes: &[u8], json_mode: bool) -> Result<u64, StorageError> {
    for (at, len, flags) in split_rows(bytes, json_mode, ROW_BYTES) {
        sql.execute(
            "INSERT INTO log (start, body, flags) VALUES (?, ?, ?)",
            &[(start + at as u64).into(), bytes[at..at + len].to_vec().into(), flags.into()],
        )?;
    }
    Ok(start + bytes.len() as u64)
}

/// One stored row.
struct Row {
    start: u64,
    body: Vec<u8>,
    flags: i64,
}

/// Visits rows from the one containing `from` up to (not including) `until`.
fn scan(
    sql: &impl Sql,
    from: u64,
    until: u64,
    visit: &mut dyn FnMut(Row) -> Result<bool, ProtocolError>,
) -> Result<(), ProtocolError> {
    let mut failure = None;
    sql.query(
        "SELECT start, body, flags FROM log
         WHERE start >= coalesce((SELECT max(start) FROM log WHERE start <= ?1), ?1)
           AND start < ?2
         ORDER BY start",
        &[from.into(), until.into()],
        &mut |r: &mut [Value]| {
            let row = Row { start: r[0].int().max(0) as u64, body: r[1].take_blob(), flags: r[2].int() };
            match visit(row) {
                Ok(more) => more,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        },
    )?;
    failure.map_or(Ok(()), Err)
}

fn invalid_json_offset() -> ProtocolError {
    ProtocolError::bad_request("INVALID_OFFSET", "offset is not at a message boundary")
}

/// Bytes of `row` from position `from`, checking that a JSON read starts on a message
/// boundary.
fn first_piece(row: &Row, from: u64, json_mode: bool) -> Result<usize, ProtocolError> {
    if row.start > from {
        return Err(ProtocolError::internal("the stored log has a gap"));
    }
    let skip = (from - row.start) as usize;
    if json_mode {
        let at_boundary = if row.flags & CONTINUES_MESSAGE != 0 {
            false
        } else {
            skip == 0 || json::message_ends(&row.body).contains(&skip)
        };
        if !at_boundary {
            return Err(invalid_json_offset());
        }
    }
    Ok(skip.min(row.body.len()))
}

/// Reads stored bytes from `from` towards `until`, at most `cap` bytes. JSON reads end on
/// a message boundary; when `must_progress`, they return at least one whole message even
/// if it is larger than `cap`.
pub fn read(
    sql: &impl Sql,
    from: u64,
    until: u64,
    cap: usize,
    json_mode: bool,
    must_progress: bool,
) -> Result<Chunk, ProtocolError> {
    let mut out = Vec::new();
    let mut pos = from;
    if from >= until {
        return Ok(Chunk { bytes: out, end: from });
    }
    let mut first = true;
    scan(sql, from, until, &mut |row| {
        let skip = if first { first_piece(&row, from, json_mode)? } else { 0 };
        if row.start + skip as u64 != pos {
            return Err(ProtocolError::internal("the stored log has a gap"));
        }
        // A row continuing a message we already started must be taken whatever the cap.
        let continuation = !first && json_mode && row.flags & CONTINUES_MESSAGE != 0;
        first = false;
        let room = cap.saturating_sub(out.len());
        if !continuation && room == 0 && !(out.is_empty() && must_progress) {
            return Ok(false);
        }
        let visible = row.body.len().min((until - row.start) as usize);
        let piece = &row.body[skip..visible];
        let take = if !json_mode {
            piece.len().min(room)
        } else if continuation || piece.len() <= room {
            piece.len()
        } else {
            let ends = json::message_ends(piece);
            let fitting = ends.iter().copied().filter(|e| *e <= room).max().unwrap_or(0);
            if fitting == 0 && out.is_empty() && must_progress {
                // The first message alone is larger than the cap: send it whole.
                ends.first().copied().unwrap_or(piece.len())
            } else {
                fitting
            }
        };
        out.extend_from_slice(&piece[..take]);
        pos += take as u64;
        Ok(pos < until && take == piece.len())
    })?;
    Ok(Chunk { bytes: out, end: pos })
}

/// The rest of the record that contains `at`, up to `until`: the bytes a sub-offset
/// fork slices (§4.2). `None` when there is no data at `at`.
pub fn record_at(
    sql: &impl Sql,
    at: u64,
    until: u64,
    json_mode: bool,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    if at >= until {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut first = true;
    scan(sql, at, until, &mut |row| {
        let skip = if first {
            first_piece(&row, at, json_mode)?
        } else if row.flags & RECORD_START != 0 {
            return Ok(false);
        } else {
            0
        };
        first = false;
        let visible = row.body.len().min((until - row.start) as usize);
        out.extend_from_slice(&row.body[skip..visible]);
        Ok(true)
    })?;
    Ok((!out.is_empty()).then_some(out))
}

/// Checks that `at` is a position a JSON read may start from.
pub fn check_boundary(sql: &impl Sql, at: u64, until: u64) -> Result<(), ProtocolError> {
    read(sql, at, until, 0, true, false).map(|_| ())
}

/// Removes every row.
pub fn clear(sql: &impl Sql) -> Result<(), StorageError> {
    sql.execute("DELETE FROM log", &[])
}

#[cfg(test)]
mod tests {
    use super::super::{schema, sql::native::NativeSql};
    use super::*;
    use proptest::prelude::*;

    fn db() -> NativeSql {
        let db = NativeSql::new();
        schema::ensure(&db).unwrap();
        db
    }

    #[test]
    fn binary_records_split_into_row_sized_pieces() {
        assert_eq!(split_rows(b"abcdefg", false, 3), vec![(0, 3, 1), (3, 3, 0), (6, 1, 0)]);
        assert!(split_rows(b"", false, 3).is_empty());
    }

    #[test]
    fn json_rows_hold_whole_messages_and_split_only_oversized_ones() {
        // Messages: "1," (2) "22," (3) "4444444," (8) "5," (2)
        let wire = b"1,22,4444444,5,";
        assert_eq!(
            split_rows(wire, true, 5),
            vec![(0, 5, 1), (5, 5, 0), (10, 3, CONTINUES_MESSAGE), (13, 2, 0)]
        );
    }

    #[test]
    fn binary_reads_are_byte_exact_and_capped() {
        let db = db();
        let t = append_record(&db, 0, b"hello", false).unwrap();
        let t = append_record(&db, t, b" world", false).unwrap();
        assert_eq!(
            read(&db, 0, t, 100, false, true).unwrap(),
            Chunk { bytes: b"hello world".to_vec(), end: 11 }
        );
        assert_eq!(read(&db, 3, t, 4, false, true).unwrap(), Chunk { bytes: b"lo w".to_vec(), end: 7 });
        assert_eq!(read(&db, 11, t, 4, false, true).unwrap(), Chunk { bytes: vec![], end: 11 });
        assert_eq!(read(&db, 2, 4, 100, false, true).unwrap(), Chunk { bytes: b"ll".to_vec(), end: 4 });
    }

    #[test]
    fn json_reads_end_on_message_boundaries() {
        let db = db();
        let t = append_record(&db, 0, b"1,22,333,", true).unwrap();
        assert_eq!(read(&db, 0, t, 6, true, true).unwrap().bytes, b"1,22,");
        assert_eq!(read(&db, 0, t, 1, true, true).unwrap().bytes, b"1,");
        assert_eq!(read(&db, 0, t, 1, true, false).unwrap().bytes, b"");
        assert_eq!(read(&db, 2, t, 100, true, true).unwrap().bytes, b"22,333,");
        assert!(read(&db, 1, t, 100, true, true).is_err());
        assert!(check_boundary(&db, 3, t).is_err());
        assert!(check_boundary(&db, 5, t).is_ok());
    }

    #[test]
    fn records_are_found_from_any_position_inside_them() {
        let db = db();
        let t = append_record(&db, 0, b"first", false).unwrap();
        let t2 = append_record(&db, t, b"second", false).unwrap();
        assert_eq!(record_at(&db, 5, t2, false).unwrap().unwrap(), b"second");
        assert_eq!(record_at(&db, 2, t2, false).unwrap().unwrap(), b"rst");
        assert_eq!(record_at(&db, 5, 8, false).unwrap().unwrap(), b"sec");
        assert_eq!(record_at(&db, t2, t2, false).unwrap(), None);
    }

    fn chunked_read(db: &NativeSql, tail: u64, cap: usize, json_mode: bool) -> Vec<u8> {
        let mut all = Vec::new();
        let mut pos = 0;
        while pos < tail {
            let c = read(db, pos, tail, cap, json_mode, true).unwrap();
            assert!(c.end > pos, "a read must progress");
            all.extend_from_slice(&c.bytes);
            pos = c.end;
        }
        all
    }

    proptest! {
        #[test]
        fn any_chunking_reassembles_the_log(records in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 1..8), cap in 1usize..50) {
            let db = db();
            let mut tail = 0;
            let mut expected = Vec::new();
            for r in &records {
                tail = append_record(&db, tail, r, false).unwrap();
                expected.extend_from_slice(r);
            }
            prop_assert_eq!(chunked_read(&db, tail, cap, false), expected);
        }

        #[test]
        fn json_chunking_never_splits_a_message(msgs in prop::collection::vec("[a-z]{0,12}", 1..12), cap in 1usize..30) {
            let db = db();
            let body = serde_json::to_vec(&msgs).unwrap();
            let (wire, _) = json::encode_body(&body, false).unwrap();
            let tail = append_record(&db, 0, &wire, true).unwrap();
            let all = chunked_read(&db, tail, cap, true);
            prop_assert_eq!(&all, &wire);
            let mut pos = 0;
            while pos < tail {
                let c = read(&db, pos, tail, cap, true, true).unwrap();
                let back: Vec<String> = serde_json::from_slice(&json::to_array(&c.bytes)).unwrap();
                prop_assert!(!back.is_empty());
                pos = c.end;
            }
        }
    }
}
