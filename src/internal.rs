//! The stream object's endpoints that are not the protocol's. The edge forwards only
//! protocol URLs to a stream object, so clients never reach these paths.

/// The path prefix of every internal endpoint.
pub const PREFIX: &str = "/_internal/";

/// The path of a stream object's request counters.
pub const STATS_PATH: &str = "/_internal/stats";

/// The path of a stream object's full state, for an admin's view of the stream: read
/// from storage on every request, so it cannot drift from what the object holds.
pub const INSPECT_PATH: &str = "/_internal/inspect";
