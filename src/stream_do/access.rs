//! Access at the stream object: public streams, anonymous reads, and reader keys.
//!
//! The edge decides tokens; the object knows the stream. An anonymous read (the edge
//! says so in [`ACCESS_HEADER`]) is answered only if the stream is public — otherwise
//! 401, whether or not the stream exists, so anonymous clients cannot probe for names.
//! A protected stream's reader key decides whether a read's answer may be stored by
//! caches: only reads that carry it (`rk`) get a shareable `Cache-Control`.

use super::{Host, StreamService};
use crate::auth::{Access, ACCESS_HEADER};
use crate::http::{Reply, Request};
use crate::protocol::headers as h;
use crate::protocol::ErrorCode;
use crate::protocol::ProtocolError;
use crate::store::{Meta, Sql, State};
use durable_streams_cache::control;

/// The `Cache-Control` of an answer that no cache may keep.
pub const PRIVATE: &str = "private, no-store";

/// How a request was authorized, as the edge said.
pub(super) fn access_of(req: &Request) -> Access {
    Access::from_header(req.header(ACCESS_HEADER))
}

/// Makes an answer of a keyed stream unstorable unless the read named the key.
pub(super) fn gate_cache(reply: &mut Reply, m: &Meta, reader_key: Option<&str>) {
    let Some(key) = m.reader_key.as_deref() else { return };
    if m.public || reader_key == Some(key) {
        return;
    }
    reply.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("cache-control"));
    reply.headers.push(("Cache-Control", PRIVATE.to_owned()));
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// The stream at `now` for an anonymous read: only a live public stream. Anything
    /// else is 401 before the request is looked at further, so nothing about a
    /// protected or missing stream shows.
    pub(super) async fn public_stream(&self, now: i64) -> Result<Meta, ProtocolError> {
        match self.state_at(now).await? {
            State::Live(m) if m.public => Ok(m),
            _ => Err(ProtocolError::new(
                ErrorCode::AuthRequired,
                "this stream needs a bearer token with read scope",
            )),
        }
    }

    /// A fresh reader key: `rk_` and 128 random bits in hex.
    pub(super) fn new_reader_key(&self) -> Result<String, ProtocolError> {
        let mut bytes = [0u8; 16];
        self.host.random_bytes(&mut bytes)?;
        let mut key = String::from("rk_");
        for b in bytes {
            key.push_str(&format!("{b:02x}"));
        }
        Ok(key)
    }

    /// POST with `Stream-Reader-Key: rotate` and no body: replaces the reader key, so
    /// every URL with the old key stops being stored by caches.
    pub(super) async fn rotate_reader_key(&self, req: &Request) -> Result<Reply, ProtocolError> {
        if req.header(h::STREAM_READER_KEY).map(str::trim) != Some("rotate") || !req.body.is_empty() {
            return Err(ProtocolError::new(
                ErrorCode::InvalidReaderKeyRequest,
                "to rotate the reader key, POST an empty body with Stream-Reader-Key: rotate",
            ));
        }
        let _writing = self.writes.lock().await;
        let m = self.live(self.host.now_ms()).await?;
        if m.public {
            return Err(ProtocolError::new(ErrorCode::PublicStream, "a public stream has no reader key"));
        }
        let m = self.store.set_reader_key(&m, &self.new_reader_key()?)?;
        Ok(Reply::new(204)
            .header("Cache-Control", control::NO_STORE)
            .header(h::STREAM_READER_KEY, m.reader_key.unwrap_or_default()))
    }
}
