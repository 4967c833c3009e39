//! The read query: `offset`, `live` and `cursor` (§5.6–5.8), and the reader key `rk`.
//!
//! The raw query is parsed by hand because a map-based parser silently keeps one of two
//! repeated `offset` parameters, which the protocol requires us to reject. Unknown
//! parameters are ignored.

use super::{percent, Offset, ProtocolError, StartAt};
use crate::protocol::ErrorCode;

/// The header a browser's `EventSource` sends when it reconnects: the `id:` of the last
/// event it received, which for our SSE is the offset after that event.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// The offset in a `Last-Event-ID` value; blank is none. Anything else than an offset
/// (we never send `-1` or `now` as an id) is a 400.
pub fn last_event_id(value: Option<&str>) -> Result<Option<Offset>, ProtocolError> {
    let Some(id) = value.map(str::trim).filter(|id| !id.is_empty()) else { return Ok(None) };
    match StartAt::parse(id) {
        Ok(StartAt::At(offset)) => Ok(Some(offset)),
        _ => Err(ProtocolError::new(
            ErrorCode::InvalidOffset,
            "Last-Event-ID must be an offset this server sent",
        )),
    }
}

/// `raw` (a query without `?`) with its `offset` parameters replaced by `offset`.
pub fn with_offset(raw: &str, offset: &Offset) -> String {
    let kept = raw.split('&').filter(|p| !p.is_empty()).filter(|pair| {
        let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
        percent::decode(key).as_deref() != Some("offset")
    });
    let mut query: Vec<String> = kept.map(str::to_owned).collect();
    query.push(format!("offset={offset}"));
    query.join("&")
}

/// How a GET wants to be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Live {
    /// A catch-up read that returns at once.
    No,
    /// `live=long-poll`: wait at the tail for new data.
    LongPoll,
    /// `live=sse`: a server-sent event stream.
    Sse,
}

impl Live {
    /// The query value for this mode, if any.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Self::No => None,
            Self::LongPoll => Some("long-poll"),
            Self::Sse => Some("sse"),
        }
    }
}

/// The parsed query of a GET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadQuery {
    /// `None` when the parameter is absent.
    pub offset: Option<StartAt>,
    /// The live mode.
    pub live: Live,
    /// The client's cursor; an unparseable cursor counts as absent (§10.1).
    pub cursor: Option<u64>,
    /// `rk`: the stream's reader key, which makes cached answers of a protected stream
    /// findable only by those who were given it.
    pub reader_key: Option<String>,
}

/// The parameters of a raw query: decoded names with their raw values. A name that does
/// not decode cannot be a parameter we know, so it is skipped, like every unknown one.
fn params(raw: &str) -> impl Iterator<Item = (String, &str)> {
    raw.split('&').filter(|p| !p.is_empty()).filter_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        percent::decode(key).map(|k| (k, value))
    })
}

/// The `public` parameter of a PUT: `true` (or bare) or `false`; absent means `false`.
pub fn public_flag(raw: &str) -> Result<bool, ProtocolError> {
    let mut flag = None;
    for (_, value) in params(raw).filter(|(k, _)| k == "public") {
        let value = match percent::decode(value).as_deref() {
            Some("true" | "") => true,
            Some("false") => false,
            _ => return Err(ProtocolError::new(ErrorCode::InvalidPublic, "public must be true or false")),
        };
        if flag.replace(value).is_some() {
            return Err(ProtocolError::new(ErrorCode::DuplicateParameter, "public may appear only once"));
        }
    }
    Ok(flag.unwrap_or(false))
}

impl ReadQuery {
    /// Parses a raw query string (without the leading `?`).
    pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
        let mut offset = None;
        let mut live = None;
        let mut cursor = None;
        let mut reader_key = None;
        for (key, value) in params(raw) {
            let slot = match key.as_str() {
                "offset" => &mut offset,
                "live" => &mut live,
                "cursor" => &mut cursor,
                "rk" => &mut reader_key,
                _ => continue,
            };
            if slot.is_some() {
                return Err(ProtocolError::new(
                    ErrorCode::DuplicateParameter,
                    format!("the {key} parameter may appear only once"),
                ));
            }
            let value = percent::decode(value).ok_or_else(|| {
                ProtocolError::new(ErrorCode::InvalidQuery, format!("malformed {key} parameter"))
            })?;
            *slot = Some(value);
        }
        Ok(Self {
            offset: offset.map(|v| parse_offset(&v)).transpose()?,
            live: parse_live(live.as_deref())?,
            cursor: cursor.and_then(|c| parse_cursor(&c)),
            reader_key: reader_key.map(|k| parse_reader_key(&k)).transpose()?,
        })
    }

    /// An SSE read resumed after `last_event_id` (the `Last-Event-ID` header): that
    /// offset wins over the query's own, so a browser that reconnects to the URL it
    /// started with goes on right after the last event it received. Other reads are left
    /// as they are. Returns the offset it resumes at, if it does.
    pub fn resume(&mut self, last_event_id: Option<&str>) -> Result<Option<Offset>, ProtocolError> {
        if self.live != Live::Sse {
            return Ok(None);
        }
        let resumed = self::last_event_id(last_event_id)?;
        if let Some(offset) = resumed {
            self.offset = Some(StartAt::At(offset));
        }
        Ok(resumed)
    }
}

fn parse_offset(value: &str) -> Result<StartAt, ProtocolError> {
    if value.is_empty() {
        return Err(ProtocolError::new(ErrorCode::InvalidOffset, "offset must not be empty"));
    }
    StartAt::parse(value)
}

