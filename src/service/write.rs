//! POST: append and/or close (§5.2, §5.3).

use std::rc::Rc;

use super::headers::append_request;
use super::http::{Reply, Request};
use super::{Host, StreamService};
use crate::engine::{AppendOutcome, Sql};
use crate::protocol::headers as h;
use crate::protocol::{caching, Offset, ProtocolError};

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    pub(super) async fn append(self: &Rc<Self>, mut req: Request) -> Result<Reply, ProtocolError> {
        if req.body.len() > self.config.max_append_bytes {
            return Err(ProtocolError::PayloadTooLarge { limit: self.config.max_append_bytes as u64 });
        }
        let append = append_request(&mut req)?;
        let _writing = self.writes.lock().await;
        let now = self.host.now_ms();
        let m = self.live(now).await?;
        // Every POST counts as activity for a sliding TTL, whatever its outcome (§4).
        self.store.touch(&m, now)?;
        let outcome = self.store.append(&m, &append, now)?;
        let reply = Reply::new(204).header("Cache-Control", caching::NO_STORE);
        Ok(match outcome {
            AppendOutcome::Written { tail, closed, data } => {
                self.changes.bump();
                let reply = reply
                    .header(h::STREAM_NEXT_OFFSET, Offset::new(tail).to_string())
                    .header_if(closed, h::STREAM_CLOSED, "true");
                match &append.producer {
                    Some(p) => {
                        let mut r = reply
                            .header(h::PRODUCER_EPOCH, p.epoch.to_string())
                            .header(h::PRODUCER_SEQ, p.seq.to_string());
                        // New data from a producer is 200; a producer's close-only is 204.
                        if data {
                            r.status = 200;
                        }
                        r
                    }
                    None => reply,
                }
            }
            AppendOutcome::Duplicate { tail, closed, epoch, last_seq } => reply
                .header(h::STREAM_NEXT_OFFSET, Offset::new(tail).to_string())
                .header_if(closed, h::STREAM_CLOSED, "true")
                .header(h::PRODUCER_EPOCH, epoch.to_string())
                .header(h::PRODUCER_SEQ, last_seq.to_string()),
        })
    }
}
