//! Durable Streams on Cloudflare Workers.
//!
//! The folders follow a request: the edge worker ([`edge`]) receives it, the stream's
//! Durable Object ([`stream_do`]) answers it, and the object's storage ([`store`]) keeps
//! the stream. Beside them:
//!
//! - [`protocol`]: the wire rules of the Durable Streams protocol as pure values and
//!   functions (offsets, cursors, headers, producers, JSON mode, SSE framing, errors).
//! - [`http`]: the transport-neutral requests and replies both hops speak.
//! - [`auth`]: who may do what: HS256 tokens per project, public streams, and how the
//!   edge tells a stream object how a request was authorized.
//! - [`internal`]: the stream object's endpoints that are not the protocol's.
//! - [`server_timing`]: the `Server-Timing` header each hop adds to.
//! - `adapters` (wasm32 only): workers-rs adapters every worker of ours shares — HTTP
//!   conversions, DO SQLite, clocks, signing secrets.
//! - `platform` (wasm32, feature `stream-worker`): the streams worker on workers-rs — the
//!   `#[event(fetch)]` entry, the `StreamDO` Durable Object, R2, the cache, stubs.
//!
//! Everything except `platform` compiles and tests natively with `cargo test`.
//! docs/architecture.md draws the dependency graph between these modules.

#![warn(missing_docs)]
// A panic in a Durable Object aborts the whole wasm instance: the request path never
// unwraps.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod ds;
pub mod edge;
pub mod http;
pub mod internal;
pub mod metrics;
pub mod protocol;
pub mod server_timing;
pub mod store;
pub mod stream_do;

#[cfg(target_arch = "wasm32")]
pub mod adapters;
#[cfg(all(target_arch = "wasm32", feature = "stream-worker"))]
mod platform;

#[cfg(test)]
mod layers;

#[cfg(target_arch = "wasm32")]
pub use adapters::incoming::Incoming;
#[cfg(all(target_arch = "wasm32", feature = "stream-worker"))]
pub use platform::{handle_fetch, DsSubscriptionDO, MetricsDO, StreamDO};
