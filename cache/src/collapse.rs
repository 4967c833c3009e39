//! Request collapsing inside one isolate: concurrent identical misses share one origin
//! request.
//!
//! The first request for a key becomes the *leader* and fetches; later ones become
//! *followers* and wait on a [`Slot`]. The leader settles the entry with the answer (or
//! says the answer is not for sharing), and a stored answer lingers briefly so requests
//! that arrive before the cache write is visible still get it. A leader that goes away
//! without settling releases its followers to fetch on their own, so nobody waits on a
//! lost request. The map is bounded; when full, requests fetch alone.
//!
//! Single-threaded by design (`Rc`/`RefCell`): an isolate runs one thread. How a follower
//! sleeps until its slot is settled is the platform's business ([`Slot::on_settled`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// How long a stored answer stays in the edge's map after it was settled: long enough
/// to cover the delay before a cache write is visible to lookups.
pub const EDGE_LINGER_MS: i64 = 200;

/// The default bound on the number of keys.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// What a follower receives.
#[derive(Debug)]
enum SlotState<V> {
    Pending,
    /// `None`: the leader's answer is not shareable (or the leader failed).
    Settled(Option<V>),
}

/// Where a follower receives the leader's answer.
pub struct Slot<V> {
    state: RefCell<SlotState<V>>,
    on_settled: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl<V: Clone> Slot<V> {
    fn new() -> Self {
        Self { state: RefCell::new(SlotState::Pending), on_settled: RefCell::new(None) }
    }

    /// Registers what to run when the leader settles (at once if it already has).
    pub fn on_settled(&self, f: impl FnOnce() + 'static) {
        if self.is_settled() {
            f();
        } else {
            *self.on_settled.borrow_mut() = Some(Box::new(f));
        }
    }

    /// Whether the leader has settled.
    pub fn is_settled(&self) -> bool {
        matches!(*self.state.borrow(), SlotState::Settled(_))
    }

    /// The leader's answer: `Some(v)` to use, `None` to fetch alone (also while the
    /// leader is still pending).
    pub fn answer(&self) -> Option<V> {
        match &*self.state.borrow() {
            SlotState::Settled(v) => v.clone(),
            SlotState::Pending => None,
        }
    }

    /// A future that completes when the leader settles, woken through a Rust waker. Use
    /// it where one request may wake another directly (inside a Durable Object); a
    /// stateless worker needs a platform wake-up instead (see [`Slot::on_settled`]).
    pub fn settled(self: &Rc<Self>) -> SlotSettled<V> {
        SlotSettled { slot: Rc::clone(self) }
    }

    fn settle(&self, value: Option<V>) {
        *self.state.borrow_mut() = SlotState::Settled(value);
        let callback = self.on_settled.borrow_mut().take();
        if let Some(f) = callback {
            f();
        }
    }
}

/// The future returned by [`Slot::settled`]; its output is [`Slot::answer`].
pub struct SlotSettled<V> {
    slot: Rc<Slot<V>>,
}

impl<V: Clone> Future for SlotSettled<V> {
    type Output = Option<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<V>> {
        if self.slot.is_settled() {
            return Poll::Ready(self.slot.answer());
        }
        let waker = cx.waker().clone();
        *self.slot.on_settled.borrow_mut() = Some(Box::new(move || waker.wake()));
        Poll::Pending
    }
}

enum Entry<V> {
    Pending(Vec<Rc<Slot<V>>>),
    Lingering { value: V, until_ms: i64 },
}

/// How a leader settles its key.
#[derive(Debug)]
pub enum Settle<V> {
    /// The answer was stored in the cache: share it, and keep it for the map's linger
    /// time.
    Stored(V),
    /// Share the answer with current followers only.
    Shared(V),
    /// Not for sharing: followers fetch on their own.
    Private,
}

/// The outcome of [`InFlight::join`].
pub enum Joined<V: Clone + 'static> {
    /// Fetch, then settle through the guard.
    Leader(Leader<V>),
    /// Wait on the slot, then use its answer or fetch alone.
    Follower(Rc<Slot<V>>),
    /// A stored answer settled moments ago.
    Ready(V),
    /// The map is full: fetch alone.
    Alone,
}

/// The in-flight map of one isolate.
pub struct InFlight<V> {
    entries: RefCell<HashMap<String, Entry<V>>>,
    capacity: usize,
    linger_ms: i64,
}

