//! A session's object (`SessionDO`): what the session follows, when it expires, and the
//! delivery of source messages into its core stream, exactly once and in source order.
//!
//! Each subscription keeps a *cursor*: the source offset up to which the session has every
//! message. A delivery brings the cursor up to a target offset by copying the source's
//! stored bytes from the cursor on — from the page the caller brought along when it
//! starts at the cursor, otherwise read from core. So deliveries may come late, twice or
//! out of order (queue redelivery, concurrent publishers): one that asks for less than the
//! cursor does nothing, and one that skips ahead fills the gap itself.
//!
//! Writes into the session stream are idempotent: each subscription is a producer of its
//! own (`fanout-<n>`, epoch 0, sequence 0, 1, 2, …). Before a write the object records the
//! sequence number and where the write ends; after it, the new cursor. If the object stops
//! between the two, the retry sends the same sequence number: core answers 204 if the first
//! write landed — the cursor then moves to where that one ended — and 200 if it did not.
//! Deliveries to one session run one at a time.

use futures_util::future::join_all;
use futures_util::lock::Mutex;

use durable_streams_cloudflare::http::{Reply, Request};
use durable_streams_cloudflare::protocol::content_type;
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};
use durable_streams_cloudflare::store::sql::{Columns, Sql, SqlExt, StorageError, Value};

use crate::config::Config;
use crate::core_api::{self, Appended, Producer};
use crate::host::{Alarms, Host};
use crate::ids::Session;
use crate::metrics::{Metric, SessionEvent};
use crate::project::ProjectCall;
use crate::wire::{
    self, Delivered, Delivery, SessionCall, SessionInfo, SourceCall, Subscribed, SubscriptionInfo,
};

/// Statements that create the object's tables.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS session (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        project TEXT NOT NULL,
        session_id TEXT NOT NULL,
        content_type TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        reader_key TEXT
    )",
    // `cursor` is the source offset the session has everything up to; `pending_*` record
    // a write in flight (see the module docs).
    "CREATE TABLE IF NOT EXISTS subscriptions (
        stream_id TEXT PRIMARY KEY,
        subscribed_at INTEGER NOT NULL,
        producer TEXT NOT NULL,
        cursor TEXT NOT NULL,
        next_seq INTEGER NOT NULL,
        pending_seq INTEGER,
        pending_to TEXT
    )",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
];

const SESSION: Columns = Columns::new(
    "session",
    &["project", "session_id", "content_type", "created_at", "expires_at", "reader_key"],
);

const SUBSCRIPTION: Columns = Columns::new(
    "subscriptions",
    &["stream_id", "subscribed_at", "producer", "cursor", "next_seq", "pending_seq", "pending_to"],
);

/// How many pages one delivery copies at most; the next delivery goes on from there.
const MAX_PAGES: usize = 64;

/// Sessions removed from source indexes at once when a session ends.
const REMOVAL_BATCH: usize = 20;

/// The session row.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    session: Session,
    content_type: String,
    created_at: i64,
    expires_at: i64,
    reader_key: Option<String>,
}

/// One subscription row.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Subscription {
    stream_id: String,
    subscribed_at: i64,
    producer: String,
    cursor: String,
    next_seq: u64,
    pending: Option<(u64, String)>,
}

/// The logic of one session's object.
pub struct SessionObject<S, H> {
    sql: S,
    host: H,
    config: Config,
    /// Serializes every change: a subscribe, a delivery, an expiry.
    lock: Mutex<()>,
}

impl<S: Sql, H: Host + Alarms> SessionObject<S, H> {
    /// Opens the object's storage.
    pub fn new(sql: S, host: H, config: Config) -> Result<Self, StorageError> {
        for statement in SCHEMA {
            sql.execute(statement, &[])?;
        }
        Ok(Self { sql, host, config, lock: Mutex::new(()) })
    }

    /// Answers one call.
    pub async fn handle(&self, req: &Request) -> Reply {
        let answer = match wire::parse_call::<SessionCall>(req) {
            Ok(call) => self.call(call).await,
            Err(e) => Err(e),
        };
        answer.unwrap_or_else(|e| Reply::error(&e))
    }

