//! `Cache-Control` for each kind of response (§10).
//!
//! Bytes at a given offset never change, so a catch-up chunk that ends before the tail
//! can be cached for a long time. A chunk that reaches the tail will grow on the next
//! append, so downstream caches must revalidate it. Long-poll answers are keyed by
//! offset and cursor, so they can be shared briefly. Everything that describes "now"
//! (HEAD, `offset=now`, 204s, errors) is never stored.

/// Immutable catch-up chunks.
pub const IMMUTABLE_CHUNK: &str = "public, max-age=60, stale-while-revalidate=300";
/// Long-poll answers with data.
pub const LONG_POLL: &str = "public, max-age=20";
/// Reads that reached the tail: storable, but revalidated (ETag) before every use.
pub const AT_TAIL: &str = "no-cache";
/// Responses that describe the current state.
pub const NO_STORE: &str = "no-store";
/// SSE streams.
pub const SSE: &str = "no-cache";

/// The `Cache-Control` of a catch-up 200 ending at the tail (`at_tail`) or not, for a
/// stream that expires at `deadline_ms` (if it does).
pub fn catch_up(at_tail: bool, now_ms: i64, deadline_ms: Option<i64>) -> String {
    if at_tail {
        return AT_TAIL.to_owned();
    }
    match deadline_ms {
        None => IMMUTABLE_CHUNK.to_owned(),
        Some(deadline) => {
            let remaining = (deadline - now_ms) / 1000;
            if remaining <= 0 {
                NO_STORE.to_owned()
            } else {
                format!("public, max-age={}", remaining.min(60))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_before_the_tail_are_long_lived() {
        assert_eq!(catch_up(false, 0, None), IMMUTABLE_CHUNK);
    }

    #[test]
    fn chunks_at_the_tail_must_be_revalidated() {
        assert_eq!(catch_up(true, 0, None), AT_TAIL);
    }

    #[test]
    fn expiring_streams_are_cached_no_longer_than_they_live() {
        assert_eq!(catch_up(false, 0, Some(10_000)), "public, max-age=10");
        assert_eq!(catch_up(false, 0, Some(600_000)), "public, max-age=60");
        assert_eq!(catch_up(false, 0, Some(500)), NO_STORE);
    }
}
