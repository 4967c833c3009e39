//! One stream's request handler: the logic of the `StreamDO` Durable Object.
//!
//! [`StreamService`] receives neutral [`Request`]s for one stream path, applies the
//! protocol through its [`Store`], and answers with an [`Answer`]. Each method has its
//! module (`put`, `post`, `get`, `head`, `delete`); live reads continue in `long_poll`
//! and `sse`, and every read of stored data goes `pages` → `coalesce` → `fork` (the
//! fork chain) → `cold` (segments and the hot log) → the store. Waiting
//! (long-poll, SSE), calls to fork sources and timers go through the [`Host`], so the
//! same code runs in a Durable Object and natively.
//!
//! Concurrency: a Durable Object interleaves requests at every `.await`. Writes take
//! `writes` (an async mutex) so that create, append, delete and fork bookkeeping are
//! serialized per stream; each write then commits in one SQLite transaction with no
//! `.await` inside. Reads take no lock: a read is one synchronous query.

mod access;
pub mod calls;
mod coalesce;
mod cold;
pub mod config;
mod delete;
mod expiry;
mod fork;
mod get;
mod head;
mod headers;
pub mod host;
mod inspect;
mod long_poll;
pub mod notify;
mod pages;
mod post;
mod put;
mod readers;
mod registry;
mod sse;
pub mod stats;
pub mod subscriber;
mod watchers;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

use std::rc::{Rc, Weak};

use futures_util::lock::Mutex;
use futures_util::FutureExt;

pub use config::Config;
pub use host::Host;
pub use subscriber::{Subscriber, SubscriberState};

use crate::http::{Method, Reply, Request};
use crate::internal;
use crate::protocol::headers as h;
use crate::protocol::path::StreamName;
use crate::protocol::query::{Live, ReadQuery};
use crate::protocol::ErrorCode;
use crate::protocol::ProtocolError;
use crate::store::{Sql, State, Store};
use notify::Notify;
use stats::Stats;

/// What a stream object answers.
#[derive(Debug)]
pub enum Answer {
    /// A reply to send as it is.
    Reply(Reply),
    /// An SSE reader accepted from `state`: the platform keeps its connection as a
    /// subscriber and answers with `reply`'s status and headers.
    Subscribe {
        /// The status and headers of the SSE response.
        reply: Reply,
        /// Where the reader starts.
        state: SubscriberState,
    },
}

impl Answer {
    /// The reply, or the head of the SSE response.
    pub fn reply(&self) -> &Reply {
        match self {
            Self::Reply(reply) | Self::Subscribe { reply, .. } => reply,
        }
    }

    fn reply_mut(&mut self) -> &mut Reply {
        match self {
            Self::Reply(reply) | Self::Subscribe { reply, .. } => reply,
        }
    }
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Self {
        Self::Reply(reply)
    }
}

impl From<Result<Reply, ProtocolError>> for Answer {
    fn from(r: Result<Reply, ProtocolError>) -> Self {
        Self::Reply(r.into())
    }
}

/// The handler for one stream path.
pub struct StreamService<S, H> {
    /// The handler itself, for work that outlives a request (pushing to subscribers).
    me: Weak<Self>,
    store: Store<S>,
    host: H,
    config: Config,
    changes: Notify,
    writes: Mutex<()>,
    reads: coalesce::ReadCoalescer,
    pumps: sse::Pumps,
    subscriber_ids: sse::SubscriberIds,
    /// Whether a rotation to the cold tier is running.
    rotating: std::cell::Cell<bool>,
    segment_cache: cold::SegmentCache,
    stats: Stats,
    readers: readers::LiveReaders,
    /// The subscriptions linked to this stream, once read (see `watchers`).
    watchers: std::cell::RefCell<Option<Rc<Vec<String>>>>,
}