impl<V: Clone + 'static> InFlight<V> {
    /// An empty map holding at most `capacity` keys, keeping stored answers for
    /// `linger_ms`.
    pub fn new(capacity: usize, linger_ms: i64) -> Rc<Self> {
        Rc::new(Self { entries: RefCell::new(HashMap::new()), capacity, linger_ms })
    }

    /// The number of keys currently held.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Joins the request for `key`.
    pub fn join(self: &Rc<Self>, key: &str, now_ms: i64) -> Joined<V> {
        let mut entries = self.entries.borrow_mut();
        match entries.get_mut(key) {
            Some(Entry::Pending(followers)) => {
                let slot = Rc::new(Slot::new());
                followers.push(Rc::clone(&slot));
                return Joined::Follower(slot);
            }
            Some(Entry::Lingering { value, until_ms }) if *until_ms > now_ms => {
                return Joined::Ready(value.clone())
            }
            _ => {}
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, e| {
                matches!(e, Entry::Pending(_))
                    || matches!(e, Entry::Lingering { until_ms, .. } if *until_ms > now_ms)
            });
            if entries.len() >= self.capacity {
                return Joined::Alone;
            }
        }
        entries.insert(key.to_owned(), Entry::Pending(Vec::new()));
        Joined::Leader(Leader { map: Rc::clone(self), key: key.to_owned(), settled: false })
    }

    fn settle(&self, key: &str, outcome: Settle<V>, now_ms: i64) {
        let followers = {
            let mut entries = self.entries.borrow_mut();
            let followers = match entries.remove(key) {
                Some(Entry::Pending(f)) => f,
                Some(lingering) => {
                    entries.insert(key.to_owned(), lingering);
                    Vec::new()
                }
                None => Vec::new(),
            };
            if let Settle::Stored(v) = &outcome {
                entries.insert(
                    key.to_owned(),
                    Entry::Lingering { value: v.clone(), until_ms: now_ms + self.linger_ms },
                );
            }
            followers
        };
        // Callbacks run after the map is released: they may join again.
        let value = match outcome {
            Settle::Stored(v) | Settle::Shared(v) => Some(v),
            Settle::Private => None,
        };
        for slot in followers {
            slot.settle(value.clone());
        }
    }
}

/// The leader's obligation to settle its key. Dropping it unsettled releases the
/// followers to fetch on their own.
pub struct Leader<V: Clone + 'static> {
    map: Rc<InFlight<V>>,
    key: String,
    settled: bool,
}

impl<V: Clone + 'static> Leader<V> {
    /// Settles the key and wakes the followers.
    pub fn settle(mut self, outcome: Settle<V>, now_ms: i64) {
        self.settled = true;
        self.map.settle(&self.key, outcome, now_ms);
    }
}

impl<V: Clone + 'static> Drop for Leader<V> {
    fn drop(&mut self) {
        if !self.settled {
            // The time only matters for a stored answer, which this is not.
            self.map.settle(&self.key, Settle::Private, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn leader(j: Joined<u32>) -> Leader<u32> {
        match j {
            Joined::Leader(l) => l,
            _ => panic!("expected to lead"),
        }
    }

    fn follower(j: Joined<u32>) -> Rc<Slot<u32>> {
        match j {
            Joined::Follower(s) => s,
            _ => panic!("expected to follow"),
        }
    }

    #[test]
    fn concurrent_identical_requests_share_one_leader() {
        let map = InFlight::new(10, EDGE_LINGER_MS);
        let l = leader(map.join("k", 0));
        let f1 = follower(map.join("k", 0));
        let f2 = follower(map.join("k", 1));
        let woken = Rc::new(Cell::new(0));
        for f in [&f1, &f2] {
            let w = Rc::clone(&woken);
            f.on_settled(move || w.set(w.get() + 1));
        }
        assert!(!f1.is_settled());
        l.settle(Settle::Shared(7), 5);
        assert_eq!((woken.get(), f1.answer(), f2.answer()), (2, Some(7), Some(7)));
        assert!(map.is_empty(), "a shared answer does not linger");
        assert!(matches!(map.join("k", 6), Joined::Leader(_)));
    }

    #[test]
    fn stored_answers_linger_briefly() {
        let map = InFlight::new(10, EDGE_LINGER_MS);
        leader(map.join("k", 0)).settle(Settle::Stored(1), 100);
        assert!(matches!(map.join("k", 100 + EDGE_LINGER_MS - 1), Joined::Ready(1)));
        assert!(matches!(map.join("k", 100 + EDGE_LINGER_MS), Joined::Leader(_)));
    }

    #[test]
    fn private_answers_and_dropped_leaders_release_followers_empty_handed() {
        let map = InFlight::new(10, EDGE_LINGER_MS);
        let l = leader(map.join("k", 0));
        let f = follower(map.join("k", 0));
        drop(l);
        assert!(f.is_settled() && f.answer().is_none());
        let l = leader(map.join("k", 0));
        let f = follower(map.join("k", 0));
        l.settle(Settle::Private, 0);
        assert!(f.is_settled() && f.answer().is_none());
        assert!(map.is_empty());
    }

    #[test]
    fn a_full_map_sends_requests_alone_and_frees_stale_entries() {
        let map = InFlight::new(2, EDGE_LINGER_MS);
        let _a = leader(map.join("a", 0));
        leader(map.join("b", 0)).settle(Settle::Stored(1), 0);
        assert!(matches!(map.join("c", 0), Joined::Alone));
        assert!(matches!(map.join("c", EDGE_LINGER_MS), Joined::Leader(_)));
    }

    #[test]
    fn a_waiting_follower_is_woken_with_the_answer() {
        let map = InFlight::new(10, EDGE_LINGER_MS);
        let l = leader(map.join("k", 0));
        let f = follower(map.join("k", 0));
        let mut waiting = Box::pin(f.settled());
        let waker = std::task::Waker::noop();
        assert!(waiting.as_mut().poll(&mut Context::from_waker(waker)).is_pending());
        l.settle(Settle::Shared(9), 0);
        assert_eq!(futures_executor::block_on(waiting), Some(9));
    }

    #[test]
    fn a_follower_registering_late_is_called_at_once() {
        let map = InFlight::new(10, EDGE_LINGER_MS);
        let l = leader(map.join("k", 0));
        let f = follower(map.join("k", 0));
        l.settle(Settle::Shared(3), 0);
        let called = Rc::new(Cell::new(false));
        let c = Rc::clone(&called);
        f.on_settled(move || c.set(true));
        assert!(called.get());
    }
}
