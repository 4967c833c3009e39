//! The hot log: a stream's bytes in stored form, as rows of the `log` table.
//!
//! Each append (a *record*) is stored as one or more rows. Rows are at most
//! [`ROW_BYTES`] long, because a Durable Object's SQLite caps a row at 2 MB. In a JSON
//! stream a row holds whole `value,` messages, except that a message longer than a row
//! is split across rows that hold nothing else; the rows after its first are flagged
//! [`CONTINUES_MESSAGE`], so a read never ends inside a message.

use super::rows::{split_rows, Row, RowReader};
use super::sql::{Columns, Sql, SqlExt, StorageError, Value};
use crate::protocol::ProtocolError;

/// The largest row body.
pub const ROW_BYTES: usize = 1 << 20;

/// The `log` columns a [`Row`] is read from.
const LOG: Columns = Columns::new("log", &["start", "body", "flags"]);

/// The row in a row of [`LOG`] values.
fn decode(values: &mut [Value]) -> Result<Row, StorageError> {
    let mut r = LOG.read(values)?;
    Ok(Row { start: r.get("start")?.uint(), flags: r.get("flags")?.int(), body: r.take("body")?.into_blob() })
}

/// Stores one record at `start` and returns the position after it.
pub fn append_record(sql: &impl Sql, start: u64, bytes: &[u8], json_mode: bool) -> Result<u64, StorageError> {
    for (at, len, flags) in split_rows(bytes, json_mode, ROW_BYTES) {
        let body = bytes.get(at..at + len).ok_or_else(|| StorageError("a row outside its record".into()))?;
        sql.execute(
            "INSERT INTO log (start, body, flags) VALUES (?, ?, ?)",
            &[(start + at as u64).into(), body.to_vec().into(), flags.into()],
        )?;
    }
    Ok(start + bytes.len() as u64)
}

/// Visits rows from the one containing `from` up to (not including) `until`.
fn scan(
    sql: &impl Sql,
    from: u64,
    until: u64,
    visit: &mut dyn FnMut(Row) -> Result<bool, ProtocolError>,
) -> Result<(), ProtocolError> {
    sql.try_query(
        &format!(
            "SELECT {} FROM log
             WHERE start >= coalesce((SELECT max(start) FROM log WHERE start <= ?1), ?1)
               AND start < ?2
             ORDER BY start",
            LOG.list()
        ),
        &[from.into(), until.into()],
        |values| visit(decode(values)?),
    )
}

/// The rows from the one containing `from` up to (not including) `until`, in order.
pub(super) fn rows(sql: &impl Sql, from: u64, until: u64) -> Result<Vec<Row>, ProtocolError> {
    let mut rows = Vec::new();
    scan(sql, from, until, &mut |row| {
        rows.push(row);
        Ok(true)
    })?;
    Ok(rows)
}

/// Feeds hot rows to a reader from where it stands.
pub(super) fn continue_reader(sql: &impl Sql, reader: &mut impl RowReader) -> Result<(), ProtocolError> {
    if reader.wants_more() {
        scan(sql, reader.position(), reader.until(), &mut |row| reader.feed(&row))?;
    }
    Ok(())
}

/// Removes every row.
pub fn clear(sql: &impl Sql) -> Result<(), StorageError> {
    sql.execute("DELETE FROM log", &[])
}

#[cfg(test)]
mod tests {
    use super::super::rows::{Chunk, RangeRead, RecordRead, Span, CONTINUES_MESSAGE, RECORD_START};
    use super::super::{schema, sql::native::NativeSql};
    use super::*;
    use crate::protocol::json;
    use proptest::prelude::*;

    fn db() -> NativeSql {
        let db = NativeSql::new();
        schema::ensure(&db).unwrap();
        db
    }

    fn read(
        db: &NativeSql,
        from: u64,
        until: u64,
        cap: usize,
        json_mode: bool,
        must_progress: bool,
    ) -> Result<Chunk, ProtocolError> {
        let mut reader = RangeRead::new(Span { from, until, cap, must_progress }, json_mode);
        continue_reader(db, &mut reader)?;
        Ok(reader.finish())
    }

    fn record_at(
        db: &NativeSql,
        at: u64,
        until: u64,
        json_mode: bool,
    ) -> Result<Option<Vec<u8>>, ProtocolError> {
        let mut reader = RecordRead::new(at, until, json_mode);
        continue_reader(db, &mut reader)?;
        Ok(reader.finish())
    }

    #[test]
    fn rows_decode_by_column_and_a_short_row_is_an_error() {
        let mut values = [Value::Integer(7), Value::Blob(b"ab".to_vec()), Value::Integer(RECORD_START)];
        assert_eq!(decode(&mut values).unwrap(), Row { start: 7, body: b"ab".to_vec(), flags: RECORD_START });
        assert!(decode(&mut [Value::Integer(7), Value::Blob(b"ab".to_vec())]).is_err());
    }

    #[test]
    fn rows_are_listed_from_the_one_containing_the_start() {
        let db = db();
        let t = append_record(&db, 0, b"abc", false).unwrap();
        let t = append_record(&db, t, b"de", false).unwrap();
        let starts: Vec<u64> = rows(&db, 1, t).unwrap().iter().map(|r| r.start).collect();
        assert_eq!(starts, vec![0, 3]);
        assert!(rows(&db, 3, 3).unwrap().is_empty());
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
        assert!(read(&db, 3, t, 0, true, false).is_err());
        assert!(read(&db, 5, t, 0, true, false).is_ok());
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
