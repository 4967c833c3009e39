//! How the summary writes counts, latencies and numbers that may be missing.

use crate::stats::{percent, Counts, Summary};

/// Each count with its share of the total: `HIT 5 (83.3%)  MISS 1 (16.7%)`.
pub(crate) fn counts_line(c: &Counts) -> String {
    let total = c.total();
    c.0.iter()
        .map(|(k, v)| format!("{k} {v} ({:.1}%)", percent(*v, total).unwrap_or(0.0)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Each count without shares: `append 10, long_poll 11`.
pub(crate) fn kinds(c: &Counts) -> String {
    c.0.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

/// A latency summary in milliseconds.
pub(crate) fn ms(s: &Summary) -> String {
    format!("p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}  mean {:.1} ms", s.p50, s.p95, s.p99, s.max, s.mean)
}

/// `v` with `digits` decimals, or `n/a`.
pub(crate) fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}

/// What to say after counts taken from an object that was reloaded during the run.
pub(crate) fn reloaded(restarted: bool) -> &'static str {
    if restarted {
        " (an object was reloaded: counts are low)"
    } else {
        ""
    }
}