impl<S: Sql + 'static, H: Host + 'static> StreamService<S, H> {
    /// Opens the stream's storage.
    pub fn new(sql: S, host: H, config: Config) -> Result<Rc<Self>, ProtocolError> {
        let store = Store::open(sql)?;
        Ok(Rc::new_cyclic(|me| Self {
            me: me.clone(),
            store,
            host,
            config,
            changes: Notify::default(),
            writes: Mutex::new(()),
            reads: coalesce::coalescer(),
            pumps: sse::Pumps::default(),
            subscriber_ids: sse::SubscriberIds::default(),
            rotating: std::cell::Cell::new(false),
            segment_cache: cold::SegmentCache::default(),
            stats: Stats::default(),
            readers: readers::LiveReaders::default(),
            watchers: std::cell::RefCell::default(),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request) -> Answer {
        let path = req.path().to_owned();
        if path == internal::STATS_PATH {
            return self.stats_reply().into();
        }
        if path == internal::INSPECT_PATH {
            return match req.method {
                Method::Get => self.inspect_reply().boxed_local().await.into(),
                _ => Reply::error(&ProtocolError::method_not_allowed()).into(),
            };
        }
        self.stats.request(request_kind(&req));
        if path.starts_with(internal::PREFIX) {
            return self.handle_internal(&req).boxed_local().await.into();
        }
        let name = match StreamName::parse(&path) {
            Some(Ok(name)) => name,
            Some(Err(e)) => return Reply::error(&e).into(),
            None => return Reply::error(&ProtocolError::not_found()).into(),
        };
        if name.is_registry() && matches!(req.method, Method::Put | Method::Post | Method::Delete) {
            return Reply::error(&ProtocolError::new(
                ErrorCode::RegistryReadOnly,
                "the registry stream is written by the server only",
            ))
            .into();
        }
        // Each method's work is a boxed future, so that its code is a wasm function of its
        // own: the runtime compiles a function on its first call, and an object's first
        // request then compiles its own method's code, not every method's.
        match req.method {
            Method::Get => self.get(&req).boxed_local().await.unwrap_or_else(|e| Reply::error(&e).into()),
            Method::Put => self.create(req, &name).boxed_local().await.into(),
            Method::Post if req.header(h::STREAM_READER_KEY).is_some() => {
                self.rotate_reader_key(&req).boxed_local().await.into()
            }
            Method::Post => self.append(req).boxed_local().await.into(),
            Method::Head => self.head(&req).boxed_local().await.into(),
            Method::Delete => self.delete().boxed_local().await.into(),
            _ => Reply::error(&ProtocolError::method_not_allowed()).into(),
        }
    }

    /// The object's counters (see [`stats`]).
    fn stats_reply(&self) -> Reply {
        let state = self.store.state().ok();
        let tiering = match &state {
            Some(State::Live(m) | State::Gone(m)) => Some(&m.tiering),
            _ => None,
        };
        Reply::new(200)
            .header("Content-Type", "application/json")
            .header("Cache-Control", durable_streams_cache::control::NO_STORE)
            .bytes(self.stats.to_json(self.changes.waiting(), tiering).into_bytes())
    }

    /// Wakes waiting readers after a change, pushes it to subscribers, and then cuts the
    /// hot log into a cold segment if one is due — all after the current request.
    pub(super) fn announce_change(&self) {
        self.changes.bump();
        if let Some(me) = self.me.upgrade() {
            self.host.spawn(Box::pin(async move {
                for subscriber in me.host.subscribers() {
                    me.pump(&subscriber).await;
                }
                me.rotate().await;
            }));
        }
    }

    /// The offset of `pos` in `m`, as sent to clients.
    fn offset(&self, m: &crate::store::Meta, pos: u64) -> Result<String, ProtocolError> {
        Ok(self.store.offset(m, pos)?.to_string())
    }

    /// The live stream at `now`, after lazy expiry: 404 if missing, 410 if retained
    /// only for its forks.
    async fn live(&self, now: i64) -> Result<crate::store::Meta, ProtocolError> {
        match self.state_at(now).await? {
            State::Live(m) => Ok(m),
            State::Gone(_) => Err(ProtocolError::stream_gone()),
            State::Missing => Err(ProtocolError::stream_not_found()),
        }
    }
}

/// The kind of request, for the counters.
fn request_kind(req: &Request) -> &'static str {
    if req.path().starts_with(internal::PREFIX) {
        return "internal";
    }
    match req.method {
        Method::Put => "create",
        Method::Post => "append",
        Method::Head => "head",
        Method::Delete => "delete",
        Method::Get => match ReadQuery::parse(req.query()).map(|q| q.live) {
            Ok(Live::LongPoll) => "long_poll",
            Ok(Live::Sse) => "sse",
            _ => "read",
        },
        _ => "other",
    }
}
