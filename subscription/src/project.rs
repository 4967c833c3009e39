//! A project's view of the subscription layer (`ProjectDO`, one per project): its
//! sessions and its sources, which the admin dashboard lists, and per-minute counters of
//! what the layer did, which the dashboard charts where Analytics Engine cannot be read
//! (it is write-only under `wrangler dev`).
//!
//! Sessions and sources report themselves when they change (rare: a subscribe, a touch,
//! an end). The counters are fed with the layer's metric points when the deployment asks
//! for them (`METRICS_COUNTERS = "1"`): one more object request per event, so production
//! reads Analytics Engine instead. Minutes older than a day are dropped.

use durable_streams_cloudflare::http::{Reply, Request};
use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};
use durable_streams_cloudflare::store::sql::{Columns, Sql, SqlExt, StorageError, Value};
use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::metrics::Point;
use crate::wire;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        subscriptions INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS sources (stream_id TEXT PRIMARY KEY, subscribers INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS minutes (
        minute INTEGER PRIMARY KEY,
        publishes INTEGER NOT NULL DEFAULT 0,
        publish_errors INTEGER NOT NULL DEFAULT 0,
        fanouts INTEGER NOT NULL DEFAULT 0,
        fanout_sessions INTEGER NOT NULL DEFAULT 0,
        fanout_failures INTEGER NOT NULL DEFAULT 0,
        queued_sessions INTEGER NOT NULL DEFAULT 0,
        subscribes INTEGER NOT NULL DEFAULT 0,
        expirations INTEGER NOT NULL DEFAULT 0,
        latency TEXT NOT NULL DEFAULT '[]'
    )",
];

/// Upper bounds (ms) of the fan-out latency histogram's buckets; the last is open.
pub const LATENCY_BUCKETS_MS: [f64; 12] =
    [5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10_000.0, f64::INFINITY];

/// Minutes of counters kept.
const KEPT_MINUTES: i64 = 24 * 60;

/// The most rows one listing returns.
const MAX_PAGE: usize = 500;

const MINUTE: Columns = Columns::new(
    "minutes",
    &[
        "minute",
        "publishes",
        "publish_errors",
        "fanouts",
        "fanout_sessions",
        "fanout_failures",
        "queued_sessions",
        "subscribes",
        "expirations",
        "latency",
    ],
);

/// A call to a project's object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ProjectCall {
    /// A session exists with this state.
    SessionSeen {
        /// Its id.
        session: String,
        /// When it was created (ms).
        created_at: i64,
        /// When it expires (ms).
        expires_at: i64,
        /// How many streams it follows.
        subscriptions: usize,
    },
    /// A session ended.
    SessionEnded {
        /// Its id.
        session: String,
    },
    /// A source has this many subscribers.
    SourceSeen {
        /// The stream id.
        stream: String,
        /// Its subscriber count.
        subscribers: usize,
    },
    /// Metric points to count.
    Count {
        /// When they happened (ms).
        at_ms: i64,
        /// The points.
        points: Vec<Point>,
    },
    /// The dashboard's cards and the last `minutes` minutes, zero-filled.
    Overview {
        /// Minutes of series, up to a day.
        minutes: u32,
    },
    /// A page of sessions, by id, after `after`.
    Sessions {
        /// The last id of the previous page.
        after: Option<String>,
        /// At most this many.
        limit: usize,
    },
    /// A page of sources, by id, after `after`.
    Sources {
        /// The last id of the previous page.
        after: Option<String>,
        /// At most this many.
        limit: usize,
    },
}

/// One minute of counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Minute {
    /// Minutes since the epoch.
    pub minute: i64,
    /// Publishes that were stored.
    pub publishes: u64,
    /// Publishes that failed.
    pub publish_errors: u64,
    /// Fan-outs that wrote (inline, and consumed queue jobs).
    pub fanouts: u64,
    /// Sessions they covered.
    pub fanout_sessions: u64,
    /// Sessions they failed to bring up to date.
    pub fanout_failures: u64,
    /// Sessions handed to the queue.
    pub queued_sessions: u64,
    /// Subscribes.
    pub subscribes: u64,
    /// Sessions that expired.
    pub expirations: u64,
    /// Fan-out latencies, per bucket of [`LATENCY_BUCKETS_MS`].
    pub latency: Vec<u64>,
}

