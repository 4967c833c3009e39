//! The WRITES section: appends acknowledged, their rate and time to acknowledgment.

use std::fmt::Write as _;

use serde::Serialize;

use super::format::ms;
use crate::stats::{Latencies, Summary};
use crate::writer::WriterResult;

/// Appends.
#[derive(Clone, Debug, Serialize)]
pub struct Writes {
    /// Appends acknowledged.
    pub appends: u64,
    /// Per second.
    pub per_second: f64,
    /// The rate asked for.
    pub target_per_second: f64,
    /// Appends not sent because a writer already had the most outstanding.
    pub skipped: u64,
    /// Time to acknowledgment, ms.
    pub ack_ms: Summary,
}

impl Writes {
    /// Totals the writers, who were to write for `duration_s` at `target_per_second` and
    /// wrote for `seconds`.
    pub(crate) fn build(
        writers: &[WriterResult],
        duration_s: f64,
        target_per_second: f64,
        seconds: f64,
    ) -> Self {
        let mut ack = Latencies::default();
        for w in writers {
            ack.merge(&w.ack_latency);
        }
        let appends = writers.iter().map(|w| w.appends).sum();
        Self {
            appends,
            // Over the sending window; `seconds` also covers the wait for the last acks.
            per_second: appends as f64 / duration_s.min(seconds),
            target_per_second,
            skipped: writers.iter().map(|w| w.skipped).sum(),
            ack_ms: ack.summary(),
        }
    }

    /// The WRITES line, for writers who wrote for `seconds`.
    pub(crate) fn render(&self, seconds: f64, out: &mut String) {
        self.render_as("WRITES", "appends", seconds, out);
    }

    /// The line under `title` (padded to the summary's column), counting `what`.
    pub(crate) fn render_as(&self, title: &str, what: &str, seconds: f64, out: &mut String) {
        let _ = writeln!(
            out,
            "{title:<16}{} {what} in {:.1} s = {:.1}/s (target {:.1}/s{}); ack {}",
            self.appends,
            seconds,
            self.per_second,
            self.target_per_second,
            if self.skipped > 0 {
                format!(", {} not sent: too many outstanding", self.skipped)
            } else {
                String::new()
            },
            ms(&self.ack_ms)
        );
    }
}