    async fn call(&self, call: SessionCall) -> Result<Reply, ProtocolError> {
        match call {
            SessionCall::Subscribe { session, stream, content_type, start } => {
                let session = Session::from_key(&session)
                    .ok_or_else(|| ProtocolError::new(ErrorCode::InvalidInternalCall, "not a session key"))?;
                Ok(wire::json_reply(200, &self.subscribe(&session, &stream, &content_type, &start).await?))
            }
            SessionCall::Unsubscribe { stream } => {
                let _changing = self.lock.lock().await;
                self.sql
                    .execute("DELETE FROM subscriptions WHERE stream_id = ?", &[stream.as_str().into()])?;
                if let Some(row) = self.row()? {
                    self.report_seen(&row).await?;
                }
                Ok(wire::json_reply(200, &serde_json::json!({})))
            }
            SessionCall::Info => Ok(wire::json_reply(200, &self.info()?)),
            SessionCall::Touch => Ok(wire::json_reply(200, &self.touch().await?)),
            SessionCall::Delete => {
                self.end(SessionEvent::Delete).await?;
                Ok(wire::json_reply(200, &serde_json::json!({})))
            }
            SessionCall::Deliver(delivery) => Ok(wire::json_reply(200, &self.deliver(&delivery).await)),
        }
    }

    /// Follows `stream` from `start`; creates the session and its core stream first if
    /// it is new. A subscription the session has already is kept as it is.
    async fn subscribe(
        &self,
        session: &Session,
        stream: &str,
        source_type: &str,
        start: &str,
    ) -> Result<Subscribed, ProtocolError> {
        let _changing = self.lock.lock().await;
        let now = self.host.now_ms();
        let started = now;
        let expires_at = now + self.ttl_ms();
        let (row, is_new) = match self.row()? {
            Some(row) => {
                if !content_type::same_media_type(&row.content_type, source_type) {
                    return Err(ProtocolError::new(
                        ErrorCode::ContentTypeMismatch,
                        format!(
                            "the session's stream is {}, and this stream is {source_type}: a session follows streams of one content type",
                            row.content_type
                        ),
                    ));
                }
                // Subscribing is activity: the session, and its stream, live on.
                self.touch_core(&row).await?;
                (Row { expires_at, ..row }, false)
            }
            None => {
                let reply = self
                    .host
                    .core(
                        &session.project,
                        core_api::create(&session.stream(), source_type, self.config.session_ttl_secs),
                    )
                    .await?;
                let reader_key = core_api::parse_create(&reply)?;
                let row = Row {
                    session: session.clone(),
                    content_type: source_type.to_owned(),
                    created_at: now,
                    expires_at,
                    reader_key,
                };
                (row, true)
            }
        };
        self.save_row(&row)?;
        if self.subscription(stream)?.is_none() {
            let producer = format!("fanout-{}", self.next_producer()?);
            let values = SUBSCRIPTION.bind([
                ("stream_id", stream.into()),
                ("subscribed_at", now.into()),
                ("producer", producer.into()),
                ("cursor", start.into()),
                ("next_seq", 0i64.into()),
                ("pending_seq", Value::Null),
                ("pending_to", Value::Null),
            ])?;
            self.sql.execute(
                &format!(
                    "INSERT INTO subscriptions ({}) VALUES ({})",
                    SUBSCRIPTION.list(),
                    SUBSCRIPTION.placeholders()
                ),
                &values,
            )?;
        }
        self.host.schedule_alarm(row.expires_at);
        self.report_seen(&row).await?;
        if is_new {
            let ms = (self.host.now_ms() - started) as f64;
            self.host.metric(Metric::Session {
                session: session.key(),
                event: SessionEvent::Create,
                subscriptions: 1,
                ms,
            });
        }
        Ok(Subscribed {
            session_id: session.id.clone(),
            stream_id: stream.to_owned(),
            session_stream_path: session.stream().path(),
            expires_at: row.expires_at,
            is_new_session: is_new,
            reader_key: row.reader_key,
        })
    }

    /// The session's state; 404 if there is none.
    fn info(&self) -> Result<SessionInfo, ProtocolError> {
        let row = self.row()?.ok_or_else(not_found)?;
        let subscriptions = self
            .subscriptions()?
            .into_iter()
            .map(|s| SubscriptionInfo { stream_id: s.stream_id, subscribed_at: s.subscribed_at })
            .collect();
        Ok(SessionInfo {
            session_id: row.session.id.clone(),
            session_stream_path: row.session.stream().path(),
            expires_at: row.expires_at,
            content_type: row.content_type,
            subscriptions,
            reader_key: row.reader_key,
        })
    }

