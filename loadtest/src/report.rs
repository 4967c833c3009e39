//! The report of one run: what was measured, derived rates, and the human summary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::cost::{self, Estimate, Prices, Workload};
use crate::http::READ_KINDS;
use crate::reader::ReaderResult;
use crate::stats::{percent, Counts, Errors, Latencies, Summary};
use crate::workload::Settings;
use crate::writer::WriterResult;

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

/// Read requests.
#[derive(Clone, Debug, Serialize)]
pub struct Reads {
    /// Long-poll requests.
    pub long_poll_requests: u64,
    /// SSE sessions opened.
    pub sse_sessions: u64,
    /// Long-poll answers by `X-Cache`.
    pub x_cache: Counts,
    /// Answers by `cf-cache-status` (only behind Cloudflare's CDN).
    pub cf_cache_status: Counts,
    /// Share of `X-Cache` answers that were HIT, percent.
    pub hit_rate_percent: Option<f64>,
    /// Share of `cf-cache-status` answers that were HIT, percent.
    pub cdn_hit_rate_percent: Option<f64>,
    /// MISS answers per distinct URL that missed: 1.0 when collapsing is perfect.
    pub misses_per_key: Option<f64>,
}

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

/// Min, mean and max over readers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return Self::default();
        }
        Self {
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Offset drift of long-poll readers: readers of one stream that ask for different URLs
/// split the cache and cost the stream object more requests.
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    /// Distinct offsets each reader asked for.
    pub offsets_per_reader: Spread,
    /// Distinct URLs each reader asked for.
    pub urls_per_reader: Spread,
    /// Distinct URLs a stream's readers asked for together, divided by the mean per
    /// reader, averaged over streams: 1.0 when all of a stream's readers walked the same
    /// URLs.
    pub url_spread: Option<f64>,
}

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

