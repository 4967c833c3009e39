//! The edge worker's logic, without platform types: routing, CORS and security headers,
//! the cached read path, and `Server-Timing`.

mod cors;
pub mod read;
mod route;
pub mod timing;

pub use cors::{cors_headers, preflight_headers, AllowedOrigins, SECURITY_HEADERS};
pub use route::{route, Route, STATS_PREFIX};
