//! Read coalescing: identical reads that overlap in time share one storage read, and a
//! result is reused for a moment after it was produced.
//!
//! The key is the stream incarnation and the read's [`Span`], whose end is the tail for
//! client reads, so any write — which moves the tail — or a re-creation makes new keys
//! and old results are never served for new data. When many long-poll readers are released by
//! one append, they all read the same range: one read serves them all.

use std::rc::Rc;

use durable_streams_cache::{InFlight, Joined, Settle};

use super::{Host, StreamService};
use crate::protocol::ProtocolError;
use crate::store::{Chunk, Meta, Span, Sql};

/// How long a read result is reused.
pub const REUSE_MS: i64 = 100;
/// How many distinct recent reads are remembered.
pub const CAPACITY: usize = 64;
/// Results larger than this are shared with concurrent readers but not kept.
const KEEP_MAX_BYTES: usize = 256 * 1024;

/// The coalescing map of one stream object, keyed by `(incarnation, span)`.
pub type ReadCoalescer = Rc<InFlight<(u64, Span), Chunk>>;

/// A new, empty coalescing map.
pub fn coalescer() -> ReadCoalescer {
    InFlight::new(CAPACITY, REUSE_MS)
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Reads `span` of `m`'s stored bytes, up to its tail, across the fork chain, sharing
    /// identical reads.
    pub(super) async fn read_range(&self, m: &Meta, span: Span) -> Result<Chunk, ProtocolError> {
        let span = span.ending_by(m.tail);
        let leader = match self.reads.join(&(m.incarnation, span), self.host.now_ms()) {
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
        let result = self.read_chain(m, span).await;
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
}