/// The dashboard's overview of a project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// Live sessions.
    pub sessions: u64,
    /// Their subscriptions, summed.
    pub subscriptions: u64,
    /// Sources with at least one subscriber.
    pub sources: u64,
    /// Fan-out latency over the series: the upper bound of the bucket holding the median
    /// and the 99th percentile (ms; `null` without fan-outs, or past the last bound).
    pub fanout_p50_ms: Option<f64>,
    /// See `fanout_p50_ms`.
    pub fanout_p99_ms: Option<f64>,
    /// One entry per minute, oldest first, zero-filled.
    pub series: Vec<Minute>,
}

/// One session, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    /// Its id.
    pub session_id: String,
    /// When it was created (ms).
    pub created_at: i64,
    /// When it expires (ms).
    pub expires_at: i64,
    /// How many streams it follows.
    pub subscriptions: u64,
}

/// One source, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceRow {
    /// The stream id.
    pub stream_id: String,
    /// Its subscribers.
    pub subscribers: u64,
}

/// A page of a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next: Option<String>,
}

/// The logic of one project's object.
pub struct ProjectObject<S, H> {
    sql: S,
    host: H,
}

impl<S: Sql, H: Host> ProjectObject<S, H> {
    /// Opens the object's storage.
    pub fn new(sql: S, host: H) -> Result<Self, StorageError> {
        for statement in SCHEMA {
            sql.execute(statement, &[])?;
        }
        Ok(Self { sql, host })
    }

    /// Answers one call.
    pub fn handle(&self, req: &Request) -> Reply {
        let answer = wire::parse_call::<ProjectCall>(req).and_then(|call| self.call(call));
        answer.unwrap_or_else(|e| Reply::error(&e))
    }

    fn call(&self, call: ProjectCall) -> Result<Reply, ProtocolError> {
        let done = || Ok(wire::json_reply(200, &serde_json::json!({})));
        match call {
            ProjectCall::SessionSeen { session, created_at, expires_at, subscriptions } => {
                self.sql.execute(
                    "INSERT INTO sessions (session_id, created_at, expires_at, subscriptions) VALUES (?, ?, ?, ?)
                     ON CONFLICT (session_id) DO UPDATE SET expires_at = excluded.expires_at,
                        subscriptions = excluded.subscriptions",
                    &[session.as_str().into(), created_at.into(), expires_at.into(), (subscriptions as u64).into()],
                )?;
                done()
            }
            ProjectCall::SessionEnded { session } => {
                self.sql.execute("DELETE FROM sessions WHERE session_id = ?", &[session.as_str().into()])?;
                done()
            }
            ProjectCall::SourceSeen { stream, subscribers } => {
                if subscribers == 0 {
                    self.sql.execute("DELETE FROM sources WHERE stream_id = ?", &[stream.as_str().into()])?;
                } else {
                    self.sql.execute(
                        "INSERT INTO sources (stream_id, subscribers) VALUES (?, ?)
                         ON CONFLICT (stream_id) DO UPDATE SET subscribers = excluded.subscribers",
                        &[stream.as_str().into(), (subscribers as u64).into()],
                    )?;
                }
                done()
            }
            ProjectCall::Count { at_ms, points } => {
                self.count(at_ms, &points)?;
                done()
            }
            ProjectCall::Overview { minutes } => Ok(wire::json_reply(200, &self.overview(minutes)?)),
            ProjectCall::Sessions { after, limit } => {
                Ok(wire::json_reply(200, &self.sessions(after, limit)?))
            }
            ProjectCall::Sources { after, limit } => Ok(wire::json_reply(200, &self.sources(after, limit)?)),
        }
    }

