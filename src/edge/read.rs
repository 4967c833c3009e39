//! The cached read path at the edge, for GETs: lookup → collapse → origin → store.
//!
//! Decisions come from the cache policy crate; this module only sequences them. The
//! platform supplies the cache ([`EdgeCache`]) and the way to the stream object
//! ([`Origin`]).

use std::rc::Rc;

use durable_streams_cache::{
    policy, revalidate, Buffered, CacheKey, CacheOutcome, CacheReport, EdgeCache, InFlight, Joined, Lookup,
    ReadFacts, Settle, Slot, StoreDecision,
};
use futures_util::future::LocalBoxFuture;

use crate::protocol::path::StreamName;
use crate::protocol::query::{Live, ReadQuery};
use crate::protocol::{Offset, ProtocolError, StartAt};
use durable_streams_cache::{KeyOffset, Mode};

/// The collapsing map of one isolate, shared by all its requests.
pub type EdgeInFlight = Rc<InFlight<CacheKey, Rc<Buffered>>>;

/// What the read path needs from the platform besides the cache.
pub trait Origin {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Asks the stream object for this read, without the client's conditional or cache
    /// headers, so the answer can serve every requester.
    fn fetch(&self) -> LocalBoxFuture<'_, Result<Buffered, ProtocolError>>;

    /// Prepares the wake-up the leader's followers will wait on. Runs in the leader's
    /// request, before it fetches.
    fn lead(&self, slot: &Rc<Slot<Rc<Buffered>>>);

    /// Completes when `slot` is settled, or after `bound_ms` at the latest.
    fn wait(&self, slot: &Rc<Slot<Rc<Buffered>>>, bound_ms: u64) -> LocalBoxFuture<'_, ()>;
}

/// One cacheable GET.
pub struct CachedRead<'a> {
    /// Its canonical key.
    pub key: &'a CacheKey,
    /// What it asks for.
    pub facts: &'a ReadFacts,
    /// How it may use the cache.
    pub lookup: Lookup,
    /// The client's `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// How long a follower waits for its leader before asking the origin itself.
    pub follower_bound_ms: u64,
}

