//! Pub/sub over Durable Streams on Cloudflare Workers.
//!
//! A second worker beside the streams worker ("core"), which it reaches over a service
//! binding. Clients subscribe *sessions* to *source* streams; a publish appends to the
//! source through core and fans the message out into the stream of every subscribed
//! session, which clients read with core's normal read paths (catch-up, long-poll through
//! the edge cache, SSE). docs/subscription.md describes the design.
//!
//! - [`route`], [`wire`], [`access`], [`ids`], [`config`]: the API — paths, bodies,
//!   who may do what, names, settings.
//! - [`api`]: the worker's routes and its queue consumer.
//! - [`session`]: a session's object (`SessionDO`): subscriptions, expiry, and exactly-once
//!   delivery into the session stream.
//! - [`source`]: a source stream's object (`SubscriptionDO`): its subscribers and fan-out.
//! - [`project`]: a project's object (`ProjectDO`): its sessions and sources as the admin
//!   dashboard lists them, and local per-minute counters.
//! - [`fanout`]: the fan-out policy and circuit breaker; [`core_api`]: requests to core;
//!   [`metrics`]: the metric events; [`host`]: what the platform provides.
//! - `platform` (wasm32 only, feature `subscription-worker`): the workers-rs glue.
//!
//! Everything except `platform` compiles and tests natively with `cargo test`.

#![warn(missing_docs)]
// A panic aborts a Durable Object's whole wasm instance: the request path never unwraps.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod access;
pub mod api;
pub mod config;
pub mod core_api;
pub mod fanout;
pub mod host;
pub mod ids;
pub mod metrics;
pub mod project;
pub mod route;
pub mod session;
pub mod source;
pub mod wire;

#[cfg(all(target_arch = "wasm32", feature = "subscription-worker"))]
mod platform;

#[cfg(test)]
mod tests;

#[cfg(all(target_arch = "wasm32", feature = "subscription-worker"))]
pub use platform::{handle_fetch, handle_queue, ProjectDO, SessionDO, SubscriptionDO};
