//! The admin worker: dashboards for streams and subscriptions, and the JSON API they
//! call, behind a Cloudflare Access gate that covers the pages too.
//!
//! - [`access`]: the gate — Access tokens (RS256, the team's keys, `iss`, `aud`), closed
//!   when unconfigured, open only with `ADMIN_AUTH=dev-open`.
//! - [`live`]: the console's live log, SSE events that carry their offset as `id:`.
//! - [`overview`]: the overview's figures: core's counters locally, Analytics Engine's
//!   SQL API in production (the queries and the reading of their answers).
//! - [`projects`]: the projects pages' API: the registry's records and a project's
//!   streams.
//! - [`route`]: what a request asks for: the JSON API under `/admin/api/`, or a page.
//! - [`subscriptions`]: the calls and requests the subscription pages make.
//! - `platform` (wasm32): the worker — gate, API, and the assets binding for the pages.

pub mod access;
pub mod live;
pub mod overview;
pub mod projects;
pub mod route;
pub mod subscriptions;

#[cfg(target_arch = "wasm32")]
mod platform;
#[cfg(target_arch = "wasm32")]
pub use platform::handle_fetch;

#[cfg(all(target_arch = "wasm32", feature = "entry"))]
#[worker::event(fetch)]
async fn fetch(
    req: worker::Request,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<worker::Response> {
    handle_fetch(req, env).await
}
