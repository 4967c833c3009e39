//! Expiry (§4): lazily, when a request finds the stream past its deadline, and by the
//! object's alarm at the deadline, so a stream nobody touches is removed too (and a fork
//! nobody reads releases its source).

use super::registry::RegistryOp;
use super::{Host, StreamService};
use crate::protocol::ProtocolError;
use crate::store::{Sql, State};

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
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

    /// Runs scheduled expiry: removes the stream if it is past its deadline, otherwise
    /// re-arms the alarm for the current deadline.
    pub async fn on_alarm(&self) {
        match self.state_at(self.host.now_ms()).await {
            Ok(State::Live(m)) => {
                if let Some(deadline) = m.deadline() {
                    self.host.schedule_alarm(deadline);
                }
            }
            Ok(_) => {}
            Err(e) => self.host.log_error(&format!("expiry failed: {e}")),
        }
    }
}
