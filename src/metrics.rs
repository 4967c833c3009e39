//! What the stream objects tell the admin overview: appends (messages and bytes) and
//! their live readers. In production each event is an Analytics Engine data point
//! (binding `METRICS`); with `METRICS_COUNTERS = "1"` (local development, where Analytics
//! Engine is write-only) the events also go, batched, to one `MetricsDO` that keeps
//! per-minute counters in SQLite ([`Counters`]), so the overview shows real numbers.
//!
//! Every data point has blobs `[stream key, event]`, doubles as listed per event, and the
//! stream's project as its index, so a project's figures are one indexed query.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::http::{Reply, Request};
use crate::protocol::path::StreamName;
use crate::protocol::{ErrorCode, ProtocolError};
use crate::store::sql::{Sql, SqlExt, StorageError};

/// One event of a stream object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StreamMetric {
    /// An append was stored. Doubles: `[messages, bytes]`.
    Append {
        /// The stream's key, `<project>/<id>`.
        stream: String,
        /// Messages (JSON) or 1 (other types).
        messages: u64,
        /// Stored bytes.
        bytes: u64,
    },
    /// The stream's live readers now. Doubles: `[long-poll, sse]`.
    Readers {
        /// The stream's key.
        stream: String,
        /// Long-polls waiting at the tail.
        long_poll: u64,
        /// SSE readers connected.
        sse: u64,
    },
}

/// An Analytics Engine data point.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// `[stream key, event]`.
    pub blobs: [String; 2],
    /// Per event, see [`StreamMetric`].
    pub doubles: [f64; 2],
    /// The stream's project.
    pub index: String,
}

impl StreamMetric {
    /// The stream the event is about.
    pub fn stream(&self) -> &str {
        match self {
            Self::Append { stream, .. } | Self::Readers { stream, .. } => stream,
        }
    }

    /// Its data point.
    pub fn point(&self) -> Point {
        let project = StreamName::from_key(self.stream()).map(|n| n.project).unwrap_or_default();
        let (event, doubles) = match self {
            Self::Append { messages, bytes, .. } => ("append", [*messages as f64, *bytes as f64]),
            Self::Readers { long_poll, sse, .. } => ("readers", [*long_poll as f64, *sse as f64]),
        };
        Point { blobs: [self.stream().to_owned(), event.to_owned()], doubles, index: project }
    }
}

/// How long a stream object gathers events before it writes them: readers gauges change
/// with every long-poll, and only the latest of each second is worth a data point.
pub const FLUSH_MS: u64 = 1_000;

/// The events a stream object has not written yet: every append, and the latest readers
/// gauge of each stream.
#[derive(Debug, Default)]
pub struct Batch {
    appends: Vec<StreamMetric>,
    readers: BTreeMap<String, StreamMetric>,
}

impl Batch {
    /// Adds an event. Returns whether the batch was empty, so the caller knows to
    /// schedule a flush.
    pub fn push(&mut self, event: StreamMetric) -> bool {
        let was_empty = self.is_empty();
        match event {
            StreamMetric::Append { .. } => self.appends.push(event),
            StreamMetric::Readers { ref stream, .. } => {
                self.readers.insert(stream.clone(), event);
            }
        }
        was_empty
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.appends.is_empty() && self.readers.is_empty()
    }

    /// The events to write, appends first, leaving the batch empty.
    pub fn take(&mut self) -> Vec<StreamMetric> {
        let mut events = std::mem::take(&mut self.appends);
        events.extend(std::mem::take(&mut self.readers).into_values());
        events
    }
}

/// A call to the counters' object (`MetricsDO`), a JSON body `POST`ed to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MetricsCall {
    /// Count these events (they happened about now).
    Record {
        /// The events.
        events: Vec<StreamMetric>,
    },
    /// The overview now.
    Overview,
}

impl MetricsCall {
    /// The request that makes this call (the host is ignored by object stubs).
    pub fn request(&self) -> Request {
        let body = serde_json::to_vec(self).unwrap_or_default();
        Request::new(crate::http::Method::Post, "https://metrics.internal/call")
            .with_header("content-type", "application/json")
            .with_body(body)
    }
}