    /// Extends the session by a TTL from now: its alarm, and its core stream's expiry.
    async fn touch(&self) -> Result<serde_json::Value, ProtocolError> {
        let _changing = self.lock.lock().await;
        let started = self.host.now_ms();
        let row = self.row()?.ok_or_else(not_found)?;
        self.touch_core(&row).await?;
        let row = Row { expires_at: self.host.now_ms() + self.ttl_ms(), ..row };
        self.save_row(&row)?;
        self.host.schedule_alarm(row.expires_at);
        self.report_seen(&row).await?;
        let ms = (self.host.now_ms() - started) as f64;
        let subscriptions = self.subscriptions()?.len();
        self.host.metric(Metric::Session {
            session: row.session.key(),
            event: SessionEvent::Touch,
            subscriptions,
            ms,
        });
        Ok(serde_json::json!({ "sessionId": row.session.id, "expiresAt": row.expires_at }))
    }

    /// A read of the session stream, which slides its core TTL. A stream core no longer
    /// has means the session is over.
    async fn touch_core(&self, row: &Row) -> Result<(), ProtocolError> {
        let reply = self.host.core(&row.session.project, core_api::touch(&row.session.stream())).await?;
        match reply.status {
            200..=299 => Ok(()),
            404 | 410 => Err(not_found()),
            _ => Err(core_api::error(&reply)),
        }
    }

    /// Runs the object's alarm: ends the session if it is past its expiry.
    pub async fn on_alarm(&self) -> Result<(), ProtocolError> {
        let Some(row) = self.row()? else { return Ok(()) };
        if self.host.now_ms() < row.expires_at {
            self.host.schedule_alarm(row.expires_at);
            return Ok(());
        }
        self.end(SessionEvent::Expire).await
    }

    /// Ends the session: it leaves the subscriber index of every stream it follows, its
    /// stream is deleted, and its state cleared. Ending a session that is not there is
    /// not an error.
    async fn end(&self, event: SessionEvent) -> Result<(), ProtocolError> {
        let _changing = self.lock.lock().await;
        let started = self.host.now_ms();
        let row = self.row()?;
        let subscriptions = self.subscriptions()?;
        if let Some(row) = &row {
            for batch in subscriptions.chunks(REMOVAL_BATCH) {
                let removals = batch.iter().map(|s| {
                    let key =
                        StreamName { project: row.session.project.clone(), id: s.stream_id.clone() }.key();
                    let remove =
                        SourceCall::Remove { source: key.clone(), sessions: vec![row.session.id.clone()] };
                    async move {
                        let result = match wire::call_request(&remove) {
                            Ok(call) => self.host.source(&key, call).await,
                            Err(e) => Err(e),
                        };
                        (result, key)
                    }
                });
                for (result, key) in join_all(removals).await {
                    let failed = match result {
                        Ok(reply) if reply.status < 300 => None,
                        Ok(reply) => Some(core_api::error(&reply).to_string()),
                        Err(e) => Some(e.to_string()),
                    };
                    if let Some(why) = failed {
                        self.host.log_error(&format!(
                            "session {}: leaving the subscribers of {key} failed: {why}",
                            row.session.key()
                        ));
                    }
                }
            }
            let reply = self.host.core(&row.session.project, core_api::delete(&row.session.stream())).await?;
            if !matches!(reply.status, 200..=299 | 404 | 410) {
                return Err(core_api::error(&reply));
            }
        }
        self.sql.in_transaction(|| {
            self.sql.execute("DELETE FROM subscriptions", &[])?;
            self.sql.execute("DELETE FROM session", &[])?;
            Ok(())
        })?;
        self.host.cancel_alarm();
        if let Some(row) = &row {
            self.report(&row.session.project, &ProjectCall::SessionEnded { session: row.session.id.clone() })
                .await;
        }
        if let Some(row) = row {
            let ms = match event {
                SessionEvent::Expire => (self.host.now_ms() - row.created_at) as f64,
                _ => (self.host.now_ms() - started) as f64,
            };
            self.host.metric(Metric::Session {
                session: row.session.key(),
                event,
                subscriptions: subscriptions.len(),
                ms,
            });
        }
        Ok(())
    }

