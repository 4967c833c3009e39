//! The read path against an in-memory cache and a counting origin.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use durable_streams_cache::control;
use durable_streams_cache::edge::MemoryCache;
use durable_streams_cache::{policy, KeyOffset, Mode, SkipReason};
use futures_executor::block_on;
use futures_util::future::join_all;

use super::*;

/// Pending on its first poll, ready on the second: lets concurrent requests join.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

struct TestOrigin {
    answer: RefCell<Result<Buffered, ProtocolError>>,
    fetches: Cell<usize>,
    leads: Cell<usize>,
}

impl TestOrigin {
    fn answering(status: u16, headers: &[(&str, &str)]) -> Self {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self {
            answer: RefCell::new(Ok(Buffered { status, headers, body: b"data".to_vec() })),
            fetches: Cell::new(0),
            leads: Cell::new(0),
        }
    }
}

impl Origin for TestOrigin {
    fn now_ms(&self) -> i64 {
        0
    }

    fn fetch(&self) -> LocalBoxFuture<'_, Result<Buffered, ProtocolError>> {
        self.fetches.set(self.fetches.get() + 1);
        Box::pin(async move {
            YieldOnce(false).await;
            self.answer.borrow().clone()
        })
    }

    fn lead(&self, slot: &Rc<Slot<Rc<Buffered>>>) {
        self.leads.set(self.leads.get() + 1);
        slot.set_signal(());
    }

    fn wait(&self, slot: &Rc<Slot<Rc<Buffered>>>, _bound_ms: u64) -> LocalBoxFuture<'_, ()> {
        assert!(slot.signal::<()>().is_some(), "followers wait on a slot their leader prepared");
        let settled = slot.settled();
        Box::pin(async move {
            settled.await;
        })
    }
}

const ETAG: &str = "\"1:0:4\"";

fn chunk() -> TestOrigin {
    TestOrigin::answering(200, &[("Cache-Control", control::IMMUTABLE_CHUNK), ("ETag", ETAG)])
}

fn at_tail() -> TestOrigin {
    TestOrigin::answering(
        200,
        &[("Cache-Control", control::AT_TAIL), ("ETag", ETAG), ("Stream-Up-To-Date", "true")],
    )
}

fn long_poll_data() -> TestOrigin {
    TestOrigin::answering(200, &[("Cache-Control", control::LONG_POLL), ("Stream-Up-To-Date", "true")])
}

fn facts_for(mode: Mode) -> ReadFacts {
    ReadFacts::new("/v1/stream/s", KeyOffset::At("0000000000000000_0000000000000000".into()), mode, Some(1))
}

fn run(
    cache: &MemoryCache,
    origin: &TestOrigin,
    in_flight: &EdgeInFlight,
    facts: &ReadFacts,
    client_cc: Option<&str>,
    inm: Option<&str>,
) -> ReadResult<Buffered> {
    let key = CacheKey::for_read("https://h", facts);
    let read = CachedRead {
        key: &key,
        facts,
        lookup: policy::lookup(facts, client_cc),
        if_none_match: inm,
        follower_bound_ms: 1000,
    };
    block_on(serve(cache, origin, in_flight, read)).unwrap()
}

fn concurrently(n: usize, cache: &MemoryCache, origin: &TestOrigin, facts: &ReadFacts) -> Vec<CacheOutcome> {
    let in_flight = InFlight::new(100, 200);
    let key = CacheKey::for_read("https://h", facts);
    let reads = (0..n).map(|_| {
        let read = CachedRead {
            key: &key,
            facts,
            lookup: policy::lookup(facts, None),
            if_none_match: None,
            follower_bound_ms: 1000,
        };
        serve(cache, origin, &in_flight, read)
    });
    block_on(join_all(reads)).into_iter().map(|r| r.unwrap().report.outcome).collect()
}

fn in_flight() -> EdgeInFlight {
    InFlight::new(100, 200)
}

#[test]
fn a_mid_stream_chunk_is_stored_then_served_from_the_cache() {
    let (cache, origin, map) = (MemoryCache::default(), chunk(), in_flight());
    let f = facts_for(Mode::CatchUp);
    let first = run(&cache, &origin, &map, &f, None, None).report;
    assert_eq!(first.outcome, CacheOutcome::Miss);
    assert_eq!(first.stored, Some(StoreDecision::Yes { ttl_secs: 60 }));
    // Another isolate (its own collapsing map) finds the entry in the cache.
    let second = run(&cache, &origin, &in_flight(), &f, None, None);
    assert_eq!(second.report, CacheReport::without_fetch(CacheOutcome::Hit));
    assert!(matches!(second.served, Served::Entry(ref e) if e.body == b"data"));
    assert_eq!(origin.fetches.get(), 1);
}

#[test]
fn an_answer_stored_moments_ago_is_reused_without_a_lookup() {
    let (cache, origin, map) = (MemoryCache::default(), chunk(), in_flight());
    let f = facts_for(Mode::CatchUp);
    run(&cache, &origin, &map, &f, None, None);
    let second = run(&cache, &origin, &map, &f, None, None);
    assert_eq!(second.report.outcome, CacheOutcome::Coalesced);
    assert!(matches!(second.served, Served::Answer(ref a) if a.body == b"data"));
    assert_eq!((origin.fetches.get(), cache.lookups.get()), (1, 1));
}

