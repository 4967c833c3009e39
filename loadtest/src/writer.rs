//! Writers: each appends stamped messages to one stream at a fixed interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;

use crate::http::{now_ms, Target};
use crate::payload::{self, Stamp};
use crate::stats::{Counts, Latencies};
use crate::workload::Live;

/// What one writer did.
#[derive(Debug, Default)]
pub struct WriterResult {
    /// Appends acknowledged.
    pub appends: u64,
    /// Errors by kind.
    pub errors: Counts,
    /// Time to acknowledgment.
    pub ack_latency: Latencies,
}

/// How a writer writes.
#[derive(Clone, Debug)]
pub struct WriterPlan {
    /// The stream's URL.
    pub url: String,
    /// The writer's number, unique in the run (readers check order per writer).
    pub id: u32,
    /// Pause between appends.
    pub interval: Duration,
    /// When to stop.
    pub until: Instant,
    /// Message size.
    pub payload_bytes: usize,
    /// JSON messages (otherwise text lines).
    pub json: bool,
}

/// Appends every `plan.interval` until `plan.until`, one append at a time. `appended`
/// counts the stream's acknowledged appends, which its readers must all receive.
pub async fn write(
    target: Arc<Target>,
    plan: WriterPlan,
    live: Arc<Live>,
    appended: Arc<AtomicU64>,
) -> WriterResult {
    let url = plan.url;
    let mut w = WriterResult::default();
    let mut ticks = tokio::time::interval(plan.interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut seq = 0;
    loop {
        ticks.tick().await;
        if Instant::now() >= plan.until {
            break;
        }
        let body = payload::encode(Stamp { w: plan.id, s: seq, t: now_ms() }, plan.payload_bytes, plan.json);
        let started = Instant::now();
        let error = match target.append(&url, plan.json, body).send().await {
            Ok(resp) if resp.status().is_success() => None,
            Ok(resp) => Some(format!("HTTP {}", resp.status().as_u16())),
            Err(e) if e.is_timeout() => Some("timeout".to_owned()),
            Err(_) => Some("network".to_owned()),
        };
        match error {
            None => {
                w.ack_latency.record(started.elapsed().as_secs_f64() * 1000.0);
                w.appends += 1;
                seq += 1;
                appended.fetch_add(1, Ordering::Relaxed);
                live.appends.fetch_add(1, Ordering::Relaxed);
            }
            // An append that failed may still have landed; the sequence number moves on so
            // readers count a gap rather than a duplicate if it did not.
            Some(kind) => {
                w.errors.add(&kind, 1);
                seq += 1;
                live.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    w
}