    /// Brings the session's copy of a source up to `delivery.to` (see the module docs).
    async fn deliver(&self, delivery: &Delivery) -> Delivered {
        let _delivering = self.lock.lock().await;
        match self.copy(delivery).await {
            Ok(outcome) => outcome,
            Err(e) => {
                self.host.log_error(&format!("delivering {} failed: {e}", delivery.stream));
                match e.status() {
                    404 => Delivered::Stale,
                    400..=499 => Delivered::Refused,
                    _ => Delivered::Failed,
                }
            }
        }
    }

    async fn copy(&self, delivery: &Delivery) -> Result<Delivered, ProtocolError> {
        let (Some(row), Some(mut sub)) = (self.row()?, self.subscription(&delivery.stream)?) else {
            return Ok(Delivered::Stale);
        };
        let source = StreamName { project: row.session.project.clone(), id: delivery.stream.clone() };
        let target = core_api::position(&delivery.to)?;
        let mut brought = delivery.page.clone().filter(|_| delivery.from == sub.cursor);
        for _ in 0..MAX_PAGES {
            let cursor = core_api::position(&sub.cursor)?;
            if cursor >= target {
                return Ok(Delivered::Done);
            }
            let page = match brought.take() {
                Some(page) => core_api::Read { body: page.body()?, end: page.end },
                None => match self.read_source(&row, &source, &sub.cursor).await? {
                    Some(read) => read,
                    // The source is gone: nothing more will come from it.
                    None => return Ok(Delivered::Done),
                },
            };
            if core_api::position(&page.end)? <= cursor {
                // Core has nothing past the cursor yet: the target will come with a later
                // delivery.
                return Ok(Delivered::Done);
            }
            if core_api::is_empty_page(&page.body) {
                sub.cursor = page.end;
                self.save_progress(&sub)?;
                continue;
            }
            sub = self.write(&row, sub, page).await?;
        }
        Ok(Delivered::Done)
    }

    /// A page of the source from `cursor`; `None` if the source no longer exists.
    async fn read_source(
        &self,
        row: &Row,
        source: &StreamName,
        cursor: &str,
    ) -> Result<Option<core_api::Read>, ProtocolError> {
        let reply = self.host.core(&row.session.project, core_api::read(source, cursor)).await?;
        match reply.status {
            404 | 410 => Ok(None),
            _ => core_api::parse_read(reply).map(Some),
        }
    }

    /// Writes one page into the session stream, idempotently, and moves the cursor.
    async fn write(
        &self,
        row: &Row,
        mut sub: Subscription,
        page: core_api::Read,
    ) -> Result<Subscription, ProtocolError> {
        let (seq, landed_at) = match sub.pending.clone() {
            // A write with this number may have landed before the object stopped.
            Some(pending) => pending,
            None => (sub.next_seq, page.end.clone()),
        };
        sub.pending = Some((seq, landed_at.clone()));
        self.save_progress(&sub)?;
        let producer = Producer { id: sub.producer.clone(), seq };
        let req = core_api::append(&row.session.stream(), &row.content_type, page.body, Some(&producer));
        let reply = self.host.core(&row.session.project, req).await?;
        let appended = match core_api::parse_append(&reply) {
            Ok(appended) => appended,
            Err(ProtocolError::ProducerSeqGap { expected, .. }) => {
                // The session stream lost its producer state (it was replaced): go on with
                // the number it expects.
                sub.next_seq = expected;
                sub.pending = None;
                self.save_progress(&sub)?;
                return Ok(sub);
            }
            Err(e) => return Err(e),
        };
        sub.cursor = match appended {
            Appended::Written => page.end,
            Appended::Duplicate => landed_at,
        };
        sub.next_seq = seq + 1;
        sub.pending = None;
        self.save_progress(&sub)?;
        Ok(sub)
    }

    /// Tells the project's object about the session as it is now.
    async fn report_seen(&self, row: &Row) -> Result<(), StorageError> {
        let seen = ProjectCall::SessionSeen {
            session: row.session.id.clone(),
            created_at: row.created_at,
            expires_at: row.expires_at,
            subscriptions: self.subscriptions()?.len(),
        };
        self.report(&row.session.project, &seen).await;
        Ok(())
    }

