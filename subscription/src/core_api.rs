//! Requests to core, and what its answers mean here. Core is reached over a service
//! binding (or its URL); these are the protocol's own requests, so the subscription layer
//! needs nothing from core but its public API.

use durable_streams_cloudflare::http::{Body, Method, Reply, Request};
use durable_streams_cloudflare::protocol::headers as h;
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::{ErrorCode, Offset, ProtocolError};

/// The origin of core requests. A service binding ignores the host; with `CORE_URL` the
/// platform replaces it.
pub const CORE_ORIGIN: &str = "https://core.internal";

/// A stream's state, from a HEAD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Its content type.
    pub content_type: String,
    /// Its tail.
    pub tail: String,
}

/// One read answer: the body as core sends it and the offset after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The body (a JSON array for JSON streams, bytes otherwise).
    pub body: Vec<u8>,
    /// `Stream-Next-Offset`.
    pub end: String,
}

/// The producer of the writes of one subscription into a session stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Producer {
    /// `Producer-Id`.
    pub id: String,
    /// `Producer-Seq` of this write (the epoch is always 0: each subscription has its own id).
    pub seq: u64,
}

fn url(stream: &StreamName, query: &str) -> String {
    if query.is_empty() {
        format!("{CORE_ORIGIN}{}", stream.path())
    } else {
        format!("{CORE_ORIGIN}{}?{query}", stream.path())
    }
}

/// `HEAD stream`.
pub fn head(stream: &StreamName) -> Request {
    Request::new(Method::Head, url(stream, ""))
}

/// `PUT stream`: a session stream of `content_type` that expires `ttl_secs` after its
/// last read or write. Sessions are kept alive by reads and touches, and ended by their
/// object's alarm; the sliding TTL only guarantees that no stream outlives its session by
/// more than a TTL if the alarm is lost.
pub fn create(stream: &StreamName, content_type: &str, ttl_secs: u64) -> Request {
    Request::new(Method::Put, url(stream, ""))
        .with_header("content-type", content_type)
        .with_header(h::STREAM_TTL, ttl_secs.to_string())
}

/// `POST stream`: appends `body`, idempotently when `producer` is given.
pub fn append(
    stream: &StreamName,
    content_type: &str,
    body: Vec<u8>,
    producer: Option<&Producer>,
) -> Request {
    let mut req = Request::new(Method::Post, url(stream, "")).with_header("content-type", content_type);
    if let Some(p) = producer {
        req = req
            .with_header(h::PRODUCER_ID, p.id.clone())
            .with_header(h::PRODUCER_EPOCH, "0")
            .with_header(h::PRODUCER_SEQ, p.seq.to_string());
    }
    req.with_body(body)
}

/// `GET stream?offset=…`: a catch-up read.
pub fn read(stream: &StreamName, offset: &str) -> Request {
    Request::new(Method::Get, url(stream, &format!("offset={offset}")))
}

/// `GET stream?offset=now`: a read that counts as activity, so it slides the TTL.
pub fn touch(stream: &StreamName) -> Request {
    read(stream, "now")
}

/// `DELETE stream`.
pub fn delete(stream: &StreamName) -> Request {
    Request::new(Method::Delete, url(stream, ""))
}

fn body(reply: &Reply) -> &[u8] {
    match &reply.body {
        Body::Bytes(b) => b,
        Body::Empty => &[],
    }
}

/// Core's error, as it sent it, for any answer that is not a success.
pub fn error(reply: &Reply) -> ProtocolError {
    ProtocolError::relayed(reply.status, |n| reply.get(n), body(reply))
}

fn success(reply: &Reply) -> Result<(), ProtocolError> {
    if reply.status < 300 {
        Ok(())
    } else {
        Err(error(reply))
    }
}

fn next_offset(reply: &Reply) -> Result<String, ProtocolError> {
    reply
        .get(h::STREAM_NEXT_OFFSET)
        .map(str::to_owned)
        .ok_or_else(|| ProtocolError::unavailable("core answered without Stream-Next-Offset"))
}

