//! Cold segments: immutable runs of a stream's log, stored as objects (R2).
//!
//! Layout, version 1 (integers big-endian):
//!
//! ```text
//! "DSSG" | version: u8 = 1 | 3 reserved bytes (0) | start: u64
//! frame*: length: u32 | flags: u8 | body: length - 1 bytes
//! ```
//!
//! `start` is the global position of the first byte. Each frame is one stored row
//! (length-prefixed, so messages can be found without parsing them); its flags keep the
//! record starts and JSON continuations the readers rely on. The decoder checks the object
//! against its index entry (start and end), so a truncated object — even one cut between
//! frames — is reported, never partly returned.

use base64::Engine as _;

use super::rows::Row;

/// The first bytes of every segment object.
pub const MAGIC: &[u8; 4] = b"DSSG";
/// The version this code writes and reads.
pub const VERSION: u8 = 1;
const HEADER: usize = 16;

/// A decoded segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The position of the first byte.
    pub start: u64,
    /// The rows, in order and contiguous.
    pub rows: Vec<Row>,
}

impl Segment {
    /// The position after the last byte.
    pub fn end(&self) -> u64 {
        self.rows.last().map_or(self.start, Row::end)
    }

    /// The rows from the one containing `pos` on.
    pub fn rows_from(&self, pos: u64) -> &[Row] {
        let first = self.rows.partition_point(|r| r.end() <= pos);
        self.rows.get(first..).unwrap_or_default()
    }
}

/// Why a segment object cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentError {
    /// The object ends inside its header or a frame.
    Truncated,
    /// The object is not a segment of this version, or its frames do not chain.
    Corrupt(&'static str),
}

impl std::fmt::Display for SegmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Truncated => f.write_str("segment object is truncated"),
            Self::Corrupt(why) => write!(f, "segment object is corrupt: {why}"),
        }
    }
}

/// Encodes contiguous rows starting at `start`.
pub fn encode(start: u64, rows: &[Row]) -> Vec<u8> {
    let size = HEADER + rows.iter().map(|r| 5 + r.body.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, 0, 0, 0]);
    out.extend_from_slice(&start.to_be_bytes());
    for row in rows {
        out.extend_from_slice(&(row.body.len() as u32 + 1).to_be_bytes());
        out.push(row.flags as u8);
        out.extend_from_slice(&row.body);
    }
    out
}

/// Decodes a segment object, checking that it covers exactly `[start, end)` as its index
/// entry says.
pub fn decode(bytes: &[u8], expected_start: u64, expected_end: u64) -> Result<Segment, SegmentError> {
    let (header, mut frames) = bytes.split_first_chunk::<HEADER>().ok_or(SegmentError::Truncated)?;
    if !header.starts_with(MAGIC) {
        return Err(SegmentError::Corrupt("bad magic"));
    }
    if header.get(MAGIC.len()) != Some(&VERSION) {
        return Err(SegmentError::Corrupt("unknown version"));
    }
    let start = u64::from_be_bytes(*header.last_chunk::<8>().ok_or(SegmentError::Truncated)?);
    if start != expected_start {
        return Err(SegmentError::Corrupt("segment starts elsewhere than its index says"));
    }
    let mut rows = Vec::new();
    let mut pos = start;
    while !frames.is_empty() {
        let (len, rest) = frames.split_first_chunk::<4>().ok_or(SegmentError::Truncated)?;
        let (frame, rest) =
            rest.split_at_checked(u32::from_be_bytes(*len) as usize).ok_or(SegmentError::Truncated)?;
        let (flags, body) = frame.split_first().ok_or(SegmentError::Corrupt("empty frame"))?;
        let row = Row { start: pos, flags: i64::from(*flags), body: body.to_vec() };
        pos = row.end();
        rows.push(row);
        frames = rest;
    }
    if pos < expected_end {
        return Err(SegmentError::Truncated);
    }
    if pos > expected_end {
        return Err(SegmentError::Corrupt("segment ends elsewhere than its index says"));
    }
    Ok(Segment { start, rows })
}

/// The object key of a segment: the stream id base64url-encoded, so any id is a safe
/// path, then the incarnation (a stream created again never reuses a key).
pub fn object_key(stream_id: &str, incarnation: u64, read_seq: u64) -> String {
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(stream_id);
    format!("streams/{id}/{incarnation}/{read_seq:016}.seg")
}

/// The prefix of every segment object of a stream incarnation.
pub fn object_prefix(stream_id: &str, incarnation: u64) -> String {
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(stream_id);
    format!("streams/{id}/{incarnation}/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows(start: u64, bodies: &[&[u8]]) -> Vec<Row> {
        let mut pos = start;
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let r = Row { start: pos, body: b.to_vec(), flags: if i == 0 { 1 } else { 0 } };
                pos = r.end();
                r
            })
            .collect()
    }

    #[test]
    fn segments_round_trip_and_locate_rows() {
        let r = rows(100, &[b"abc", b"de", b"fghij"]);
        let seg = decode(&encode(100, &r), 100, 110).unwrap();
        assert_eq!(seg, Segment { start: 100, rows: r });
        assert_eq!(seg.end(), 110);
        assert_eq!(seg.rows_from(104).first().unwrap().body, b"de");
        assert_eq!(seg.rows_from(105).first().unwrap().body, b"fghij");
        assert!(seg.rows_from(110).is_empty());
    }

    #[test]
    fn keys_are_safe_paths_per_incarnation() {
        assert_eq!(object_key("a/b c", 2, 7), "streams/YS9iIGM/2/0000000000000007.seg");
        assert!(object_key("a/b c", 2, 7).starts_with(&object_prefix("a/b c", 2)));
    }

    #[test]
    fn damaged_objects_are_reported_not_misread() {
        let good = encode(0, &rows(0, &[b"hello"]));
        assert_eq!(decode(b"NOPE", 0, 5).unwrap_err(), SegmentError::Truncated);
        let mut bad_magic = good.clone();
        *bad_magic.first_mut().unwrap() = b'X';
        assert_eq!(decode(&bad_magic, 0, 5).unwrap_err(), SegmentError::Corrupt("bad magic"));
        assert!(matches!(decode(&good, 5, 10).unwrap_err(), SegmentError::Corrupt(_)));
        assert!(matches!(decode(&good, 0, 4).unwrap_err(), SegmentError::Corrupt(_)));
        assert!(decode(&good, 0, 5).is_ok());
    }

    proptest! {
        #[test]
        fn every_truncation_is_detected(bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..20), 1..6), cut in 0usize..200) {
            let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
            let end = 9 + bodies.iter().map(Vec::len).sum::<usize>() as u64;
            let bytes = encode(9, &rows(9, &refs));
            prop_assert!(decode(&bytes, 9, end).is_ok());
            prop_assert!(decode(bytes.get(..cut % bytes.len()).unwrap(), 9, end).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes, 0, 10);
        }
    }
}