impl Report {
    /// Summarises a run.
    pub fn build(label: &str, target: &str, s: &Settings, o: Observed) -> Self {
        let seconds = o.elapsed.as_secs_f64().max(1e-9);
        let (mut ack, mut latency) = (Latencies::default(), Latencies::default());
        let mut errors = Errors::default();
        let (mut appends, mut skipped) = (0, 0);
        for w in &o.writers {
            appends += w.appends;
            skipped += w.skipped;
            ack.merge(&w.ack_latency);
            errors.merge_prefixed("write: ", &w.errors);
        }
        let (mut x_cache, mut cf) = (Counts::default(), Counts::default());
        let (mut long_poll_requests, mut sse_sessions) = (0, 0);
        let (mut received, mut gaps, mut duplicates) = (0, 0, 0);
        let mut missed: HashMap<u64, u64> = HashMap::new();
        for r in &o.readers {
            if r.sse {
                sse_sessions += r.requests;
            } else {
                long_poll_requests += r.requests;
            }
            x_cache.merge(&r.x_cache);
            cf.merge(&r.cf_cache_status);
            latency.merge(&r.latency);
            received += r.sequence.received;
            gaps += r.sequence.gaps();
            duplicates += r.sequence.duplicates;
            for url in &r.missed {
                *missed.entry(*url).or_default() += 1;
            }
            errors.merge_prefixed("read: ", &r.errors);
        }
        let misses: u64 = missed.values().sum();
        // A failed append is not a lost message: take it out of the gaps, and count it if
        // it landed after all.
        let mut delivered_despite_failed_append = 0;
        for w in &o.writers {
            for r in o.readers.iter().filter(|r| r.stream == w.stream) {
                for &seq in &w.failed {
                    if r.sequence.contains(w.id, seq) {
                        delivered_despite_failed_append += 1;
                    } else if r.sequence.highest(w.id).is_some_and(|h| seq < h) {
                        gaps -= 1;
                    }
                }
            }
        }

        let stream_objects = o.object_requests.as_ref().map(|per_stream| {
            let mut requests = Counts::default();
            for (c, _) in per_stream {
                requests.merge(c);
            }
            let reads = READ_KINDS.iter().map(|k| requests.get(k)).sum::<u64>();
            ObjectLoad {
                reads,
                reads_per_append: (appends > 0).then(|| reads as f64 / appends as f64),
                sse_sessions: requests.get("sse"),
                restarted: per_stream.iter().any(|(_, r)| *r),
                requests,
            }
        });

        let has = |stream: usize, sse: bool| o.readers.iter().any(|r| r.stream == stream && r.sse == sse);
        let awake = (0..s.streams).filter(|&i| has(i, false)).count();
        let hibernating = (0..s.streams).filter(|&i| has(i, true) && !has(i, false)).count();
        let wall = seconds + o.drain.as_secs_f64();
        let do_requests = match &stream_objects {
            Some(load) => load.requests.total(),
            // Without counters: every answer that was not a HIT, every SSE session and
            // every append reached an object.
            None => x_cache.total() - x_cache.get("HIT") + sse_sessions + appends,
        };
        let workload = Workload {
            worker_requests_per_s: (long_poll_requests + sse_sessions + appends) as f64 / wall,
            do_requests_per_s: do_requests as f64 / wall,
            appends_per_s: appends as f64 / s.duration_s.min(seconds),
            streams_awake: awake as u64,
            streams_hibernating: hibernating as u64,
        };

        Self {
            label: label.to_owned(),
            target: target.to_owned(),
            settings: s.clone(),
            write_seconds: seconds,
            drain_seconds: o.drain.as_secs_f64(),
            writes: Writes {
                appends,
                // Over the sending window; `seconds` also covers the wait for the last acks.
                per_second: appends as f64 / s.duration_s.min(seconds),
                target_per_second: s.target_rate(),
                skipped,
                ack_ms: ack.summary(),
            },
            reads: Reads {
                long_poll_requests,
                sse_sessions,
                hit_rate_percent: percent(x_cache.get("HIT"), x_cache.total()),
                cdn_hit_rate_percent: percent(cf.get("HIT"), cf.total()),
                misses_per_key: (!missed.is_empty()).then(|| misses as f64 / missed.len() as f64),
                x_cache,
                cf_cache_status: cf,
            },
            stream_objects,
            delivery: Delivery {
                expected: o.expected,
                received,
                gaps,
                delivered_despite_failed_append,
                duplicates,
                order_divergent_readers: divergent(&o.readers),
                latency_ms: latency.summary(),
            },
            drift: drift(&o.readers, s.streams),
            errors: errors.counts,
            error_samples: errors.samples,
            cost: Cost {
                prices: cost::CLOUDFLARE,
                assumptions: cost::ASSUMPTIONS.iter().map(|a| (*a).to_owned()).collect(),
                monthly: cost::monthly(&workload, &cost::CLOUDFLARE),
                workload,
            },
        }
    }

    /// What went wrong: errors, lost or repeated messages. Empty for a clean run.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.writes.appends == 0 {
            p.push("no append was acknowledged".to_owned());
        }
        if self.errors.total() > 0 {
            p.push(format!("{} errors", self.errors.total()));
        }
        let d = &self.delivery;
        if d.received < d.expected {
            p.push(format!("readers received {} of {} messages", d.received, d.expected));
        }
        if d.gaps > 0 || d.duplicates > 0 {
            p.push(format!("{} messages skipped and {} received twice", d.gaps, d.duplicates));
        }
        if d.order_divergent_readers > 0 {
            p.push(format!("{} readers saw another order than the rest", d.order_divergent_readers));
        }
        p
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

fn drift(readers: &[ReaderResult], streams: usize) -> Drift {
    let polling: Vec<&ReaderResult> = readers.iter().filter(|r| !r.sse).collect();
    let mut spreads = Vec::new();
    for stream in 0..streams {
        let mine: Vec<&&ReaderResult> = polling.iter().filter(|r| r.stream == stream).collect();
        if mine.is_empty() {
            continue;
        }
        let union: HashSet<u64> = mine.iter().flat_map(|r| r.urls.iter().copied()).collect();
        let mean = mine.iter().map(|r| r.urls.len() as f64).sum::<f64>() / mine.len() as f64;
        if mean > 0.0 {
            spreads.push(union.len() as f64 / mean);
        }
    }
    Drift {
        offsets_per_reader: Spread::of(polling.iter().map(|r| r.offsets.len() as f64)),
        urls_per_reader: Spread::of(polling.iter().map(|r| r.urls.len() as f64)),
        url_spread: (!spreads.is_empty()).then(|| spreads.iter().sum::<f64>() / spreads.len() as f64),
    }
}

