//! Transport-neutral requests and replies.
//!
//! The edge and the stream object speak only these types; the platform layer converts
//! them to and from `worker::Request`/`worker::Response`, so the handlers compile and
//! test natively.

use std::fmt;

use crate::protocol::{ErrorCode, ProtocolError};

/// The request methods the worker distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
    /// Anything else.
    Other,
}

impl Method {
    /// Parses a method name (case-sensitive, as HTTP defines it).
    pub fn parse(s: &str) -> Self {
        match s {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "PUT" => Self::Put,
            "POST" => Self::Post,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }
}

/// A request with its body read.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The absolute URL, as received.
    pub url: String,
    /// Headers with lowercased names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A request without headers or body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self { method, url: url.into(), headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `scheme://authority` of the URL.
    pub fn origin(&self) -> &str {
        split_url(&self.url).0
    }

    /// The path of the URL, still percent-encoded.
    pub fn path(&self) -> &str {
        split_url(&self.url).1
    }

    /// The raw query (without `?`), or an empty string.
    pub fn query(&self) -> &str {
        split_url(&self.url).2
    }
}

/// Splits an absolute URL into origin, path and query; the fragment is dropped.
fn split_url(url: &str) -> (&str, &str, &str) {
    let url = url.split('#').next().unwrap_or("");
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    let (origin, rest) = url.split_at(path_start);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    (origin, if path.is_empty() { "/" } else { path }, query)
}

/// Collects a request body of at most `limit` bytes as its chunks arrive. A larger body
/// is still read to the end, and dropped, so the client gets a clean 413 instead of a
/// reset. A body whose stream fails broke off on the client's side: a 4xx, never a
/// server error, and nothing of it is used.
#[derive(Debug)]
pub struct BodyCollector {
    limit: usize,
    total: usize,
    body: Vec<u8>,
}

impl BodyCollector {
    /// Collects at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { limit, total: 0, body: Vec::new() }
    }

    /// Takes the next chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.total = self.total.saturating_add(chunk.len());
        if self.total <= self.limit {
            self.body.extend_from_slice(chunk);
        }
    }

    /// The error for a body stream that failed with `why`.
    pub fn broke_off(&self, why: &str) -> ProtocolError {
        ProtocolError::new(
            ErrorCode::IncompleteBody,
            format!("the request body broke off after {} bytes: {why}", self.total),
        )
    }

    /// The whole body, or 413 if it was over the limit.
    pub fn finish(self) -> Result<Vec<u8>, ProtocolError> {
        if self.total > self.limit {
            return Err(ProtocolError::payload_too_large(self.limit as u64));
        }
        Ok(self.body)
    }
}

/// A reply body.
pub enum Body {
    /// No body.
    Empty,
    /// A complete body.
    Bytes(Vec<u8>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("Empty"),
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

/// A reply.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

impl Reply {
    /// An empty reply with `status`.
    pub fn new(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Body::Empty }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds a header when `cond` holds.
    pub fn header_if(self, cond: bool, name: &'static str, value: impl Into<String>) -> Self {
        if cond {
            self.header(name, value)
        } else {
            self
        }
    }

    /// Sets a complete body.
    pub fn bytes(mut self, body: Vec<u8>) -> Self {
        self.body = Body::Bytes(body);
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// A header's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A JSON reply of `value`, never cacheable.
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Self {
        Reply::new(status)
            .header("Content-Type", "application/json")
            .header("Cache-Control", durable_streams_cache::control::NO_STORE)
            .bytes(serde_json::to_vec(value).unwrap_or_default())
    }

    /// The JSON error reply for `e`, never cacheable.
    pub fn error(e: &ProtocolError) -> Self {
        let mut r = Reply::new(e.status())
            .header("Content-Type", "application/json")
            .header("Cache-Control", durable_streams_cache::control::NO_STORE);
        r.headers.extend(e.headers());
        r.bytes(e.to_json().into_bytes())
    }
}

impl From<Result<Reply, ProtocolError>> for Reply {
    fn from(r: Result<Reply, ProtocolError>) -> Self {
        r.unwrap_or_else(|e| Reply::error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_origin_path_and_query() {
        let r = Request::new(Method::Get, "http://127.0.0.1:8787/v1/stream/a%2Fb?offset=-1#x");
        assert_eq!(
            (r.origin(), r.path(), r.query()),
            ("http://127.0.0.1:8787", "/v1/stream/a%2Fb", "offset=-1")
        );
        let bare = Request::new(Method::Get, "https://h");
        assert_eq!((bare.origin(), bare.path(), bare.query()), ("https://h", "/", ""));
    }

    #[test]
    fn headers_compare_case_insensitively() {
        let r = Request::new(Method::Get, "http://h/").with_header("Stream-Seq", "1");
        assert_eq!(r.header("stream-seq"), Some("1"));
    }

    #[test]
    fn bodies_are_collected_up_to_the_limit() {
        let mut body = BodyCollector::new(6);
        body.push(b"abc");
        body.push(b"def");
        assert_eq!(body.finish().unwrap(), b"abcdef");
        let mut over = BodyCollector::new(6);
        over.push(b"abcd");
        over.push(b"efg");
        assert_eq!(over.finish().unwrap_err(), ProtocolError::payload_too_large(6));
    }

    #[test]
    fn a_body_that_breaks_off_is_the_clients_error() {
        let mut body = BodyCollector::new(100);
        body.push(b"abc");
        let e = body.broke_off("Network connection lost.");
        assert_eq!((e.status(), e.code()), (400, ErrorCode::IncompleteBody));
        assert!(e.message().contains("after 3 bytes"), "{e}");
    }

    #[test]
    fn errors_become_json_no_store_replies_with_their_headers() {
        let r = Reply::error(&ProtocolError::ProducerSeqGap { expected: 1, received: 3 });
        assert_eq!(r.status, 409);
        assert_eq!(r.get("cache-control"), Some("no-store"));
        assert_eq!(r.get("Producer-Expected-Seq"), Some("1"));
    }
}
