//! One run: create streams, start readers, let writers append for the duration, wait for
//! delivery to finish, and collect what everyone saw into a report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::http::{self, now_ms, Target};
use crate::progress::Progress;
use crate::reader::{self, ReaderResult};
use crate::report::{Observed, Report};
use crate::writer::{self, WriterPlan, WriterResult};

/// What to run.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// Streams to create.
    pub streams: usize,
    /// Readers, spread evenly over the streams.
    pub clients: usize,
    /// Share of readers that use SSE (the rest long-poll).
    pub sse_ratio: f64,
    /// Writers per stream.
    pub writers: usize,
    /// Time between one writer's appends, in milliseconds (it does not wait for acknowledgments).
    pub write_interval_ms: f64,
    /// How long writers write, in seconds.
    pub duration_s: f64,
    /// Size of each message in bytes.
    pub payload_bytes: usize,
    /// JSON streams (otherwise text lines).
    pub json: bool,
}

impl Settings {
    /// How many readers use SSE.
    pub fn sse_readers(&self) -> usize {
        ((self.clients as f64) * self.sse_ratio).round() as usize
    }

    /// Appends per second the writers aim for, over all streams.
    pub fn target_rate(&self) -> f64 {
        (self.streams * self.writers) as f64 * 1000.0 / self.write_interval_ms
    }
}

/// Totals the readers and writers update as they go, for the progress line.
#[derive(Debug, Default)]
pub struct Live {
    /// Appends acknowledged.
    pub appends: AtomicU64,
    /// Read requests made (SSE: sessions).
    pub requests: AtomicU64,
    /// Of which answered `X-Cache: HIT`.
    pub hits: AtomicU64,
    /// Distinct messages received by readers.
    pub messages: AtomicU64,
    /// Errors of any kind.
    pub errors: AtomicU64,
}

/// How long readers get after the last append to receive everything.
const DRAIN_LIMIT: Duration = Duration::from_secs(15);

/// Waits until readers have received `expected` messages in all, at most `limit`;
/// returns how long that took.
pub async fn drain(live: &Live, expected: u64, limit: Duration) -> Duration {
    let started = Instant::now();
    while live.messages.load(Ordering::Relaxed) < expected && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// Runs the workload against `target`.
pub async fn run(target: Arc<Target>, s: &Settings, label: &str) -> Result<Report, String> {
    let live = Arc::new(Live::default());
    let stamp = now_ms();
    let mut streams = Vec::new();
    for i in 0..s.streams {
        let name = format!("lt-{stamp}-{i}");
        let url = target.create_stream(&name, s.json).await?;
        streams.push((name, url, Arc::new(AtomicU64::new(0))));
    }

    // Readers first, each from the start of its stream; SSE readers are the first
    // `sse_readers` so every stream gets its share when they are dealt round-robin.
    let (stop_tx, stop) = watch::channel(false);
    let mut readers: JoinSet<ReaderResult> = JoinSet::new();
    let mut per_stream = vec![0u64; s.streams];
    for i in 0..s.clients {
        let stream = i % s.streams;
        per_stream[stream] += 1;
        let url = streams[stream].1.clone();
        let (t, l, st) = (target.clone(), live.clone(), stop.clone());
        if i < s.sse_readers() {
            readers.spawn(reader::sse(t, stream, url, s.json, l, st));
        } else {
            readers.spawn(reader::long_poll(t, stream, url, s.json, l, st));
        }
    }
    // Let every reader reach the tail before counting.
    tokio::time::sleep(Duration::from_millis(1000 + s.clients as u64)).await;
    let mut before = Vec::new();
    for (name, ..) in &streams {
        before.push(target.object_counters(name).await);
    }

    let started = Instant::now();
    let until = started + Duration::from_secs_f64(s.duration_s);
    let mut writers: JoinSet<WriterResult> = JoinSet::new();
    for (stream, (_, url, appended)) in streams.iter().enumerate() {
        for w in 0..s.writers {
            let plan = WriterPlan {
                stream: (stream, url.clone()),
                id: (stream * s.writers + w) as u32,
                interval: Duration::from_secs_f64(s.write_interval_ms / 1000.0),
                until,
                payload_bytes: s.payload_bytes,
                json: s.json,
                idempotent: false,
            };
            writers.spawn(writer::write(target.clone(), plan, live.clone(), appended.clone()));
        }
    }
    let progress = Progress::start(label, live.clone(), Duration::from_secs_f64(s.duration_s));
    let mut writer_results = Vec::new();
    while let Some(w) = writers.join_next().await {
        writer_results.push(w.map_err(|e| format!("writer failed: {e}"))?);
    }
    let elapsed = started.elapsed();

    // Every reader must receive every append of its stream.
    let expected: u64 =
        streams.iter().zip(&per_stream).map(|((.., appended), n)| appended.load(Ordering::Relaxed) * n).sum();
    let drain = drain(&live, expected, DRAIN_LIMIT).await;
    let mut after = Vec::new();
    for (name, ..) in &streams {
        after.push(target.object_counters(name).await);
    }
    let _ = stop_tx.send(true);
    let mut reader_results = Vec::new();
    while let Some(r) = readers.join_next().await {
        reader_results.push(r.map_err(|e| format!("reader failed: {e}"))?);
    }
    progress.finish();
    for (_, url, _) in &streams {
        target.delete_stream(url).await;
    }

    let counters = http::deltas(before, after);
    let observed = Observed {
        readers: reader_results,
        writers: writer_results,
        expected,
        elapsed,
        drain,
        object_requests: counters,
    };
    Ok(Report::build(label, &target.base, s, observed))
}
