//! Header names (§11) and the small header values that need parsing.

/// Next offset after a read or write.
pub const STREAM_NEXT_OFFSET: &str = "Stream-Next-Offset";
/// Set when a response reaches the tail.
pub const STREAM_UP_TO_DATE: &str = "Stream-Up-To-Date";
/// Set when the stream is closed (and, on reads, the final offset was reached).
pub const STREAM_CLOSED: &str = "Stream-Closed";
/// The cursor for CDN collapsing.
pub const STREAM_CURSOR: &str = "Stream-Cursor";
/// Sliding TTL in seconds.
pub const STREAM_TTL: &str = "Stream-TTL";
/// Absolute expiry (RFC 3339).
pub const STREAM_EXPIRES_AT: &str = "Stream-Expires-At";
/// Writer sequence for optimistic concurrency.
pub const STREAM_SEQ: &str = "Stream-Seq";
/// The longest `Stream-Seq` accepted, in bytes; the last one is kept with the stream.
pub const MAX_STREAM_SEQ_BYTES: usize = 256;
/// `base64` on SSE responses of binary streams.
pub const STREAM_SSE_DATA_ENCODING: &str = "Stream-SSE-Data-Encoding";
/// The source of a fork.
pub const STREAM_FORKED_FROM: &str = "Stream-Forked-From";
/// Where a fork diverges from its source.
pub const STREAM_FORK_OFFSET: &str = "Stream-Fork-Offset";
/// How much of the record after the fork offset the fork keeps.
pub const STREAM_FORK_SUB_OFFSET: &str = "Stream-Fork-Sub-Offset";
/// Idempotent producer id.
pub const PRODUCER_ID: &str = "Producer-Id";
/// Idempotent producer epoch.
pub const PRODUCER_EPOCH: &str = "Producer-Epoch";
/// Idempotent producer sequence number.
pub const PRODUCER_SEQ: &str = "Producer-Seq";
/// On a sequence gap: the sequence number the server expected.
pub const PRODUCER_EXPECTED_SEQ: &str = "Producer-Expected-Seq";
/// On a sequence gap: the sequence number the server received.
pub const PRODUCER_RECEIVED_SEQ: &str = "Producer-Received-Seq";

/// A protected stream's reader key (on create and HEAD), or `rotate` on a POST that
/// asks for a new one.
pub const STREAM_READER_KEY: &str = "Stream-Reader-Key";

/// Every response header a browser client may need to read (CORS expose list).
pub const EXPOSED: &[&str] = &[
    STREAM_NEXT_OFFSET,
    STREAM_CURSOR,
    STREAM_UP_TO_DATE,
    STREAM_CLOSED,
    STREAM_TTL,
    STREAM_EXPIRES_AT,
    STREAM_SSE_DATA_ENCODING,
    PRODUCER_EPOCH,
    PRODUCER_SEQ,
    PRODUCER_EXPECTED_SEQ,
    PRODUCER_RECEIVED_SEQ,
    STREAM_READER_KEY,
    "ETag",
    "Location",
    "Content-Type",
    "Cache-Control",
    "Server-Timing",
    "X-Cache",
];

/// Every request header a browser client may send (CORS allow list).
pub const ACCEPTED: &[&str] = &[
    "Content-Type",
    "Authorization",
    "If-None-Match",
    "Cache-Control",
    // Sent by a browser's EventSource when it reconnects (not CORS-safelisted).
    "Last-Event-ID",
    STREAM_SEQ,
    STREAM_TTL,
    STREAM_EXPIRES_AT,
    STREAM_CLOSED,
    STREAM_FORKED_FROM,
    STREAM_FORK_OFFSET,
    STREAM_FORK_SUB_OFFSET,
    PRODUCER_ID,
    PRODUCER_EPOCH,
    PRODUCER_SEQ,
    STREAM_READER_KEY,
];

/// `Stream-Closed: true`, compared case-insensitively. Any other value means absent.
pub fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_closed_is_case_insensitive_and_lenient() {
        assert!(is_true(Some("true")) && is_true(Some("TRUE")) && is_true(Some(" True ")));
        assert!(!is_true(Some("yes")) && !is_true(Some("")) && !is_true(None));
    }
}
