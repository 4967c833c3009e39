//! The edge worker's logic, without platform types: routing, CORS and security headers,
//! and the cached read path.

mod cors;
pub mod read;
mod route;

pub use cors::{cors_headers, cors_headers_exposing, preflight_headers, AllowedOrigins, SECURITY_HEADERS};
pub use route::{route, Route, STATS_PREFIX};
