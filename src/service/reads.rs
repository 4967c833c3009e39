//! Read coalescing: identical reads that overlap in time share one storage read, and a
//! result is reused for a moment after it was produced.
//!
//! The key includes the incarnation and the end of the range (the tail, for public
//! reads), so any write — which moves the tail — or a re-creation makes new keys and old
//! results are never served for new data. When many long-poll readers are released by
//! one append, they all read the same range: one read serves them all.

use std::rc::Rc;

use durable_streams_cache::{InFlight, Joined, Settle};

use super::{Host, StreamService};
use crate::engine::{Chunk, Meta, Sql};
use crate::protocol::{content_type, ProtocolError};

/// How long a read result is reused.
pub const REUSE_MS: i64 = 100;
/// How many distinct recent reads are remembered.
pub const CAPACITY: usize = 64;
/// Results larger than this are shared with concurrent readers but not kept.
const KEEP_MAX_BYTES: usize = 256 * 1024;

/// The coalescing map of one stream object.
pub type ReadCoalescer = Rc<InFlight<Chunk>>;

/// A new, empty coalescing map.
pub fn coalescer() -> ReadCoalescer {
    InFlight::new(CAPACITY, REUSE_MS)
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Reads stored bytes of `m` in `[from, until)`, at most `cap` bytes (see
    /// [`crate::engine::log::read`]), across the fork chain, sharing identical reads.
    pub(super) async fn read_range(
        &self,
        m: &Meta,
        from: u64,
        until: u64,
        cap: usize,
        must_progress: bool,
    ) -> Result<Chunk, ProtocolError> {
        let key = format!("{}:{from}:{until}:{cap}:{must_progress}", m.incarnation);
        let leader = match self.reads.join(&key, self.host.now_ms()) {
            Joined::Ready(chunk) => {
                self.stats.reused_read();
                return Ok(chunk);
            }
            Joined::Follower(slot) => {
                if let Some(chunk) = slot.settled().await {
                    self.stats.reused_read();
                    return Ok(chunk);
                }
                None
            }
            Joined::Leader(l) => Some(l),
            Joined::Alone => None,
        };
        self.stats.storage_read();
        let result = self.read_chain(m, from, until, cap, must_progress).await;
        if let (Some(l), Ok(chunk)) = (leader, &result) {
            let settle = if chunk.bytes.len() <= KEEP_MAX_BYTES {
                Settle::Stored(chunk.clone())
            } else {
                Settle::Shared(chunk.clone())
            };
            l.settle(settle, self.host.now_ms());
        }
        result
    }

    /// One page for a client from `from` towards the tail, at most `cap` bytes (at least
    /// one JSON message). A page of a text stream cut short by the cap does not end
    /// inside a UTF-8 character: the character starts the next page instead. Otherwise
    /// the offset handed out would split it, and a reader that decodes each page or SSE
    /// event as text (SSE always does) would get replacement characters.
    pub(super) async fn read_page(&self, m: &Meta, from: u64, cap: usize) -> Result<Chunk, ProtocolError> {
        let mut chunk = self.read_range(m, from, m.tail, cap, true).await?;
        let text = content_type::is_textual(&m.content_type) && !m.is_json();
        if text && chunk.end < m.tail {
            let keep = char_boundary(&chunk.bytes);
            // A page that is nothing but part of a character is sent as it is.
            if keep > 0 {
                chunk.end -= (chunk.bytes.len() - keep) as u64;
                chunk.bytes.truncate(keep);
            }
        }
        Ok(chunk)
    }
}

/// The length of `bytes` without an incomplete UTF-8 sequence at its end. Anything else
/// (complete characters, bytes that are not UTF-8 at all) is kept.
fn char_boundary(bytes: &[u8]) -> usize {
    let len = bytes.len();
    // A sequence is at most 4 bytes: its lead byte is at most 3 back from the end.
    for back in 1..=len.min(3) {
        let b = bytes[len - back];
        if b & 0xc0 == 0x80 {
            continue;
        }
        let needs = match b {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => return len,
        };
        return if needs > back { len - back } else { len };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::char_boundary;

    #[test]
    fn pages_of_text_do_not_end_inside_a_character() {
        let euro = "€".as_bytes();
        assert_eq!(char_boundary(b"abc"), 3);
        assert_eq!(char_boundary(&[b'a', euro[0]]), 1);
        assert_eq!(char_boundary(&[b'a', euro[0], euro[1]]), 1);
        assert_eq!(char_boundary(&[b'a', euro[0], euro[1], euro[2]]), 4);
        assert_eq!(char_boundary("aé".as_bytes()), 3);
        assert_eq!(char_boundary(&"😀".as_bytes()[..3]), 0);
        // Not UTF-8: nothing to protect.
        assert_eq!(char_boundary(&[b'a', 0xff]), 2);
        assert_eq!(char_boundary(&[0x80, 0x80, 0x80]), 3);
    }
}
