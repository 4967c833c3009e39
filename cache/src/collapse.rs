//! Request collapsing inside one isolate: concurrent identical misses share one origin
//! request.
//!
//! The first request for a key becomes the *leader* and fetches; later ones become
//! *followers* and wait on the leader's [`Slot`]. The leader settles the slot with the
//! answer (or says the answer is not for sharing), and a stored answer lingers briefly so
//! requests that arrive before the cache write is visible still get it. A leader that
//! goes away without settling releases its followers to fetch on their own, so nobody
//! waits on a lost request. The map is bounded; when full, requests fetch alone.
//!
//! Single-threaded by design (`Rc`/`RefCell`): an isolate runs one thread. How a follower
//! sleeps until the slot is settled is the platform's business: on Workers a request may
//! only be resumed through something the runtime carries into its own context, so the
//! leader attaches such a wake-up to the slot ([`Slot::set_signal`]) and followers wait
//! on it. Native code can use [`Slot::settled`].

use std::any::Any;
use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// How long a stored answer stays in the edge's map after it was settled: long enough
/// to cover the delay before a cache write is visible to lookups.
pub const EDGE_LINGER_MS: i64 = 200;

/// The default bound on the number of keys.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// What followers receive.
#[derive(Debug)]
enum SlotState<V> {
    Pending,
    /// `None`: the leader's answer is not shareable (or the leader failed).
    Settled(Option<V>),
}

/// Where the followers of one leader receive its answer.
pub struct Slot<V> {
    state: RefCell<SlotState<V>>,
    on_settled: RefCell<Vec<Box<dyn FnOnce()>>>,
    signal: RefCell<Option<Rc<dyn Any>>>,
}

impl<V: Clone> Slot<V> {
    fn new() -> Self {
        Self {
            state: RefCell::new(SlotState::Pending),
            on_settled: RefCell::default(),
            signal: RefCell::default(),
        }
    }

    /// Registers what to run when the leader settles (at once if it already has).
    pub fn on_settled(&self, f: impl FnOnce() + 'static) {
        if self.is_settled() {
            f();
        } else {
            self.on_settled.borrow_mut().push(Box::new(f));
        }
    }

    /// Attaches the platform's wake-up for followers; the leader does this before it
    /// fetches, in its own request.
    pub fn set_signal<T: 'static>(&self, signal: T) {
        *self.signal.borrow_mut() = Some(Rc::new(signal));
    }

    /// The wake-up attached by the leader, if it is of type `T`.
    pub fn signal<T: 'static>(&self) -> Option<Rc<T>> {
        self.signal.borrow().clone().and_then(|s| s.downcast::<T>().ok())
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
    /// stateless worker needs a platform wake-up instead (see [`Slot::set_signal`]).
    pub fn settled(self: &Rc<Self>) -> SlotSettled<V> {
        SlotSettled { slot: Rc::clone(self) }
    }

    fn settle(&self, value: Option<V>) {
        *self.state.borrow_mut() = SlotState::Settled(value);
        // Callbacks run after the borrow is released: they may look at the slot.
        let callbacks = std::mem::take(&mut *self.on_settled.borrow_mut());
        for f in callbacks {
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
        self.slot.on_settled(move || waker.wake());
        Poll::Pending
    }
}

enum Entry<V> {
    Pending(Rc<Slot<V>>),
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
pub enum Joined<K: Eq + Hash + Clone + 'static, V: Clone + 'static> {
    /// Fetch, then settle through the guard.
    Leader(Leader<K, V>),
    /// Wait on the slot, then use its answer or fetch alone.
    Follower(Rc<Slot<V>>),
    /// A stored answer settled moments ago.
    Ready(V),
    /// The map is full: fetch alone.
    Alone,
}

/// The in-flight map of one isolate (or one stream object), keyed by what makes two
/// requests identical.
pub struct InFlight<K, V> {
    entries: RefCell<HashMap<K, Entry<V>>>,
    capacity: usize,
    linger_ms: i64,
}

impl<K: Eq + Hash + Clone + 'static, V: Clone + 'static> InFlight<K, V> {
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

    /// Joins a request for `key` that is already on its way, or an answer stored moments
    /// ago; `None` when there is neither. Checked before the cache: either is as fresh as
    /// a cache entry and costs no lookup.
    pub fn join_existing<Q>(&self, key: &Q, now_ms: i64) -> Option<Joined<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        match self.entries.borrow_mut().get_mut(key) {
            Some(Entry::Pending(slot)) => Some(Joined::Follower(Rc::clone(slot))),
            Some(Entry::Lingering { value, until_ms }) if *until_ms > now_ms => {
                Some(Joined::Ready(value.clone()))
            }
            _ => None,
        }
    }

