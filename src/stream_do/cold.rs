//! The cold tier from the stream object's side: cutting the hot log into segment objects after
//! writes, and reading a stream's own data across segments and the hot log.
//!
//! A read that starts in the cold range is served from segment objects, continuing into
//! the next segment and then the hot log until the byte cap, so reads stitch across
//! segment boundaries. A segment that cannot be read (missing, truncated, corrupt) fails
//! that read with a 500; the stream stays writable and other ranges stay readable.

use std::rc::Rc;

use super::{Host, StreamService};
use crate::protocol::ProtocolError;
use crate::store::rows::{Chunk, RangeRead, RecordRead, RowReader};
use crate::store::segment::{self, Segment};
use crate::store::{Meta, SegmentInfo, Span, Sql, State};

/// How many decoded segments an object keeps for readers catching up.
const CACHED_SEGMENTS: usize = 4;

/// Recently read segments: `((incarnation, read_seq), rows)`.
pub(super) type SegmentCache = std::cell::RefCell<Vec<((u64, u64), Rc<Segment>)>>;

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Cuts the hot log into segments while a cut is due. Runs after writes, never on the
    /// acknowledgment path, one at a time per object.
    pub(super) async fn rotate(&self) {
        let Some(cold) = self.host.cold() else { return };
        if self.rotating.replace(true) {
            return;
        }
        while let Ok(State::Live(m)) = self.store.state() {
            let mut plan = match self.store.plan_rotation(&m, &self.config.segments) {
                Ok(Some(plan)) => plan,
                Ok(None) => break,
                Err(e) => {
                    self.host.log_error(&format!("planning a segment failed: {e}"));
                    break;
                }
            };
            let object = std::mem::take(&mut plan.object);
            if let Err(e) = cold.put(&plan.key, object).await {
                self.host.log_error(&format!("uploading segment {} failed: {e}", plan.key));
                break;
            }
            match self.store.commit_rotation(&plan, self.host.now_ms()) {
                Ok(true) => self.host.segment_committed(&m.stream_id, &plan),
                Ok(false) => {
                    // The stream changed under the upload: the object belongs to nothing.
                    let _ = cold.delete(vec![plan.key]).await;
                    break;
                }
                Err(e) => {
                    self.host.log_error(&format!("indexing segment {} failed: {e}", plan.key));
                    break;
                }
            }
        }
        self.rotating.set(false);
    }

    /// Deletes segment objects of a purged stream, in the background.
    pub(super) fn delete_segments(&self, keys: Vec<String>) {
        let Some(me) = self.me.upgrade() else { return };
        if keys.is_empty() {
            return;
        }
        self.host.spawn(Box::pin(async move {
            if let Some(cold) = me.host.cold() {
                match cold.delete(keys.clone()).await {
                    Ok(()) => me.host.segments_deleted(&keys),
                    Err(e) => me.host.log_error(&format!("deleting segment objects failed: {e}")),
                }
            }
        }));
    }

    /// Reads `span` of this stream's own bytes.
    pub(super) async fn read_own(&self, m: &Meta, span: Span) -> Result<Chunk, ProtocolError> {
        let mut reader = RangeRead::new(span.ending_by(m.tail), m.is_json());
        self.feed_own(m, &mut reader).await?;
        Ok(reader.finish())
    }

    /// The rest of the own record containing `at`, below `until`.
    pub(super) async fn record_own(
        &self,
        m: &Meta,
        at: u64,
        until: u64,
    ) -> Result<Option<Vec<u8>>, ProtocolError> {
        let mut reader = RecordRead::new(at, until.min(m.tail), m.is_json());
        self.feed_own(m, &mut reader).await?;
        Ok(reader.finish())
    }

    /// Feeds a reader the stream's own rows: from cold segments while it is below the hot
    /// start, then from the hot log.
    async fn feed_own(&self, m: &Meta, reader: &mut impl RowReader) -> Result<(), ProtocolError> {
        let cold_until = reader.until().min(m.hot_start());
        if reader.position() < cold_until {
            for info in self.store.segments_between(reader.position(), cold_until)? {
                let seg = self.segment(m, &info).await?;
                for row in seg.rows_from(reader.position()) {
                    if !reader.feed(row)? {
                        break;
                    }
                }
                if !reader.wants_more() {
                    break;
                }
            }
        }
        self.store.feed_hot(reader)
    }

    /// A segment's rows, from the object's small cache or from the cold store.
    async fn segment(&self, m: &Meta, info: &SegmentInfo) -> Result<Rc<Segment>, ProtocolError> {
        let key = (m.incarnation, info.read_seq);
        if let Some((_, seg)) = self.segment_cache.borrow().iter().find(|(k, _)| *k == key) {
            return Ok(Rc::clone(seg));
        }
        let unreadable = |why: String| {
            self.host.log_error(&format!("segment {} of stream {}: {why}", info.key, m.stream_id));
            ProtocolError::segment_unreadable(&why)
        };
        let cold = self.host.cold().ok_or_else(|| unreadable("cold storage is not configured".into()))?;
        let bytes = cold.get(&info.key).await?.ok_or_else(|| unreadable("object missing".into()))?;
        let seg =
            Rc::new(segment::decode(&bytes, info.start, info.end).map_err(|e| unreadable(e.to_string()))?);
        let mut cache = self.segment_cache.borrow_mut();
        if cache.len() >= CACHED_SEGMENTS {
            cache.remove(0);
        }
        cache.push((key, Rc::clone(&seg)));
        Ok(seg)
    }
}