/// The answer to [`head`]. A HEAD's error has no body: the status says it.
pub fn parse_head(reply: &Reply) -> Result<Head, ProtocolError> {
    match reply.status {
        200 => Ok(Head {
            content_type: reply.get("content-type").unwrap_or("application/octet-stream").to_owned(),
            tail: next_offset(reply)?,
        }),
        404 => Err(ProtocolError::new(ErrorCode::StreamNotFound, "the source stream does not exist")),
        410 => Err(ProtocolError::stream_gone()),
        401 | 403 => Err(ProtocolError::unavailable(format!(
            "core refused the subscription worker's HEAD with {}: check that both workers have the same AUTH_SECRETS",
            reply.status
        ))),
        s => Err(ProtocolError::unavailable(format!("core answered HEAD with {s}"))),
    }
}

/// The answer to [`create`]: the stream's reader key, if it has one.
pub fn parse_create(reply: &Reply) -> Result<Option<String>, ProtocolError> {
    success(reply)?;
    Ok(reply.get(h::STREAM_READER_KEY).map(str::to_owned))
}

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// New data was written.
    Written,
    /// A producer retry: core had it already.
    Duplicate,
}

/// The answer to [`append`] with a producer: 200 is new data, 204 a duplicate.
pub fn parse_append(reply: &Reply) -> Result<Appended, ProtocolError> {
    match reply.status {
        200 => Ok(Appended::Written),
        204 => Ok(Appended::Duplicate),
        _ => Err(error(reply)),
    }
}

/// The answer to [`read`].
pub fn parse_read(reply: Reply) -> Result<Read, ProtocolError> {
    success(&reply)?;
    let end = next_offset(&reply)?;
    let body = match reply.body {
        Body::Bytes(b) => b,
        Body::Empty => Vec::new(),
    };
    Ok(Read { body, end })
}

/// Whether a read body carries no message: empty, or an empty JSON array.
pub fn is_empty_page(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace) || body == b"[]"
}

/// An offset as a position, for comparisons.
pub fn position(offset: &str) -> Result<u64, ProtocolError> {
    offset
        .parse::<Offset>()
        .map(Offset::position)
        .map_err(|_| ProtocolError::unavailable(format!("core sent an offset that is not one: {offset}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_the_stream_and_the_producer() {
        let s = StreamName { project: "acme".into(), id: "session:u1".into() };
        let p = Producer { id: "fanout-3".into(), seq: 7 };
        let r = append(&s, "application/json", b"[1]".to_vec(), Some(&p));
        assert_eq!(r.path(), "/v1/acme/stream/session:u1");
        assert_eq!(
            (r.header("producer-id"), r.header("producer-epoch"), r.header("producer-seq")),
            (Some("fanout-3"), Some("0"), Some("7"))
        );
        assert_eq!(create(&s, "text/plain", 60).header("stream-ttl"), Some("60"));
        assert_eq!(read(&s, "now").query(), "offset=now");
    }

    #[test]
    fn answers_are_read_by_status() {
        let written = Reply::new(200);
        assert_eq!(parse_append(&written).unwrap(), Appended::Written);
        assert_eq!(parse_append(&Reply::new(204)).unwrap(), Appended::Duplicate);
        let gap = Reply::error(&ProtocolError::ProducerSeqGap { expected: 2, received: 4 });
        assert_eq!(
            parse_append(&gap).unwrap_err(),
            ProtocolError::ProducerSeqGap { expected: 2, received: 4 }
        );
        assert_eq!(parse_head(&Reply::new(404)).unwrap_err().status(), 404);
        let head = Reply::new(200)
            .header("Content-Type", "text/plain")
            .header(h::STREAM_NEXT_OFFSET, Offset::new(5).to_string());
        assert_eq!(parse_head(&head).unwrap().tail, Offset::new(5).to_string());
        assert!(is_empty_page(b"[]") && is_empty_page(b"") && !is_empty_page(b"[1]"));
        assert_eq!(position(&Offset::in_segment(2, 9).to_string()).unwrap(), 9);
    }
}
