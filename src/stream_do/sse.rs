//! SSE readers (§5.8), pushed to rather than polled.
//!
//! Each SSE reader is a subscriber the platform keeps for the object — in production a
//! WebSocket from the edge, accepted with the Hibernation API, so an idle stream object
//! can be evicted from memory while its readers stay connected. A subscriber's progress
//! (position, cursor) lives in its [`SubscriberState`], which survives hibernation.
//!
//! After every change the object *pumps* each subscriber: it sends everything from the
//! subscriber's position to the tail, as chunks of one `data` event followed by its
//! `control` event — the bytes the edge writes to the SSE response unchanged. Pumping
//! reads from the saved position, so a subscriber connecting while appends arrive, or one
//! pumped twice, gets every byte exactly once and in order. Subscribers at the same
//! position share one storage read (see `coalesce`).

use std::cell::RefCell;
use std::collections::HashMap;

use durable_streams_cache::control;
use durable_streams_cache::cursor;

use super::pages::body_of;
use super::subscriber::{Subscriber, SubscriberState};
use super::{Answer, Host, StreamService};
use crate::http::Reply;
use crate::protocol::headers as h;
use crate::protocol::sse::{self, Control, Encoding};
use crate::protocol::ProtocolError;
use crate::store::{Meta, Sql, State};

/// The most payload bytes in one chunk sent to a subscriber, keeping WebSocket messages
/// well under the platform's limit even after base64.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Which subscribers are being pumped now, and whether another change arrived meanwhile.
#[derive(Default)]
pub struct Pumps {
    running: RefCell<HashMap<u64, bool>>,
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Accepts an SSE reader from `from` (already validated): the platform keeps it as
    /// a subscriber.
    pub(super) fn sse(&self, m: &Meta, from: u64, client_cursor: Option<u64>) -> Answer {
        let state = self.subscription(m, from, client_cursor);
        let reply = Reply::new(200)
            .header("Content-Type", sse::CONTENT_TYPE)
            .header("Cache-Control", control::SSE)
            .header("X-Accel-Buffering", "no")
            .header_if(state.base64, h::STREAM_SSE_DATA_ENCODING, "base64");
        Answer::Subscribe { reply, state }
    }

    /// A new subscriber's initial state, for a read from `from`.
    fn subscription(&self, m: &Meta, from: u64, client_cursor: Option<u64>) -> SubscriberState {
        // 48 bits, so the id survives the trip through JavaScript numbers intact.
        let id =
            (self.host.now_ms().max(0) as u64 & 0xffff_ffff) << 16 | (self.subscriber_ids.next() & 0xffff);
        let base64 = Encoding::for_content_type(&m.content_type) == Encoding::Base64;
        SubscriberState {
            id,
            offset: from,
            cursor: client_cursor,
            started: false,
            base64,
            incarnation: m.incarnation,
        }
    }

    /// Starts serving a subscriber the platform has accepted.
    pub fn attach(&self, subscriber: H::Subscriber) {
        if let Some(me) = self.me.upgrade() {
            self.host.spawn(Box::pin(async move { me.pump(&subscriber).await }));
        }
    }

    /// Sends a subscriber everything it has not seen yet. If the subscriber is being
    /// pumped already, the running pump goes round once more instead.
    pub(super) async fn pump(&self, subscriber: &H::Subscriber) {
        let Some(state) = subscriber.state() else { return };
        if let Some(again) = self.pumps.running.borrow_mut().get_mut(&state.id) {
            *again = true;
            return;
        }
        self.pumps.running.borrow_mut().insert(state.id, false);
        loop {
            if let Err(e) = self.pump_once(subscriber).await {
                self.host.log_error(&format!("SSE subscriber failed, closing it: {e}"));
                subscriber.close(1011, "read failed");
                self.sse_readers_changed();
            }
            let mut running = self.pumps.running.borrow_mut();
            if running.get(&state.id) == Some(&true) {
                running.insert(state.id, false);
            } else {
                running.remove(&state.id);
                return;
            }
        }
    }

    /// Sends chunks until the subscriber has everything, or is closed.
    async fn pump_once(&self, subscriber: &H::Subscriber) -> Result<(), ProtocolError> {
        loop {
            let Some(mut state) = subscriber.state() else { return Ok(()) };
            // The stream may have been deleted or have expired and been created again
            // before this pump ran (a PUT applies expiry and creates in one request).
            let m = match self.store.state()? {
                State::Live(m) if state.incarnation == 0 || state.incarnation == m.incarnation => m,
                State::Live(_) | State::Gone(_) | State::Missing => {
                    subscriber.close(1000, "stream deleted");
                    self.sse_readers_changed();
                    return Ok(());
                }
            };
            if state.offset >= m.tail && state.started && !m.closed {
                return Ok(());
            }
            let mut data = None;
            if state.offset < m.tail {
                let cap = self.config.max_chunk_bytes.min(CHUNK_BYTES);
                let read = self.read_page(&m, state.offset, cap).await?;
                data = Some(body_of(&m, read.bytes));
                state.offset = read.end;
            }
            let up_to_date = state.offset >= m.tail;
            let closed = m.closed && up_to_date;
            let next = cursor::next_cursor(self.host.now_ms(), state.cursor);
            let next_offset = self.store.offset(&m, state.offset)?;
            let mut chunk = Vec::new();
            if let Some(data) = data {
                let encoding = if state.base64 { Encoding::Base64 } else { Encoding::Text };
                sse::push_data(&mut chunk, &data, encoding, &next_offset);
            }
            let control = Control { next_offset, cursor: Some(next), up_to_date, closed };
            sse::push_control(&mut chunk, &control);
            state.cursor = Some(next);
            state.started = true;
            subscriber.save(&state);
            if !subscriber.send(&chunk) {
                return Ok(());
            }
            if closed {
                subscriber.close(1000, "stream closed");
                self.sse_readers_changed();
                return Ok(());
            }
        }
    }
}

/// Allocates subscriber ids.
#[derive(Default)]
pub struct SubscriberIds {
    next: std::cell::Cell<u64>,
}

impl SubscriberIds {
    fn next(&self) -> u64 {
        let n = self.next.get().wrapping_add(1);
        self.next.set(n);
        n
    }
}
