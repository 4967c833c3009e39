//! The registry stream, `__registry__`: one per project, a JSON stream of the creation
//! and deletion of every stream of the project, readable like any stream (catch-up,
//! long-poll, SSE) by clients that need discovery or monitoring. Clients cannot write to
//! it. Keys and paths in events are the stream ids within the project.
//!
//! Each event is one message:
//!
//! ```json
//! {"type":"stream","key":"chat-1","value":{"path":"chat-1","contentType":"application/json","createdAt":1738591200000},"headers":{"operation":"insert"}}
//! {"type":"stream","key":"chat-1","headers":{"operation":"delete"}}
//! ```
//!
//! Events are sent after the create or delete is acknowledged, from the stream's object
//! to the registry's, so they never delay a client. Events of one stream are sent in
//! order, but events of different streams interleave as they arrive.

use super::calls::Call;
use super::{Host, StreamService};
use crate::protocol::expiry::Expiry;
use crate::protocol::path::StreamName;
use crate::protocol::ProtocolError;
use crate::store::{Append, Meta, NewStream, Sql, State};

/// What happened to a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryOp {
    /// It was created.
    Insert,
    /// It was deleted or expired.
    Delete,
}

/// The registry message for `op` on stream `m`.
pub fn event(op: RegistryOp, m: &Meta) -> String {
    let id = StreamName::from_key(&m.stream_id).map_or_else(|| m.stream_id.clone(), |n| n.id);
    match op {
        RegistryOp::Insert => serde_json::json!({
            "type": "stream",
            "key": id,
            "value": { "path": id, "contentType": m.content_type, "createdAt": m.created_at },
            "headers": { "operation": "insert" },
        }),
        RegistryOp::Delete => serde_json::json!({
            "type": "stream",
            "key": id,
            "headers": { "operation": "delete" },
        }),
    }
    .to_string()
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Sends the registry an event about this stream, after the current request.
    pub(super) fn register(&self, op: RegistryOp, m: &Meta) {
        let Some(name) = StreamName::from_key(&m.stream_id) else { return };
        if name.is_registry() {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        let event = event(op, m);
        self.host.spawn(Box::pin(async move {
            let registry = name.registry().key();
            if let Err(e) =
                me.host.call(&registry, Call::Registry { registry: registry.clone(), event }).await
            {
                me.host.log_error(&format!("recording a registry event failed: {e}"));
            }
        }));
    }

    /// The registry's side: appends an event, creating the registry on first use.
    pub(super) async fn record_registry_event(
        &self,
        registry_key: &str,
        event: &str,
    ) -> Result<(), ProtocolError> {
        let _writing = self.writes.lock().await;
        let now = self.host.now_ms();
        let m = match self.state_at(now).await? {
            State::Live(m) => m,
            State::Gone(_) => return Err(ProtocolError::stream_gone()),
            State::Missing => self.store.create(registry_stream(registry_key), now)?,
        };
        let append = Append {
            content_type: Some(m.content_type.clone()),
            body: event.as_bytes().to_vec(),
            ..Append::default()
        };
        self.store.append(&m, &append, now)?;
        self.announce_change();
        Ok(())
    }
}

fn registry_stream(key: &str) -> NewStream {
    NewStream {
        stream_id: key.to_owned(),
        content_type: "application/json".to_owned(),
        expiry: Expiry::None,
        expiry_inherited: false,
        closed: false,
        fork: None,
        prefix: Vec::new(),
        body: Vec::new(),
        read_seq_base: 0,
        public: false,
        reader_key: None,
    }
}
