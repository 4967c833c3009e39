//! A source stream's object (`SubscriptionDO`): its subscribers, and the fan-out that
//! brings every one of them up to the source's tail after a publish.
//!
//! Fan-outs of one source run one at a time, so sessions see its messages in source
//! order. A fan-out reads the source once from where the last one ended and hands that
//! page to every session (see [`crate::session`]); inline it writes up to a threshold of
//! sessions itself, above it through queue jobs, and it stops writing while a circuit
//! breaker on core failures is open. A fan-out asked for an offset an earlier one already
//! reached answers with that one's report: it is a retried or concurrent publish.

use std::cell::{Cell, RefCell};

use futures_util::future::{join_all, select, Either};
use futures_util::lock::Mutex;

use durable_streams_cloudflare::http::{Reply, Request};
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};
use durable_streams_cloudflare::store::sql::{Sql, SqlExt, StorageError, Value};

use crate::config::Config;
use crate::core_api;
use crate::fanout::{self, Breaker, Mode};
use crate::host::{FanoutQueue, Host};
use crate::metrics::Metric;
use crate::project::{query_page, Listing, ProjectCall};
use crate::wire::{
    self, Delivered, Delivery, FanoutJob, FanoutReport, Page, SessionCall, SourceCall, SubscriberRow,
};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS subscribers (session_id TEXT PRIMARY KEY, subscribed_at INTEGER NOT NULL)",
    // `fanned`: the source offset the last fan-out brought its subscribers up to.
    "CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

/// The most session ids one removal statement names.
const REMOVE_BATCH: usize = 100;

/// The logic of one source stream's object.
pub struct SourceObject<S, H> {
    sql: S,
    host: H,
    config: Config,
    /// Serializes fan-outs.
    fanning: Mutex<()>,
    /// Lives in memory: an object that restarts starts closed, which only costs one try.
    breaker: Cell<Breaker>,
    /// The last fan-out: the position it reached, and its report.
    last: RefCell<Option<(u64, FanoutReport)>>,
}

impl<S: Sql, H: Host + FanoutQueue> SourceObject<S, H> {
    /// Opens the object's storage.
    pub fn new(sql: S, host: H, config: Config) -> Result<Self, StorageError> {
        for statement in SCHEMA {
            sql.execute(statement, &[])?;
        }
        Ok(Self {
            sql,
            host,
            config,
            fanning: Mutex::new(()),
            breaker: Cell::default(),
            last: RefCell::default(),
        })
    }

    /// Answers one call.
    pub async fn handle(&self, req: &Request) -> Reply {
        let answer = match wire::parse_call::<SourceCall>(req) {
            Ok(call) => self.call(call).await,
            Err(e) => Err(e),
        };
        answer.unwrap_or_else(|e| Reply::error(&e))
    }

    async fn call(&self, call: SourceCall) -> Result<Reply, ProtocolError> {
        match call {
            SourceCall::Add { source, session, start } => {
                // The first subscriber fixes where fan-outs start; an index whose
                // subscribers all left keeps its place.
                self.sql.in_transaction(|| {
                    self.sql.execute(
                        "INSERT INTO subscribers (session_id, subscribed_at) VALUES (?, ?)
                         ON CONFLICT (session_id) DO NOTHING",
                        &[session.as_str().into(), self.host.now_ms().into()],
                    )?;
                    self.sql.execute(
                        "INSERT INTO state (name, value) VALUES ('fanned', ?) ON CONFLICT (name) DO NOTHING",
                        &[start.as_str().into()],
                    )?;
                    Ok(())
                })?;
                let fanned = self.fanned()?.unwrap_or(start);
                self.report(&source).await?;
                Ok(wire::json_reply(200, &serde_json::json!({ "fanned": fanned })))
            }
            SourceCall::Remove { source, sessions } => {
                self.remove(&sessions)?;
                self.report(&source).await?;
                Ok(wire::json_reply(200, &serde_json::json!({})))
            }
            SourceCall::Count => {
                Ok(wire::json_reply(200, &serde_json::json!({ "count": self.subscribers()?.len() })))
            }
            SourceCall::Subscribers { after, limit } => {
                Ok(wire::json_reply(200, &self.subscriber_page(after, limit)?))
            }
            SourceCall::Fanout { source, to } => {
                let source = StreamName::from_key(&source)
                    .ok_or_else(|| ProtocolError::new(ErrorCode::InvalidInternalCall, "not a stream key"))?;
                Ok(wire::json_reply(200, &self.fan_out(&source, &to).await?))
            }
        }
    }

