//! Durable Streams on Cloudflare Workers.
//!
//! The crate is organised from the protocol outwards:
//!
//! - [`protocol`]: the wire rules of the Durable Streams protocol as pure values and
//!   functions (offsets, cursors, headers, producers, JSON mode, SSE framing, errors).
//! - [`engine`]: one stream's durable state on SQLite, behind the small [`engine::Sql`]
//!   trait, so the same statements run in a Durable Object and in native tests.
//! - [`service`]: the per-stream request handler (create, append, read, long-poll,
//!   SSE, forks, expiry) over a [`service::Host`] that supplies time, timers and calls
//!   to other streams.
//! - [`auth`]: who may do what: HS256 tokens per project, public streams, and how the
//!   edge tells a stream object how a request was authorized.
//! - [`gateway`]: the edge worker's pure parts: routing, CORS and security headers.
//! - `platform` (wasm32 only): the workers-rs glue — the `#[event(fetch)]` entry, the
//!   `StreamDO` Durable Object, and adapters for SQLite, timers and stubs.
//!
//! Everything except `platform` compiles and tests natively with `cargo test`.

#![warn(missing_docs)]
// A panic in a Durable Object aborts the whole wasm instance: the request path never
// unwraps.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod engine;
pub mod gateway;
pub mod protocol;
pub mod service;

#[cfg(target_arch = "wasm32")]
mod platform;

#[cfg(target_arch = "wasm32")]
pub use platform::{handle_fetch, StreamDO};
