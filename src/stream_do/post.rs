//! POST: append and/or close (§5.2, §5.3).

use super::headers::append_request;
use super::{Host, StreamService};
use crate::http::{Reply, Request};
use crate::metrics::StreamMetric;
use crate::protocol::headers as h;
use crate::protocol::ProtocolError;
use crate::store::{AppendOutcome, Sql};
use durable_streams_cache::control;

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    pub(super) async fn append(&self, req: Request) -> Result<Reply, ProtocolError> {
        let (reply, data) = self.append_locked(req).await?;
        if data {
            // After the commit and outside the write lock, before the client hears of it.
            self.tell_watchers(false).await;
        }
        Ok(reply)
    }

    /// The append itself, under the write lock; says whether it added data.
    async fn append_locked(&self, mut req: Request) -> Result<(Reply, bool), ProtocolError> {
        if req.body.len() > self.config.max_append_bytes {
            return Err(ProtocolError::payload_too_large(self.config.max_append_bytes as u64));
        }
        let append = append_request(&mut req)?;
        let _writing = self.writes.lock().await;
        let now = self.host.now_ms();
        let m = self.live(now).await?;
        // Every POST counts as activity for a sliding TTL, whatever its outcome (§4).
        self.store.touch(&m, now)?;
        let outcome = self.store.append(&m, &append, now)?;
        Ok(match outcome {
            AppendOutcome::Written { tail, closed, data, messages } => {
                self.announce_change();
                if data {
                    let bytes = tail.saturating_sub(m.tail);
                    self.host.metric(StreamMetric::Append { stream: m.stream_id.clone(), messages, bytes });
                }
                let producer = append.producer.as_ref().map(|p| (p.epoch, p.seq));
                // New data from a producer is 200; everything else, a producer's close-only
                // included, is 204.
                let status = if data && producer.is_some() { 200 } else { 204 };
                (appended(status, self.offset(&m, tail)?, closed, producer), data)
            }
            AppendOutcome::Duplicate { tail, closed, epoch, last_seq } => {
                (appended(204, self.offset(&m, tail)?, closed, Some((epoch, last_seq))), false)
            }
        })
    }
}

/// The reply to a successful POST.
fn appended(status: u16, next_offset: String, closed: bool, producer: Option<(u64, u64)>) -> Reply {
    let reply = Reply::new(status)
        .header("Cache-Control", control::NO_STORE)
        .header(h::STREAM_NEXT_OFFSET, next_offset)
        .header_if(closed, h::STREAM_CLOSED, "true");
    match producer {
        Some((epoch, seq)) => {
            reply.header(h::PRODUCER_EPOCH, epoch.to_string()).header(h::PRODUCER_SEQ, seq.to_string())
        }
        None => reply,
    }
}