    /// Brings every subscriber up to `to`.
    async fn fan_out(&self, source: &StreamName, to: &str) -> Result<FanoutReport, ProtocolError> {
        let _fanning = self.fanning.lock().await;
        let target = core_api::position(to)?;
        if let Some((reached, report)) = self.last.borrow().as_ref() {
            if *reached >= target {
                return Ok(report.clone());
            }
        }
        let started = self.host.now_ms();
        let subscribers = self.subscribers()?;
        let from = self.fanned()?.unwrap_or_else(|| to.to_owned());
        let breaker_open = self.breaker.get().is_open(started, &self.config);
        let plan = fanout::plan(subscribers.len(), self.host.has_queue(), breaker_open, &self.config);
        let (inline, rest) = subscribers.split_at(plan.inline.min(subscribers.len()));
        let (queued, skipped) = rest.split_at(plan.queued.min(rest.len()));
        let mut report = FanoutReport {
            count: subscribers.len(),
            successes: 0,
            failures: skipped.len(),
            mode: plan.mode.as_str().to_owned(),
        };
        let mut reached = (target, to.to_owned());
        if !inline.is_empty() {
            let (outcome, page_end) = self.write_inline(source, &from, to, inline).await;
            // The page may go past the target (later appends): sessions have that too.
            if let Some(end) = page_end {
                if let Ok(at) = core_api::position(&end) {
                    if at > reached.0 {
                        reached = (at, end);
                    }
                }
            }
            report.successes += outcome.done;
            report.failures += outcome.not_done();
            let mut breaker = self.breaker.get();
            breaker.record(outcome.failed > 0, self.host.now_ms(), &self.config);
            self.breaker.set(breaker);
            if !outcome.stale.is_empty() {
                self.remove(&outcome.stale)?;
                self.report(&source.key()).await?;
            }
            self.host.metric(Metric::Fanout {
                stream: source.key(),
                mode: Mode::Inline.as_str(),
                sessions: inline.len(),
                successes: outcome.done,
                failures: outcome.not_done(),
                latency_ms: (self.host.now_ms() - started) as f64,
            });
        }
        if !queued.is_empty() {
            let enqueued = self.enqueue(source, &from, to, queued).await;
            report.successes += enqueued;
            report.failures += queued.len() - enqueued;
        }
        self.sql.execute(
            "INSERT INTO state (name, value) VALUES ('fanned', ?)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[reached.1.as_str().into()],
        )?;
        *self.last.borrow_mut() = Some((reached.0, report.clone()));
        Ok(report)
    }

    /// Writes to `sessions` from this object, in concurrent batches, each write bounded
    /// by the write timeout. Also says where the page it handed out ended.
    async fn write_inline(
        &self,
        source: &StreamName,
        from: &str,
        to: &str,
        sessions: &[String],
    ) -> (Outcome, Option<String>) {
        // One read serves every session that is where the last fan-out left it; the
        // others read for themselves.
        let page = match self.host.core(&source.project, core_api::read(source, from)).await {
            Ok(reply) => core_api::parse_read(reply).ok().map(|read| Page::new(&read.body, read.end)),
            Err(_) => None,
        };
        let page_end = page.as_ref().map(|p| p.end.clone());
        let delivery = Delivery { stream: source.id.clone(), from: from.to_owned(), to: to.to_owned(), page };
        let call = match wire::call_request(&SessionCall::Deliver(delivery)) {
            Ok(call) => call,
            Err(e) => {
                self.host.log_error(&format!("fan-out of {}: {e}", source.key()));
                return (Outcome { failed: sessions.len(), ..Outcome::default() }, None);
            }
        };
        let mut outcome = Outcome::default();
        for batch in sessions.chunks(self.config.inline_batch.max(1)) {
            let writes = batch.iter().map(|id| {
                let key = format!("{}/{id}", source.project);
                let call = call.clone();
                async move { (id, self.deliver(&key, call).await) }
            });
            for (id, delivered) in join_all(writes).await {
                outcome.add(id, delivered);
            }
        }
        (outcome, page_end)
    }

