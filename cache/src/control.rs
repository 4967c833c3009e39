//! `Cache-Control`: what each kind of answer sends, and reading the directives of
//! requests and stored answers (RFC 9111 §5.2).
//!
//! Bytes at a given offset never change, so a catch-up chunk that ends before the tail
//! may be cached. A chunk that reaches the tail grows with the next append, so caches must
//! revalidate it before every use. A long-poll answer is keyed by offset and cursor and
//! can be shared briefly. Answers that describe "now" (HEAD, `offset=now`, 204s, errors,
//! writes) are never stored. See docs/cache.md for the reasoning behind each value.

use std::borrow::Cow;

/// Immutable catch-up chunks. Long enough to absorb a herd of catch-up readers, short
/// enough that a stream deleted and created again at the same path is not shadowed for
/// long by its predecessor's chunks.
pub const IMMUTABLE_CHUNK: &str = "public, max-age=60, stale-while-revalidate=300";
/// Long-poll answers with data: one cursor interval.
pub const LONG_POLL: &str = "public, max-age=20";
/// Reads that reached the tail: storable, but revalidated (ETag) before every use.
pub const AT_TAIL: &str = "no-cache";
/// Answers that describe the current state.
pub const NO_STORE: &str = "no-store";
/// SSE streams.
pub const SSE: &str = "no-cache";

/// The longest a catch-up chunk is cached (seconds), as in [`IMMUTABLE_CHUNK`].
const CHUNK_MAX_AGE: i64 = 60;
/// The longest a long-poll answer is cached (seconds), as in [`LONG_POLL`].
const LONG_POLL_MAX_AGE: i64 = 20;

/// The kind of answer a stream object gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A catch-up 200 that ends before the tail (`at_tail == false`) or at it.
    CatchUp {
        /// Whether the data reaches the tail.
        at_tail: bool,
    },
    /// A long-poll 200 for a concrete offset.
    LongPollData,
    /// `offset=now` in any mode, HEAD, a long-poll 204, an error, or a write.
    Current,
    /// An SSE stream.
    Sse,
}

/// The `Cache-Control` for an answer about a stream that expires at `deadline_ms` (if it
/// does). Cached answers never outlive the stream.
pub fn for_answer(answer: Answer, now_ms: i64, deadline_ms: Option<i64>) -> Cow<'static, str> {
    let (fixed, max_age) = match answer {
        Answer::CatchUp { at_tail: true } => return Cow::Borrowed(AT_TAIL),
        Answer::CatchUp { at_tail: false } => (IMMUTABLE_CHUNK, CHUNK_MAX_AGE),
        Answer::LongPollData => (LONG_POLL, LONG_POLL_MAX_AGE),
        Answer::Current => return Cow::Borrowed(NO_STORE),
        Answer::Sse => return Cow::Borrowed(SSE),
    };
    let Some(deadline) = deadline_ms else {
        return Cow::Borrowed(fixed);
    };
    let remaining = (deadline - now_ms) / 1000;
    if remaining <= 0 {
        Cow::Borrowed(NO_STORE)
    } else if remaining >= max_age {
        Cow::Borrowed(fixed)
    } else {
        Cow::Owned(format!("public, max-age={remaining}"))
    }
}

/// The directives of a `Cache-Control` value: lowercased names with optional values.
pub fn directives(value: &str) -> impl Iterator<Item = (String, Option<&str>)> {
    value.split(',').filter_map(|d| {
        let d = d.trim();
        if d.is_empty() {
            return None;
        }
        let (name, arg) = match d.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (d, None),
        };
        Some((name.to_ascii_lowercase(), arg))
    })
}

/// Whether a value contains a directive.
pub fn has(value: &str, directive: &str) -> bool {
    directives(value).any(|(n, _)| n == directive)
}

/// The `max-age` (or `s-maxage`, which wins for shared caches) in seconds, if any.
pub fn shared_max_age(value: &str) -> Option<u64> {
    let mut max_age = None;
    let mut s_maxage = None;
    for (name, arg) in directives(value) {
        let secs = arg.and_then(|a| a.parse::<u64>().ok());
        match name.as_str() {
            "s-maxage" => s_maxage = secs,
            "max-age" => max_age = secs,
            _ => {}
        }
    }
    s_maxage.or(max_age)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chunks_before_the_tail_are_shared_and_at_the_tail_revalidated() {
        assert_eq!(for_answer(Answer::CatchUp { at_tail: false }, 0, None), IMMUTABLE_CHUNK);
        assert_eq!(for_answer(Answer::CatchUp { at_tail: true }, 0, None), AT_TAIL);
        assert_eq!(for_answer(Answer::LongPollData, 0, None), LONG_POLL);
        assert_eq!(for_answer(Answer::Current, 0, None), NO_STORE);
        assert_eq!(for_answer(Answer::Sse, 0, None), SSE);
    }

    #[test]
    fn expiring_streams_are_never_cached_past_their_end() {
        let chunk = Answer::CatchUp { at_tail: false };
        assert_eq!(for_answer(chunk, 0, Some(10_000)), "public, max-age=10");
        assert_eq!(for_answer(chunk, 0, Some(600_000)), IMMUTABLE_CHUNK);
        assert_eq!(for_answer(chunk, 0, Some(999)), NO_STORE);
        assert_eq!(for_answer(Answer::LongPollData, 0, Some(5_500)), "public, max-age=5");
        assert_eq!(for_answer(Answer::LongPollData, 0, Some(60_000)), LONG_POLL);
    }

    #[test]
    fn directives_are_parsed_case_insensitively() {
        assert!(has("Public, No-Cache", "no-cache"));
        assert!(!has("no-cache-please", "no-cache"));
        assert_eq!(shared_max_age("public, max-age=60, stale-while-revalidate=300"), Some(60));
        assert_eq!(shared_max_age("max-age=60, s-maxage=5"), Some(5));
        assert_eq!(shared_max_age("max-age=\"7\""), Some(7));
        assert_eq!(shared_max_age("no-store"), None);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(v in ".{0,60}") {
            let _ = shared_max_age(&v);
            let _ = has(&v, "no-store");
        }

        #[test]
        fn a_cached_answer_never_outlives_its_stream(now in 0i64..1_000_000, left in -5_000i64..200_000) {
            for answer in [Answer::CatchUp { at_tail: false }, Answer::LongPollData] {
                let cc = for_answer(answer, now, Some(now + left));
                if let Some(age) = shared_max_age(&cc) {
                    prop_assert!((age as i64) * 1000 <= left);
                }
            }
        }
    }
}
