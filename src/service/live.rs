//! Live reads: long-poll (§5.7) and server-sent events (§5.8).
//!
//! Both wait on [`super::notify::Notify`]: a reader takes the change version, checks the
//! stream, and only then waits for a newer version, so no append slips between the
//! check and the wait. Appends, closes and deletes all bump the version.

use std::rc::Rc;

use futures_util::future::{select, Either};
use futures_util::stream;

use super::http::{Body, Reply};
use super::read::{body_of, data_reply};
use super::{Host, StreamService};
use crate::engine::{Meta, Sql, State};
use crate::protocol::headers as h;
use crate::protocol::query::ReadQuery;
use crate::protocol::sse::{self, Control, Encoding};
use crate::protocol::{Offset, ProtocolError};
use durable_streams_cache::control::{self, Answer};
use durable_streams_cache::cursor;

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Answers at once when there is data after `from` (or the stream is closed there);
    /// otherwise waits up to the long-poll timeout.
    pub(super) async fn long_poll(
        &self,
        first: &Meta,
        from: u64,
        query: &ReadQuery,
        now_mode: bool,
    ) -> Result<Reply, ProtocolError> {
        let deadline = self.host.now_ms() + self.config.long_poll_timeout_ms as i64;
        let mut m = first.clone();
        loop {
            let seen = self.changes.version();
            if from < m.tail {
                let chunk = self.read_range(&m, from, m.tail, self.config.max_chunk_bytes, true).await?;
                let now = self.host.now_ms();
                // `offset=now` URLs do not name a position, so their answers are not shared.
                let answer = if now_mode { Answer::Current } else { Answer::LongPollData };
                let cc = control::for_answer(answer, now, m.deadline());
                let cursor = cursor::next_cursor(now, query.cursor);
                return Ok(data_reply(None, &m, from, chunk, cc.into_owned())
                    .header(h::STREAM_CURSOR, cursor.to_string()));
            }
            let now = self.host.now_ms();
            if m.closed || now >= deadline {
                return Ok(timed_out(&m, now, query.cursor));
            }
            if self.changes.waiting() >= MAX_WAITERS {
                // Too many readers parked here: answer as a timeout; the reader polls again.
                return Ok(timed_out(&m, now, query.cursor));
            }
            let wait = self.changes.changed(seen);
            let timer = self.host.sleep((deadline - now) as u64);
            if let Either::Left((release, _)) = select(wait, timer).await {
                // The first reader released answers at once; the rest follow over a short
                // window, so the first answer can reach the edge cache ahead of them.
                let delay = release.stagger_ms(self.config.long_poll_stagger_ms);
                if delay > 0 {
                    self.host.sleep(delay).await;
                }
            }
            m = match self.store.state()? {
                State::Live(m) => m,
                State::Gone(_) => return Err(ProtocolError::StreamGone),
                State::Missing => return Err(ProtocolError::StreamNotFound),
            };
        }
    }

    /// Starts an SSE response that follows the stream from `from`.
    pub(super) fn sse(self: &Rc<Self>, m: &Meta, from: u64, client_cursor: Option<u64>, now: i64) -> Reply {
        let encoding = Encoding::for_content_type(&m.content_type);
        let session = SseSession {
            service: Rc::clone(self),
            pos: from,
            cursor: client_cursor,
            ends_at: now + self.config.sse_session_ms as i64,
            started: false,
            finished: false,
            encoding,
        };
        let body = stream::unfold(session, |mut s| async move {
            let chunk = s.next_chunk().await?;
            Some((chunk, s))
        });
        Reply::new(200)
            .header("Content-Type", sse::CONTENT_TYPE)
            .header("Cache-Control", control::SSE)
            .header("X-Accel-Buffering", "no")
            .header_if(encoding == Encoding::Base64, h::STREAM_SSE_DATA_ENCODING, "base64")
            .with_body(Body::Stream(Box::pin(body)))
    }
}

/// The most long-poll readers one stream object holds at once.
const MAX_WAITERS: usize = 10_000;

/// A long-poll 204: no new data (or a closed stream) at the tail.
fn timed_out(m: &Meta, now: i64, client_cursor: Option<u64>) -> Reply {
    Reply::new(204)
        .header(h::STREAM_NEXT_OFFSET, m.tail_offset().to_string())
        .header(h::STREAM_UP_TO_DATE, "true")
        .header_if(m.closed, h::STREAM_CLOSED, "true")
        .header_if(!m.closed, h::STREAM_CURSOR, cursor::next_cursor(now, client_cursor).to_string())
        .header("Cache-Control", control::NO_STORE)
}

/// One SSE response's progress.
struct SseSession<S, H> {
    service: Rc<StreamService<S, H>>,
    /// The position after the data sent so far.
    pos: u64,
    /// The cursor the client last saw.
    cursor: Option<u64>,
    /// When the server ends the response so the client reconnects.
    ends_at: i64,
    /// Whether anything was sent yet.
    started: bool,
    /// Whether the final control event was sent.
    finished: bool,
    encoding: Encoding,
}

impl<S: Sql + 'static, H: Host + 'static> SseSession<S, H> {
    /// The next chunk to send, or `None` to end the response.
    async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let svc = Rc::clone(&self.service);
        loop {
            if self.finished {
                return None;
            }
            let seen = svc.changes.version();
            let m = match svc.store.state() {
                Ok(State::Live(m)) => m,
                _ => return None,
            };
            if self.pos < m.tail {
                return self.data(&m).await;
            }
            if !self.started || m.closed {
                self.started = true;
                return Some(self.control(&m, Vec::new()));
            }
            let now = svc.host.now_ms();
            if now >= self.ends_at {
                return None;
            }
            let idle = svc.config.sse_keepalive_ms.min((self.ends_at - now) as u64);
            match select(svc.changes.changed(seen), svc.host.sleep(idle)).await {
                Either::Left(_) => {}
                Either::Right(_) => return Some(sse::KEEPALIVE.to_vec()),
            }
        }
    }

    /// A data event with everything readable from `pos` (up to the chunk cap) and its
    /// control event, as one chunk.
    async fn data(&mut self, m: &Meta) -> Option<Vec<u8>> {
        let svc = &self.service;
        let chunk = match svc.read_range(m, self.pos, m.tail, svc.config.max_chunk_bytes, true).await {
            Ok(chunk) => chunk,
            Err(e) => {
                // The client reconnects from its last offset; the failure is for operators.
                svc.host.log_error(&format!("SSE read failed, ending the response: {e}"));
                return None;
            }
        };
        self.pos = chunk.end;
        self.started = true;
        let mut out = Vec::with_capacity(chunk.bytes.len() + 128);
        sse::push_data(&mut out, &body_of(m, chunk.bytes), self.encoding);
        Some(self.control(m, out))
    }

    /// Appends the control event for the current position to `out`.
    fn control(&mut self, m: &Meta, mut out: Vec<u8>) -> Vec<u8> {
        let up_to_date = self.pos >= m.tail;
        let closed = m.closed && up_to_date;
        let next = cursor::next_cursor(self.service.host.now_ms(), self.cursor);
        self.cursor = Some(next);
        self.finished = closed;
        let control = Control { next_offset: Offset::new(self.pos), cursor: Some(next), up_to_date, closed };
        sse::push_control(&mut out, &control);
        out
    }
}
