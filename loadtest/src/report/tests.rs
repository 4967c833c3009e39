//! Whole reports built from fixed runs: what each section derives, the problems found,
//! and what the summary and the JSON say.

use super::drift::Spread;
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

/// The whole summary of a clean run, line by line: the format readers of the summary and
/// docs/loadtest.md rely on.
#[test]
fn a_clean_run_reads_in_full() {
    let r = Report::build("", "http://t", &settings(), observed());
    let mut expected = "\
http://t
  1 stream(s), 3 readers (2 long-poll, 1 SSE), 1 writer(s) per stream every 100 ms, 1 s, 64-byte text messages
WRITES          10 appends in 1.0 s = 10.0/s (target 10.0/s); ack p50 2.0  p95 2.0  p99 2.0  max 2.0  mean 2.0 ms
READS           6 long-poll requests, 1 SSE sessions
  X-Cache       HIT 5 (83.3%)  MISS 1 (16.7%)  → HIT rate 83.3%
  MISSes per URL 1.00 (1.00 = perfect collapsing)
STREAM OBJECTS  11 read requests for 10 appends → 1.10 per append; 1 SSE sessions opened  [append 10, long_poll 11, sse 1]
DELIVERY        30 of 30 messages, 0 gaps, 0 duplicates, one order for all readers; complete 0.10 s after writing stopped
  latency       p50 10.0  p95 20.0  p99 20.0  max 20.0  mean 13.3 ms
OFFSET DRIFT    offsets per reader 3/3.0/3 (min/mean/max); URLs per reader 3/3.0/3; URL spread 1.00 (1.00 = readers share every URL)
ERRORS          none
COST            $75.80/month if this ran continuously: worker requests $12.02, object requests $7.78, object duration $4.05, SQLite writes $51.84, R2 writes $0.12
  prices        worker requests $0.3/M, object requests $0.15/M, object duration $12.5/M GB-s at 0.125 GB, SQLite rows written $1/M, R2 Class A $4.5/M
"
    .to_owned();
    for a in crate::cost::ASSUMPTIONS {
        expected.push_str(&format!("  assumes       {a}\n"));
    }
    assert_eq!(render(&r), expected);
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
