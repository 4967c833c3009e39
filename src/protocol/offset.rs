//! Stream offsets (§8).
//!
//! An offset names a position in a stream's log. On the wire it is
//! `<readSeq>_<position>`, both parts zero-padded to 16 decimal digits, so offsets sort
//! lexicographically in log order and the start of every stream is
//! `0000000000000000_0000000000000000`.
//!
//! `position` is the global byte position in the stream's stored log (for JSON streams,
//! the stored `value,` runs), shared by a fork and its source up to the fork point.
//! `readSeq` counts the cold segments that end before the position, so it never changes
//! once an offset was handed out (a segment is only ever cut at or after every position
//! handed out so far). It is informational: parsing keeps it, but only the position
//! decides where a read starts, so every offset stays valid for ever.

use crate::protocol::ErrorCode;
use std::fmt;
use std::str::FromStr;

use super::ProtocolError;

/// Width of each decimal part of an encoded offset.
pub const OFFSET_DIGITS: usize = 16;

/// The largest position an offset can encode.
pub const MAX_POSITION: u64 = 9_999_999_999_999_999;

/// A position in a stream's log, with the segment count before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset {
    read_seq: u64,
    position: u64,
}

impl Offset {
    /// The start of every stream.
    pub const ZERO: Offset = Offset { read_seq: 0, position: 0 };

    /// An offset at `position`, before any segment. Values above [`MAX_POSITION`] are
    /// clamped; storage never grows that far.
    pub const fn new(position: u64) -> Self {
        Self::in_segment(0, position)
    }

    /// An offset at `position`, after `read_seq` segments.
    pub const fn in_segment(read_seq: u64, position: u64) -> Self {
        Offset { read_seq: clamp(read_seq), position: clamp(position) }
    }

    /// The byte position this offset denotes.
    pub const fn position(self) -> u64 {
        self.position
    }

    /// How many cold segments end before the position.
    pub const fn read_seq(self) -> u64 {
        self.read_seq
    }
}

const fn clamp(v: u64) -> u64 {
    if v > MAX_POSITION {
        MAX_POSITION
    } else {
        v
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0w$}_{:0w$}", self.read_seq, self.position, w = OFFSET_DIGITS)
    }
}

impl FromStr for Offset {
    type Err = ProtocolError;

    /// Accepts exactly the encoded form: 16 digits, `_`, 16 digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = |part: &str| {
            (part.len() == OFFSET_DIGITS && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u64>().ok())
                .flatten()
        };
        let (read_seq, position) = s.split_once('_').ok_or_else(invalid_offset)?;
        match (digits(read_seq), digits(position)) {
            (Some(read_seq), Some(position)) => Ok(Offset { read_seq, position }),
            _ => Err(invalid_offset()),
        }
    }
}

fn invalid_offset() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::InvalidOffset,
        "offset must be -1, now, or an offset returned by this server",
    )
}

/// Where a read starts, as requested by the `offset` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartAt {
    /// `-1` or no offset: the beginning of the stream.
    Beginning,
    /// `now`: the current tail.
    Now,
    /// A concrete offset.
    At(Offset),
}

impl StartAt {
    /// Parses a decoded `offset` parameter value.
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        match s {
            "-1" => Ok(Self::Beginning),
            "now" => Ok(Self::Now),
            _ => s.parse().map(Self::At),
        }
    }

    /// The position where the read starts, given the stream's current tail position.
    pub fn position(self, tail: u64) -> u64 {
        match self {
            Self::Beginning => 0,
            Self::Now => tail,
            Self::At(o) => o.position(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_offset_has_the_conventional_spelling() {
        assert_eq!(Offset::ZERO.to_string(), "0000000000000000_0000000000000000");
    }

    #[test]
    fn sentinels_parse() {
        assert_eq!(StartAt::parse("-1").unwrap(), StartAt::Beginning);
        assert_eq!(StartAt::parse("now").unwrap(), StartAt::Now);
        assert_eq!(
            StartAt::parse("0000000000000000_0000000000000042").unwrap(),
            StartAt::At(Offset::new(42))
        );
    }

    #[test]
    fn malformed_offsets_are_rejected() {
        for bad in [
            "",
            "0",
            "0_0",
            "abc",
            "0000000000000000_000000000000000",
            "0000000000000000-0000000000000000",
            "0000000000000000_000000000000000a",
            " 0000000000000000_0000000000000000",
            "0000000000000000_0000000000000000,",
            "../0000000000000000_0000000000000",
            "NOW",
            "-2",
            "+0000000000000000_000000000000000",
        ] {
            assert!(StartAt::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_segment_count_is_kept_but_the_position_decides() {
        let o: Offset = "0000000000000003_0000000000000042".parse().unwrap();
        assert_eq!((o.read_seq(), o.position()), (3, 42));
        assert_eq!(StartAt::At(o).position(0), 42);
    }

    #[test]
    fn offsets_sort_lexicographically_in_position_order() {
        let a = Offset::new(9).to_string();
        let b = Offset::new(10).to_string();
        assert!(a < b);
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(seq in 0..=MAX_POSITION, p in 0..=MAX_POSITION) {
            let o = Offset::in_segment(seq, p);
            prop_assert_eq!(o.to_string().parse::<Offset>().unwrap(), o);
        }

        #[test]
        fn string_order_matches_offset_order(s1 in 0u64..5, a in 0..=MAX_POSITION, s2 in 0u64..5, b in 0..=MAX_POSITION) {
            let (x, y) = (Offset::in_segment(s1, a), Offset::in_segment(s2, b));
            prop_assert_eq!(x.to_string().cmp(&y.to_string()), x.cmp(&y));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = StartAt::parse(&s);
        }
    }
}