/// The Analytics Engine dataset binding the stream objects write to.
pub const METRICS_BINDING: &str = "METRICS";
/// The namespace binding of the counters object (`MetricsDO`).
pub const COUNTERS_BINDING: &str = "CORE_METRICS";
/// `"1"` also counts the metrics in the counters object, for a local overview.
pub const COUNTERS_VAR: &str = "METRICS_COUNTERS";
/// The name of the one counters object.
pub const COUNTERS_OBJECT: &str = "overview";

/// Minutes of counters kept.
pub const KEPT_MINUTES: i64 = 60;
/// The window of "hot" streams and of active streams, in minutes.
pub const HOT_MINUTES: i64 = 5;
/// A readers gauge older than this is no longer counted: every live reader reconnects
/// well within it (SSE sessions and long-polls both end within a minute).
pub const READERS_FRESH_MS: i64 = 120_000;
/// Hot streams listed.
pub const HOT_LISTED: usize = 20;

/// The overview's figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// Where the figures come from: `counters` or `analytics-engine`.
    pub source: String,
    /// Appends in the last complete minute.
    pub appends_per_minute: u64,
    /// Bytes appended in the last complete minute.
    pub bytes_per_minute: u64,
    /// Streams appended to in the last [`HOT_MINUTES`] minutes.
    pub active_streams: u64,
    /// Long-polls waiting now, over all streams.
    pub long_poll_readers: u64,
    /// SSE readers connected now, over all streams.
    pub sse_readers: u64,
    /// The last [`KEPT_MINUTES`] minutes, oldest first, zero-filled.
    pub series: Vec<MinuteFigures>,
    /// The streams with the most appends in the last [`HOT_MINUTES`] minutes.
    pub hot: Vec<HotStream>,
}

/// One minute of appends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteFigures {
    /// Its start (ms since the epoch).
    pub at_ms: i64,
    /// Appends in it.
    pub appends: u64,
    /// Bytes appended in it.
    pub bytes: u64,
}

/// A stream among the hottest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HotStream {
    /// Its key.
    pub stream: String,
    /// Appends in the window.
    pub appends: u64,
    /// Bytes in the window.
    pub bytes: u64,
}

/// The last [`KEPT_MINUTES`] minutes ending with the one of `now_ms`, with the counts
/// `counted` has for them (by minute number) and zeros elsewhere.
pub fn zero_filled(now_ms: i64, counted: &BTreeMap<i64, (u64, u64)>) -> Vec<MinuteFigures> {
    let now = now_ms.div_euclid(60_000);
    (now - KEPT_MINUTES + 1..=now)
        .map(|minute| {
            let (appends, bytes) = counted.get(&minute).copied().unwrap_or_default();
            MinuteFigures { at_ms: minute * 60_000, appends, bytes }
        })
        .collect()
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS stream_minutes (
        stream TEXT NOT NULL,
        minute INTEGER NOT NULL,
        appends INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (stream, minute)
    )",
    "CREATE INDEX IF NOT EXISTS stream_minutes_minute ON stream_minutes (minute)",
    "CREATE TABLE IF NOT EXISTS readers (
        stream TEXT PRIMARY KEY,
        long_poll INTEGER NOT NULL,
        sse INTEGER NOT NULL,
        at INTEGER NOT NULL
    )",
];

/// The local counters (`MetricsDO`'s SQLite): appends per stream and minute, for the last
/// [`KEPT_MINUTES`] minutes, and each stream's latest readers gauge.
pub struct Counters<S> {
    sql: S,
}

impl<S: Sql> Counters<S> {
    /// Opens the counters, creating their tables.
    pub fn open(sql: S) -> Result<Self, StorageError> {
        for stmt in SCHEMA {
            sql.execute(stmt, &[])?;
        }
        Ok(Self { sql })
    }

    /// Counts `events`, which happened at about `at_ms`, and drops minutes no longer shown.
    pub fn record(&self, at_ms: i64, events: &[StreamMetric]) -> Result<(), ProtocolError> {
        let minute = at_ms.div_euclid(60_000);
        self.sql.in_transaction(|| {
            for event in events {
                match event {
                    StreamMetric::Append { stream, bytes, .. } => self.sql.execute(
                        "INSERT INTO stream_minutes (stream, minute, appends, bytes) VALUES (?, ?, 1, ?)
                         ON CONFLICT (stream, minute) DO UPDATE SET appends = appends + 1, bytes = bytes + excluded.bytes",
                        &[stream.as_str().into(), minute.into(), (*bytes).into()],
                    )?,
                    StreamMetric::Readers { stream, long_poll, sse } => self.sql.execute(
                        "INSERT OR REPLACE INTO readers (stream, long_poll, sse, at) VALUES (?, ?, ?, ?)",
                        &[stream.as_str().into(), (*long_poll).into(), (*sse).into(), at_ms.into()],
                    )?,
                }
            }
            self.sql.execute("DELETE FROM stream_minutes WHERE minute <= ?", &[(minute - KEPT_MINUTES).into()])?;
            self.sql
                .execute("DELETE FROM readers WHERE at < ? OR (long_poll = 0 AND sse = 0)", &[(at_ms - READERS_FRESH_MS).into()])?;
            Ok(())
        })
    }

