//! Wake-ups for readers waiting at the tail (long-poll and SSE).
//!
//! Every committed change bumps a version number. A reader takes the version *before*
//! it checks the stream, then waits for a newer one, so a change between the check and
//! the wait is never missed. Single-threaded by design: a Durable Object runs one
//! isolate thread.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Inner {
    version: u64,
    next_id: u64,
    waiters: Vec<(u64, Waker)>,
}

/// A change counter that wakes waiters.
#[derive(Clone, Default)]
pub struct Notify {
    inner: Rc<RefCell<Inner>>,
}

impl Notify {
    /// The current version.
    pub fn version(&self) -> u64 {
        self.inner.borrow().version
    }

    /// Records a change and wakes every waiter.
    pub fn bump(&self) {
        let waiters = {
            let mut inner = self.inner.borrow_mut();
            inner.version += 1;
            std::mem::take(&mut inner.waiters)
        };
        for (_, w) in waiters {
            w.wake();
        }
    }

    /// The number of readers currently waiting.
    pub fn waiting(&self) -> usize {
        self.inner.borrow().waiters.len()
    }

    /// Resolves once the version is greater than `since`.
    pub fn changed(&self, since: u64) -> Changed {
        let id = {
            let mut inner = self.inner.borrow_mut();
            inner.next_id += 1;
            inner.next_id
        };
        Changed {
            notify: self.clone(),
            since,
            id,
        }
    }
}

/// The future returned by [`Notify::changed`].
pub struct Changed {
    notify: Notify,
    since: u64,
    id: u64,
}

impl Future for Changed {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.notify.inner.borrow_mut();
        if inner.version > self.since {
            return Poll::Ready(());
        }
        match inner.waiters.iter_mut().find(|(id, _)| *id == self.id) {
            Some((_, w)) => w.clone_from(cx.waker()),
            None => inner.waiters.push((self.id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Changed {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.notify.inner.try_borrow_mut() {
            inner.waiters.retain(|(id, _)| *id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn a_change_after_taking_the_version_is_not_missed() {
        let n = Notify::default();
        let seen = n.version();
        n.bump();
        assert!(n.changed(seen).now_or_never().is_some());
    }

    #[test]
    fn waiters_wake_on_bump_and_unregister_on_drop() {
        let n = Notify::default();
        let mut waiting = n.changed(n.version());
        assert!((&mut waiting).now_or_never().is_none());
        assert_eq!(n.waiting(), 1);
        drop(waiting);
        assert_eq!(n.waiting(), 0);
        let mut w = n.changed(n.version());
        assert!((&mut w).now_or_never().is_none());
        n.bump();
        assert!(w.now_or_never().is_some());
    }
}
