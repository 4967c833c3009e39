//! GET (§5.6): catch-up reads and `offset=now` here; long-poll and SSE hand over to
//! their own modules.

use super::access::{access_of, gate_cache};
use super::pages::body_of;
use super::{Answer, Host, StreamService};
use crate::auth::Access;
use crate::http::{Reply, Request};
use crate::protocol::headers as h;
use crate::protocol::query::{Live, ReadQuery};
use crate::protocol::ErrorCode;
use crate::protocol::{ProtocolError, StartAt};
use crate::store::{Chunk, Meta, Sql};
use durable_streams_cache::control;
use durable_streams_cache::etag;

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// GET in any mode. Every GET counts as activity for a sliding TTL, from the start
    /// of the request (§4).
    pub(super) async fn get(&self, req: &Request) -> Result<Answer, ProtocolError> {
        let now = self.host.now_ms();
        let public = match access_of(req) {
            Access::Anonymous => Some(self.public_stream(now).await?),
            _ => None,
        };
        let query = ReadQuery::parse(req.query())?;
        if query.live != Live::No && query.offset.is_none() {
            return Err(ProtocolError::new(ErrorCode::OffsetRequired, "live reads need an offset"));
        }
        let m = match public {
            Some(m) => m,
            None => self.live(now).await?,
        };
        self.store.touch(&m, now)?;
        let start = query.offset.unwrap_or(StartAt::Beginning);
        let from = start.position(m.tail);
        if from > m.tail {
            return Err(ProtocolError::new(
                ErrorCode::OffsetBeyondTail,
                "offset is beyond the stream's tail",
            ));
        }
        let mut answer = match query.live {
            Live::No if start == StartAt::Now => self.now_reply(&m)?.into(),
            Live::No => self.catch_up(req, &m, from, now).await?.into(),
            Live::LongPoll => self.long_poll(&m, from, &query, start == StartAt::Now).await?.into(),
            Live::Sse => {
                // Checked before accepting: once the reader is a subscriber, a bad start
                // can only end its response, and a client would reconnect to it forever.
                if from != 0 && from < m.tail {
                    self.check_boundary(&m, from).await?;
                }
                self.sse(&m, from, query.cursor)
            }
        };
        gate_cache(answer.reply_mut(), &m, query.reader_key.as_deref());
        Ok(answer)
    }

    async fn catch_up(&self, req: &Request, m: &Meta, from: u64, now: i64) -> Result<Reply, ProtocolError> {
        let chunk = self.read_page(m, from, self.config.max_chunk_bytes).await?;
        let at_tail = chunk.end == m.tail;
        let cache_control =
            control::for_answer(control::Answer::CatchUp { at_tail }, now, m.deadline()).into_owned();
        self.data_reply(req.header("if-none-match"), m, from, chunk, cache_control)
    }

    /// A 200 carrying the read `[from, chunk.end)`, or a 304 if `if_none_match` matches.
    pub(super) fn data_reply(
        &self,
        if_none_match: Option<&str>,
        m: &Meta,
        from: u64,
        chunk: Chunk,
        cache_control: String,
    ) -> Result<Reply, ProtocolError> {
        let at_tail = chunk.end == m.tail;
        let closed = m.closed && at_tail;
        let tag = etag::for_read(m.incarnation, from, chunk.end, closed);
        let not_modified = if_none_match.is_some_and(|inm| etag::if_none_match_hits(inm, &tag));
        let reply = Reply::new(if not_modified { 304 } else { 200 })
            .header("Content-Type", m.content_type.clone())
            .header(h::STREAM_NEXT_OFFSET, self.offset(m, chunk.end)?)
            .header_if(at_tail, h::STREAM_UP_TO_DATE, "true")
            .header_if(closed, h::STREAM_CLOSED, "true")
            .header("ETag", tag)
            .header("Cache-Control", cache_control);
        Ok(if not_modified { reply } else { reply.bytes(body_of(m, chunk.bytes)) })
    }

    /// `offset=now`: the tail, no data, never cached (§5.6).
    fn now_reply(&self, m: &Meta) -> Result<Reply, ProtocolError> {
        Ok(Reply::new(200)
            .header("Content-Type", m.content_type.clone())
            .header(h::STREAM_NEXT_OFFSET, self.offset(m, m.tail)?)
            .header(h::STREAM_UP_TO_DATE, "true")
            .header_if(m.closed, h::STREAM_CLOSED, "true")
            .header("Cache-Control", control::NO_STORE)
            .bytes(body_of(m, Vec::new())))
    }
}