    fn count(&self, at_ms: i64, points: &[Point]) -> Result<(), ProtocolError> {
        let minute = at_ms.div_euclid(60_000);
        let mut row = self.minute(minute)?.unwrap_or(Minute { minute, ..Minute::default() });
        for point in points {
            add(&mut row, point);
        }
        let values = MINUTE.bind([
            ("minute", row.minute.into()),
            ("publishes", row.publishes.into()),
            ("publish_errors", row.publish_errors.into()),
            ("fanouts", row.fanouts.into()),
            ("fanout_sessions", row.fanout_sessions.into()),
            ("fanout_failures", row.fanout_failures.into()),
            ("queued_sessions", row.queued_sessions.into()),
            ("subscribes", row.subscribes.into()),
            ("expirations", row.expirations.into()),
            ("latency", serde_json::to_string(&row.latency).unwrap_or_else(|_| "[]".into()).into()),
        ])?;
        self.sql.execute(
            &format!("INSERT OR REPLACE INTO minutes ({}) VALUES ({})", MINUTE.list(), MINUTE.placeholders()),
            &values,
        )?;
        self.sql.execute("DELETE FROM minutes WHERE minute < ?", &[(minute - KEPT_MINUTES).into()])?;
        Ok(())
    }

    fn minute(&self, minute: i64) -> Result<Option<Minute>, StorageError> {
        let row = self.sql.query_row(
            &format!("SELECT {} FROM minutes WHERE minute = ?", MINUTE.list()),
            &[minute.into()],
        )?;
        row.map(|mut values| decode_minute(&mut values)).transpose()
    }

    fn overview(&self, minutes: u32) -> Result<Overview, ProtocolError> {
        let minutes = i64::from(minutes.clamp(1, KEPT_MINUTES as u32));
        let now = self.host.now_ms().div_euclid(60_000);
        let first = now - minutes + 1;
        let mut stored = Vec::new();
        self.sql.try_query(
            &format!("SELECT {} FROM minutes WHERE minute >= ? ORDER BY minute", MINUTE.list()),
            &[first.into()],
            |values| {
                stored.push(decode_minute(values)?);
                Ok::<_, StorageError>(true)
            },
        )?;
        let series: Vec<Minute> = (first..=now)
            .map(|m| {
                stored
                    .iter()
                    .find(|s| s.minute == m)
                    .cloned()
                    .unwrap_or(Minute { minute: m, ..Minute::default() })
            })
            .collect();
        let mut latency = vec![0u64; LATENCY_BUCKETS_MS.len()];
        for m in &series {
            for (total, n) in latency.iter_mut().zip(&m.latency) {
                *total += n;
            }
        }
        let count = |sql: &str| -> Result<u64, StorageError> {
            Ok(self.sql.query_int(sql, &[])?.unwrap_or(0).max(0) as u64)
        };
        Ok(Overview {
            sessions: count("SELECT count(*) FROM sessions")?,
            subscriptions: count("SELECT coalesce(sum(subscriptions), 0) FROM sessions")?,
            sources: count("SELECT count(*) FROM sources")?,
            fanout_p50_ms: quantile(&latency, 0.5),
            fanout_p99_ms: quantile(&latency, 0.99),
            series,
        })
    }

    fn sessions(&self, after: Option<String>, limit: usize) -> Result<Listing<SessionRow>, StorageError> {
        query_page(
            &self.sql,
            "SELECT session_id, created_at, expires_at, subscriptions FROM sessions
             WHERE session_id > ? ORDER BY session_id LIMIT ?",
            (after, limit),
            |r| SessionRow {
                session_id: r.first().map(Value::text).unwrap_or_default(),
                created_at: r.get(1).map_or(0, Value::int),
                expires_at: r.get(2).map_or(0, Value::int),
                subscriptions: r.get(3).map_or(0, Value::uint),
            },
            |s| s.session_id.clone(),
        )
    }

    fn sources(&self, after: Option<String>, limit: usize) -> Result<Listing<SourceRow>, StorageError> {
        query_page(
            &self.sql,
            "SELECT stream_id, subscribers FROM sources WHERE stream_id > ? ORDER BY stream_id LIMIT ?",
            (after, limit),
            |r| SourceRow {
                stream_id: r.first().map(Value::text).unwrap_or_default(),
                subscribers: r.get(1).map_or(0, Value::uint),
            },
            |s| s.stream_id.clone(),
        )
    }
}

/// A page of a listing by id: at most `limit` rows (1 to [`MAX_PAGE`]) of `query`, which
/// takes the id to start after and a row count, with the cursor to the next page. One row
/// more than the page is read, to tell whether there is a next one.
pub(crate) fn query_page<T>(
    sql: &impl Sql,
    query: &str,
    (after, limit): (Option<String>, usize),
    row: impl Fn(&[Value]) -> T,
    id: impl Fn(&T) -> String,
) -> Result<Listing<T>, StorageError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut items = Vec::new();
    sql.try_query(query, &[after.unwrap_or_default().into(), (limit as u64 + 1).into()], |r| {
        items.push(row(r));
        Ok::<_, StorageError>(true)
    })?;
    Ok(page(items, limit, id))
}

