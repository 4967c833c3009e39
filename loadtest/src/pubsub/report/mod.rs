//! The report of one pub/sub run: publishes and their fan-outs, the session readers'
//! requests, delivery against the source, core's writes per message, errors.

mod core_writes;
mod delivery;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::PubSubSettings;
use crate::fanout::FanoutSeen;
use crate::payload::Stamp;
use crate::reader::ReaderResult;
use crate::report::format::{counts_line, opt};
use crate::report::reads::Reads;
use crate::report::writes::Writes;
use crate::report::{errors, run_problems};
use crate::stats::{Counts, Errors};
use crate::writer::WriterResult;

use core_writes::CoreWrites;
use delivery::Delivery;

/// Everything a pub/sub run collected, before summarising.
#[derive(Debug, Default)]
pub struct Observed {
    /// Each session reader's results.
    pub readers: Vec<ReaderResult>,
    /// The source reader's results.
    pub source_reader: ReaderResult,
    /// The publisher's results.
    pub publisher: WriterResult,
    /// The source's messages, read back from core after publishing.
    pub source: Vec<Stamp>,
    /// How long the publisher published.
    pub elapsed: Duration,
    /// How long delivery took to finish after the last publish.
    pub drain: Duration,
    /// Core's requests to the source's object, then to each session stream's, during the
    /// publishing window, and whether its counters restarted; `None` when core does not
    /// expose them.
    pub object_requests: Option<Vec<(Counts, bool)>>,
}

/// A pub/sub run's report (also the JSON written by `--out`).
#[derive(Clone, Debug, Serialize)]
pub struct PubSubReport {
    /// Core's URL.
    pub core: String,
    /// The subscription worker's URL.
    pub subscription: String,
    /// The workload.
    pub settings: PubSubSettings,
    /// Seconds the publisher published.
    pub publish_seconds: f64,
    /// Seconds from the last publish until every session had every message (or gave up).
    pub drain_seconds: f64,
    /// Publishes (as appends: acknowledged, rate, time to acknowledgment).
    pub publishes: Writes,
    /// What the publish answers said about their fan-outs.
    pub fanout: FanoutSeen,
    /// The session readers' requests.
    pub reads: Reads,
    /// What the sessions received, against the source.
    pub delivery: Delivery,
    /// Core's writes per published message; `null` when core does not expose counters.
    pub core_writes: Option<CoreWrites>,
    /// Errors by kind: `publish: …`, `read: …` (session readers), `source read: …`.
    pub errors: Counts,
    /// The first message of each kind of error.
    pub error_samples: BTreeMap<String, String>,
    /// Publishes sent a second time, by why the first attempt failed (the second was
    /// acknowledged). Not problems: what they sent is still checked like every publish.
    pub retried: Counts,
    /// The first message of each kind of retry.
    pub retry_samples: BTreeMap<String, String>,
}

impl PubSubReport {
    /// Summarises a run against core at `core` and the subscription worker at
    /// `subscription`.
    pub fn build(core: &str, subscription: &str, s: &PubSubSettings, o: Observed) -> Self {
        // Never 0, so rates stay finite for a run that published nothing.
        let publish_seconds = o.elapsed.as_secs_f64().max(1e-9);
        let publishes =
            Writes::build(std::slice::from_ref(&o.publisher), s.duration_s, s.rate, publish_seconds);
        let delivery = Delivery::build(&o);
        let core_writes =
            o.object_requests.as_deref().map(|load| CoreWrites::build(load, delivery.published, s.sessions));
        let mut errors = Errors::default();
        errors.merge_prefixed("publish: ", &o.publisher.errors);
        errors.merge_prefixed("source read: ", &o.source_reader.errors);
        for r in &o.readers {
            errors.merge_prefixed("read: ", &r.errors);
        }
        Self {
            core: core.to_owned(),
            subscription: subscription.to_owned(),
            settings: s.clone(),
            publish_seconds,
            drain_seconds: o.drain.as_secs_f64(),
            publishes,
            fanout: o.publisher.fanout.clone(),
            reads: Reads::build(&o.readers),
            delivery,
            core_writes,
            errors: errors.counts,
            error_samples: errors.samples,
            retried: o.publisher.retried.counts.clone(),
            retry_samples: o.publisher.retried.samples.clone(),
        }
    }

    /// What went wrong: errors, lost, repeated or reordered messages. Empty for a clean
    /// run.
    pub fn problems(&self) -> Vec<String> {
        let mut p = run_problems(self.publishes.appends, "publish", &self.errors);
        p.extend(self.delivery.problems());
        p
    }
}

/// The human summary.
pub fn render(r: &PubSubReport) -> String {
    let mut out = String::new();
    heading(r, &mut out);
    r.publishes.render_as("PUBLISHES", "publishes", r.publish_seconds, &mut out);
    fanout(&r.fanout, &mut out);
    r.reads.render(&mut out);
    r.delivery.render(r.drain_seconds, &mut out);
    core_writes::render(r.core_writes.as_ref(), &mut out);
    errors::render(&r.errors, &r.error_samples, &mut out);
    if r.retried.total() > 0 {
        errors::render_as("RETRIED", &r.retried, &r.retry_samples, &mut out);
    }
    out
}

/// The workers, and the workload they were given.
fn heading(r: &PubSubReport, out: &mut String) {
    let s = &r.settings;
    let sse = s.sse_readers();
    let _ = writeln!(out, "pub/sub: core {}, subscriptions {}", r.core, r.subscription);
    let _ = writeln!(
        out,
        "  1 source, {} sessions ({} long-poll, {} SSE readers), {:.1} publishes/s for {:.0} s, {}-byte {} messages",
        s.sessions,
        s.sessions - sse,
        sse,
        s.rate,
        s.duration_s,
        s.payload_bytes,
        if s.json { "JSON" } else { "text" },
    );
}

/// The FAN-OUT line.
fn fanout(f: &FanoutSeen, out: &mut String) {
    let answers = f.modes.total();
    let per_publish = (answers > 0).then(|| f.sessions as f64 / answers as f64);
    let _ = writeln!(
        out,
        "FAN-OUT         {}; {} sessions per publish; {} reached and {} not reached at publish time",
        if answers == 0 { "no publish answer named a mode".to_owned() } else { counts_line(&f.modes) },
        opt(per_publish, 1),
        f.successes,
        f.failures,
    );
}
