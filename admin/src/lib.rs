//! The admin worker: dashboards for streams and subscriptions, and the JSON API they
//! call, behind a Cloudflare Access gate that covers the pages too.
//!
//! - [`access`]: the gate — Access tokens (RS256, the team's keys, `iss`, `aud`), closed
//!   when unconfigured, open only with `ADMIN_AUTH=dev-open`.

pub mod access;