#[test]
fn a_matching_if_none_match_on_a_hit_is_a_304_without_the_origin() {
    let (cache, origin, map) = (MemoryCache::default(), chunk(), in_flight());
    let f = facts_for(Mode::CatchUp);
    run(&cache, &origin, &map, &f, None, None);
    let revalidated = run(&cache, &origin, &in_flight(), &f, None, Some(ETAG));
    assert_eq!(revalidated.report.outcome, CacheOutcome::Revalidated);
    assert!(
        matches!(revalidated.served, Served::NotModified(ref h) if h.iter().any(|(k, v)| *k == "ETag" && v == ETAG))
    );
    assert_eq!(origin.fetches.get(), 1);
}

#[test]
fn at_tail_plain_reads_are_not_stored() {
    let (cache, origin, map) = (MemoryCache::default(), at_tail(), in_flight());
    let f = facts_for(Mode::CatchUp);
    run(&cache, &origin, &map, &f, None, None);
    let again = run(&cache, &origin, &map, &f, None, None).report;
    assert_eq!(again.outcome, CacheOutcome::Miss);
    assert_eq!(again.skipped(), Some(SkipReason::AtTailPlainGet));
    assert_eq!(again.to_string(), "miss (not stored: at-tail)");
    assert_eq!((origin.fetches.get(), cache.puts.get()), (2, 0));
}

#[test]
fn concurrent_identical_long_polls_cost_one_origin_request() {
    let (cache, origin) = (MemoryCache::default(), long_poll_data());
    let outcomes = concurrently(50, &cache, &origin, &facts_for(Mode::LongPoll));
    assert_eq!(origin.fetches.get(), 1);
    assert_eq!(outcomes.iter().filter(|o| **o == CacheOutcome::Miss).count(), 1);
    assert_eq!(outcomes.iter().filter(|o| **o == CacheOutcome::Coalesced).count(), 49);
    assert_eq!(cache.lookups.get(), 1, "followers of a request on its way skip the cache lookup");
    assert_eq!(origin.leads.get(), 1);
}

#[test]
fn a_long_poll_timeout_is_shared_with_followers_but_not_stored() {
    let (cache, origin, map) =
        (MemoryCache::default(), TestOrigin::answering(204, &[("Cache-Control", "no-store")]), in_flight());
    let report = run(&cache, &origin, &map, &facts_for(Mode::LongPoll), None, None).report;
    assert_eq!(report.skipped(), Some(SkipReason::NotOk(204)));
    assert_eq!(report.to_string(), "miss (not stored: status-204)");
    assert_eq!(cache.puts.get(), 0);
}

#[test]
fn concurrent_plain_reads_at_the_tail_each_ask_the_origin() {
    // Sharing them could hide a reader's own preceding write.
    let (cache, origin) = (MemoryCache::default(), at_tail());
    let outcomes = concurrently(5, &cache, &origin, &facts_for(Mode::CatchUp));
    assert_eq!(origin.fetches.get(), 5);
    assert!(outcomes.iter().all(|o| *o == CacheOutcome::Miss));
}

#[test]
fn a_bypassing_client_refreshes_the_entry_for_everyone() {
    let (cache, origin, map) = (MemoryCache::default(), chunk(), in_flight());
    let f = facts_for(Mode::CatchUp);
    assert_eq!(run(&cache, &origin, &map, &f, Some("no-cache"), None).report.outcome, CacheOutcome::Bypass);
    assert_eq!(run(&cache, &origin, &map, &f, None, None).report.outcome, CacheOutcome::Hit);
    assert_eq!(origin.fetches.get(), 1);
}

#[test]
fn followers_of_a_failed_leader_ask_the_origin_themselves() {
    let (cache, origin) = (MemoryCache::default(), long_poll_data());
    *origin.answer.borrow_mut() = Err(ProtocolError::unavailable("down"));
    let in_flight = in_flight();
    let f = facts_for(Mode::LongPoll);
    let key = CacheKey::for_read("https://h", &f);
    let reads = (0..3).map(|_| {
        let read = CachedRead {
            key: &key,
            facts: &f,
            lookup: Lookup::Lookup,
            if_none_match: None,
            follower_bound_ms: 1,
        };
        serve(&cache, &origin, &in_flight, read)
    });
    let results = block_on(join_all(reads));
    assert!(results.iter().all(Result::is_err));
    assert_eq!(origin.fetches.get(), 3);
}

#[test]
fn equivalent_urls_share_one_key() {
    let key = |path: &str, query: &str| {
        let stream = crate::protocol::path::StreamName::parse(path).unwrap().unwrap();
        CacheKey::for_read("https://h", &facts(&stream, &ReadQuery::parse(query).unwrap(), false))
            .as_str()
            .to_owned()
    };
    let zero = "0000000000000000_0000000000000000";
    let same = [
        key("/v1/stream/s", ""),
        key("/v1/stream/s", "offset=-1"),
        key("/v1/stream/s", &format!("offset={zero}")),
        key("/v1/stream/s", "foo=1&offset=-1&bar"),
        key("/v1/stream/s", "offset=-1&cursor=77"),
    ];
    assert!(same.iter().all(|k| *k == same[0]), "{same:?}");
    let lp = [
        key("/v1/stream/s", "offset=-1&live=long-poll&cursor=5"),
        key("/v1/stream/s", "cursor=5&x=y&live=long-poll&offset=%2D1"),
    ];
    assert_eq!(lp[0], lp[1]);
    assert_ne!(lp[0], key("/v1/stream/s", "offset=-1&live=long-poll&cursor=6"));
    assert_eq!(key("/v1/stream/%61b%63", ""), key("/v1/stream/abc", ""));
    assert_eq!(key("/v1/_default/stream/abc", ""), key("/v1/stream/abc", ""));
    assert_ne!(key("/v1/other/stream/abc", ""), key("/v1/stream/abc", ""));
    assert_ne!(key("/v1/stream/abc", "rk=k1"), key("/v1/stream/abc", ""));
}
