//! HEAD (§5.5): the stream's metadata.

use super::access::access_of;
use super::headers::with_expiry;
use super::{Host, StreamService};
use crate::auth::Access;
use crate::http::{Reply, Request};
use crate::protocol::headers as h;
use crate::protocol::ProtocolError;
use crate::store::{Meta, Sql};
use durable_streams_cache::control;

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// HEAD: the stream's metadata. Does not count as activity (§4).
    pub(super) async fn head(&self, req: &Request) -> Result<Reply, ProtocolError> {
        let now = self.host.now_ms();
        let access = access_of(req);
        let m = match access {
            Access::Anonymous => self.public_stream(now).await?,
            _ => self.live(now).await?,
        };
        let mut reply = self.describe(200, &m)?;
        // The key is for those given access to the stream, not for everyone while its
        // project happens to be public: it would outlast a switch back to private.
        if access == Access::Public {
            reply.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(h::STREAM_READER_KEY));
        }
        Ok(reply)
    }

    /// A reply that describes stream `m`: its type, tail, closure, reader key and expiry.
    /// HEAD answers with it, and PUT for the stream it created or found.
    pub(super) fn describe(&self, status: u16, m: &Meta) -> Result<Reply, ProtocolError> {
        let reply = Reply::new(status)
            .header("Content-Type", m.content_type.clone())
            .header(h::STREAM_NEXT_OFFSET, self.offset(m, m.tail)?)
            .header("Cache-Control", control::NO_STORE)
            .header_if(m.closed, h::STREAM_CLOSED, "true")
            .header_if(
                m.reader_key.is_some(),
                h::STREAM_READER_KEY,
                m.reader_key.clone().unwrap_or_default(),
            );
        Ok(with_expiry(reply, m))
    }
}
