//! DELETE (§5.4).

use super::registry::RegistryOp;
use super::{Host, StreamService};
use crate::http::Reply;
use crate::protocol::ProtocolError;
use crate::store::Sql;

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
}