    /// One session's delivery, bounded by the write timeout; a timeout is a failure.
    async fn deliver(&self, key: &str, call: Request) -> Delivered {
        let timeout = self.host.sleep(self.config.write_timeout_ms);
        let call = Box::pin(self.host.session(key, call));
        match select(call, timeout).await {
            Either::Left((Ok(reply), _)) => wire::parse_reply::<Delivered>(&reply).unwrap_or_else(|e| {
                self.host.log_error(&format!("delivery to session {key} failed: {e}"));
                match e.status() {
                    404 => Delivered::Stale,
                    _ => Delivered::Failed,
                }
            }),
            Either::Left((Err(e), _)) => {
                self.host.log_error(&format!("session {key} did not answer: {e}"));
                Delivered::Failed
            }
            Either::Right(_) => {
                self.host.log_error(&format!("delivery to session {key} timed out"));
                Delivered::Failed
            }
        }
    }

    /// Hands `sessions` to the queue; how many were enqueued.
    async fn enqueue(&self, source: &StreamName, from: &str, to: &str, sessions: &[String]) -> usize {
        let started = self.host.now_ms();
        let jobs: Vec<FanoutJob> = sessions
            .chunks(self.config.queue_batch.max(1))
            .map(|batch| FanoutJob {
                source: source.key(),
                from: from.to_owned(),
                to: to.to_owned(),
                sessions: batch.to_vec(),
            })
            .collect();
        match self.host.enqueue(jobs).await {
            Ok(()) => {
                let latency_ms = (self.host.now_ms() - started) as f64;
                self.host.metric(Metric::FanoutQueued {
                    stream: source.key(),
                    sessions: sessions.len(),
                    latency_ms,
                });
                sessions.len()
            }
            Err(e) => {
                self.host.log_error(&format!("enqueueing the fan-out of {} failed: {e}", source.key()));
                0
            }
        }
    }

    /// Tells the project's object how many subscribers the source has now.
    async fn report(&self, source: &str) -> Result<(), StorageError> {
        let Some(name) = StreamName::from_key(source) else { return Ok(()) };
        let seen =
            ProjectCall::SourceSeen { stream: name.id.clone(), subscribers: self.subscribers()?.len() };
        let sent = match wire::call_request(&seen) {
            Ok(req) => self.host.project(&name.project, req).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            self.host
                .log_error(&format!("telling project {} about source {} failed: {e}", name.project, name.id));
        }
        Ok(())
    }

    fn subscribers(&self) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        self.sql.try_query(
            "SELECT session_id FROM subscribers ORDER BY subscribed_at, session_id",
            &[],
            |row| {
                out.push(row.first().map(Value::text).unwrap_or_default());
                Ok::<_, StorageError>(true)
            },
        )?;
        Ok(out)
    }

    fn subscriber_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Listing<SubscriberRow>, StorageError> {
        query_page(
            &self.sql,
            "SELECT session_id, subscribed_at FROM subscribers WHERE session_id > ? ORDER BY session_id LIMIT ?",
            (after, limit),
            |r| SubscriberRow {
                session_id: r.first().map(Value::text).unwrap_or_default(),
                subscribed_at: r.get(1).map_or(0, Value::int),
            },
            |s| s.session_id.clone(),
        )
    }

    fn fanned(&self) -> Result<Option<String>, StorageError> {
        let row = self.sql.query_row("SELECT value FROM state WHERE name = 'fanned'", &[])?;
        Ok(row.and_then(|r| r.first().and_then(Value::opt_text)))
    }

    fn remove(&self, sessions: &[String]) -> Result<(), StorageError> {
        for batch in sessions.chunks(REMOVE_BATCH) {
            let marks = vec!["?"; batch.len()].join(", ");
            let ids: Vec<Value> = batch.iter().map(|s| s.as_str().into()).collect();
            self.sql.execute(&format!("DELETE FROM subscribers WHERE session_id IN ({marks})"), &ids)?;
        }
        Ok(())
    }
}

/// What the sessions of one inline fan-out said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Brought up to date.
    pub done: usize,
    /// Failed for a reason worth a retry (core down, timeouts).
    pub failed: usize,
    /// Refused for good by core.
    pub refused: usize,
    /// Gone: to be removed from the index.
    pub stale: Vec<String>,
}

impl Outcome {
    /// Counts one session's answer.
    pub fn add(&mut self, id: &str, delivered: Delivered) {
        match delivered {
            Delivered::Done => self.done += 1,
            Delivered::Failed => self.failed += 1,
            Delivered::Refused => self.refused += 1,
            Delivered::Stale => self.stale.push(id.to_owned()),
        }
    }

    /// Sessions that did not get the messages.
    pub fn not_done(&self) -> usize {
        self.failed + self.refused + self.stale.len()
    }
}
