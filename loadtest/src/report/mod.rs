//! The report of one run: what was measured, derived rates, and the human summary.
//!
//! Each section of the report (writes, reads, stream objects, delivery, offset drift,
//! errors, cost) lives in its own module, which builds it from what the run observed and
//! renders its lines of the summary.

mod cost;
mod delivery;
mod drift;
pub(crate) mod errors;
pub(crate) mod format;
pub(crate) mod reads;
mod stream_objects;
pub(crate) mod writes;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::reader::ReaderResult;
use crate::stats::Counts;
use crate::workload::Settings;
use crate::writer::WriterResult;

use cost::Cost;
use delivery::Delivery;
use drift::Drift;
use reads::Reads;
use stream_objects::ObjectLoad;
use writes::Writes;

/// Everything a run collected, before summarising.
#[derive(Debug, Default)]
pub struct Observed {
    /// Each reader's results.
    pub readers: Vec<ReaderResult>,
    /// Each writer's results.
    pub writers: Vec<WriterResult>,
    /// Messages the readers should have received, all together.
    pub expected: u64,
    /// How long the writers wrote.
    pub elapsed: Duration,
    /// How long delivery took to finish after the last append.
    pub drain: Duration,
    /// Each stream object's requests during the run and whether its counters restarted;
    /// `None` when the target does not expose them.
    pub object_requests: Option<Vec<(Counts, bool)>>,
}

/// A run's report (also the JSON written by `--out`).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Which side of a comparison, or empty.
    pub label: String,
    /// The worker's URL.
    pub target: String,
    /// The workload.
    pub settings: Settings,
    /// Seconds the writers wrote.
    pub write_seconds: f64,
    /// Seconds from the last append until every reader had every message (or gave up).
    pub drain_seconds: f64,
    /// Appends.
    pub writes: Writes,
    /// Read requests and how they were served.
    pub reads: Reads,
    /// Requests that reached the stream objects; `null` when not exposed.
    pub stream_objects: Option<ObjectLoad>,
    /// What readers received.
    pub delivery: Delivery,
    /// Whether readers of one stream asked for the same URLs.
    pub drift: Drift,
    /// Errors by kind, over readers (`read: …`) and writers (`write: …`).
    pub errors: Counts,
    /// The first message of each kind of error.
    pub error_samples: BTreeMap<String, String>,
    /// The monthly cost of this workload.
    pub cost: Cost,
}

impl Report {
    /// Summarises a run.
    pub fn build(label: &str, target: &str, s: &Settings, o: Observed) -> Self {
        // Never 0, so rates stay finite for a run that wrote nothing.
        let write_seconds = o.elapsed.as_secs_f64().max(1e-9);
        let drain_seconds = o.drain.as_secs_f64();
        let writes = Writes::build(&o.writers, s.duration_s, s.target_rate(), write_seconds);
        let reads = Reads::build(&o.readers);
        let stream_objects = o.object_requests.as_deref().map(|load| ObjectLoad::build(load, writes.appends));
        let errors = errors::collect(&o.writers, &o.readers);
        let wall_seconds = write_seconds + drain_seconds;
        let cost = Cost::build(s, &o.readers, wall_seconds, &writes, &reads, stream_objects.as_ref());
        Self {
            label: label.to_owned(),
            target: target.to_owned(),
            settings: s.clone(),
            write_seconds,
            drain_seconds,
            writes,
            reads,
            stream_objects,
            delivery: Delivery::build(&o),
            drift: Drift::build(&o.readers, s.streams),
            errors: errors.counts,
            error_samples: errors.samples,
            cost,
        }
    }

    /// What went wrong: errors, lost or repeated messages. Empty for a clean run.
    pub fn problems(&self) -> Vec<String> {
        let mut p = run_problems(self.writes.appends, "append", &self.errors);
        p.extend(self.delivery.problems());
        p
    }
}

/// The problems of any run that wrote `acknowledged` times (`what`: an append, a
/// publish) and had `errors`.
pub(crate) fn run_problems(acknowledged: u64, what: &str, errors: &Counts) -> Vec<String> {
    let mut p = Vec::new();
    if acknowledged == 0 {
        p.push(format!("no {what} was acknowledged"));
    }
    if errors.total() > 0 {
        p.push(format!("{} errors", errors.total()));
    }
    p
}

/// The human summary.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    heading(r, &mut out);
    r.writes.render(r.write_seconds, &mut out);
    r.reads.render(&mut out);
    stream_objects::render(r.stream_objects.as_ref(), r.writes.appends, &mut out);
    r.delivery.render(r.drain_seconds, &mut out);
    r.drift.render(r.reads.long_poll_requests, &mut out);
    errors::render(&r.errors, &r.error_samples, &mut out);
    r.cost.render(&mut out);
    out
}

/// The target, and the workload it was given.
fn heading(r: &Report, out: &mut String) {
    let s = &r.settings;
    let sse = s.sse_readers();
    let _ = writeln!(
        out,
        "{}{}",
        if r.label.is_empty() { String::new() } else { format!("[{}] ", r.label) },
        r.target
    );
    let _ = writeln!(
        out,
        "  {} stream(s), {} readers ({} long-poll, {} SSE), {} writer(s) per stream every {:.0} ms, {:.0} s, {}-byte {} messages",
        s.streams,
        s.clients,
        s.clients - sse,
        sse,
        s.writers,
        s.write_interval_ms,
        s.duration_s,
        s.payload_bytes,
        if s.json { "JSON" } else { "text" },
    );
}
