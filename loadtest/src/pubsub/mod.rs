//! The pub/sub mode: one source stream in core, sessions subscribed to it through the
//! subscription worker, a reader on every session's stream in core (long-poll or SSE,
//! following offsets as the workload's readers do), and one open-loop publisher that
//! publishes stamped messages through the subscription worker. When publishing ends, the
//! source is read back from core: every session must receive all of it, and each
//! session's receipts are checked against it.

mod api;
mod counters;
mod ledger;
pub mod report;
mod source_log;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::http::{self, now_ms, Target};
use crate::progress::Progress;
use crate::reader::{self, ReaderResult};
use crate::workload::{self, Live};
use crate::writer::{self, WriterPlan, WriterResult};
use api::Session;
use report::{Observed, PubSubReport};

/// How long session readers get after the last publish to receive everything: longer
/// than the workload's, since queued fan-outs go through a queue first.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// What to run.
#[derive(Clone, Debug, Serialize)]
pub struct PubSubSettings {
    /// Sessions subscribed to the source, each with one reader.
    pub sessions: usize,
    /// Share of session readers that use SSE (the rest long-poll).
    pub sse_ratio: f64,
    /// Publishes per second.
    pub rate: f64,
    /// How long the publisher publishes, in seconds.
    pub duration_s: f64,
    /// Size of each message in bytes.
    pub payload_bytes: usize,
    /// A JSON source (otherwise text lines).
    pub json: bool,
}

impl PubSubSettings {
    /// How many session readers use SSE.
    pub fn sse_readers(&self) -> usize {
        ((self.sessions as f64) * self.sse_ratio).round() as usize
    }
}

/// The two workers under test.
pub struct Targets {
    /// Core: the source and the session streams.
    pub core: Arc<Target>,
    /// The subscription worker: subscribes and publishes.
    pub subscription: Arc<Target>,
}

/// A run's source and subscribed sessions: made before measuring, deleted after.
pub struct Prepared {
    source: String,
    source_url: String,
    ids: Vec<String>,
    sessions: Vec<Session>,
}

/// Creates the source in core and subscribes the sessions to it; on failure, deletes
/// what it made.
pub async fn prepare(t: &Targets, s: &PubSubSettings) -> Result<Prepared, String> {
    let stamp = now_ms();
    let source = format!("lt-{stamp}-source");
    let source_url = t.core.create_stream(&source, s.json).await?;
    let ids: Vec<String> = (0..s.sessions).map(|i| format!("lt-{stamp}-{i}")).collect();
    eprintln!("subscribing {} sessions to {source}", s.sessions);
    let started = Instant::now();
    let mut run = Prepared { source, source_url, ids, sessions: Vec::new() };
    match api::subscribe_all(&t.subscription, &run.source, &run.ids).await {
        Ok(sessions) => run.sessions = sessions,
        Err(e) => {
            run.clean_up(t).await;
            return Err(e);
        }
    }
    eprintln!("subscribed {} sessions in {:.1} s", s.sessions, started.elapsed().as_secs_f64());
    Ok(run)
}

impl Prepared {
    /// Runs the workload on the prepared source and sessions.
    pub async fn measure(&self, t: &Targets, s: &PubSubSettings) -> Result<PubSubReport, String> {
        measure(t, s, (&self.source, &self.source_url), &self.sessions).await
    }

    /// Deletes the sessions and the source.
    pub async fn clean_up(self, t: &Targets) {
        eprintln!("deleting the sessions and the source");
        api::delete_all(&t.subscription, &self.ids).await;
        t.core.delete_stream(&self.source_url).await;
    }
}

