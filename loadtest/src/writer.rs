//! Writers: each appends stamped messages to one stream at a fixed rate.
//!
//! A writer is open-loop: it sends on schedule whether or not earlier appends have been
//! acknowledged, as independent producers do, so a slow server shows up as slow
//! acknowledgments and delivery rather than as a writer that quietly slows down. At most
//! [`MAX_IN_FLIGHT`] appends are outstanding; ticks beyond that are counted, not sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::fanout::FanoutSeen;
use crate::http::{describe, now_ms, Target};
use crate::payload::{self, Stamp};
use crate::stats::{Errors, Latencies};
use crate::workload::Live;

/// Appends one writer may have outstanding.
pub const MAX_IN_FLIGHT: usize = 64;
/// How long an append may take before it counts as failed.
const APPEND_LIMIT: Duration = Duration::from_secs(30);

/// What one writer did.
#[derive(Debug, Default)]
pub struct WriterResult {
    /// The writer's number.
    pub id: u32,
    /// The stream it wrote (its index).
    pub stream: usize,
    /// Appends acknowledged.
    pub appends: u64,
    /// Scheduled appends not sent because [`MAX_IN_FLIGHT`] were outstanding.
    pub skipped: u64,
    /// Errors by kind.
    pub errors: Errors,
    /// Sequence numbers of appends that failed (they may or may not have landed).
    pub failed: Vec<u64>,
    /// Time to acknowledgment.
    pub ack_latency: Latencies,
    /// The fan-outs the acknowledgments reported (publishes through a subscription
    /// worker; empty for core appends).
    pub fanout: FanoutSeen,
    /// Why appends that were sent again failed the first time (idempotent writers only);
    /// the second attempt was acknowledged.
    pub retried: Errors,
}

/// How a writer writes.
#[derive(Clone, Debug)]
pub struct WriterPlan {
    /// The stream's index and URL.
    pub stream: (usize, String),
    /// The writer's number, unique in the run (readers check messages per writer).
    pub id: u32,
    /// Time between appends.
    pub interval: Duration,
    /// When to stop sending.
    pub until: Instant,
    /// Message size.
    pub payload_bytes: usize,
    /// JSON messages (otherwise text lines).
    pub json: bool,
    /// Each append is its own idempotent producer (`Producer-Id: w<writer>-s<seq>`,
    /// epoch 0, seq 0), and one whose answer was lost in transit (a 503 or a broken
    /// connection) is sent once more: the stream keeps it at most once, so a retry can
    /// neither lose nor repeat a message, and delivery is still checked exactly.
    pub idempotent: bool,
}

/// A failed attempt: its kind and a message.
type Failure = (String, String);

/// The outcome of one append (its sequence number, then its time to acknowledgment, the
/// fan-out it reported and why a first attempt failed if it was sent again, or the
/// failure).
type Outcome = (u64, Result<(f64, FanoutSeen, Option<Failure>), Failure>);

/// How long an idempotent writer waits before sending an append again.
const RETRY_AFTER: Duration = Duration::from_millis(200);

async fn attempt(
    target: &Target,
    url: &str,
    json: bool,
    producer: Option<&str>,
    body: &str,
) -> Result<FanoutSeen, Failure> {
    let mut req = target.append(url, json, body.to_owned());
    if let Some(id) = producer {
        req = req.header("Producer-Id", id).header("Producer-Epoch", "0").header("Producer-Seq", "0");
    }
    match req.timeout(APPEND_LIMIT).send().await {
        Ok(resp) if resp.status().is_success() => Ok(FanoutSeen::of(resp.headers())),
        Ok(resp) => Err((format!("HTTP {}", resp.status().as_u16()), resp.text().await.unwrap_or_default())),
        Err(e) if e.is_timeout() => Err(("timeout".to_owned(), describe(&e))),
        Err(e) => Err(("network".to_owned(), describe(&e))),
    }
}

async fn append(
    target: Arc<Target>,
    url: String,
    plan: (u32, bool, bool),
    (seq, body): (u64, String),
) -> Outcome {
    let (writer, json, idempotent) = plan;
    let started = Instant::now();
    let producer = idempotent.then(|| format!("w{writer}-s{seq}"));
    let ms = |started: Instant| started.elapsed().as_secs_f64() * 1000.0;
    let result = match attempt(&target, &url, json, producer.as_deref(), &body).await {
        Ok(fanout) => Ok((ms(started), fanout, None)),
        // The answer may have been lost after the stream kept the append.
        Err(first) if producer.is_some() && (first.0 == "HTTP 503" || first.0 == "network") => {
            tokio::time::sleep(RETRY_AFTER).await;
            attempt(&target, &url, json, producer.as_deref(), &body)
                .await
                .map(|fanout| (ms(started), fanout, Some(first)))
        }
        Err(failure) => Err(failure),
    };
    (seq, result)
}

/// Appends every `plan.interval` until `plan.until`, then waits for the appends still
/// outstanding. `appended` counts the stream's acknowledged appends, which its readers
/// must all receive.
pub async fn write(
    target: Arc<Target>,
    plan: WriterPlan,
    live: Arc<Live>,
    appended: Arc<AtomicU64>,
) -> WriterResult {
    let (stream, url) = plan.stream;
    let mut w = WriterResult { id: plan.id, stream, ..WriterResult::default() };
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let mut ticks = tokio::time::interval(plan.interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let record = |w: &mut WriterResult, (seq, outcome): Outcome| match outcome {
        Ok((ms, fanout, retried)) => {
            if let Some((kind, message)) = retried {
                w.retried.add(&kind, Some(&message));
            }
            w.ack_latency.record(ms);
            w.fanout.merge(&fanout);
            w.appends += 1;
            appended.fetch_add(1, Ordering::Relaxed);
            live.appends.fetch_add(1, Ordering::Relaxed);
        }
        Err((kind, message)) => {
            w.errors.add(&kind, Some(&message));
            w.failed.push(seq);
            live.errors.fetch_add(1, Ordering::Relaxed);
        }
    };
    let mut seq = 0;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if Instant::now() >= plan.until {
                    break;
                }
                if in_flight.len() >= MAX_IN_FLIGHT {
                    w.skipped += 1;
                    continue;
                }
                let body = payload::encode(Stamp { w: plan.id, s: seq, t: now_ms() }, plan.payload_bytes, plan.json);
                in_flight.spawn(append(target.clone(), url.clone(), (plan.id, plan.json, plan.idempotent), (seq, body)));
                seq += 1;
            }
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                record(&mut w, done.unwrap_or_else(|e| (u64::MAX, Err(("task".to_owned(), e.to_string())))));
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        record(&mut w, done.unwrap_or_else(|e| (u64::MAX, Err(("task".to_owned(), e.to_string())))));
    }
    w
}
