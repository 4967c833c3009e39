//! Per-deployment limits and timeouts, read from the worker's variables.

/// Service configuration. Every field has a production default; see `wrangler.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How long a long-poll waits at the tail before answering 204
    /// (`LONG_POLL_TIMEOUT_MS`).
    pub long_poll_timeout_ms: u64,
    /// The window over which the readers one append releases are spread, after the
    /// first (`LONG_POLL_STAGGER_MS`).
    pub long_poll_stagger_ms: u64,
    /// The most bytes one read returns (`MAX_CHUNK_BYTES`). A JSON message larger than
    /// this is still returned whole; a page of a `text/*` stream ends between UTF-8
    /// characters, so it may be up to 3 bytes shorter.
    pub max_chunk_bytes: usize,
    /// The largest request body accepted (`MAX_APPEND_BYTES`); larger bodies get 413.
    pub max_append_bytes: usize,
    /// How long an SSE response lasts before the server ends it so the client
    /// reconnects (`SSE_SESSION_MS`).
    pub sse_session_ms: u64,
    /// How often an idle SSE response gets a keep-alive comment (`SSE_KEEPALIVE_MS`).
    pub sse_keepalive_ms: u64,
    /// When the hot log is cut into a cold segment (`SEGMENT_MAX_MESSAGES`,
    /// `SEGMENT_MAX_BYTES`).
    pub segments: crate::store::SegmentLimits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            // One cursor interval: an idle reader re-polls at most once per interval.
            long_poll_timeout_ms: 20_000,
            long_poll_stagger_ms: 100,
            max_chunk_bytes: 1 << 20,
            max_append_bytes: 16 << 20,
            sse_session_ms: 60_000,
            sse_keepalive_ms: 15_000,
            segments: crate::store::SegmentLimits::default(),
        }
    }
}

impl Config {
    /// Reads the configuration from named variables; missing or malformed values keep
    /// their defaults, and values are clamped to sane ranges.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let d = Self::default();
        let num = |name: &str, default: u64, min: u64, max: u64| {
            var(name).and_then(|v| v.trim().parse::<u64>().ok()).map_or(default, |v| v.clamp(min, max))
        };
        Self {
            long_poll_timeout_ms: num("LONG_POLL_TIMEOUT_MS", d.long_poll_timeout_ms, 100, 120_000),
            long_poll_stagger_ms: num("LONG_POLL_STAGGER_MS", d.long_poll_stagger_ms, 0, 5_000),
            max_chunk_bytes: num("MAX_CHUNK_BYTES", d.max_chunk_bytes as u64, 1024, 64 << 20) as usize,
            max_append_bytes: num("MAX_APPEND_BYTES", d.max_append_bytes as u64, 1024, 64 << 20) as usize,
            sse_session_ms: num("SSE_SESSION_MS", d.sse_session_ms, 1_000, 600_000),
            sse_keepalive_ms: num("SSE_KEEPALIVE_MS", d.sse_keepalive_ms, 1_000, 300_000),
            segments: crate::store::SegmentLimits {
                max_messages: num("SEGMENT_MAX_MESSAGES", d.segments.max_messages, 1, 1_000_000),
                max_bytes: num("SEGMENT_MAX_BYTES", d.segments.max_bytes, 1024, 64 << 20),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_override_defaults_within_bounds() {
        let c = Config::from_vars(|k| match k {
            "LONG_POLL_TIMEOUT_MS" => Some("500".into()),
            "MAX_CHUNK_BYTES" => Some("1".into()),
            "SSE_SESSION_MS" => Some("nonsense".into()),
            _ => None,
        });
        assert_eq!(c.long_poll_timeout_ms, 500);
        assert_eq!(c.max_chunk_bytes, 1024);
        assert_eq!(c.sse_session_ms, Config::default().sse_session_ms);
    }
}
