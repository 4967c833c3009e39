//! Long-poll reads (§5.7).
//!
//! A long-poll waits on [`super::notify::Notify`]: it takes the change version, checks the
//! stream, and only then waits for a newer version, so no append slips between the check
//! and the wait. Appends, closes and deletes all bump the version.

use futures_util::future::{select, Either};

use super::{Host, StreamService};
use crate::http::Reply;
use crate::protocol::headers as h;
use crate::protocol::query::ReadQuery;
use crate::protocol::ProtocolError;
use crate::store::{Meta, Sql, State};
use durable_streams_cache::control;
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
                let chunk = self.read_page(&m, from, self.config.max_chunk_bytes).await?;
                let now = self.host.now_ms();
                // `offset=now` URLs do not name a position, so their answers are not shared.
                let answer = if now_mode { control::Answer::Current } else { control::Answer::LongPollData };
                let cc = control::for_answer(answer, now, m.deadline());
                let cursor = cursor::next_cursor(now, query.cursor);
                return Ok(self
                    .data_reply(None, &m, from, chunk, cc.into_owned())?
                    .header(h::STREAM_CURSOR, cursor.to_string()));
            }
            let now = self.host.now_ms();
            if m.closed || now >= deadline {
                return self.timed_out(&m, now, query.cursor);
            }
            if self.changes.waiting() >= MAX_WAITERS {
                // Too many readers parked here: answer as a timeout; the reader polls again.
                return self.timed_out(&m, now, query.cursor);
            }
            let _reader = self.readers.waiting(self, &m.stream_id);
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
            // The stream may have been deleted, or have expired and been created again
            // (a PUT does both in one request): a new stream at the path is not the one
            // this reader's offset belongs to.
            m = match self.store.state()? {
                State::Live(m) if m.incarnation == first.incarnation => m,
                State::Gone(g) if g.incarnation == first.incarnation => {
                    return Err(ProtocolError::stream_gone())
                }
                _ => return Err(ProtocolError::stream_not_found()),
            };
        }
    }

    /// A long-poll 204: no new data (or a closed stream) at the tail.
    fn timed_out(&self, m: &Meta, now: i64, client_cursor: Option<u64>) -> Result<Reply, ProtocolError> {
        Ok(Reply::new(204)
            .header(h::STREAM_NEXT_OFFSET, self.offset(m, m.tail)?)
            .header(h::STREAM_UP_TO_DATE, "true")
            .header_if(m.closed, h::STREAM_CLOSED, "true")
            .header_if(!m.closed, h::STREAM_CURSOR, cursor::next_cursor(now, client_cursor).to_string())
            .header("Cache-Control", control::NO_STORE))
    }
}

/// The most long-poll readers one stream object holds at once.
const MAX_WAITERS: usize = 10_000;
