//! The edge cache policy of the Durable Streams worker, as pure Rust.
//!
//! Everything the edge worker decides about caching lives here, with no platform types
//! and no clock of its own (time is always an argument):
//!
//! - [`key`]: canonical cache keys built from parsed reads;
//! - [`policy`]: whether to look a read up, and the store guard for its answer;
//! - [`control`]: `Cache-Control` for each kind of answer, and directive parsing;
//! - [`etag`] and [`revalidate`]: entity tags and `If-None-Match`, answered at the edge;
//! - [`cursor`]: deterministic cursor rotation, so identical readers share URLs;
//! - [`collapse`]: the in-isolate map that lets identical misses share one origin request;
//! - [`outcome`]: how a read was served (`X-Cache`);
//! - [`edge`]: the small trait the platform cache implements.
//!
//! docs/cache.md explains every rule and why it is so.

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod collapse;
pub mod control;
pub mod cursor;
pub mod edge;
pub mod etag;
pub mod key;
pub mod outcome;
pub mod policy;
pub mod revalidate;

pub use collapse::{InFlight, Joined, Settle, Slot};
pub use edge::{Buffered, EdgeCache, HasHeaders};
pub use key::{CacheKey, KeyOffset, Mode, ReadFacts};
pub use outcome::{CacheOutcome, CacheReport};
pub use policy::{Lookup, ReplyFacts, SkipReason, StoreDecision};
