use std::time::Duration;

use super::*;
use crate::payload::SequenceCheck;

fn stamp(s: u64) -> Stamp {
    Stamp { w: 0, s, t: 0 }
}

fn reader(seqs: &[u64]) -> ReaderResult {
    let mut sequence = SequenceCheck::default();
    for &s in seqs {
        sequence.see(stamp(s));
    }
    ReaderResult { sequence, ..ReaderResult::default() }
}

fn settings(sessions: usize) -> PubSubSettings {
    PubSubSettings { sessions, sse_ratio: 0.0, rate: 2.0, duration_s: 2.0, payload_bytes: 64, json: false }
}

fn counts(pairs: &[(&str, u64)]) -> Counts {
    let mut c = Counts::default();
    for (k, v) in pairs {
        c.add(k, *v);
    }
    c
}

fn observed(readers: Vec<ReaderResult>) -> Observed {
    let mut fanout = FanoutSeen::default();
    fanout.modes.add("inline", 4);
    fanout.sessions = 8;
    fanout.successes = 8;
    Observed {
        readers,
        publisher: WriterResult { appends: 4, fanout, ..WriterResult::default() },
        source: (0..4).map(stamp).collect(),
        elapsed: Duration::from_secs(2),
        drain: Duration::from_millis(300),
        object_requests: Some(vec![
            (counts(&[("append", 4), ("read", 3)]), false),
            (counts(&[("append", 4), ("long_poll", 5)]), false),
            (counts(&[("append", 2), ("long_poll", 5)]), false),
        ]),
        ..Observed::default()
    }
}

#[test]
fn a_clean_run_has_no_problems() {
    let r = PubSubReport::build(
        "http://c",
        "http://s",
        &settings(2),
        observed((0..2).map(|_| reader(&[0, 1, 2, 3])).collect()),
    );
    assert_eq!(r.problems(), Vec::<String>::new());
    assert_eq!((r.delivery.published, r.delivery.expected, r.delivery.received), (4, 8, 8));
    let w = r.core_writes.as_ref().unwrap();
    assert_eq!((w.source_appends, w.session_appends), (4, 6));
    assert_eq!((w.per_message, w.per_message_per_session), (Some(2.5), Some(0.75)));
    let text = render(&r);
    for line in
        ["PUBLISHES", "FAN-OUT         inline 4 (100.0%); 2.0 sessions per publish", "DELIVERY        8 of 8"]
    {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    assert!(text.contains("CORE WRITES     4 to the source + 6 to sessions = 2.50 per message"), "{text}");
}

#[test]
fn losses_duplicates_and_reordering_are_problems() {
    let mut dup = reader(&[0, 1, 2, 3]);
    dup.sequence.see(stamp(2));
    let readers = vec![reader(&[0, 1]), dup, reader(&[0, 2, 1, 3])];
    let r = PubSubReport::build("http://c", "http://s", &settings(3), observed(readers));
    let d = &r.delivery;
    assert_eq!((d.lost, d.lost_at_tail, d.duplicated, d.out_of_order_sessions), (2, 2, 1, 1));
    let problems = r.problems().join("; ");
    for p in [
        "2 messages lost (2 of them at a session's tail)",
        "1 messages received twice",
        "1 sessions received",
    ] {
        assert!(problems.contains(p), "{p} in {problems}");
    }
}

#[test]
fn a_run_that_published_nothing_is_a_problem() {
    let mut o = observed(vec![reader(&[])]);
    o.publisher = WriterResult::default();
    o.source.clear();
    o.object_requests = None;
    let r = PubSubReport::build("http://c", "http://s", &settings(1), o);
    let problems = r.problems().join("; ");
    assert!(
        problems.contains("no publish was acknowledged") && problems.contains("no message"),
        "{problems}"
    );
    assert!(render(&r).contains("CORE WRITES     not exposed by core"));
}

#[test]
fn errors_are_named_by_who_had_them() {
    let mut o = observed(vec![reader(&[0, 1, 2, 3])]);
    o.publisher.errors.add("HTTP 503", Some("busy"));
    o.readers[0].errors.add("timeout", None);
    let r = PubSubReport::build("http://c", "http://s", &settings(1), o);
    assert_eq!((r.errors.get("publish: HTTP 503"), r.errors.get("read: timeout")), (1, 1));
    assert!(r.problems().contains(&"2 errors".to_owned()));
}

#[test]
fn a_publish_sent_again_is_reported_but_is_not_a_problem_when_delivery_holds() {
    let mut o = observed(vec![reader(&[0, 1, 2, 3])]);
    o.publisher.retried.add("HTTP 503", Some("Your worker restarted mid-request."));
    let r = PubSubReport::build("http://c", "http://s", &settings(1), o);
    assert_eq!(r.retried.get("HTTP 503"), 1);
    assert_eq!(r.problems(), Vec::<String>::new());
    let text = render(&r);
    assert!(text.contains("RETRIED         HTTP 503 1"), "{text}");
    assert!(text.contains("restarted mid-request"), "{text}");
}