    /// Joins the request for `key`, leading it if nobody else is.
    pub fn join<Q>(self: &Rc<Self>, key: &Q, now_ms: i64) -> Joined<K, V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(joined) = self.join_existing(key, now_ms) {
            return joined;
        }
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= self.capacity {
            entries.retain(|_, e| {
                matches!(e, Entry::Pending(_))
                    || matches!(e, Entry::Lingering { until_ms, .. } if *until_ms > now_ms)
            });
            if entries.len() >= self.capacity {
                return Joined::Alone;
            }
        }
        let slot = Rc::new(Slot::new());
        entries.insert(key.to_owned(), Entry::Pending(Rc::clone(&slot)));
        Joined::Leader(Leader { map: Rc::clone(self), key: key.to_owned(), slot, settled: false })
    }

    fn settle(&self, key: &K, slot: &Slot<V>, outcome: Settle<V>, now_ms: i64) {
        {
            let mut entries = self.entries.borrow_mut();
            if matches!(entries.get(key), Some(Entry::Pending(p)) if std::ptr::eq(p.as_ref(), slot)) {
                entries.remove(key);
            }
            if let Settle::Stored(v) = &outcome {
                entries.insert(
                    key.clone(),
                    Entry::Lingering { value: v.clone(), until_ms: now_ms + self.linger_ms },
                );
            }
        }
        // Followers are woken after the map is released: they may join again.
        slot.settle(match outcome {
            Settle::Stored(v) | Settle::Shared(v) => Some(v),
            Settle::Private => None,
        });
    }
}

/// The leader's obligation to settle its key. Dropping it unsettled releases the
/// followers to fetch on their own.
pub struct Leader<K: Eq + Hash + Clone + 'static, V: Clone + 'static> {
    map: Rc<InFlight<K, V>>,
    key: K,
    slot: Rc<Slot<V>>,
    settled: bool,
}

impl<K: Eq + Hash + Clone + 'static, V: Clone + 'static> Leader<K, V> {
    /// The slot the followers wait on, to attach a wake-up to.
    pub fn slot(&self) -> &Rc<Slot<V>> {
        &self.slot
    }

    /// Settles the key and wakes the followers.
    pub fn settle(mut self, outcome: Settle<V>, now_ms: i64) {
        self.settled = true;
        self.map.settle(&self.key, &self.slot, outcome, now_ms);
    }
}

impl<K: Eq + Hash + Clone + 'static, V: Clone + 'static> Drop for Leader<K, V> {
    fn drop(&mut self) {
        if !self.settled {
            // The time only matters for a stored answer, which this is not.
            self.map.settle(&self.key, &self.slot, Settle::Private, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn leader(j: Joined<String, u32>) -> Leader<String, u32> {
        match j {
            Joined::Leader(l) => l,
            _ => panic!("expected to lead"),
        }
    }

    fn follower(j: Joined<String, u32>) -> Rc<Slot<u32>> {
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
    fn followers_share_the_leaders_slot_and_its_signal() {
        let map = InFlight::new(10, EDGE_LINGER_MS);
        let l = leader(map.join("k", 0));
        l.slot().set_signal(String::from("wake-up"));
        let (f1, f2) = (follower(map.join("k", 0)), follower(map.join("k", 0)));
        assert!(Rc::ptr_eq(&f1, &f2) && Rc::ptr_eq(&f1, l.slot()));
        assert_eq!(f1.signal::<String>().as_deref().map(String::as_str), Some("wake-up"));
        assert!(f1.signal::<u8>().is_none(), "a signal of another type is not returned");
        let (mut a, mut b) = (Box::pin(f1.settled()), Box::pin(f2.settled()));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(a.as_mut().poll(&mut cx).is_pending() && b.as_mut().poll(&mut cx).is_pending());
        l.settle(Settle::Shared(4), 0);
        assert_eq!(futures_executor::block_on(async { (a.await, b.await) }), (Some(4), Some(4)));
    }

    #[test]
    fn joining_an_existing_request_never_leads() {
        let map = InFlight::new(10, EDGE_LINGER_MS);
        assert!(map.join_existing("k", 0).is_none());
        assert!(map.is_empty(), "asking does not claim the key");
        let l = leader(map.join("k", 0));
        let f = match map.join_existing("k", 1) {
            Some(Joined::Follower(f)) => f,
            _ => panic!("expected to follow"),
        };
        l.settle(Settle::Stored(3), 10);
        assert_eq!(f.answer(), Some(3));
        assert!(matches!(map.join_existing("k", 11), Some(Joined::Ready(3))));
        assert!(map.join_existing("k", 10 + EDGE_LINGER_MS).is_none());
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