/// Reads the sessions, publishes for the duration, waits for delivery and reports.
async fn measure(
    t: &Targets,
    s: &PubSubSettings,
    (source, source_url): (&str, &str),
    sessions: &[Session],
) -> Result<PubSubReport, String> {
    let live = Arc::new(Live::default());
    let (stop_tx, stop) = watch::channel(false);
    let readers = start_readers(&t.core, sessions, s, &live, &stop);
    let source_reader = start_source_reader(&t.core, source_url, s.json, &stop);
    // Let every reader reach the tail before counting.
    tokio::time::sleep(Duration::from_millis(1000 + s.sessions as u64)).await;
    let streams = counted_streams(&t.core, source, sessions);
    let before = counters::snapshot(&t.core, &streams).await;
    let progress = Progress::start("", live.clone(), Duration::from_secs_f64(s.duration_s));
    let started = Instant::now();
    let publisher = publish(t, source, s, &live).await;
    let elapsed = started.elapsed();
    // What landed, failed publishes included, is what every session must get.
    let source = source_log::read(&t.core, source_url, s.json).await?;
    let expected = ledger::SourceLog::new(&source).len() * s.sessions as u64;
    let drain = workload::drain(&live, expected, DRAIN_LIMIT).await;
    let after = counters::snapshot(&t.core, &streams).await;
    let _ = stop_tx.send(true);
    let (results, source_reader) = (collect(readers).await?, source_reader.await);
    let source_reader = source_reader.map_err(|e| format!("source reader failed: {e}"))?;
    progress.finish();
    eprintln!("delivery took {:.1} s after publishing stopped", drain.as_secs_f64());
    let observed = Observed {
        readers: results,
        source_reader,
        publisher,
        source,
        elapsed,
        drain,
        object_requests: http::deltas(before, after),
    };
    Ok(PubSubReport::build(&t.core.base, &t.subscription.base, s, observed))
}

/// One reader per session stream, from its start; the first `sse_readers` use SSE.
fn start_readers(
    core: &Arc<Target>,
    sessions: &[Session],
    s: &PubSubSettings,
    live: &Arc<Live>,
    stop: &watch::Receiver<bool>,
) -> JoinSet<ReaderResult> {
    let mut readers = JoinSet::new();
    for (i, session) in sessions.iter().enumerate() {
        let url = format!("{}{}", core.base, session.session_stream_path);
        if let Some(key) = &session.reader_key {
            core.set_reader_key(&url, key);
        }
        let (c, l, st) = (core.clone(), live.clone(), stop.clone());
        if i < s.sse_readers() {
            readers.spawn(reader::sse(c, i, url, s.json, l, st));
        } else {
            readers.spawn(reader::long_poll(c, i, url, s.json, l, st));
        }
    }
    readers
}

/// A long-poll reader of the source: it times publish → source, and keeps the source's
/// object loaded (its counters live in memory) while publishes wait on their fan-outs.
fn start_source_reader(
    core: &Arc<Target>,
    url: &str,
    json: bool,
    stop: &watch::Receiver<bool>,
) -> JoinHandle<ReaderResult> {
    let live = Arc::new(Live::default());
    tokio::spawn(reader::long_poll(core.clone(), usize::MAX, url.to_owned(), json, live, stop.clone()))
}

/// What the stopped readers saw.
async fn collect(mut readers: JoinSet<ReaderResult>) -> Result<Vec<ReaderResult>, String> {
    let mut results = Vec::new();
    while let Some(r) = readers.join_next().await {
        results.push(r.map_err(|e| format!("reader failed: {e}"))?);
    }
    Ok(results)
}

/// The ids of the streams whose counters are read: the source, then each session's.
fn counted_streams(core: &Target, source: &str, sessions: &[Session]) -> Vec<Option<String>> {
    let sessions = sessions.iter().map(|s| counters::stats_id(core, &s.session_stream_path));
    std::iter::once(Some(source.to_owned())).chain(sessions).collect()
}

/// Publishes to `source` at the rate for the duration, through the subscription worker.
async fn publish(t: &Targets, source: &str, s: &PubSubSettings, live: &Arc<Live>) -> WriterResult {
    let plan = WriterPlan {
        stream: (0, api::publish_url(&t.subscription, source)),
        id: 0,
        interval: Duration::from_secs_f64(1.0 / s.rate),
        until: Instant::now() + Duration::from_secs_f64(s.duration_s),
        payload_bytes: s.payload_bytes,
        json: s.json,
        // Publishes go through two workers, and a publish whose answer was lost on the
        // way is sent again, as a careful client would: idempotently, so delivery stays
        // exactly checked. Retries are reported.
        idempotent: true,
    };
    writer::write(t.subscription.clone(), plan, live.clone(), Arc::new(AtomicU64::new(0))).await
}
