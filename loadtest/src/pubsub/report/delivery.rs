//! The DELIVERY section of a pub/sub run: what every session received, against the
//! source read back from core.

use std::fmt::Write as _;

use serde::Serialize;

use super::Observed;
use crate::pubsub::ledger::{SourceLog, Tally};
use crate::report::format::ms;
use crate::stats::{Latencies, Summary};

/// What the sessions received.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Delivery {
    /// Distinct messages in the source: what each session should have received.
    pub published: u64,
    /// The source's messages times the sessions.
    pub expected: u64,
    /// Distinct messages the sessions received, all together.
    pub received: u64,
    /// Source messages a session never received, over all sessions.
    pub lost: u64,
    /// Of which after that session's last receipt (it fell behind rather than skipped).
    pub lost_at_tail: u64,
    /// Receipts of a message the session already had.
    pub duplicated: u64,
    /// Receipts of messages the source does not hold.
    pub unexpected: u64,
    /// Sessions that received every message, in another order than the source's.
    pub out_of_order_sessions: u64,
    /// Acknowledged publishes the source does not hold.
    pub missing_acknowledged: u64,
    /// From a message's send time to its receipt by each session's reader, ms.
    pub latency_ms: Summary,
    /// From a message's send time to its receipt by the source's reader, ms.
    pub to_source_ms: Summary,
}

impl Delivery {
    /// Checks every session's receipts against the source.
    pub(super) fn build(o: &Observed) -> Self {
        let log = SourceLog::new(&o.source);
        let mut latency = Latencies::default();
        let mut d = Self {
            published: log.len(),
            expected: log.len() * o.readers.len() as u64,
            missing_acknowledged: log.missing_acknowledged(&o.publisher),
            to_source_ms: o.source_reader.latency.summary(),
            ..Self::default()
        };
        for r in &o.readers {
            latency.merge(&r.latency);
            d.received += r.sequence.received;
            let Tally { lost, lost_at_tail, duplicates, unexpected, out_of_order } = log.tally(&r.sequence);
            d.lost += lost;
            d.lost_at_tail += lost_at_tail;
            d.duplicated += duplicates;
            d.unexpected += unexpected;
            d.out_of_order_sessions += u64::from(out_of_order);
        }
        d.latency_ms = latency.summary();
        d
    }

    /// What went wrong in delivery.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.published == 0 {
            p.push("the source holds no message".to_owned());
        }
        if self.lost > 0 {
            p.push(format!(
                "{} messages lost ({} of them at a session's tail)",
                self.lost, self.lost_at_tail
            ));
        }
        if self.duplicated > 0 {
            p.push(format!("{} messages received twice", self.duplicated));
        }
        if self.unexpected > 0 {
            p.push(format!("{} messages received that the source does not hold", self.unexpected));
        }
        if self.out_of_order_sessions > 0 {
            p.push(format!(
                "{} sessions received another order than the source's",
                self.out_of_order_sessions
            ));
        }
        if self.missing_acknowledged > 0 {
            p.push(format!("{} acknowledged publishes missing from the source", self.missing_acknowledged));
        }
        p
    }

    /// The DELIVERY line for a run whose delivery finished `drain_seconds` after the last
    /// publish, and the latency lines.
    pub(super) fn render(&self, drain_seconds: f64, out: &mut String) {
        let mut extra = String::new();
        if self.unexpected > 0 {
            extra += &format!(", {} not in the source", self.unexpected);
        }
        if self.missing_acknowledged > 0 {
            extra +=
                &format!(", {} acknowledged publishes missing from the source", self.missing_acknowledged);
        }
        let _ = writeln!(
            out,
            "DELIVERY        {} of {} ({} messages × sessions); {} lost ({} at a tail), {} duplicated, {} sessions out of source order{extra}; complete {:.2} s after publishing stopped",
            self.received,
            self.expected,
            self.published,
            self.lost,
            self.lost_at_tail,
            self.duplicated,
            self.out_of_order_sessions,
            drain_seconds,
        );
        let _ = writeln!(out, "  latency       {}", ms(&self.latency_ms));
        let _ = writeln!(out, "  to source     {}", ms(&self.to_source_ms));
    }
}
