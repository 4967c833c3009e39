//! Cache keys: one canonical key per distinct answer.
//!
//! The key is built from the parsed, validated read — never from the raw URL — so that
//! URLs that ask the same thing share one entry: parameter order, unknown parameters,
//! `offset=-1` versus the zero offset versus no offset, and percent-encoding variants of
//! the stream path all collapse to one key. Parameters that change the answer (offset,
//! live mode, and for long-polls the cursor) are always part of it, and so is who may
//! see it: answers to requests without credentials live under keys of their own, and a
//! stream's reader key (`rk`) is kept, so an entry is only ever found by a request with
//! the same audience and key.

use std::fmt;

/// How a read is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A catch-up read.
    CatchUp,
    /// `live=long-poll`.
    LongPoll,
    /// `live=sse`.
    Sse,
}

/// Where a read starts, as a key component.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyOffset {
    /// `offset=now`: the answer depends on the moment, not on a position.
    Now,
    /// A position, in its one canonical spelling (the server's offset format).
    At(String),
}

/// What a read asks for, parsed and validated by the caller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReadFacts {
    /// The stream path, percent-encoded canonically (for example `/v1/stream/a%20b`).
    pub path: String,
    /// Where the read starts.
    pub offset: KeyOffset,
    /// How it is answered.
    pub mode: Mode,
    /// The client's cursor, if it sent a valid one.
    pub cursor: Option<u64>,
    /// The request carried no credentials (with auth on): only answers the origin gave
    /// to such requests — public streams' — may serve it.
    pub anonymous: bool,
    /// The `rk` parameter, if given.
    pub reader_key: Option<String>,
}

impl ReadFacts {
    /// A read of `path` with no credentials distinction and no reader key.
    pub fn new(path: impl Into<String>, offset: KeyOffset, mode: Mode, cursor: Option<u64>) -> Self {
        Self { path: path.into(), offset, mode, cursor, anonymous: false, reader_key: None }
    }
}

/// A cache key: an absolute URL, as the Workers Cache API requires.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key for `facts`, on the host named by `origin` (`scheme://authority`), so each
    /// hostname keeps its own entries.
    pub fn for_read(origin: &str, facts: &ReadFacts) -> Self {
        let offset = match &facts.offset {
            KeyOffset::Now => "now",
            KeyOffset::At(o) => o.as_str(),
        };
        // Parameters in sorted order; the cursor only matters to long-polls, whose answer
        // carries the next cursor.
        let mut key = format!("{origin}{}?", facts.path);
        if facts.anonymous {
            key.push_str("anonymous=1&");
        }
        match (facts.mode, facts.cursor) {
            (Mode::LongPoll, Some(c)) => key.push_str(&format!("cursor={c}&live=long-poll&")),
            (Mode::LongPoll, None) => key.push_str("live=long-poll&"),
            (Mode::Sse, _) => key.push_str("live=sse&"),
            (Mode::CatchUp, _) => {}
        }
        key.push_str("offset=");
        key.push_str(offset);
        if let Some(rk) = &facts.reader_key {
            key.push_str("&rk=");
            key.push_str(&encode_component(rk));
        }
        Self(key)
    }

    /// The key as a URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO: &str = "0000000000000000_0000000000000000";

    fn facts(offset: KeyOffset, mode: Mode, cursor: Option<u64>) -> ReadFacts {
        ReadFacts::new("/v1/stream/s", offset, mode, cursor)
    }

    fn key(f: &ReadFacts) -> String {
        CacheKey::for_read("https://h", f).as_str().to_owned()
    }

    #[test]
    fn catch_up_keys_ignore_the_cursor() {
        let a = facts(KeyOffset::At(ZERO.into()), Mode::CatchUp, None);
        let b = facts(KeyOffset::At(ZERO.into()), Mode::CatchUp, Some(9));
        assert_eq!(key(&a), key(&b));
        assert_eq!(key(&a), format!("https://h/v1/stream/s?offset={ZERO}"));
    }

    #[test]
    fn keys_differ_exactly_where_answers_can_differ() {
        let at = |o: &str| KeyOffset::At(o.into());
        let distinct = [
            facts(at(ZERO), Mode::CatchUp, None),
            facts(at("0000000000000000_0000000000000001"), Mode::CatchUp, None),
            facts(KeyOffset::Now, Mode::CatchUp, None),
            facts(at(ZERO), Mode::LongPoll, None),
            facts(at(ZERO), Mode::LongPoll, Some(1)),
            facts(at(ZERO), Mode::LongPoll, Some(2)),
        ];
        let keys: std::collections::HashSet<String> = distinct.iter().map(key).collect();
        assert_eq!(keys.len(), distinct.len());
    }

    #[test]
    fn audiences_and_reader_keys_never_share_entries() {
        let open = facts(KeyOffset::At(ZERO.into()), Mode::LongPoll, Some(3));
        let anonymous = ReadFacts { anonymous: true, ..open.clone() };
        let keyed = ReadFacts { reader_key: Some("rk_1&x=y".into()), ..open.clone() };
        let other = ReadFacts { reader_key: Some("rk_2".into()), ..open.clone() };
        let keys: std::collections::HashSet<String> = [&open, &anonymous, &keyed, &other].map(key).into();
        assert_eq!(keys.len(), 4);
        assert_eq!(
            key(&keyed),
            format!("https://h/v1/stream/s?cursor=3&live=long-poll&offset={ZERO}&rk=rk_1%26x%3Dy")
        );
        assert_eq!(
            key(&anonymous),
            format!("https://h/v1/stream/s?anonymous=1&cursor=3&live=long-poll&offset={ZERO}")
        );
    }

    #[test]
    fn hosts_do_not_share_entries() {
        let f = facts(KeyOffset::Now, Mode::CatchUp, None);
        assert_ne!(CacheKey::for_read("https://a", &f), CacheKey::for_read("https://b", &f));
    }
}
