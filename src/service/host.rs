//! What the service needs from its platform besides SQL.

use futures_util::future::LocalBoxFuture;

use super::internal::{Call, CallReply};
use crate::protocol::ProtocolError;

/// Time, timers, and calls to other streams' objects.
pub trait Host {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Completes after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()>;

    /// Sends `call` to the object of stream `stream_id`.
    fn call<'a>(
        &'a self,
        stream_id: &'a str,
        call: Call,
    ) -> LocalBoxFuture<'a, Result<CallReply, ProtocolError>>;

    /// Arranges for [`super::StreamService::on_alarm`] to run at `at_ms`.
    fn schedule_alarm(&self, at_ms: i64);

    /// Reports a failure that has no client to go to (for example a failed cleanup).
    fn log_error(&self, message: &str);
}
