//! DELETE, expiry, and the internal calls other stream objects make (§4, §5.4).

use super::http::{Method, Reply, Request};
use super::internal::{Call, CallReply};
use super::registry::RegistryOp;
use super::{Host, StreamService};
use crate::engine::{Sql, State};
use crate::protocol::ProtocolError;

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// DELETE: removes the stream, or retains it (410 from then on) while forks read
    /// from it. Wakes every waiting reader, which then sees the stream gone.
    pub(super) async fn delete(&self) -> Result<Reply, ProtocolError> {
        let _writing = self.writes.lock().await;
        let m = self.live(self.host.now_ms()).await?;
        let removal = self.store.remove(&m)?;
        self.register(RegistryOp::Delete, &m);
        self.after_removal(removal).await;
        Ok(Reply::new(204).header("Cache-Control", durable_streams_cache::control::NO_STORE))
    }

    /// The stream's state at `now`, after lazy expiry (§4): a stream past its deadline is
    /// removed before the request sees it, exactly at the deadline.
    pub(super) async fn state_at(&self, now: i64) -> Result<State, ProtocolError> {
        let (state, expired) = self.store.current(now)?;
        if let Some((removal, m)) = expired {
            self.register(RegistryOp::Delete, &m);
            self.after_removal(removal).await;
        }
        Ok(state)
    }

    /// Answers a call from another stream's object.
    pub(super) async fn handle_internal(&self, req: &Request) -> Result<Reply, ProtocolError> {
        if req.method != Method::Post {
            return Err(ProtocolError::MethodNotAllowed);
        }
        let answer = match Call::decode(req)? {
            Call::Acquire { offset, sub_offset, content_type } => {
                CallReply::Granted(self.grant_fork(offset, sub_offset, content_type.as_deref()).await?)
            }
            Call::Release { incarnation } => {
                self.release_fork(incarnation).await?;
                CallReply::Released
            }
            Call::Read { incarnation, from, until, cap, must_progress } => {
                let m = self.inherited(incarnation).await?;
                CallReply::Read(self.read_range(&m, from, until.min(m.tail), cap, must_progress).await?)
            }
            Call::Registry { registry, event } => {
                self.record_registry_event(&registry, &event).await?;
                CallReply::Released
            }
            Call::Record { incarnation, at, until } => {
                let m = self.inherited(incarnation).await?;
                CallReply::Record(self.record_at(&m, at, until.min(m.tail)).await?)
            }
        };
        Ok(answer.encode())
    }
}
