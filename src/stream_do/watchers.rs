//! The subscriptions linked to this stream (§6): told the stream's tail after every
//! append, before the append is acknowledged, so a worker that hears of the append
//! finds the wake already issued. A subscription that no longer wants the stream says
//! so and is unlinked. The list is cached; it changes only through this module.

use std::rc::Rc;

use futures_util::future::{join_all, select, Either};

use super::{Host, StreamService};
use crate::ds::Notice;
use crate::protocol::path::StreamName;
use crate::protocol::ProtocolError;
use crate::store::{Sql, State};

/// The longest an append waits for its subscriptions to hear of it. A subscription
/// object that is slower than this still hears of the next append.
pub const NOTIFY_BOUND_MS: u64 = 2_000;

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    fn watcher_list(&self) -> Rc<Vec<String>> {
        if let Some(list) = self.watchers.borrow().as_ref() {
            return Rc::clone(list);
        }
        let list = Rc::new(self.store.watchers().unwrap_or_else(|e| {
            self.host.log_error(&format!("reading the stream's subscriptions failed: {e}"));
            Vec::new()
        }));
        *self.watchers.borrow_mut() = Some(Rc::clone(&list));
        list
    }

    /// Links subscriptions to this stream.
    pub(super) fn add_watchers(&self, subscriptions: &[String]) -> Result<(), ProtocolError> {
        if subscriptions.is_empty() {
            return Ok(());
        }
        self.store.add_watchers(subscriptions)?;
        self.watchers.borrow_mut().take();
        Ok(())
    }

    /// The registry links a subscription: the stream's tail, or `None` if it is not live.
    pub(super) async fn link_watcher(&self, subscription: String) -> Result<Option<String>, ProtocolError> {
        let m = match self.state_at(self.host.now_ms()).await? {
            State::Live(m) => m,
            _ => return Ok(None),
        };
        self.add_watchers(&[subscription])?;
        Ok(Some(self.offset(&m, m.tail)?))
    }

    /// Tells every linked subscription the stream's tail; `created` when the stream was
    /// just created, so its data is all new to them.
    pub(super) async fn tell_watchers(&self, created: bool) {
        let watchers = self.watcher_list();
        if watchers.is_empty() {
            return;
        }
        let Ok(State::Live(m)) = self.store.state() else { return };
        let Some(name) = StreamName::from_key(&m.stream_id) else { return };
        let (Ok(tail), Ok(start)) = (self.offset(&m, m.tail), self.offset(&m, 0)) else { return };
        let notice =
            Notice { stream: name.id.clone(), tail, created_at: created.then_some(start), deleted: false };
        self.send_notice(&name, &watchers, &notice).await;
    }

    /// Tells every linked subscription that the stream is gone (deleted or expired).
    pub(super) async fn tell_watchers_deleted(&self, name: &StreamName, last_tail: String) {
        let watchers = self.watcher_list();
        if watchers.is_empty() {
            return;
        }
        let notice = Notice { stream: name.id.clone(), tail: last_tail, created_at: None, deleted: true };
        self.send_notice(name, &watchers, &notice).await;
    }

    async fn send_notice(&self, name: &StreamName, watchers: &[String], notice: &Notice) {
        let keys: Vec<String> = watchers.iter().map(|w| format!("{}/{w}", name.project)).collect();
        let told = join_all(keys.iter().map(|key| self.host.notify_subscription(key, notice)));
        let answers = match select(Box::pin(told), self.host.sleep(NOTIFY_BOUND_MS)).await {
            Either::Left((answers, _)) => answers,
            Either::Right(_) => {
                self.host.log_error("subscriptions did not hear of an append in time");
                return;
            }
        };
        for (subscription, answer) in watchers.iter().zip(answers) {
            match answer {
                Ok(true) => {}
                Ok(false) => {
                    if self.store.remove_watcher(subscription).is_ok() {
                        self.watchers.borrow_mut().take();
                    }
                }
                Err(e) => self
                    .host
                    .log_error(&format!("telling subscription {subscription} of an append failed: {e}")),
            }
        }
    }
}
