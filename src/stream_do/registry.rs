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
//!
//! The registry's object is also where subscriptions (§6) meet streams: it keeps the
//! project's live streams and each subscription's pattern and explicit streams, answers
//! a creation event with the subscriptions that want the new stream, and links the
//! streams a new subscription wants.

use futures_util::future::join_all;

use super::calls::{Call, CallReply};
use super::{Host, StreamService};
use crate::protocol::expiry::Expiry;
use crate::protocol::path::StreamName;
use crate::protocol::ProtocolError;
use crate::store::watch::Watch;
use crate::store::{Append, Meta, NewStream, Sql, State};

/// How many streams a new subscription links at once.
const LINKS_AT_ONCE: usize = 16;

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
        let last_tail = (op == RegistryOp::Delete).then(|| self.offset(m, m.tail).unwrap_or_default());
        self.host.spawn(Box::pin(async move {
            if let Some(last_tail) = last_tail {
                me.tell_watchers_deleted(&name, last_tail).await;
            }
            let registry = name.registry().key();
            match me.host.call(&registry, Call::Registry { registry: registry.clone(), event }).await {
                Err(e) => me.host.log_error(&format!("recording a registry event failed: {e}")),
                Ok(CallReply::Watchers(wanted)) if op == RegistryOp::Insert => {
                    // The subscriptions that want the new stream hear of all its data.
                    if let Err(e) = me.add_watchers(&wanted) {
                        me.host.log_error(&format!("linking subscriptions failed: {e}"));
                    }
                    me.tell_watchers(true).await;
                }
                Ok(_) => {}
            }
        }));
    }

    /// The registry's side: appends an event, creating the registry on first use, and
    /// answers a creation with the subscriptions that want the new stream.
    pub(super) async fn record_registry_event(
        &self,
        registry_key: &str,
        event: &str,
    ) -> Result<Vec<String>, ProtocolError> {
        let _writing = self.writes.lock().await;
        let now = self.host.now_ms();
        let m = match self.state_at(now).await? {
            State::Live(m) => m,
            State::Gone(_) => return Err(ProtocolError::stream_gone()),
            State::Missing => {
                let m = self.store.create(registry_stream(registry_key), now)?;
                // From its creation on, the registry lists every stream of the project.
                self.store.mark_registry_listing_complete()?;
                m
            }
        };
        let wanted = match parse_event(event) {
            Some((id, RegistryOp::Insert)) => {
                self.store.record_registry_stream(&id, true)?;
                let watches = self.store.watches()?;
                watches.into_iter().filter(|w| w.wants(&id)).map(|w| w.subscription).collect()
            }
            Some((id, RegistryOp::Delete)) => {
                self.store.record_registry_stream(&id, false)?;
                Vec::new()
            }
            None => Vec::new(),
        };
        let append = Append {
            content_type: Some(m.content_type.clone()),
            body: event.as_bytes().to_vec(),
            ..Append::default()
        };
        self.store.append(&m, &append, now)?;
        self.announce_change();
        Ok(wanted)
    }

    /// A registry older than its stream listing rebuilds it once from its own log, so
    /// that a new subscription's pattern finds the streams created before the listing.
    async fn ensure_listing(&self) -> Result<(), ProtocolError> {
        if self.store.registry_listing_complete()? {
            return Ok(());
        }
        let _writing = self.writes.lock().await;
        if self.store.registry_listing_complete()? {
            return Ok(());
        }
        let m = match self.state_at(self.host.now_ms()).await? {
            State::Live(m) => m,
            // No registry yet: its creation starts the listing.
            _ => return Ok(()),
        };
        let mut live = std::collections::BTreeSet::new();
        let mut at = 0;
        while at < m.tail {
            let chunk = self.read_range(&m, crate::store::Span::page(at, m.tail, 1 << 20)).await?;
            if chunk.end <= at {
                break;
            }
            let array = crate::protocol::json::to_array(&chunk.bytes);
            let events: Vec<serde_json::Value> = serde_json::from_slice(&array).unwrap_or_default();
            for (id, op) in events.iter().filter_map(event_of) {
                match op {
                    RegistryOp::Insert => live.insert(id),
                    RegistryOp::Delete => live.remove(&id),
                };
            }
            at = chunk.end;
        }
        for id in &live {
            self.store.record_registry_stream(id, true)?;
        }
        self.store.mark_registry_listing_complete()?;
        Ok(())
    }

    /// The registry's side of a new or changed subscription: records what it wants and
    /// links the project's live streams that match, answering with their tails.
    pub(super) async fn watch(
        &self,
        registry_key: &str,
        watch: Watch,
    ) -> Result<Vec<(String, String)>, ProtocolError> {
        let project = StreamName::from_key(registry_key)
            .ok_or_else(|| {
                ProtocolError::new(crate::protocol::ErrorCode::InvalidInternalCall, "bad registry key")
            })?
            .project;
        self.ensure_listing().await?;
        // Recorded before the listing is read, with no wait between: a stream created
        // meanwhile is either listed here or matched when its creation is recorded.
        self.store.set_watch(&watch)?;
        let targets: Vec<String> =
            self.store.registry_streams()?.into_iter().filter(|id| watch.wants(id)).collect();
        let mut found = Vec::new();
        for batch in targets.chunks(LINKS_AT_ONCE) {
            let calls = batch.iter().map(|id| {
                let key = StreamName { project: project.clone(), id: id.clone() }.key();
                let subscription = watch.subscription.clone();
                async move { (id, self.host.call(&key, Call::Link { subscription }).await) }
            });
            for (id, answer) in join_all(calls).await {
                match answer {
                    Ok(CallReply::Tail(Some(tail))) => found.push((id.clone(), tail)),
                    Ok(_) => {}
                    Err(e) => {
                        self.host.log_error(&format!("linking stream {id} to a subscription failed: {e}"))
                    }
                }
            }
        }
        Ok(found)
    }
}

/// The stream id and operation of a registry event.
fn parse_event(event: &str) -> Option<(String, RegistryOp)> {
    event_of(&serde_json::from_str(event).ok()?)
}

fn event_of(value: &serde_json::Value) -> Option<(String, RegistryOp)> {
    let id = value.get("key")?.as_str()?.to_owned();
    let op = match value.get("headers")?.get("operation")?.as_str()? {
        "insert" => RegistryOp::Insert,
        "delete" => RegistryOp::Delete,
        _ => return None,
    };
    Some((id, op))
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
