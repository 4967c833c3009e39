//! The Durable Streams protocol as pure values: parsing, validation and formatting.
//!
//! Nothing here performs I/O or reads a clock; callers pass `now_ms` where time matters.
//! Section references (§) point at the protocol specification, PROTOCOL.md.

// Slicing and indexing panic on a bad bound, and a panic aborts the whole Durable
// Object: parsers and storage code use `get` and friends.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod content_type;
pub mod error;
pub mod expiry;
pub mod fork;
pub mod glob;
pub mod headers;
pub mod json;
pub mod offset;
pub mod path;
pub mod percent;
pub mod producer;
pub mod query;
pub mod sse;
pub mod time;

pub use error::{ErrorCode, ProtocolError};
pub use offset::{Offset, StartAt};