    /// Sends the project's object a report; a failure only costs the dashboard a row.
    async fn report(&self, project: &str, call: &ProjectCall) {
        let sent = match wire::call_request(call) {
            Ok(req) => self.host.project(project, req).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            self.host.log_error(&format!("telling project {project} about a session failed: {e}"));
        }
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.config.session_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    fn row(&self) -> Result<Option<Row>, StorageError> {
        let values = self.sql.query_row(&format!("SELECT {} FROM session", SESSION.list()), &[])?;
        let Some(mut values) = values else { return Ok(None) };
        let r = SESSION.read(&mut values)?;
        let session = Session::new(&r.get("project")?.text(), &r.get("session_id")?.text())
            .map_err(|e| StorageError(format!("stored session id: {e}")))?;
        Ok(Some(Row {
            session,
            content_type: r.get("content_type")?.text(),
            created_at: r.get("created_at")?.int(),
            expires_at: r.get("expires_at")?.int(),
            reader_key: r.get("reader_key")?.opt_text(),
        }))
    }

    fn save_row(&self, row: &Row) -> Result<(), StorageError> {
        let values = SESSION.bind([
            ("project", row.session.project.as_str().into()),
            ("session_id", row.session.id.as_str().into()),
            ("content_type", row.content_type.as_str().into()),
            ("created_at", row.created_at.into()),
            ("expires_at", row.expires_at.into()),
            ("reader_key", row.reader_key.clone().into()),
        ])?;
        self.sql.execute(
            &format!(
                "INSERT OR REPLACE INTO session (singleton, {}) VALUES (1, {})",
                SESSION.list(),
                SESSION.placeholders()
            ),
            &values,
        )
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, StorageError> {
        let mut out = Vec::new();
        self.sql.try_query(
            &format!("SELECT {} FROM subscriptions ORDER BY subscribed_at, stream_id", SUBSCRIPTION.list()),
            &[],
            |values| {
                out.push(decode_subscription(values)?);
                Ok::<_, StorageError>(true)
            },
        )?;
        Ok(out)
    }

    fn subscription(&self, stream: &str) -> Result<Option<Subscription>, StorageError> {
        let values = self.sql.query_row(
            &format!("SELECT {} FROM subscriptions WHERE stream_id = ?", SUBSCRIPTION.list()),
            &[stream.into()],
        )?;
        values.map(|mut v| decode_subscription(&mut v)).transpose()
    }

    fn save_progress(&self, sub: &Subscription) -> Result<(), StorageError> {
        let (pending_seq, pending_to) = match &sub.pending {
            Some((seq, to)) => (Value::from(*seq), Value::from(to.as_str())),
            None => (Value::Null, Value::Null),
        };
        self.sql.execute(
            "UPDATE subscriptions SET cursor = ?, next_seq = ?, pending_seq = ?, pending_to = ? WHERE stream_id = ?",
            &[sub.cursor.as_str().into(), sub.next_seq.into(), pending_seq, pending_to, sub.stream_id.as_str().into()],
        )
    }

    /// A number for a new subscription's producer, never used before in this session.
    fn next_producer(&self) -> Result<u64, StorageError> {
        self.sql.execute(
            "INSERT INTO counters (name, value) VALUES ('producer', 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1",
            &[],
        )?;
        Ok(self.sql.query_int("SELECT value FROM counters WHERE name = 'producer'", &[])?.unwrap_or(0).max(0)
            as u64)
    }
}

fn decode_subscription(values: &mut [Value]) -> Result<Subscription, StorageError> {
    let r = SUBSCRIPTION.read(values)?;
    let pending = match (r.get("pending_seq")?.opt_uint(), r.get("pending_to")?.opt_text()) {
        (Some(seq), Some(to)) => Some((seq, to)),
        _ => None,
    };
    Ok(Subscription {
        stream_id: r.get("stream_id")?.text(),
        subscribed_at: r.get("subscribed_at")?.int(),
        producer: r.get("producer")?.text(),
        cursor: r.get("cursor")?.text(),
        next_seq: r.get("next_seq")?.uint(),
        pending,
    })
}

fn not_found() -> ProtocolError {
    ProtocolError::new(ErrorCode::SessionNotFound, "no session with this id")
}
