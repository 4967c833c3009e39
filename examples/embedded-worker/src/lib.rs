//! Your own worker, serving Durable Streams: route what you like, hand the rest over.
#![cfg(target_arch = "wasm32")]

use durable_streams_cloudflare::Incoming;
pub use durable_streams_cloudflare::{DsSubscriptionDO, StreamDO};
use worker::{event, Context, Env, Response, Result};

// `Incoming` is the request as the runtime hands it over; a `worker::Request` works too,
// but converting to one builds the request's `cf` object on every request.
#[event(fetch)]
async fn fetch(req: Incoming, env: Env, ctx: Context) -> Result<Response> {
    durable_streams_cloudflare::handle_fetch(req, env, ctx).await
}
