//! CORS and browser security headers, on every response the edge returns (§12.7).

use crate::protocol::headers::{ACCEPTED, EXPOSED};

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

    /// The origins allowed for a project: its own list when it has one, else the
    /// deployment's.
    pub fn for_project(&self, own: &[String]) -> Self {
        if own.is_empty() {
            return self.clone();
        }
        if own.iter().any(|o| o == "*") {
            return Self::Any;
        }
        Self::List(own.to_vec())
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<String> {
        match self {
            Self::Any => Some("*".to_owned()),
            Self::List(list) => origin.filter(|o| list.iter().any(|a| a == o)).map(str::to_owned),
        }
    }
}

/// The CORS headers of every response to a request from `origin`.
pub fn cors_headers(allowed: &AllowedOrigins, origin: Option<&str>) -> Vec<(&'static str, String)> {
    cors_headers_exposing(allowed, origin, &[])
}

/// [`cors_headers`] for a worker whose responses carry headers of its own as well.
pub fn cors_headers_exposing(
    allowed: &AllowedOrigins,
    origin: Option<&str>,
    extra: &[&str],
) -> Vec<(&'static str, String)> {
    let Some(allow) = allowed.allow(origin) else {
        return Vec::new();
    };
    let exposed: Vec<&str> = EXPOSED.iter().chain(extra).copied().collect();
    let mut h =
        vec![("Access-Control-Allow-Origin", allow), ("Access-Control-Expose-Headers", exposed.join(", "))];
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
        ("Access-Control-Allow-Methods", "GET, HEAD, PUT, POST, DELETE, OPTIONS".to_owned()),
        ("Access-Control-Allow-Headers", allow),
        ("Access-Control-Max-Age", "86400".to_owned()),
    ]
}

/// Browser security headers on every response (§12.7).
pub const SECURITY_HEADERS: [(&str, &str); 2] =
    [("X-Content-Type-Options", "nosniff"), ("Cross-Origin-Resource-Policy", "cross-origin")];

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_projects_own_origins_replace_the_deployments() {
        let deployment = AllowedOrigins::parse(Some("https://a"));
        assert_eq!(deployment.for_project(&[]), deployment);
        let own = deployment.for_project(&["https://b".to_owned()]);
        assert_eq!(own.allow(Some("https://b")), Some("https://b".into()));
        assert_eq!(own.allow(Some("https://a")), None);
        assert_eq!(AllowedOrigins::Any.for_project(&["https://b".to_owned()]).allow(Some("https://c")), None);
        assert_eq!(deployment.for_project(&["*".to_owned()]), AllowedOrigins::Any);
    }

    #[test]
    fn preflight_allows_if_none_match_and_echoes_requested_headers() {
        let h = preflight_headers(Some("x-custom"));
        let allow = &h.iter().find(|(k, _)| *k == "Access-Control-Allow-Headers").unwrap().1;
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