    /// Answers a [`MetricsCall`] that arrived at `now_ms`.
    pub fn handle(&self, req: &Request, now_ms: i64) -> Reply {
        let answer = serde_json::from_slice::<MetricsCall>(&req.body)
            .map_err(|e| ProtocolError::new(ErrorCode::InvalidInternalCall, e.to_string()))
            .and_then(|call| match call {
                MetricsCall::Record { events } => self.record(now_ms, &events).map(|()| Reply::new(204)),
                MetricsCall::Overview => self.overview(now_ms).map(|o| Reply::json(200, &o)),
            });
        answer.unwrap_or_else(|e| Reply::error(&e))
    }

    /// The overview at `now_ms`.
    pub fn overview(&self, now_ms: i64) -> Result<Overview, ProtocolError> {
        let now = now_ms.div_euclid(60_000);
        let mut by_minute = BTreeMap::new();
        self.sql.try_query(
            "SELECT minute, sum(appends), sum(bytes) FROM stream_minutes WHERE minute > ? GROUP BY minute",
            &[(now - KEPT_MINUTES).into()],
            |row| {
                by_minute.insert(row[0].int(), (row[1].uint(), row[2].uint()));
                Ok::<_, StorageError>(true)
            },
        )?;
        let mut hot = Vec::new();
        self.sql.try_query(
            "SELECT stream, sum(appends) AS a, sum(bytes) FROM stream_minutes WHERE minute > ?
             GROUP BY stream ORDER BY a DESC, stream LIMIT ?",
            &[(now - HOT_MINUTES).into(), (HOT_LISTED as i64).into()],
            |row| {
                hot.push(HotStream { stream: row[0].text(), appends: row[1].uint(), bytes: row[2].uint() });
                Ok::<_, StorageError>(true)
            },
        )?;
        let active = self
            .sql
            .query_int(
                "SELECT count(DISTINCT stream) FROM stream_minutes WHERE minute > ?",
                &[(now - HOT_MINUTES).into()],
            )?
            .unwrap_or(0);
        let (mut long_poll, mut sse) = (0, 0);
        self.sql.try_query(
            "SELECT sum(long_poll), sum(sse) FROM readers WHERE at >= ?",
            &[(now_ms - READERS_FRESH_MS).into()],
            |row| {
                long_poll = row[0].opt_uint().unwrap_or(0);
                sse = row[1].opt_uint().unwrap_or(0);
                Ok::<_, StorageError>(false)
            },
        )?;
        let (appends_per_minute, bytes_per_minute) = by_minute.get(&(now - 1)).copied().unwrap_or_default();
        Ok(Overview {
            source: "counters".to_owned(),
            appends_per_minute,
            bytes_per_minute,
            active_streams: u64::try_from(active).unwrap_or(0),
            long_poll_readers: long_poll,
            sse_readers: sse,
            series: zero_filled(now_ms, &by_minute),
            hot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::native::NativeSql;

    // A whole minute.
    const T0: i64 = 1_800_000_000_000;

    fn append(stream: &str, bytes: u64) -> StreamMetric {
        StreamMetric::Append { stream: stream.into(), messages: 1, bytes }
    }

    #[test]
    fn points_carry_the_stream_event_and_project() {
        let p = StreamMetric::Append { stream: "acme/chat/1".into(), messages: 3, bytes: 40 }.point();
        assert_eq!(
            p,
            Point {
                blobs: ["acme/chat/1".into(), "append".into()],
                doubles: [3.0, 40.0],
                index: "acme".into()
            }
        );
        let r = StreamMetric::Readers { stream: "acme/s".into(), long_poll: 2, sse: 5 }.point();
        assert_eq!((r.blobs[1].as_str(), r.doubles), ("readers", [2.0, 5.0]));
    }

    #[test]
    fn a_batch_keeps_every_append_and_the_latest_gauge_of_each_stream() {
        let mut b = Batch::default();
        let gauge = |stream: &str, sse| StreamMetric::Readers { stream: stream.into(), long_poll: 0, sse };
        assert!(b.push(gauge("p/a", 1)));
        assert!(!b.push(append("p/a", 3)));
        b.push(gauge("p/a", 2));
        b.push(gauge("p/b", 1));
        b.push(append("p/a", 4));
        assert_eq!(b.take(), vec![append("p/a", 3), append("p/a", 4), gauge("p/a", 2), gauge("p/b", 1)]);
        assert!(b.is_empty());
        assert!(b.push(append("p/c", 1)), "an emptied batch asks for a flush again");
    }

    #[test]
    fn the_object_answers_its_calls_and_refuses_anything_else() {
        let c = Counters::open(NativeSql::new()).unwrap();
        let record = MetricsCall::Record { events: vec![append("p/a", 9)] };
        assert_eq!(c.handle(&record.request(), T0 + 1).status, 204);
        let reply = c.handle(&MetricsCall::Overview.request(), T0 + 60_001);
        assert_eq!(reply.status, 200);
        let crate::http::Body::Bytes(body) = &reply.body else { panic!("a body") };
        let o: Overview = serde_json::from_slice(body).unwrap();
        assert_eq!((o.appends_per_minute, o.bytes_per_minute, o.hot.len()), (1, 9, 1));
        let bad = Request::new(crate::http::Method::Post, "https://metrics.internal/call")
            .with_body(&b"{\"op\":\"drop\"}"[..]);
        assert_eq!(c.handle(&bad, T0).status, 400);
        assert_eq!(c.overview(T0 + 60_001).unwrap(), o, "a refused call changes nothing");
    }

    #[test]
    fn counters_give_per_minute_series_hot_streams_and_readers() {
        let c = Counters::open(NativeSql::new()).unwrap();
        c.record(T0 - 120_000, &[append("p/old", 1)]).unwrap();
        c.record(T0 - 60_000, &[append("p/a", 10), append("p/a", 10), append("p/b", 5)]).unwrap();
        c.record(
            T0 + 1_000,
            &[append("p/b", 7), StreamMetric::Readers { stream: "p/a".into(), long_poll: 2, sse: 1 }],
        )
        .unwrap();
        c.record(T0 + 2_000, &[StreamMetric::Readers { stream: "p/b".into(), long_poll: 0, sse: 3 }])
            .unwrap();
        let o = c.overview(T0 + 5_000).unwrap();
        assert_eq!(o.series.len(), KEPT_MINUTES as usize);
        assert_eq!(o.series.last().unwrap(), &MinuteFigures { at_ms: T0, appends: 1, bytes: 7 });
        assert_eq!(o.series[o.series.len() - 2], MinuteFigures { at_ms: T0 - 60_000, appends: 3, bytes: 25 });
        assert_eq!(o.series[0].at_ms, T0 - (KEPT_MINUTES - 1) * 60_000);
        assert_eq!(o.series.iter().map(|m| m.appends).sum::<u64>(), 5);
        // The last complete minute.
        assert_eq!((o.appends_per_minute, o.bytes_per_minute), (3, 25));
        assert_eq!(o.active_streams, 3);
        assert_eq!(o.hot[0], HotStream { stream: "p/a".into(), appends: 2, bytes: 20 });
        assert_eq!(o.hot.iter().map(|h| h.stream.as_str()).collect::<Vec<_>>(), ["p/a", "p/b", "p/old"]);
        assert_eq!((o.long_poll_readers, o.sse_readers), (2, 4));
        // A gauge that stopped reporting stops counting; old minutes fall out.
        let later = c.overview(T0 + READERS_FRESH_MS + 2_001).unwrap();
        assert_eq!((later.long_poll_readers, later.sse_readers), (0, 0));
        c.record(T0 + KEPT_MINUTES * 60_000, &[append("p/new", 1)]).unwrap();
        let hour_later = c.overview(T0 + KEPT_MINUTES * 60_000).unwrap();
        assert_eq!(hour_later.series.iter().map(|m| m.appends).sum::<u64>(), 1);
        assert_eq!(hour_later.active_streams, 1);
    }
}
