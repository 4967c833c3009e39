//! The two decisions around the origin: whether to look a read up, and whether to store
//! (and share) its answer. Each "no" carries its reason, for logs and `Server-Timing`.

use std::fmt;

use crate::control;
use crate::key::{KeyOffset, Mode, ReadFacts};

/// Whether and how to use the cache for a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Look the key up; on a miss, join or lead a collapsed origin request.
    Lookup,
    /// Nothing is ever stored under this key (`offset=now`): skip the lookup, but still
    /// collapse identical concurrent requests.
    CollapseOnly,
    /// The client asked for a fresh answer: go to the origin alone, then store the
    /// answer if it may be stored, so other clients benefit.
    Bypass,
    /// Not a cacheable read at all (SSE).
    NotCacheable,
}

/// Decides how a GET uses the cache. `client_cache_control` is the request's
/// `Cache-Control` header.
pub fn lookup(facts: &ReadFacts, client_cache_control: Option<&str>) -> Lookup {
    if facts.mode == Mode::Sse {
        return Lookup::NotCacheable;
    }
    let wants_fresh =
        client_cache_control.is_some_and(|cc| control::has(cc, "no-cache") || control::has(cc, "no-store"));
    if wants_fresh {
        Lookup::Bypass
    } else if facts.offset == KeyOffset::Now {
        Lookup::CollapseOnly
    } else {
        Lookup::Lookup
    }
}

/// The parts of an origin answer the store guard looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyFacts<'a> {
    /// The status code.
    pub status: u16,
    /// The `Cache-Control` header.
    pub cache_control: Option<&'a str>,
    /// Whether `Stream-Up-To-Date: true` is set (the answer reaches the tail).
    pub up_to_date: bool,
}

/// Why an answer is not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Only 200s are stored: never 204s, 304s or errors.
    NotOk(u16),
    /// `offset=now` answers describe a moment, not a position.
    NowOffset,
    /// SSE is never stored.
    Sse,
    /// The origin said `no-store`.
    NoStore,
    /// A plain read at the tail grows with the next append.
    AtTailPlainGet,
    /// No positive `max-age`: the cache would not keep it anyway.
    NoMaxAge,
}

/// A short name for logs and `Server-Timing`: an error status is `error`, any other
/// status that is not 200 is `status-<code>`.
impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOk(status) if *status >= 400 => f.write_str("error"),
            Self::NotOk(status) => write!(f, "status-{status}"),
            Self::NowOffset => f.write_str("offset-now"),
            Self::Sse => f.write_str("sse"),
            Self::NoStore => f.write_str("no-store"),
            Self::AtTailPlainGet => f.write_str("at-tail"),
            Self::NoMaxAge => f.write_str("no-max-age"),
        }
    }
}

/// Whether to store an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreDecision {
    /// Store it; it stays fresh for this many seconds.
    Yes {
        /// Freshness lifetime in seconds.
        ttl_secs: u64,
    },
    /// Do not store it.
    No(SkipReason),
}

/// The store guard: only a 200 without `no-store` that is either not at the tail or a
/// long-poll answer, and only with a positive `max-age`.
pub fn store(facts: &ReadFacts, reply: &ReplyFacts<'_>) -> StoreDecision {
    if facts.mode == Mode::Sse {
        return StoreDecision::No(SkipReason::Sse);
    }
    if reply.status != 200 {
        return StoreDecision::No(SkipReason::NotOk(reply.status));
    }
    if facts.offset == KeyOffset::Now {
        return StoreDecision::No(SkipReason::NowOffset);
    }
    let cc = reply.cache_control.unwrap_or("");
    if control::has(cc, "no-store") {
        return StoreDecision::No(SkipReason::NoStore);
    }
    if reply.up_to_date && facts.mode == Mode::CatchUp {
        return StoreDecision::No(SkipReason::AtTailPlainGet);
    }
    match control::shared_max_age(cc) {
        Some(ttl_secs) if ttl_secs > 0 => StoreDecision::Yes { ttl_secs },
        _ => StoreDecision::No(SkipReason::NoMaxAge),
    }
}

