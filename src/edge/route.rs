//! What an incoming request is for.

use crate::http::Method;
use crate::protocol::path::StreamName;
use crate::protocol::ErrorCode;
use crate::protocol::{percent, ProtocolError};

/// What an incoming request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `OPTIONS` on any path: a CORS preflight.
    Preflight,
    /// `GET`/`HEAD /health`.
    Health,
    /// A request for this stream.
    Stream(StreamName),
    /// A request for the subscription APIs under a stream root's `__ds/` (§6).
    Control(crate::ds::ControlRequest),
    /// `GET /debug/stats/<stream-id>`: the request counters of a default-project stream's
    /// object (served only when the deployment enables them).
    Stats(StreamName),
}

/// The path prefix of the request-counter endpoint.
pub const STATS_PREFIX: &str = "/debug/stats/";

/// Routes a request by method and (still percent-encoded) path.
pub fn route(method: Method, path: &str) -> Result<Route, ProtocolError> {
    if method == Method::Options {
        return Ok(Route::Preflight);
    }
    if path == "/health" && matches!(method, Method::Get | Method::Head) {
        return Ok(Route::Health);
    }
    if let (Method::Get, Some(raw)) = (method, path.strip_prefix(STATS_PREFIX)) {
        let id = percent::decode(raw).filter(|id| !id.is_empty());
        return id
            .map(|id| Route::Stats(StreamName::default_project(id)))
            .ok_or_else(|| ProtocolError::new(ErrorCode::InvalidStreamId, "bad stream id"));
    }
    // `__ds` is routed before streams: its paths never name streams (§6).
    if let Some(control) = crate::ds::parse(method, path) {
        return control.map(Route::Control);
    }
    let name = StreamName::parse(path).ok_or(ProtocolError::not_found())??;
    if name.is_reserved() {
        return Err(ProtocolError::not_found());
    }
    match method {
        Method::Get | Method::Head | Method::Put | Method::Post | Method::Delete => Ok(Route::Stream(name)),
        _ => Err(ProtocolError::method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(Method::Options, "/anything").unwrap(), Route::Preflight);
        assert_eq!(route(Method::Get, "/health").unwrap(), Route::Health);
        let ab = StreamName::default_project("a/b");
        assert_eq!(route(Method::Post, "/v1/stream/a/b").unwrap(), Route::Stream(ab.clone()));
        assert_eq!(route(Method::Get, "/debug/stats/a%2Fb").unwrap(), Route::Stats(ab));
        let p = route(Method::Get, "/v1/acme/stream/x").unwrap();
        assert_eq!(p, Route::Stream(StreamName { project: "acme".into(), id: "x".into() }));
        assert_eq!(route(Method::Get, "/v1/a.b/stream/x").unwrap_err().status(), 400);
        assert_eq!(route(Method::Get, "/nope").unwrap_err().status(), 404);
        assert_eq!(route(Method::Get, "/v1/stream/").unwrap_err().status(), 400);
        assert_eq!(route(Method::Get, "/v1/stream/%ff").unwrap_err().status(), 400);
        assert_eq!(route(Method::Other, "/v1/stream/a").unwrap_err().status(), 405);
        assert!(matches!(route(Method::Put, "/v1/stream/__ds/subscriptions/x").unwrap(), Route::Control(_)));
        assert_eq!(route(Method::Put, "/v1/stream/__ds/nothing").unwrap_err().status(), 404);
    }
}
