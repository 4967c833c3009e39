//! The DELIVERY section: what readers received, against what they should have.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::format::ms;
use super::Observed;
use crate::reader::ReaderResult;
use crate::stats::{Latencies, Summary};
use crate::writer::WriterResult;

/// What readers received.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Messages readers should have received (each reader every append of its stream).
    pub expected: u64,
    /// Messages received in order.
    pub received: u64,
    /// Acknowledged messages a reader never received (before later ones it did).
    pub gaps: u64,
    /// Receipts of messages whose append failed (timed out, say) yet landed.
    pub delivered_despite_failed_append: u64,
    /// Messages received twice.
    pub duplicates: u64,
    /// Readers that saw their stream's messages in another order than the rest of its
    /// readers (among readers that received the same number): 0 when the server gave
    /// everyone one order.
    pub order_divergent_readers: u64,
    /// From send to receipt, ms (writers and readers share this machine's clock).
    pub latency_ms: Summary,
}

impl Delivery {
    /// Checks what the readers received against what the writers sent.
    pub(super) fn build(o: &Observed) -> Self {
        let mut latency = Latencies::default();
        for r in &o.readers {
            latency.merge(&r.latency);
        }
        let gaps: u64 = o.readers.iter().map(|r| r.sequence.gaps()).sum();
        let failed = FailedAppends::of(&o.writers, &o.readers);
        Self {
            expected: o.expected,
            received: o.readers.iter().map(|r| r.sequence.received).sum(),
            gaps: gaps - failed.missing,
            delivered_despite_failed_append: failed.landed,
            duplicates: o.readers.iter().map(|r| r.sequence.duplicates).sum(),
            order_divergent_readers: divergent(&o.readers),
            latency_ms: latency.summary(),
        }
    }

    /// What went wrong in delivery: lost, repeated or reordered messages.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.received < self.expected {
            p.push(format!("readers received {} of {} messages", self.received, self.expected));
        }
        if self.gaps > 0 || self.duplicates > 0 {
            p.push(format!("{} messages skipped and {} received twice", self.gaps, self.duplicates));
        }
        if self.order_divergent_readers > 0 {
            p.push(format!("{} readers saw another order than the rest", self.order_divergent_readers));
        }
        p
    }

    /// The DELIVERY line, for a run whose delivery finished `drain_seconds` after the
    /// last append, and the latency line.
    pub(super) fn render(&self, drain_seconds: f64, out: &mut String) {
        let _ = writeln!(
            out,
            "DELIVERY        {} of {} messages, {} gaps, {} duplicates{}, {}; complete {:.2} s after writing stopped",
            self.received,
            self.expected,
            self.gaps,
            self.duplicates,
            match self.delivered_despite_failed_append {
                0 => String::new(),
                n => format!(" ({n} receipts of failed appends that landed)"),
            },
            match self.order_divergent_readers {
                0 => "one order for all readers".to_owned(),
                n => format!("{n} readers saw another order"),
            },
            drain_seconds
        );
        let _ = writeln!(out, "  latency       {}", ms(&self.latency_ms));
    }
}

/// Receipts of appends that failed, over the readers of each writer's stream.
///
/// A failed append is not a lost message: a reader that missed it has no gap for it, and
/// one that received it got a message that landed after all.
struct FailedAppends {
    /// Receipts of failed appends.
    landed: u64,
    /// Failed appends a reader missed, though it received later messages of their writer
    /// (so they were counted as gaps).
    missing: u64,
}

impl FailedAppends {
    fn of(writers: &[WriterResult], readers: &[ReaderResult]) -> Self {
        let (mut landed, mut missing) = (0, 0);
        for w in writers {
            for r in readers.iter().filter(|r| r.stream == w.stream) {
                for &seq in &w.failed {
                    if r.sequence.contains(w.id, seq) {
                        landed += 1;
                    } else if r.sequence.highest(w.id).is_some_and(|h| seq < h) {
                        missing += 1;
                    }
                }
            }
        }
        Self { landed, missing }
    }
}

/// Readers whose order differs from the most common one among the readers of their
/// stream that received as many messages as they did.
fn divergent(readers: &[ReaderResult]) -> u64 {
    let mut groups: HashMap<(usize, u64), HashMap<u64, u64>> = HashMap::new();
    for r in readers {
        *groups.entry((r.stream, r.sequence.received)).or_default().entry(r.sequence.order).or_default() += 1;
    }
    groups
        .values()
        .map(|orders| orders.values().sum::<u64>() - orders.values().max().copied().unwrap_or(0))
        .sum()
}