/// Whether requests that joined a collapsed origin request may use its answer.
///
/// Stored answers are shareable by definition. A long-poll's 200 or 204 is too: a
/// follower joined while the leader was waiting, so any append after the follower's own
/// writes would have woken the leader. A plain read at the tail or an error is not: it
/// may predate a write the follower made just before asking, so the follower asks the
/// origin itself (read-your-writes).
pub fn share(facts: &ReadFacts, reply: &ReplyFacts<'_>) -> bool {
    matches!(store(facts, reply), StoreDecision::Yes { .. })
        || (facts.mode == Mode::LongPoll && matches!(reply.status, 200 | 204))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(mode: Mode, now: bool) -> ReadFacts {
        let offset =
            if now { KeyOffset::Now } else { KeyOffset::At("0000000000000000_0000000000000005".into()) };
        ReadFacts::new("/v1/stream/s", offset, mode, None)
    }

    fn reply(status: u16, cc: &str, up_to_date: bool) -> ReplyFacts<'_> {
        ReplyFacts { status, cache_control: Some(cc), up_to_date }
    }

    const CHUNK: &str = control::IMMUTABLE_CHUNK;

    #[test]
    fn sse_is_never_cacheable_and_no_cache_clients_bypass() {
        assert_eq!(lookup(&facts(Mode::Sse, false), None), Lookup::NotCacheable);
        assert_eq!(lookup(&facts(Mode::CatchUp, false), Some("no-cache")), Lookup::Bypass);
        assert_eq!(lookup(&facts(Mode::LongPoll, false), Some("max-age=0, no-store")), Lookup::Bypass);
        assert_eq!(lookup(&facts(Mode::CatchUp, false), Some("max-age=0")), Lookup::Lookup);
        assert_eq!(lookup(&facts(Mode::LongPoll, true), None), Lookup::CollapseOnly);
    }

    #[test]
    fn mid_stream_chunks_are_stored() {
        assert_eq!(
            store(&facts(Mode::CatchUp, false), &reply(200, CHUNK, false)),
            StoreDecision::Yes { ttl_secs: 60 }
        );
    }

    #[test]
    fn at_tail_plain_get_is_never_stored_even_with_a_max_age() {
        let s = store(&facts(Mode::CatchUp, false), &reply(200, CHUNK, true));
        assert_eq!(s, StoreDecision::No(SkipReason::AtTailPlainGet));
    }

    #[test]
    fn long_poll_answers_are_stored_at_the_tail_too() {
        let s = store(&facts(Mode::LongPoll, false), &reply(200, control::LONG_POLL, true));
        assert_eq!(s, StoreDecision::Yes { ttl_secs: 20 });
    }

    #[test]
    fn no_store_non_200_and_offset_now_are_never_stored() {
        let f = facts(Mode::LongPoll, false);
        assert_eq!(store(&f, &reply(204, "no-store", true)), StoreDecision::No(SkipReason::NotOk(204)));
        assert_eq!(store(&f, &reply(304, CHUNK, false)), StoreDecision::No(SkipReason::NotOk(304)));
        assert_eq!(store(&f, &reply(404, "no-store", false)), StoreDecision::No(SkipReason::NotOk(404)));
        assert_eq!(store(&f, &reply(200, "no-store", false)), StoreDecision::No(SkipReason::NoStore));
        assert_eq!(
            store(&facts(Mode::LongPoll, true), &reply(200, control::LONG_POLL, true)),
            StoreDecision::No(SkipReason::NowOffset)
        );
        assert_eq!(
            store(&facts(Mode::CatchUp, false), &reply(200, "public", false)),
            StoreDecision::No(SkipReason::NoMaxAge)
        );
    }

    #[test]
    fn followers_share_stored_answers_and_long_poll_outcomes_only() {
        assert!(share(&facts(Mode::CatchUp, false), &reply(200, CHUNK, false)));
        assert!(!share(&facts(Mode::CatchUp, false), &reply(200, control::AT_TAIL, true)));
        assert!(!share(&facts(Mode::CatchUp, false), &reply(404, "no-store", false)));
        assert!(share(&facts(Mode::LongPoll, false), &reply(204, "no-store", true)));
        assert!(share(&facts(Mode::LongPoll, true), &reply(200, "no-store", true)));
        assert!(!share(&facts(Mode::LongPoll, false), &reply(404, "no-store", false)));
        assert!(!share(&facts(Mode::CatchUp, true), &reply(200, "no-store", true)));
    }
}
