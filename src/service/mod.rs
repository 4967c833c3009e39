//! One stream's request handler: the logic of the `StreamDO` Durable Object.
//!
//! [`StreamService`] receives neutral [`http::Request`]s for one stream path, applies
//! the protocol through the [`crate::engine`], and answers with [`http::Reply`]s. Waiting
//! (long-poll, SSE), calls to fork sources and timers go through the [`Host`], so the
//! same code runs in a Durable Object and natively.
//!
//! Concurrency: a Durable Object interleaves requests at every `.await`. Writes take
//! `writes` (an async mutex) so that create, append, delete and fork bookkeeping are
//! serialized per stream; each write then commits in one SQLite transaction with no
//! `.await` inside. Reads take no lock: a read is one synchronous query.

mod access;
mod cold;
pub mod config;
mod create;
mod fork;
mod headers;
pub mod host;
pub mod http;
pub mod internal;
mod lifecycle;
mod live;
pub mod notify;
mod read;
mod reads;
mod registry;
pub mod stats;
pub mod subscribers;
mod write;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

use std::rc::{Rc, Weak};

use futures_util::lock::Mutex;

pub use config::Config;
pub use host::Host;
pub use http::{Body, Method, Reply, Request};

use crate::engine::{Sql, State, Store};
use crate::protocol::headers as h;
use crate::protocol::path::StreamName;
use crate::protocol::query::{Live, ReadQuery};
use crate::protocol::ProtocolError;
use notify::Notify;
use stats::Stats;

/// The handler for one stream path.
pub struct StreamService<S, H> {
    /// The service itself, for work that outlives a request (pushing to subscribers).
    me: Weak<Self>,
    store: Store<S>,
    host: H,
    config: Config,
    changes: Notify,
    writes: Mutex<()>,
    reads: reads::ReadCoalescer,
    pumps: subscribers::Pumps,
    subscriber_ids: subscribers::SubscriberIds,
    /// Whether a rotation to the cold tier is running.
    rotating: std::cell::Cell<bool>,
    segment_cache: cold::SegmentCache,
    stats: Stats,
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
            reads: reads::coalescer(),
            pumps: subscribers::Pumps::default(),
            subscriber_ids: subscribers::SubscriberIds::default(),
            rotating: std::cell::Cell::new(false),
            segment_cache: cold::SegmentCache::default(),
            stats: Stats::default(),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request) -> Reply {
        let path = req.path().to_owned();
        if path == internal::STATS_PATH {
            return self.stats_reply();
        }
        self.stats.request(request_kind(&req));
        if path.starts_with(internal::PREFIX) {
            return self.handle_internal(&req).await.into();
        }
        let name = match StreamName::parse(&path) {
            Some(Ok(name)) => name,
            Some(Err(e)) => return Reply::error(&e),
            None => return Reply::error(&ProtocolError::NotFound),
        };
        if name.is_registry() && matches!(req.method, Method::Put | Method::Post | Method::Delete) {
            return Reply::error(&ProtocolError::Forbidden {
                code: "REGISTRY_READ_ONLY",
                message: "the registry stream is written by the server only".into(),
            });
        }
        let reply = match req.method {
            Method::Put => self.create(req, &name).await,
            Method::Post if req.header(h::STREAM_READER_KEY).is_some() => self.rotate_reader_key(&req).await,
            Method::Post => self.append(req).await,
            Method::Get => self.get(&req).await,
            Method::Head => self.head(&req).await,
            Method::Delete => self.delete().await,
            _ => Err(ProtocolError::MethodNotAllowed),
        };
        reply.into()
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

    /// Runs scheduled expiry: removes the stream if it is past its deadline, otherwise
    /// re-arms the alarm for the current deadline.
    pub async fn on_alarm(&self) {
        match self.state_at(self.host.now_ms()).await {
            Ok(State::Live(m)) => {
                if let Some(deadline) = m.deadline() {
                    self.host.schedule_alarm(deadline);
                }
            }
            Ok(_) => {}
            Err(e) => self.host.log_error(&format!("expiry failed: {e}")),
        }
    }

    /// The offset of `pos` in `m`, as sent to clients.
    fn offset(&self, m: &crate::engine::Meta, pos: u64) -> Result<String, ProtocolError> {
        Ok(self.store.offset(m, pos)?.to_string())
    }

    /// The live stream at `now`, after lazy expiry: 404 if missing, 410 if retained
    /// only for its forks.
    async fn live(&self, now: i64) -> Result<crate::engine::Meta, ProtocolError> {
        match self.state_at(now).await? {
            State::Live(m) => Ok(m),
            State::Gone(_) => Err(ProtocolError::StreamGone),
            State::Missing => Err(ProtocolError::StreamNotFound),
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
