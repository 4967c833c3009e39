//! The streams worker on workers-rs (wasm32, feature `stream-worker`): the entry point,
//! the edge worker, the `StreamDO` Durable Object, and the platform behind the traits of
//! `stream_do` and `edge`.

mod auth;
mod bridge;
mod cache;
mod cold;
mod edge;
mod host;
// The `durable_object` macro generates undocumented wasm-bindgen glue.
#[allow(missing_docs)]
mod ds_subscription_do;
#[allow(missing_docs)]
mod metrics_do;
mod origin;
#[allow(missing_docs)]
mod stream_do;

pub use ds_subscription_do::DsSubscriptionDO;
pub use edge::handle_fetch;
pub use metrics_do::MetricsDO;
pub use stream_do::StreamDO;

/// The Durable Object namespace binding that holds one object per stream.
pub const STREAMS_BINDING: &str = "STREAMS";

#[cfg(feature = "entry")]
#[worker::event(fetch)]
async fn fetch(
    req: crate::adapters::incoming::Incoming,
    env: worker::Env,
    ctx: worker::Context,
) -> worker::Result<worker::Response> {
    handle_fetch(req, env, ctx).await
}
