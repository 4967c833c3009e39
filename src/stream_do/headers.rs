//! Reading protocol values out of request headers, and the headers every stream reply
//! shares.

use crate::http::{Reply, Request};
use crate::protocol::expiry::Expiry;
use crate::protocol::fork::ForkRequest;
use crate::protocol::headers as h;
use crate::protocol::producer::Producer;
use crate::protocol::ErrorCode;
use crate::protocol::{content_type, query, time, ProtocolError};
use crate::store::{Append, CreateRequest, Meta};

/// The configuration a PUT asks for.
pub fn create_request(req: &Request) -> Result<CreateRequest, ProtocolError> {
    let content_type = req.header("content-type");
    if content_type.is_some_and(|ct| ct.len() > content_type::MAX_CONTENT_TYPE_BYTES) {
        return Err(ProtocolError::new(
            ErrorCode::InvalidContentType,
            "Content-Type must be at most 256 bytes",
        ));
    }
    Ok(CreateRequest {
        content_type: content_type.map(str::to_owned),
        expiry: Expiry::from_headers(req.header(h::STREAM_TTL), req.header(h::STREAM_EXPIRES_AT))?,
        closed: h::is_true(req.header(h::STREAM_CLOSED)),
        fork: ForkRequest::from_headers(
            req.header(h::STREAM_FORKED_FROM),
            req.header(h::STREAM_FORK_OFFSET),
            req.header(h::STREAM_FORK_SUB_OFFSET),
        )?,
        public: query::public_flag(req.query())?,
    })
}

/// The append a POST asks for. Takes the body.
pub fn append_request(req: &mut Request) -> Result<Append, ProtocolError> {
    let stream_seq = req.header(h::STREAM_SEQ);
    if stream_seq.is_some_and(|seq| seq.len() > h::MAX_STREAM_SEQ_BYTES) {
        return Err(ProtocolError::new(ErrorCode::InvalidStreamSeq, "Stream-Seq must be at most 256 bytes"));
    }
    Ok(Append {
        content_type: req.header("content-type").map(str::to_owned),
        close: h::is_true(req.header(h::STREAM_CLOSED)),
        stream_seq: stream_seq.map(str::to_owned),
        producer: Producer::from_headers(
            req.header(h::PRODUCER_ID),
            req.header(h::PRODUCER_EPOCH),
            req.header(h::PRODUCER_SEQ),
        )?,
        body: std::mem::take(&mut req.body),
    })
}

/// `Stream-TTL` / `Stream-Expires-At` describing the stream's configuration (§5.5).
pub fn with_expiry(reply: Reply, m: &Meta) -> Reply {
    match m.expiry {
        Expiry::None => reply,
        Expiry::Ttl(secs) => reply.header(h::STREAM_TTL, secs.to_string()),
        Expiry::At(at) => reply.header(h::STREAM_EXPIRES_AT, time::format_rfc3339_millis(at)),
    }
}