/// A page of at most `limit` rows from `limit + 1` fetched, with the cursor to the next.
fn page<T>(mut items: Vec<T>, limit: usize, id: impl Fn(&T) -> String) -> Listing<T> {
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().map(id) } else { None };
    Listing { items, next }
}

fn decode_minute(values: &mut [Value]) -> Result<Minute, StorageError> {
    let r = MINUTE.read(values)?;
    Ok(Minute {
        minute: r.get("minute")?.int(),
        publishes: r.get("publishes")?.uint(),
        publish_errors: r.get("publish_errors")?.uint(),
        fanouts: r.get("fanouts")?.uint(),
        fanout_sessions: r.get("fanout_sessions")?.uint(),
        fanout_failures: r.get("fanout_failures")?.uint(),
        queued_sessions: r.get("queued_sessions")?.uint(),
        subscribes: r.get("subscribes")?.uint(),
        expirations: r.get("expirations")?.uint(),
        latency: serde_json::from_str(&r.get("latency")?.text()).unwrap_or_default(),
    })
}

/// Adds one metric point to a minute.
fn add(row: &mut Minute, point: &Point) {
    let double = |i: usize| point.doubles.get(i).copied().unwrap_or(0.0).max(0.0);
    match point.blobs[2].as_str() {
        "publish" => row.publishes += 1,
        "publish_error" => row.publish_errors += 1,
        "subscribe" => row.subscribes += 1,
        "session_expire" => row.expirations += 1,
        "fanout_queued" => row.queued_sessions += double(0) as u64,
        "fanout" => {
            row.fanouts += 1;
            row.fanout_sessions += double(0) as u64;
            row.fanout_failures += double(2) as u64;
            if row.latency.len() < LATENCY_BUCKETS_MS.len() {
                row.latency.resize(LATENCY_BUCKETS_MS.len(), 0);
            }
            let ms = double(3);
            let bucket = LATENCY_BUCKETS_MS
                .iter()
                .position(|bound| ms <= *bound)
                .unwrap_or(LATENCY_BUCKETS_MS.len() - 1);
            if let Some(n) = row.latency.get_mut(bucket) {
                *n += 1;
            }
        }
        _ => {}
    }
}

/// The upper bound of the bucket holding quantile `q`; `None` without samples or past the
/// last finite bound.
pub fn quantile(buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (n, bound) in buckets.iter().zip(LATENCY_BUCKETS_MS) {
        seen += n;
        if seen >= rank {
            return bound.is_finite().then_some(bound);
        }
    }
    None
}

/// Which project a point belongs to: the project of its stream or session key.
pub fn project_of(point: &Point) -> Option<&str> {
    let key = if point.blobs[0].is_empty() { &point.blobs[1] } else { &point.blobs[0] };
    key.split_once('/').map(|(project, _)| project)
}

/// A listing page size from a query value.
pub fn limit(value: Option<&str>) -> Result<usize, ProtocolError> {
    match value {
        None => Ok(100),
        Some(v) => v.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
            ProtocolError::new(ErrorCode::InvalidQuery, format!("limit must be 1 to {MAX_PAGE}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_bounds() {
        let mut b = vec![0u64; LATENCY_BUCKETS_MS.len()];
        assert_eq!(quantile(&b, 0.5), None);
        b[1] = 98; // ≤ 10 ms
        b[6] = 2; // ≤ 500 ms
        assert_eq!(quantile(&b, 0.5), Some(10.0));
        assert_eq!(quantile(&b, 0.99), Some(500.0));
        b[11] = 100;
        assert_eq!(quantile(&b, 0.99), None, "past the last finite bound");
    }

    #[test]
    fn pages_end_with_a_cursor_only_when_there_is_more() {
        let p = page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((p.items, p.next), (vec![1, 2], Some("2".into())));
        let last = page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(last.next, None);
        assert!(limit(Some("0")).is_err() && limit(Some("x")).is_err());
        assert_eq!(limit(None).unwrap(), 100);
    }
}
