//! `Stream-TTL` and `Stream-Expires-At` (§5.1, §4).

use super::{time, ProtocolError};
use crate::protocol::ErrorCode;

/// The longest TTL accepted, in seconds (about 100 years), so deadlines never overflow.
pub const MAX_TTL_SECONDS: u64 = 100 * 365 * 24 * 3600;

/// How a stream expires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// Never.
    #[default]
    None,
    /// After this many seconds without a read or write (sliding).
    Ttl(u64),
    /// At this absolute time, in milliseconds since the Unix epoch.
    At(i64),
}

impl Expiry {
    /// Parses the two request headers. Both together is an error.
    pub fn from_headers(ttl: Option<&str>, expires_at: Option<&str>) -> Result<Self, ProtocolError> {
        match (ttl, expires_at) {
            (Some(_), Some(_)) => Err(ProtocolError::new(
                ErrorCode::TtlAndExpiresAt,
                "Stream-TTL and Stream-Expires-At are mutually exclusive",
            )),
            (Some(t), None) => parse_ttl(t).map(Self::Ttl),
            (None, Some(e)) => parse_expires_at(e).map(Self::At),
            (None, None) => Ok(Self::None),
        }
    }

    /// From the pair it is stored and sent as (`ttl_seconds`, `expires_at` in ms); a TTL
    /// wins if both are set.
    pub fn from_parts(ttl_seconds: Option<u64>, expires_at: Option<i64>) -> Self {
        match (ttl_seconds, expires_at) {
            (Some(secs), _) => Self::Ttl(secs),
            (None, Some(at)) => Self::At(at),
            (None, None) => Self::None,
        }
    }

    /// The pair it is stored and sent as: (`ttl_seconds`, `expires_at` in ms), at most
    /// one set.
    pub fn parts(self) -> (Option<u64>, Option<i64>) {
        match self {
            Self::None => (None, None),
            Self::Ttl(secs) => (Some(secs), None),
            Self::At(at) => (None, Some(at)),
        }
    }

    /// When a stream last touched at `touched_at_ms` expires, if ever.
    pub fn deadline(self, touched_at_ms: i64) -> Option<i64> {
        match self {
            Self::None => None,
            Self::Ttl(secs) => Some(touched_at_ms.saturating_add(secs as i64 * 1000)),
            Self::At(at) => Some(at),
        }
    }

    /// Whether reads and writes push the deadline back.
    pub fn slides(self) -> bool {
        matches!(self, Self::Ttl(_))
    }
}

/// Parses `Stream-TTL`: a canonical non-negative decimal integer (`^(0|[1-9]\d*)$`).
pub fn parse_ttl(s: &str) -> Result<u64, ProtocolError> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let secs = canonical.then(|| s.parse::<u64>().ok()).flatten();
    match secs {
        Some(v) if v <= MAX_TTL_SECONDS => Ok(v),
        _ => Err(ProtocolError::new(
            ErrorCode::InvalidTtl,
            "Stream-TTL must be a whole number of seconds without sign or leading zeros",
        )),
    }
}

/// Parses `Stream-Expires-At` (RFC 3339).
pub fn parse_expires_at(s: &str) -> Result<i64, ProtocolError> {
    time::parse_rfc3339_millis(s).ok_or_else(|| {
        ProtocolError::new(ErrorCode::InvalidExpiresAt, "Stream-Expires-At must be an RFC 3339 timestamp")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ttl_accepts_canonical_integers_only() {
        assert_eq!(parse_ttl("0").unwrap(), 0);
        assert_eq!(parse_ttl("3600").unwrap(), 3600);
        for bad in ["", "abc", "-1", "00060", "+60", "60.5", "1e3", " 60", "99999999999999999999"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_headers_together_are_rejected() {
        assert!(Expiry::from_headers(Some("60"), Some("2030-01-01T00:00:00Z")).is_err());
        assert_eq!(Expiry::from_headers(None, None).unwrap(), Expiry::None);
    }

    #[test]
    fn sliding_deadline_moves_with_the_touch() {
        let e = Expiry::Ttl(2);
        assert_eq!(e.deadline(1000), Some(3000));
        assert_eq!(Expiry::At(5).deadline(1000), Some(5));
        assert!(e.slides() && !Expiry::At(5).slides());
    }

    #[test]
    fn parts_round_trip_and_a_ttl_wins() {
        for e in [Expiry::None, Expiry::Ttl(60), Expiry::At(-5), Expiry::At(1_700_000_000_000)] {
            let (ttl, at) = e.parts();
            assert_eq!(Expiry::from_parts(ttl, at), e);
        }
        assert_eq!(Expiry::Ttl(60).parts(), (Some(60), None));
        assert_eq!(Expiry::At(7).parts(), (None, Some(7)));
        assert_eq!(Expiry::from_parts(Some(3), Some(7)), Expiry::Ttl(3));
    }

    proptest! {
        #[test]
        fn ttl_parse_never_panics(s in ".{0,30}") {
            let _ = parse_ttl(&s);
        }
    }
}
