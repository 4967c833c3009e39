//! What the subscription layer needs from its platform. The worker and both Durable
//! Objects run on workers-rs in production (`platform/`); the logic above these traits
//! compiles and tests natively.

use durable_streams_cloudflare::http::{Reply, Request};
use durable_streams_cloudflare::protocol::ProtocolError;
use futures_util::future::LocalBoxFuture;

use crate::metrics::Metric;
use crate::wire::FanoutJob;

/// Time, background work, logs and metrics, and the other parts of the system.
pub trait Host {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Completes after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()>;

    /// Runs `task` after the current request, keeping the invocation alive until it ends.
    fn spawn(&self, task: LocalBoxFuture<'static, ()>);

    /// Sends a request to core, with a token for `project` when auth is on.
    fn core<'a>(&'a self, project: &'a str, req: Request)
        -> LocalBoxFuture<'a, Result<Reply, ProtocolError>>;

    /// Sends a call to the object of session `key` (`<project>/<id>`).
    fn session<'a>(&'a self, key: &'a str, req: Request) -> LocalBoxFuture<'a, Result<Reply, ProtocolError>>;

    /// Sends a call to the subscriber index of source `key` (`<project>/<stream>`).
    fn source<'a>(&'a self, key: &'a str, req: Request) -> LocalBoxFuture<'a, Result<Reply, ProtocolError>>;

    /// Sends a call to `project`'s object (its sessions, sources and counters).
    fn project<'a>(
        &'a self,
        project: &'a str,
        req: Request,
    ) -> LocalBoxFuture<'a, Result<Reply, ProtocolError>>;

    /// Records a metric (Analytics Engine in production).
    fn metric(&self, metric: Metric);

    /// Reports a failure that has no client to go to.
    fn log_error(&self, message: &str);
}

/// Alarms, for objects.
pub trait Alarms {
    /// Arranges for the object's alarm to run at `at_ms`.
    fn schedule_alarm(&self, at_ms: i64);

    /// Cancels the object's alarm.
    fn cancel_alarm(&self);
}

/// The fan-out queue, if there is one.
pub trait FanoutQueue {
    /// Whether a queue is bound.
    fn has_queue(&self) -> bool;

    /// Sends jobs to the queue.
    fn enqueue(&self, jobs: Vec<FanoutJob>) -> LocalBoxFuture<'_, Result<(), ProtocolError>>;
}
