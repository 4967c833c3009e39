//! The COST section: what the measured workload would cost per month, and on what
//! prices and assumptions.

use std::fmt::Write as _;

use serde::Serialize;

use super::{ObjectLoad, Reads, Writes};
use crate::cost::{monthly, Estimate, Prices, Workload, ASSUMPTIONS, CLOUDFLARE};
use crate::reader::ReaderResult;
use crate::workload::Settings;

/// The monthly cost estimate.
#[derive(Clone, Debug, Serialize)]
pub struct Cost {
    /// Prices used.
    pub prices: Prices,
    /// Assumptions made.
    pub assumptions: Vec<String>,
    /// The workload as measured.
    pub workload: Workload,
    /// Dollars per month by item.
    pub monthly: Estimate,
}

impl Cost {
    /// Prices the run's workload: its request rates over `wall_seconds` (writing and
    /// draining), and which streams' objects stay awake.
    pub(super) fn build(
        s: &Settings,
        readers: &[ReaderResult],
        wall_seconds: f64,
        writes: &Writes,
        reads: &Reads,
        stream_objects: Option<&ObjectLoad>,
    ) -> Self {
        let do_requests = match stream_objects {
            Some(load) => load.requests.total(),
            // Without counters: every answer that was not a HIT, every SSE session and
            // every append reached an object.
            None => reads.x_cache.total() - reads.x_cache.get("HIT") + reads.sse_sessions + writes.appends,
        };
        let (awake, hibernating) = awake_and_hibernating(readers, s.streams);
        let workload = Workload {
            worker_requests_per_s: (reads.long_poll_requests + reads.sse_sessions + writes.appends) as f64
                / wall_seconds,
            do_requests_per_s: do_requests as f64 / wall_seconds,
            appends_per_s: writes.per_second,
            streams_awake: awake,
            streams_hibernating: hibernating,
        };
        Self {
            prices: CLOUDFLARE,
            assumptions: ASSUMPTIONS.iter().map(|a| (*a).to_owned()).collect(),
            monthly: monthly(&workload, &CLOUDFLARE),
            workload,
        }
    }

    /// The COST line, the prices and the assumptions.
    pub(super) fn render(&self, out: &mut String) {
        let c = &self.monthly;
        let _ = writeln!(
            out,
            "COST            ${:.2}/month if this ran continuously: worker requests ${:.2}, object requests ${:.2}, object duration ${:.2}, SQLite writes ${:.2}, R2 writes ${:.2}",
            c.total, c.worker_requests, c.do_requests, c.do_duration, c.sqlite_writes, c.r2_writes
        );
        let p = &self.prices;
        let _ = writeln!(
            out,
            "  prices        worker requests ${}/M, object requests ${}/M, object duration ${}/M GB-s at {} GB, SQLite rows written ${}/M, R2 Class A ${}/M",
            p.worker_requests_per_million,
            p.do_requests_per_million,
            p.do_gb_seconds_per_million,
            p.do_memory_gb,
            p.sqlite_rows_written_per_million,
            p.r2_class_a_per_million
        );
        for a in &self.assumptions {
            let _ = writeln!(out, "  assumes       {a}");
        }
    }
}

/// Streams with a long-poll reader (their object stays awake while readers wait), and
/// streams with only SSE readers (their object hibernates between appends).
fn awake_and_hibernating(readers: &[ReaderResult], streams: usize) -> (u64, u64) {
    let has = |stream: usize, sse: bool| readers.iter().any(|r| r.stream == stream && r.sse == sse);
    let awake = (0..streams).filter(|&i| has(i, false)).count();
    let hibernating = (0..streams).filter(|&i| has(i, true) && !has(i, false)).count();
    (awake as u64, hibernating as u64)
}