fn counts_line(c: &Counts) -> String {
    let total = c.total();
    c.0.iter()
        .map(|(k, v)| format!("{k} {v} ({:.1}%)", percent(*v, total).unwrap_or(0.0)))
        .collect::<Vec<_>>()
        .join("  ")
}

fn ms(s: &Summary) -> String {
    format!("p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}  mean {:.1} ms", s.p50, s.p95, s.p99, s.max, s.mean)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}

/// The human summary.
pub fn render(r: &Report) -> String {
    let s = &r.settings;
    let mut out = String::new();
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
    let w = &r.writes;
    let _ = writeln!(
        out,
        "WRITES          {} appends in {:.1} s = {:.1}/s (target {:.1}/s{}); ack {}",
        w.appends,
        r.write_seconds,
        w.per_second,
        w.target_per_second,
        if w.skipped > 0 { format!(", {} not sent: too many outstanding", w.skipped) } else { String::new() },
        ms(&w.ack_ms)
    );
    let rd = &r.reads;
    let _ = writeln!(
        out,
        "READS           {} long-poll requests, {} SSE sessions",
        rd.long_poll_requests, rd.sse_sessions
    );
    if rd.x_cache.total() > 0 {
        let _ = writeln!(
            out,
            "  X-Cache       {}  → HIT rate {}%",
            counts_line(&rd.x_cache),
            opt(rd.hit_rate_percent, 1)
        );
    } else {
        let _ = writeln!(out, "  X-Cache       none seen (SSE is not cached)");
    }
    if rd.cf_cache_status.total() > 0 {
        let _ = writeln!(
            out,
            "  CDN           {}  → HIT rate {}%",
            counts_line(&rd.cf_cache_status),
            opt(rd.cdn_hit_rate_percent, 1)
        );
    }
    if rd.misses_per_key.is_some() {
        let _ = writeln!(out, "  MISSes per URL {} (1.00 = perfect collapsing)", opt(rd.misses_per_key, 2));
    }
    match &r.stream_objects {
        Some(o) => {
            let _ = writeln!(
                out,
                "STREAM OBJECTS  {} read requests for {} appends → {} per append; {} SSE sessions opened{}  [{}]",
                o.reads,
                w.appends,
                opt(o.reads_per_append, 2),
                o.sse_sessions,
                if o.restarted { " (an object was reloaded: counts are low)" } else { "" },
                o.requests.0.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
            );
        }
        None => {
            let _ = writeln!(out, "STREAM OBJECTS  not exposed by the target (DEBUG_STATS off)");
        }
    }
    let d = &r.delivery;
    let _ = writeln!(
        out,
        "DELIVERY        {} of {} messages, {} gaps, {} duplicates{}, {}; complete {:.2} s after writing stopped",
        d.received,
        d.expected,
        d.gaps,
        d.duplicates,
        match d.delivered_despite_failed_append {
            0 => String::new(),
            n => format!(" ({n} receipts of failed appends that landed)"),
        },
        match d.order_divergent_readers {
            0 => "one order for all readers".to_owned(),
            n => format!("{n} readers saw another order"),
        },
        r.drain_seconds
    );
    let _ = writeln!(out, "  latency       {}", ms(&d.latency_ms));
    let dr = &r.drift;
    if rd.long_poll_requests == 0 {
        let _ = writeln!(out, "OFFSET DRIFT    no long-poll readers");
    } else {
        let _ = writeln!(
            out,
            "OFFSET DRIFT    offsets per reader {:.0}/{:.1}/{:.0} (min/mean/max); URLs per reader {:.0}/{:.1}/{:.0}; URL spread {} (1.00 = readers share every URL)",
            dr.offsets_per_reader.min,
            dr.offsets_per_reader.mean,
            dr.offsets_per_reader.max,
            dr.urls_per_reader.min,
            dr.urls_per_reader.mean,
            dr.urls_per_reader.max,
            opt(dr.url_spread, 2),
        );
    }
    let _ = writeln!(
        out,
        "ERRORS          {}",
        if r.errors.total() == 0 { "none".to_owned() } else { counts_line(&r.errors) }
    );
    for (kind, sample) in &r.error_samples {
        let _ = writeln!(out, "  {kind:<13} e.g. {sample}");
    }
    let c = &r.cost.monthly;
    let _ = writeln!(
        out,
        "COST            ${:.2}/month if this ran continuously: worker requests ${:.2}, object requests ${:.2}, object duration ${:.2}, SQLite writes ${:.2}, R2 writes ${:.2}",
        c.total, c.worker_requests, c.do_requests, c.do_duration, c.sqlite_writes, c.r2_writes
    );
    let p = &r.cost.prices;
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
    for a in &r.cost.assumptions {
        let _ = writeln!(out, "  assumes       {a}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{SequenceCheck, Stamp};
    use crate::reader::fingerprint;

    fn settings() -> Settings {
        Settings {
            streams: 1,
            clients: 3,
            sse_ratio: 1.0 / 3.0,
            writers: 1,
            write_interval_ms: 100.0,
            duration_s: 1.0,
            payload_bytes: 64,
            json: false,
        }
    }

    /// A long-poll reader that walked `urls` and got all `n` messages; the first URL
    /// missed when `missed`.
    fn poller(urls: &[&str], n: u64, missed: bool) -> ReaderResult {
        let mut r = ReaderResult::default();
        for u in urls {
            r.urls.insert(fingerprint(u));
            r.offsets.insert(fingerprint(u));
            r.requests += 1;
            r.x_cache.add(if missed && *u == urls[0] { "MISS" } else { "HIT" }, 1);
        }
        if missed {
            r.missed.push(fingerprint(urls[0]));
        }
        for s in 0..n {
            r.sequence.see(Stamp { w: 0, s, t: 0 });
            r.latency.record(10.0);
        }
        r
    }

    fn observed() -> Observed {
        let mut sse = ReaderResult { sse: true, requests: 1, ..ReaderResult::default() };
        for s in 0..10 {
            sse.sequence.see(Stamp { w: 0, s, t: 0 });
            sse.latency.record(20.0);
        }
        let mut writer = WriterResult { appends: 10, ..WriterResult::default() };
        writer.ack_latency.record(2.0);
        let mut requests = Counts::default();
        requests.add("append", 10);
        requests.add("long_poll", 11);
        requests.add("sse", 1);
        Observed {
            readers: vec![poller(&["a", "b", "c"], 10, true), poller(&["a", "b", "c"], 10, false), sse],
            writers: vec![writer],
            expected: 30,
            elapsed: Duration::from_secs(1),
            drain: Duration::from_millis(100),
            object_requests: Some(vec![(requests, false)]),
        }
    }

    #[test]
    fn a_clean_run_is_summarised() {
        let r = Report::build("", "http://t", &settings(), observed());
        assert!(r.problems().is_empty(), "{:?}", r.problems());
        assert_eq!((r.writes.appends, r.writes.per_second), (10, 10.0));
        assert_eq!((r.reads.long_poll_requests, r.reads.sse_sessions), (6, 1));
        assert_eq!(r.reads.x_cache.get("HIT"), 5);
        assert!((r.reads.hit_rate_percent.unwrap() - 500.0 / 6.0).abs() < 1e-9);
        assert_eq!(r.reads.misses_per_key, Some(1.0));
        let o = r.stream_objects.as_ref().unwrap();
        assert_eq!((o.reads, o.reads_per_append, o.sse_sessions), (11, Some(1.1), 1));
        assert_eq!((r.delivery.received, r.delivery.expected), (30, 30));
        assert_eq!(r.delivery.latency_ms.max, 20.0);
        assert_eq!(r.drift.url_spread, Some(1.0));
        assert_eq!(r.drift.offsets_per_reader, Spread { min: 3.0, mean: 3.0, max: 3.0 });
        assert_eq!((r.cost.workload.streams_awake, r.cost.workload.streams_hibernating), (1, 0));
        let text = render(&r);
        for needle in [
            "HIT rate 83.3%",
            "1.10 per append; 1 SSE sessions opened",
            "30 of 30 messages",
            "URL spread 1.00",
            "ERRORS          none",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
    }

    #[test]
    fn failed_appends_are_not_lost_messages() {
        let mut o = observed();
        // Append 4 failed and never landed; append 6 timed out but landed.
        let mut writer = WriterResult { appends: 8, failed: vec![4, 6], ..WriterResult::default() };
        writer.errors.add("HTTP 503", Some("overloaded"));
        writer.errors.add("timeout", None);
        o.writers = vec![writer];
        o.expected = 24;
        for r in &mut o.readers {
            let mut seen = SequenceCheck::default();
            for s in (0..10).filter(|s| *s != 4) {
                seen.see(Stamp { w: 0, s, t: 0 });
            }
            r.sequence = seen;
        }
        let r = Report::build("", "t", &settings(), o);
        assert_eq!((r.delivery.gaps, r.delivery.delivered_despite_failed_append), (0, 3));
        assert_eq!(r.problems(), vec!["2 errors".to_owned()]);
    }

    #[test]
    fn a_reader_that_saw_another_order_is_a_problem() {
        let mut o = observed();
        let mut swapped = poller(&["a", "b", "c"], 0, false);
        for seq in [1, 0, 2, 3, 4, 5, 6, 7, 8, 9] {
            swapped.sequence.see(Stamp { w: 0, s: seq, t: 0 });
        }
        o.readers[1] = swapped;
        let r = Report::build("", "t", &settings(), o);
        assert_eq!(r.delivery.order_divergent_readers, 1);
        assert!(r.problems().contains(&"1 readers saw another order than the rest".to_owned()));
        assert!(render(&r).contains("1 readers saw another order"));
    }

    #[test]
    fn readers_on_different_urls_show_drift() {
        let mut o = observed();
        o.readers[1] = poller(&["a", "x", "y"], 10, false);
        let r = Report::build("", "t", &settings(), o);
        // 5 distinct URLs over a mean of 3 per reader.
        assert!((r.drift.url_spread.unwrap() - 5.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn losses_errors_and_missing_counters_are_reported() {
        let mut o = observed();
        o.readers[0] = poller(&["a"], 7, true);
        o.readers[0].sequence.see(Stamp { w: 0, s: 9, t: 0 });
        o.readers[2].errors.add("HTTP 500", Some("{\"error\":\"boom\"}"));
        o.readers[2].errors.add("HTTP 500", None);
        o.object_requests = None;
        let r = Report::build("", "t", &settings(), o);
        let p = r.problems();
        assert!(p.contains(&"2 errors".to_owned()), "{p:?}");
        assert!(p.contains(&"readers received 28 of 30 messages".to_owned()), "{p:?}");
        assert!(p.contains(&"2 messages skipped and 0 received twice".to_owned()), "{p:?}");
        assert_eq!(r.errors.get("read: HTTP 500"), 2);
        assert!(render(&r).contains("read: HTTP 500 e.g. {\"error\":\"boom\"}"));
        assert!(r.stream_objects.is_none());
        assert!(render(&r).contains("not exposed by the target"));
    }

    #[test]
    fn the_report_serialises_to_json() {
        let r = Report::build("a", "t", &settings(), observed());
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["stream_objects"]["reads_per_append"], 1.1);
        assert_eq!(v["reads"]["x_cache"]["HIT"], 5);
        assert!(v["cost"]["assumptions"].as_array().unwrap().len() >= 3);
    }
}
