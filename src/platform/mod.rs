//! The workers-rs glue (wasm32 only): entry point, edge worker, the `StreamDO`
//! Durable Object, and adapters from the platform to the traits of `stream_do` and `edge`.

mod auth;
mod bridge;
mod cache;
mod cold;
mod convert;
mod edge;
mod host;
mod origin;
mod sqlite;
// The `durable_object` macro generates undocumented wasm-bindgen glue.
#[allow(missing_docs)]
mod stream_do;
mod timing;

pub use edge::handle_fetch;
pub use stream_do::StreamDO;

/// The Durable Object namespace binding that holds one object per stream.
pub const STREAMS_BINDING: &str = "STREAMS";

#[cfg(feature = "entry")]
#[worker::event(fetch)]
async fn fetch(
    req: worker::Request,
    env: worker::Env,
    ctx: worker::Context,
) -> worker::Result<worker::Response> {
    handle_fetch(req, env, ctx).await
}