fn parse_live(value: Option<&str>) -> Result<Live, ProtocolError> {
    match value {
        None => Ok(Live::No),
        Some("long-poll") => Ok(Live::LongPoll),
        Some("sse") => Ok(Live::Sse),
        Some(_) => Err(ProtocolError::new(ErrorCode::InvalidLive, "live must be long-poll or sse")),
    }
}

/// The longest reader key accepted; the server's own are 35 bytes.
const MAX_READER_KEY_BYTES: usize = 128;

fn parse_reader_key(value: &str) -> Result<String, ProtocolError> {
    let valid = !value.is_empty()
        && value.len() <= MAX_READER_KEY_BYTES
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(ProtocolError::new(ErrorCode::InvalidReaderKey, "rk must be a reader key the server issued"))
    }
}

fn parse_cursor(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Offset;
    use proptest::prelude::*;

    #[test]
    fn parses_all_three_parameters_and_ignores_others() {
        let q = ReadQuery::parse("foo=bar&offset=-1&live=long-poll&cursor=42&x").unwrap();
        assert_eq!(q.offset, Some(StartAt::Beginning));
        assert_eq!(q.live, Live::LongPoll);
        assert_eq!(q.cursor, Some(42));
    }

    #[test]
    fn unknown_parameters_are_ignored_even_when_their_names_do_not_decode() {
        let q = ReadQuery::parse("a%zz=1&%ff=2&offset=-1").unwrap();
        assert_eq!(q.offset, Some(StartAt::Beginning));
    }

    #[test]
    fn last_event_id_resumes_an_sse_read_and_only_that() {
        let id = "0000000000000000_0000000000000042";
        let mut sse = ReadQuery::parse("offset=now&live=sse&cursor=3").unwrap();
        assert_eq!(sse.resume(Some(id)).unwrap(), Some(Offset::new(42)));
        assert_eq!((sse.offset, sse.cursor), (Some(StartAt::At(Offset::new(42))), Some(3)));
        let mut long_poll = ReadQuery::parse("offset=-1&live=long-poll").unwrap();
        assert_eq!(long_poll.resume(Some(id)).unwrap(), None);
        assert_eq!(long_poll.offset, Some(StartAt::Beginning));
        let mut blank = ReadQuery::parse("offset=-1&live=sse").unwrap();
        assert_eq!((blank.resume(Some("  ")).unwrap(), blank.resume(None).unwrap()), (None, None));
        assert_eq!(blank.offset, Some(StartAt::Beginning));
        for bad in ["now", "-1", "garbage", "1_x"] {
            let e = ReadQuery::parse("live=sse").unwrap().resume(Some(bad)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidOffset, "{bad}");
        }
    }

    #[test]
    fn the_resumed_offset_replaces_every_offset_parameter() {
        let o = Offset::new(7);
        let q = with_offset("offset=now&live=sse&%6Fffset=-1&rk=abc", &o);
        assert_eq!(q, format!("live=sse&rk=abc&offset={o}"));
        assert_eq!(ReadQuery::parse(&q).unwrap().offset, Some(StartAt::At(o)));
        assert_eq!(with_offset("", &o), format!("offset={o}"));
    }

    #[test]
    fn absent_offset_is_none() {
        assert_eq!(ReadQuery::parse("").unwrap().offset, None);
        assert_eq!(ReadQuery::parse("live=sse").unwrap().live, Live::Sse);
    }

    #[test]
    fn empty_and_repeated_offsets_are_rejected() {
        assert!(ReadQuery::parse("offset=").is_err());
        assert!(ReadQuery::parse("offset").is_err());
        assert!(ReadQuery::parse("offset=-1&offset=-1").is_err());
    }

    #[test]
    fn encoded_junk_in_offsets_is_rejected() {
        for bad in ["%2C", "a%20b", "..%2F", "%00", "%0A", "%0D%0A", "%2F", "0,1"] {
            assert!(ReadQuery::parse(&format!("offset={bad}")).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoded_offsets_are_decoded() {
        let q = ReadQuery::parse("offset=0000000000000000%5F0000000000000007").unwrap();
        assert_eq!(q.offset, Some(StartAt::At(Offset::new(7))));
    }

    #[test]
    fn unknown_live_mode_is_rejected_and_bad_cursor_ignored() {
        assert!(ReadQuery::parse("live=websocket").is_err());
        assert_eq!(ReadQuery::parse("cursor=abc").unwrap().cursor, None);
        assert_eq!(ReadQuery::parse("cursor=-5").unwrap().cursor, None);
    }

    #[test]
    fn reader_keys_are_kept_and_validated() {
        assert_eq!(ReadQuery::parse("rk=rk_abc-1").unwrap().reader_key.as_deref(), Some("rk_abc-1"));
        assert_eq!(ReadQuery::parse("offset=-1").unwrap().reader_key, None);
        for bad in ["rk=", "rk=a%20b", "rk=a&rk=a"] {
            assert!(ReadQuery::parse(bad).is_err(), "{bad}");
        }
        assert!(ReadQuery::parse(&format!("rk={}", "k".repeat(129))).is_err());
    }

    #[test]
    fn the_public_flag_of_a_create() {
        assert!(!public_flag("").unwrap() && !public_flag("x=1").unwrap());
        assert!(public_flag("public=true").unwrap() && public_flag("a=b&public").unwrap());
        assert!(!public_flag("public=false").unwrap());
        assert!(public_flag("public=yes").is_err() && public_flag("public=true&public=true").is_err());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_queries_never_panics(s in ".{0,60}") {
            let _ = ReadQuery::parse(&s);
        }
    }
}
