//! Cursors for CDN request collapsing (§10.1).
//!
//! A cursor is the number of 20-second intervals since 2024-10-09T00:00:00Z. Live
//! responses carry the next cursor, and clients echo it as `cursor=`, so every reader at
//! the same position builds the same next URL and a CDN can collapse them into one
//! origin request.
//!
//! Collisions are resolved deterministically: a client cursor at or ahead of the current
//! interval gets exactly `client + 1`. The protocol suggests random jitter instead, but
//! jitter gives identical requests different next URLs, which defeats collapsing.

/// 2024-10-09T00:00:00Z in milliseconds since the Unix epoch.
pub const CURSOR_EPOCH_MS: i64 = 1_728_432_000_000;

/// Length of one cursor interval.
pub const CURSOR_INTERVAL_MS: i64 = 20_000;

/// The interval number at `now_ms` (0 before the epoch).
pub fn current_interval(now_ms: i64) -> u64 {
    u64::try_from((now_ms - CURSOR_EPOCH_MS).max(0) / CURSOR_INTERVAL_MS).unwrap_or(0)
}

/// The cursor to send back to a client that sent `client` (if any).
///
/// The result is always strictly greater than the client's cursor, so a client that
/// echoes it never sees the same URL twice.
pub fn next_cursor(now_ms: i64, client: Option<u64>) -> u64 {
    let current = current_interval(now_ms);
    match client {
        Some(c) if c >= current => c.saturating_add(1),
        _ => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn epoch_is_the_ninth_of_october_2024() {
        // 2024-10-09 is day 20005 after 1970-01-01.
        assert_eq!(CURSOR_EPOCH_MS, 20_005 * 86_400_000);
    }

    #[test]
    fn intervals_are_twenty_seconds() {
        assert_eq!(current_interval(CURSOR_EPOCH_MS), 0);
        assert_eq!(current_interval(CURSOR_EPOCH_MS + 19_999), 0);
        assert_eq!(current_interval(CURSOR_EPOCH_MS + 20_000), 1);
        assert_eq!(current_interval(0), 0);
    }

    #[test]
    fn stale_or_absent_cursor_gets_the_current_interval() {
        let now = CURSOR_EPOCH_MS + 100 * CURSOR_INTERVAL_MS;
        assert_eq!(next_cursor(now, None), 100);
        assert_eq!(next_cursor(now, Some(3)), 100);
    }

    #[test]
    fn current_or_future_cursor_gets_exactly_one_more() {
        let now = CURSOR_EPOCH_MS + 100 * CURSOR_INTERVAL_MS;
        assert_eq!(next_cursor(now, Some(100)), 101);
        assert_eq!(next_cursor(now, Some(5000)), 5001);
    }

    proptest! {
        #[test]
        fn identical_requests_get_identical_cursors(now in 0i64..4_000_000_000_000, c in proptest::option::of(any::<u64>())) {
            prop_assert_eq!(next_cursor(now, c), next_cursor(now, c));
        }

        #[test]
        fn the_next_cursor_always_advances(now in 0i64..4_000_000_000_000, c in 0u64..u64::MAX) {
            prop_assert!(next_cursor(now, Some(c)) > c);
        }
    }
}