/// What to send back.
pub enum Served<E> {
    /// A cache entry, as the platform stored it.
    Entry(E),
    /// A 304, with the validators of the entry or answer it stands for.
    NotModified(Vec<(&'static str, String)>),
    /// An origin answer: this request's own, or one it shared.
    Answer(Rc<Buffered>),
}

/// The result of [`serve`].
pub struct ReadResult<E> {
    /// What to send.
    pub served: Served<E>,
    /// How it was served, and whether an answer it fetched was stored.
    pub report: CacheReport,
    /// Time spent looking the cache up (ms).
    pub lookup_ms: f64,
}

/// What a GET of stream `stream_id` asks for, in the cache's terms. An absent offset is
/// the beginning, spelled like the zero offset, so both share one key.
pub fn facts(name: &StreamName, query: &ReadQuery, anonymous: bool) -> ReadFacts {
    let offset = match query.offset.unwrap_or(StartAt::Beginning) {
        StartAt::Now => KeyOffset::Now,
        StartAt::Beginning => KeyOffset::At(Offset::ZERO.to_string()),
        StartAt::At(o) => KeyOffset::At(o.to_string()),
    };
    let mode = match query.live {
        Live::No => Mode::CatchUp,
        Live::LongPoll => Mode::LongPoll,
        Live::Sse => Mode::Sse,
    };
    ReadFacts {
        path: name.path(),
        offset,
        mode,
        cursor: query.cursor,
        anonymous,
        reader_key: query.reader_key.clone(),
    }
}

/// How long a follower waits for its leader: a long-poll leader may wait the whole
/// long-poll timeout for data.
pub fn follower_bound_ms(mode: Mode, long_poll_timeout_ms: u64) -> u64 {
    match mode {
        Mode::LongPoll => long_poll_timeout_ms + 5_000,
        Mode::CatchUp | Mode::Sse => 10_000,
    }
}

/// Serves a cacheable GET.
pub async fn serve<C: EdgeCache, O: Origin>(
    cache: &C,
    origin: &O,
    in_flight: &EdgeInFlight,
    read: CachedRead<'_>,
) -> Result<ReadResult<C::Entry>, ProtocolError> {
    let mut lookup_ms = 0.0;
    match read.lookup {
        Lookup::Bypass | Lookup::NotCacheable => {
            let (answer, stored) = fetch_and_store(cache, origin, &read).await?;
            let outcome =
                if read.lookup == Lookup::Bypass { CacheOutcome::Bypass } else { CacheOutcome::Miss };
            return Ok(finish(&read, answer, CacheReport { outcome, stored: Some(stored) }, lookup_ms));
        }
        Lookup::Lookup => {
            // An identical request on its way, or an answer stored moments ago, is as
            // fresh as the cache and saves the lookup: at the tail of a busy stream that
            // is every reader but the first after each append.
            if let Some(joined) = in_flight.join_existing(read.key, origin.now_ms()) {
                return follow(cache, origin, &read, joined, lookup_ms).await;
            }
            let started = origin.now_ms();
            let hit = cache.get(read.key).await;
            lookup_ms = (origin.now_ms() - started) as f64;
            if let Some(entry) = hit {
                let served = match revalidate::not_modified(read.if_none_match, &entry) {
                    Some(headers) => Served::NotModified(headers),
                    None => Served::Entry(entry),
                };
                let outcome = if matches!(served, Served::NotModified(_)) {
                    CacheOutcome::Revalidated
                } else {
                    CacheOutcome::Hit
                };
                return Ok(ReadResult { served, report: CacheReport::without_fetch(outcome), lookup_ms });
            }
        }
        Lookup::CollapseOnly => {}
    }
    let joined = in_flight.join(read.key, origin.now_ms());
    follow(cache, origin, &read, joined, lookup_ms).await
}

/// Goes on as the collapsing map says: use a ready answer, wait for a leader, or lead.
async fn follow<C: EdgeCache, O: Origin>(
    cache: &C,
    origin: &O,
    read: &CachedRead<'_>,
    joined: Joined<CacheKey, Rc<Buffered>>,
    lookup_ms: f64,
) -> Result<ReadResult<C::Entry>, ProtocolError> {
    let coalesced = CacheReport::without_fetch(CacheOutcome::Coalesced);
    let missed = |stored| CacheReport { outcome: CacheOutcome::Miss, stored: Some(stored) };
    match joined {
        Joined::Ready(answer) => Ok(finish(read, answer, coalesced, lookup_ms)),
        Joined::Follower(slot) => {
            origin.wait(&slot, read.follower_bound_ms).await;
            if let Some(answer) = slot.answer() {
                return Ok(finish(read, answer, coalesced, lookup_ms));
            }
            let (answer, stored) = fetch_and_store(cache, origin, read).await?;
            Ok(finish(read, answer, missed(stored), lookup_ms))
        }
        Joined::Leader(leader) => {
            origin.lead(leader.slot());
            // On error the leader is dropped unsettled, which sends its followers to the
            // origin on their own.
            let answer = Rc::new(origin.fetch().await?);
            let stored = store(cache, read, &answer);
            let settle = if matches!(stored, StoreDecision::Yes { .. }) {
                Settle::Stored(Rc::clone(&answer))
            } else if policy::share(read.facts, &answer.facts()) {
                Settle::Shared(Rc::clone(&answer))
            } else {
                Settle::Private
            };
            leader.settle(settle, origin.now_ms());
            Ok(finish(read, answer, missed(stored), lookup_ms))
        }
        Joined::Alone => {
            let (answer, stored) = fetch_and_store(cache, origin, read).await?;
            Ok(finish(read, answer, missed(stored), lookup_ms))
        }
    }
}

async fn fetch_and_store<C: EdgeCache, O: Origin>(
    cache: &C,
    origin: &O,
    read: &CachedRead<'_>,
) -> Result<(Rc<Buffered>, StoreDecision), ProtocolError> {
    let answer = Rc::new(origin.fetch().await?);
    let stored = store(cache, read, &answer);
    Ok((answer, stored))
}

/// Stores the answer if the store guard allows it, and says what it decided.
fn store<C: EdgeCache>(cache: &C, read: &CachedRead<'_>, answer: &Buffered) -> StoreDecision {
    let decision = policy::store(read.facts, &answer.facts());
    if matches!(decision, StoreDecision::Yes { .. }) {
        cache.put(read.key, answer);
    }
    decision
}

/// Answers a 200 with a 304 when the client already has it.
fn finish<E>(
    read: &CachedRead<'_>,
    answer: Rc<Buffered>,
    report: CacheReport,
    lookup_ms: f64,
) -> ReadResult<E> {
    let not_modified =
        if answer.status == 200 { revalidate::not_modified(read.if_none_match, &*answer) } else { None };
    let served = match not_modified {
        Some(headers) => Served::NotModified(headers),
        None => Served::Answer(answer),
    };
    ReadResult { served, report, lookup_ms }
}

#[cfg(test)]
mod tests;
