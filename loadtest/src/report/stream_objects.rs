//! The STREAM OBJECTS section: requests that reached the stream objects, from their own
//! counters.

use std::fmt::Write as _;

use serde::Serialize;

use super::format::{kinds, opt, reloaded};
use crate::http::READ_KINDS;
use crate::stats::Counts;

/// Requests that reached the stream objects.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectLoad {
    /// By kind.
    pub requests: Counts,
    /// Read requests (catch-up and long-poll).
    pub reads: u64,
    /// Read requests per append: at most about 1 when a new message costs one request
    /// however many readers wait for it (less when appends come faster than readers
    /// poll, and answers carry several).
    pub reads_per_append: Option<f64>,
    /// SSE sessions opened (each serves many messages; readers reopen one when the
    /// server ends it).
    pub sse_sessions: u64,
    /// Whether an object was reloaded during the run (its counters restarted, so the
    /// counts are low).
    pub restarted: bool,
}

impl ObjectLoad {
    /// Totals each object's requests and whether its counters restarted, over a run
    /// that acknowledged `appends`.
    pub(super) fn build(per_object: &[(Counts, bool)], appends: u64) -> Self {
        let mut requests = Counts::default();
        for (c, _) in per_object {
            requests.merge(c);
        }
        let reads = READ_KINDS.iter().map(|k| requests.get(k)).sum::<u64>();
        Self {
            reads,
            reads_per_append: (appends > 0).then(|| reads as f64 / appends as f64),
            sse_sessions: requests.get("sse"),
            restarted: per_object.iter().any(|(_, restarted)| *restarted),
            requests,
        }
    }
}

/// The STREAM OBJECTS line, or why there is none.
pub(super) fn render(load: Option<&ObjectLoad>, appends: u64, out: &mut String) {
    let Some(o) = load else {
        let _ = writeln!(out, "STREAM OBJECTS  not exposed by the target (DEBUG_STATS off)");
        return;
    };
    let _ = writeln!(
        out,
        "STREAM OBJECTS  {} read requests for {} appends → {} per append; {} SSE sessions opened{}  [{}]",
        o.reads,
        appends,
        opt(o.reads_per_append, 2),
        o.sse_sessions,
        reloaded(o.restarted),
        kinds(&o.requests)
    );
}
