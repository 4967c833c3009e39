//! Forks (§4.2): reading across the fork chain, and the source's side of creating and
//! releasing a fork.
//!
//! A fork stores only its own bytes, from its fork point on. Positions below the fork
//! point are read from the source with one call per read, and the source does the same
//! for its own source, so a read crosses each ancestor once.

use super::calls::{Call, CallReply, Grant};
use super::{Host, StreamService};
use crate::protocol::ErrorCode;
use crate::protocol::{json, ProtocolError};
use crate::store::{Chunk, ForkOrigin, Meta, Removal, Span, Sql, State};

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Reads `span` of `m`'s stored bytes, following the fork chain below the fork point:
    /// the source's part first, then, while the cap allows, this stream's own.
    pub(super) async fn read_chain(&self, m: &Meta, span: Span) -> Result<Chunk, ProtocolError> {
        let own = m.own_start();
        if span.from >= own {
            return self.read_own(m, span).await;
        }
        let origin = m.fork.as_ref().ok_or_else(|| ProtocolError::internal("fork origin missing"))?;
        let inherited = span.ending_by(own);
        let call = Call::Read { incarnation: origin.source_incarnation, span: inherited };
        let mut chunk = match self.host.call(&origin.source, call).await? {
            CallReply::Read(c) => c,
            _ => return Err(ProtocolError::unavailable("unexpected reply to a read")),
        };
        if chunk.end < inherited.until || chunk.end >= span.until || chunk.bytes.len() >= span.cap {
            return Ok(chunk);
        }
        let rest_span = Span { from: own, cap: span.cap - chunk.bytes.len(), must_progress: false, ..span };
        let rest = self.read_own(m, rest_span).await?;
        chunk.bytes.extend_from_slice(&rest.bytes);
        chunk.end = rest.end;
        Ok(chunk)
    }

    /// The rest of the record containing `at`, below `until`, following the fork chain.
    pub(super) async fn record_at(
        &self,
        m: &Meta,
        at: u64,
        until: u64,
    ) -> Result<Option<Vec<u8>>, ProtocolError> {
        let own = m.own_start();
        match &m.fork {
            Some(origin) if at < own => {
                let call = Call::Record { incarnation: origin.source_incarnation, at, until: own.min(until) };
                match self.host.call(&origin.source, call).await? {
                    CallReply::Record(r) => Ok(r),
                    _ => Err(ProtocolError::unavailable("unexpected reply to a record lookup")),
                }
            }
            _ => self.record_own(m, at, until).await,
        }
    }

    /// Checks that a JSON stream can be read (and forked) from `at`.
    pub(super) async fn check_boundary(&self, m: &Meta, at: u64) -> Result<(), ProtocolError> {
        if !m.is_json() {
            return Ok(());
        }
        self.read_range(m, Span::boundary(at, m.tail)).await.map(|_| ())
    }

    /// Source side of fork creation: validates the request, materializes the sub-offset
    /// prefix, and counts the fork. Nothing is counted if any check fails.
    pub(super) async fn grant_fork(
        &self,
        offset: Option<u64>,
        sub_offset: u64,
        content_type: Option<&str>,
    ) -> Result<Grant, ProtocolError> {
        let _writing = self.writes.lock().await;
        let now = self.host.now_ms();
        let m = match self.live(now).await {
            Err(e) if e.code() == ErrorCode::StreamGone => {
                return Err(ProtocolError::new(ErrorCode::ForkSourceGone, "the fork source was deleted"))
            }
            other => other?,
        };
        if let Some(ct) = content_type {
            if !crate::protocol::content_type::same_media_type(ct, &m.content_type) {
                return Err(ProtocolError::new(
                    ErrorCode::ContentTypeMismatch,
                    format!("a fork must keep its source's content type, {}", m.content_type),
                ));
            }
        }
        let at = offset.unwrap_or(m.tail);
        if at > m.tail {
            return Err(ProtocolError::new(
                ErrorCode::InvalidForkOffset,
                "Stream-Fork-Offset is beyond the source's tail",
            ));
        }
        let prefix = if sub_offset == 0 {
            self.check_boundary(&m, at).await?;
            Vec::new()
        } else {
            let record = self.record_at(&m, at, m.tail).await?;
            slice_record(record, sub_offset, m.is_json())?
        };
        self.store.add_fork()?;
        let (ttl_seconds, expires_at) = m.expiry.parts();
        Ok(Grant {
            incarnation: m.incarnation,
            content_type: m.content_type.clone(),
            offset: at,
            read_seq: self.store.offset(&m, at)?.read_seq(),
            ttl_seconds,
            expires_at,
            prefix_b64: String::new(),
        }
        .with_prefix(&prefix))
    }

    /// Source side of a fork going away: drops its reference, and finishes a delete
    /// that was waiting for the last fork.
    pub(super) async fn release_fork(&self, incarnation: u64) -> Result<(), ProtocolError> {
        let _writing = self.writes.lock().await;
        if let Some(removal) = self.store.release_fork(incarnation)? {
            self.after_removal(removal).await;
        }
        Ok(())
    }

    /// Tells a fork's source that the fork is gone. Failures are logged: the fork's own
    /// data is already removed, and at worst the source is kept longer than needed.
    pub(super) async fn release_source(&self, origin: &ForkOrigin) {
        let call = Call::Release { incarnation: origin.source_incarnation };
        if let Err(e) = self.host.call(&origin.source, call).await {
            self.host.log_error(&format!("releasing fork source {} failed: {e}", origin.source));
        }
    }

    /// Wakes readers after a removal, deletes the purged stream's segment objects, and
    /// releases the fork source it freed, if any.
    pub(super) async fn after_removal(&self, removal: Removal) {
        self.announce_change();
        if let Removal::Purged { release, segments } = removal {
            self.delete_segments(segments);
            if let Some(origin) = release {
                self.release_source(&origin).await;
            }
        }
    }

    /// Internal read on behalf of a fork: allowed on retained (deleted) streams, never
    /// counts as activity.
    pub(super) async fn inherited(&self, incarnation: u64) -> Result<Meta, ProtocolError> {
        let m = match self.state_at(self.host.now_ms()).await? {
            State::Live(m) | State::Gone(m) => m,
            State::Missing => return Err(ProtocolError::stream_not_found()),
        };
        if m.incarnation != incarnation {
            return Err(ProtocolError::new(
                ErrorCode::ForkGenerationMismatch,
                "the fork's source was replaced by a new stream",
            ));
        }
        Ok(m)
    }
}

