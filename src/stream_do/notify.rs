//! Wake-ups for readers waiting at the tail (long-poll and SSE).
//!
//! Every committed change bumps a version number. A reader takes the version *before*
//! it checks the stream, then waits for a newer one, so a change between the check and
//! the wait is never missed.
//!
//! A bump releases the waiters in the order they started waiting and tells each its
//! rank. Long-poll readers use it to stagger their answers: the first (the *scout*)
//! answers at once, so its response reaches the edge cache before the rest, released
//! over a short window, ask for the next URL. Single-threaded by design: a Durable
//! Object runs one isolate thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Inner {
    version: u64,
    next_id: u64,
    /// Waiting readers, oldest first.
    waiters: Vec<(u64, Waker)>,
    /// Readers released by the last bumps and not yet polled: their rank and how many
    /// were released together.
    released: HashMap<u64, Release>,
}

/// A waiter's place in the group a change released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    /// 0 for the first waiter released (the scout).
    pub rank: usize,
    /// How many waiters the change released.
    pub of: usize,
}

impl Release {
    /// The delay this waiter should leave before answering, spreading the group evenly
    /// over `window_ms` after the scout.
    pub fn stagger_ms(self, window_ms: u64) -> u64 {
        if self.of <= 1 {
            0
        } else {
            window_ms * self.rank as u64 / self.of as u64
        }
    }
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

    /// Records a change and wakes every waiter, in the order they started waiting.
    pub fn bump(&self) {
        let waiters = {
            let mut inner = self.inner.borrow_mut();
            inner.version += 1;
            let waiters = std::mem::take(&mut inner.waiters);
            let of = waiters.len();
            for (rank, (id, _)) in waiters.iter().enumerate() {
                inner.released.insert(*id, Release { rank, of });
            }
            waiters
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
        Changed { notify: self.clone(), since, id }
    }
}

/// The future returned by [`Notify::changed`].
pub struct Changed {
    notify: Notify,
    since: u64,
    id: u64,
}

impl Future for Changed {
    type Output = Release;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Release> {
        let mut inner = self.notify.inner.borrow_mut();
        if inner.version > self.since {
            let release = inner.released.remove(&self.id).unwrap_or(Release { rank: 0, of: 1 });
            return Poll::Ready(release);
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
            inner.released.remove(&self.id);
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
        assert_eq!(n.changed(seen).now_or_never(), Some(Release { rank: 0, of: 1 }));
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

    #[test]
    fn a_bump_ranks_waiters_oldest_first() {
        let n = Notify::default();
        let v = n.version();
        let mut waiters: Vec<_> = (0..4).map(|_| n.changed(v)).collect();
        for w in &mut waiters {
            assert!(w.now_or_never().is_none());
        }
        n.bump();
        let ranks: Vec<Release> = waiters.into_iter().map(|w| w.now_or_never().unwrap()).collect();
        assert_eq!(ranks.iter().map(|r| r.rank).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert!(ranks.iter().all(|r| r.of == 4));
        assert_eq!(ranks[0].stagger_ms(100), 0);
        assert_eq!(ranks[2].stagger_ms(100), 50);
        assert!(ranks[3].stagger_ms(100) < 100);
    }
}
