//! What the stream object needs from its platform besides SQL.

use futures_util::future::LocalBoxFuture;

use super::calls::{Call, CallReply};
use super::subscriber::Subscriber;
use crate::metrics::StreamMetric;
use crate::protocol::ProtocolError;
use crate::store::Rotation;

/// Time, timers, background work, live subscribers, and calls to other streams' objects.
pub trait Host {
    /// A live SSE subscriber (a hibernatable WebSocket in production).
    type Subscriber: Subscriber;

    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Completes after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()>;

    /// Runs `task` after the current request, keeping the object alive until it ends.
    fn spawn(&self, task: LocalBoxFuture<'static, ()>);

    /// Sends `call` to the object of stream `stream_id`.
    fn call<'a>(
        &'a self,
        stream_id: &'a str,
        call: Call,
    ) -> LocalBoxFuture<'a, Result<CallReply, ProtocolError>>;

    /// Tells subscription `key` (`<project>/<id>`) this stream's tail; answers whether
    /// the subscription still links the stream.
    fn notify_subscription<'a>(
        &'a self,
        key: &'a str,
        notice: &'a crate::ds::Notice,
    ) -> LocalBoxFuture<'a, Result<bool, ProtocolError>>;

    /// The live subscribers of this stream.
    fn subscribers(&self) -> Vec<Self::Subscriber>;

    /// Object storage for cold segments, if configured.
    fn cold(&self) -> Option<&dyn ColdStore>;

    /// Told after a segment of stream `stream_id` was committed (for an admin index).
    fn segment_committed(&self, stream_id: &str, segment: &Rotation);

    /// Told after segment objects were deleted (for an admin index).
    fn segments_deleted(&self, keys: &[String]);

    /// Arranges for [`super::StreamService::on_alarm`] to run at `at_ms`.
    fn schedule_alarm(&self, at_ms: i64);

    /// Fills `out` with cryptographically secure random bytes.
    fn random_bytes(&self, out: &mut [u8]) -> Result<(), ProtocolError>;

    /// Records a metric event for the admin overview (see [`crate::metrics`]). Hosts may
    /// batch events and keep only the latest readers gauge of a burst.
    fn metric(&self, event: StreamMetric);

    /// Reports a failure that has no client to go to (for example a failed cleanup).
    fn log_error(&self, message: &str);
}

/// Object storage for cold segments (R2 in production).
pub trait ColdStore {
    /// Stores an object.
    fn put<'a>(&'a self, key: &'a str, object: Vec<u8>) -> LocalBoxFuture<'a, Result<(), ProtocolError>>;

    /// Reads an object; `None` if it does not exist.
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<Vec<u8>>, ProtocolError>>;

    /// Deletes objects (missing ones are not an error).
    fn delete(&self, keys: Vec<String>) -> LocalBoxFuture<'_, Result<(), ProtocolError>>;
}