/// The first `k` bytes (or JSON messages) of a record, for a sub-offset fork.
fn slice_record(record: Option<Vec<u8>>, k: u64, json_mode: bool) -> Result<Vec<u8>, ProtocolError> {
    let out_of_range = || {
        ProtocolError::new(
            ErrorCode::SubOffsetOutOfRange,
            "Stream-Fork-Sub-Offset is beyond the record after the fork offset",
        )
    };
    let record = record.ok_or_else(out_of_range)?;
    let k = usize::try_from(k).map_err(|_| out_of_range())?;
    let end = if json_mode {
        let last = k.checked_sub(1).ok_or_else(out_of_range)?;
        *json::message_ends(&record).get(last).ok_or_else(out_of_range)?
    } else if k <= record.len() {
        k
    } else {
        return Err(out_of_range());
    };
    Ok(record[..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::slice_record;

    #[test]
    fn sub_offsets_slice_bytes_or_messages() {
        assert_eq!(slice_record(Some(b"hello".to_vec()), 3, false).unwrap(), b"hel");
        assert_eq!(slice_record(Some(b"hello".to_vec()), 5, false).unwrap(), b"hello");
        assert!(slice_record(Some(b"hello".to_vec()), 6, false).is_err());
        assert_eq!(slice_record(Some(b"1,2,3,".to_vec()), 2, true).unwrap(), b"1,2,");
        assert!(slice_record(Some(b"1,2,3,".to_vec()), 4, true).is_err());
        assert!(slice_record(None, 1, false).is_err());
    }
}
