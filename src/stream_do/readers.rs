//! The stream's live readers, as the admin overview counts them: long-polls waiting at
//! the tail (counted here, while they wait) and SSE readers (the host's subscribers).
//! Each change is reported as a readers gauge ([`StreamMetric::Readers`]).

use std::cell::Cell;

use super::{Host, StreamService};
use crate::metrics::StreamMetric;
use crate::store::Sql;

/// Long-polls waiting now, and the SSE readers as last counted.
#[derive(Default)]
pub(super) struct LiveReaders {
    long_polls: Cell<u64>,
    /// Counted from the host's subscribers when first needed and after each change, not
    /// on every long-poll: a stream may hold many SSE readers.
    sse: Cell<Option<u64>>,
}

/// A long-poll counted while it waits; it is uncounted when dropped.
pub(super) struct Waiting<'a, S: Sql + 'static, H: Host + 'static> {
    service: &'a StreamService<S, H>,
    stream: String,
}

impl LiveReaders {
    /// Counts a long-poll of `stream` until the guard is dropped.
    pub(super) fn waiting<'a, S: Sql + 'static, H: Host + 'static>(
        &self,
        service: &'a StreamService<S, H>,
        stream: &str,
    ) -> Waiting<'a, S, H> {
        self.long_polls.set(self.long_polls.get() + 1);
        service.report_readers(stream);
        Waiting { service, stream: stream.to_owned() }
    }
}

impl<S: Sql + 'static, H: Host + 'static> Drop for Waiting<'_, S, H> {
    fn drop(&mut self) {
        let polls = &self.service.readers.long_polls;
        polls.set(polls.get().saturating_sub(1));
        self.service.report_readers(&self.stream);
    }
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Reports the readers of stream `stream` as they are now.
    pub(super) fn report_readers(&self, stream: &str) {
        let sse = self.readers.sse.get().unwrap_or_else(|| {
            let counted = self.host.subscribers().len() as u64;
            self.readers.sse.set(Some(counted));
            counted
        });
        self.host.metric(StreamMetric::Readers {
            stream: stream.to_owned(),
            long_poll: self.readers.long_polls.get(),
            sse,
        });
    }

    /// Reports the readers after an SSE reader came or went (the host's subscribers
    /// have changed); a stream that does not exist has none to report.
    pub fn sse_readers_changed(&self) {
        self.readers.sse.set(None);
        if let Ok(crate::store::State::Live(m)) = self.store.state() {
            self.report_readers(&m.stream_id);
        }
    }
}
