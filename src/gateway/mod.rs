//! The edge worker's pure parts: what a request is for, and the headers every response
//! carries (CORS and browser security, §12.7).

use crate::protocol::headers::{ACCEPTED, EXPOSED};
use crate::protocol::{path, ProtocolError};
use crate::service::Method;

/// What an incoming request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `OPTIONS` on any path: a CORS preflight.
    Preflight,
    /// `GET`/`HEAD /health`.
    Health,
    /// A request for the stream with this id.
    Stream(String),
}

/// Routes a request by method and (still percent-encoded) path.
pub fn route(method: Method, path: &str) -> Result<Route, ProtocolError> {
    if method == Method::Options {
        return Ok(Route::Preflight);
    }
    if path == "/health" && matches!(method, Method::Get | Method::Head) {
        return Ok(Route::Health);
    }
    let id = path::stream_id(path).ok_or(ProtocolError::NotFound)??;
    if path::is_reserved(&id) {
        // The subscription API (§6) is not offered; its paths never name streams.
        return Err(ProtocolError::NotFound);
    }
    match method {
        Method::Get | Method::Head | Method::Put | Method::Post | Method::Delete => {
            Ok(Route::Stream(id))
        }
        _ => Err(ProtocolError::MethodNotAllowed),
    }
}

/// Which origins may read responses from a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin (`*`).
    Any,
    /// Exactly these origins.
    List(Vec<String>),
}

impl AllowedOrigins {
    /// Parses `CORS_ORIGINS`: unset, empty or `*` allows any origin; otherwise a
    /// comma-separated list of exact origins.
    pub fn parse(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            None | Some("") | Some("*") => Self::Any,
            Some(list) => Self::List(
                list.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
            ),
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<String> {
        match self {
            Self::Any => Some("*".to_owned()),
            Self::List(list) => origin
                .filter(|o| list.iter().any(|a| a == o))
                .map(str::to_owned),
        }
    }
}

/// The CORS headers of every response to a request from `origin`.
pub fn cors_headers(allowed: &AllowedOrigins, origin: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(allow) = allowed.allow(origin) else {
        return Vec::new();
    };
    let mut h = vec![
        ("Access-Control-Allow-Origin", allow),
        ("Access-Control-Expose-Headers", EXPOSED.join(", ")),
    ];
    if matches!(allowed, AllowedOrigins::List(_)) {
        h.push(("Vary", "Origin".to_owned()));
    }
    h
}

/// The extra headers of a preflight response.
pub fn preflight_headers(request_headers: Option<&str>) -> Vec<(&'static str, String)> {
    // Echo what the browser asks for, so new headers work without a deploy; always
    // include our own list (which has If-None-Match).
    let mut allow = ACCEPTED.join(", ");
    if let Some(extra) = request_headers.filter(|e| !e.trim().is_empty()) {
        allow = format!("{allow}, {extra}");
    }
    vec![
        (
            "Access-Control-Allow-Methods",
            "GET, HEAD, PUT, POST, DELETE, OPTIONS".to_owned(),
        ),
        ("Access-Control-Allow-Headers", allow),
        ("Access-Control-Max-Age", "86400".to_owned()),
    ]
}

/// Browser security headers on every response (§12.7).
pub const SECURITY_HEADERS: [(&str, &str); 2] = [
    ("X-Content-Type-Options", "nosniff"),
    ("Cross-Origin-Resource-Policy", "cross-origin"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route(Method::Options, "/anything").unwrap(),
            Route::Preflight
        );
        assert_eq!(route(Method::Get, "/health").unwrap(), Route::Health);
        assert_eq!(
            route(Method::Post, "/v1/stream/a/b").unwrap(),
            Route::Stream("a/b".into())
        );
        assert_eq!(route(Method::Get, "/nope").unwrap_err().status(), 404);
        assert_eq!(route(Method::Get, "/v1/stream/").unwrap_err().status(), 400);
        assert_eq!(
            route(Method::Get, "/v1/stream/%ff").unwrap_err().status(),
            400
        );
        assert_eq!(
            route(Method::Other, "/v1/stream/a").unwrap_err().status(),
            405
        );
        assert_eq!(
            route(Method::Put, "/v1/stream/__ds/subscriptions/x")
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn cors_origins() {
        let any = AllowedOrigins::parse(None);
        assert_eq!(any.allow(Some("https://a")), Some("*".into()));
        let list = AllowedOrigins::parse(Some("https://a, https://b/"));
        assert_eq!(list.allow(Some("https://b")), Some("https://b".into()));
        assert_eq!(list.allow(Some("https://c")), None);
        assert!(cors_headers(&list, Some("https://c")).is_empty());
    }

    #[test]
    fn preflight_allows_if_none_match_and_echoes_requested_headers() {
        let h = preflight_headers(Some("x-custom"));
        let allow = &h
            .iter()
            .find(|(k, _)| *k == "Access-Control-Allow-Headers")
            .unwrap()
            .1;
        assert!(allow.to_lowercase().contains("if-none-match") && allow.contains("x-custom"));
    }

    #[test]
    fn every_stream_and_producer_header_is_exposed() {
        let exposed = cors_headers(&AllowedOrigins::Any, None)[1].1.clone();
        for needed in [
            "Stream-Next-Offset",
            "Stream-Cursor",
            "Producer-Expected-Seq",
            "Stream-SSE-Data-Encoding",
            "ETag",
        ] {
            assert!(exposed.contains(needed), "{needed}");
        }
    }
}
