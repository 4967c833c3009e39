//! The stream object's endpoints that are not the protocol's. The edge forwards only
//! protocol URLs to a stream object, so clients never reach these paths.

/// The path prefix of every internal endpoint.
pub const PREFIX: &str = "/_internal/";

/// The path of a stream object's request counters.
pub const STATS_PATH: &str = "/_internal/stats";
