//! workers-rs adapters that any of our workers use (wasm32 only): neutral requests and
//! replies to and from workers-rs, a Durable Object's SQLite as [`crate::store::Sql`],
//! clocks and per-request timings, and where signing secrets come from.

pub mod convert;
pub mod incoming;
pub mod secrets;
pub mod sqlite;
pub mod timing;
