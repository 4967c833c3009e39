//! Your own worker, serving Durable Streams: route what you like, hand the rest over.
#![cfg(target_arch = "wasm32")]

pub use durable_streams_cloudflare::{DsSubscriptionDO, StreamDO};
use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    durable_streams_cloudflare::handle_fetch(req, env, ctx).await
}
