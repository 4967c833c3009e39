//! A subscription's life on a virtual clock.

use super::*;
use crate::ds::config::SubscriptionConfig;
use crate::ds::webhook_url::Loopback;

fn offset(n: u64) -> String {
    format!("0000000000000000_{n:016}")
}

fn fresh(n: u32) -> Fresh {
    Fresh { wake_id: format!("w_{n}"), jitter: 0.0 }
}

fn config(body: serde_json::Value) -> SubscriptionConfig {
    SubscriptionConfig::parse(body.to_string().as_bytes(), Loopback::Allowed).unwrap()
}

fn webhook() -> Subscription {
    let c = config(serde_json::json!({
        "type": "webhook", "pattern": "events/*", "webhook": {"url": "http://127.0.0.1:1/h"}, "lease_ttl_ms": 1000,
    }));
    Subscription::new("s".into(), c, "http://h/v1/stream".into(), 0)
}

fn pull() -> Subscription {
    let c = config(serde_json::json!({
        "type": "pull-wake", "pattern": "events/**", "wake_stream": "events/wake", "lease_ttl_ms": 1000,
    }));
    Subscription::new("p".into(), c, "http://h/v1/stream".into(), 0)
}

fn report(s: &Subscription, acks: &[(&str, String)], done: bool) -> WakeReport {
    WakeReport {
        wake_id: s.wake.as_ref().map(|w| w.id.clone()),
        generation: Some(s.generation),
        acks: acks.iter().map(|(p, o)| Ack { stream: (*p).into(), offset: o.clone() }).collect(),
        done,
    }
}

#[test]
fn an_append_to_a_new_stream_wakes_and_done_acknowledges_the_snapshot() {
    let mut s = webhook();
    let (linked, effects) = s.on_append("events/a", &offset(5), Some(ZERO_OFFSET), 10, &fresh(1));
    assert!(linked);
    assert_eq!(effects, [Effect::Deliver { wake_id: "w_1".into() }]);
    assert_eq!((s.generation, s.wake.as_ref().unwrap().lease_until_ms), (1, Some(1010)));
    // More data while the wake is in flight issues no second wake.
    assert!(s.on_append("events/a", &offset(9), None, 20, &fresh(2)).1.is_empty());
    // Done acknowledges what the wake saw (5), so the later data wakes again at once.
    let effects = s.delivered("w_1", DeliveryOutcome::Done, 30, &fresh(3));
    assert_eq!(s.links["events/a"].acked, offset(5));
    assert_eq!(effects, [Effect::Deliver { wake_id: "w_3".into() }]);
    assert_eq!(s.generation, 2);
    assert_eq!(s.delivered("w_3", DeliveryOutcome::Done, 40, &fresh(4)), []);
    assert_eq!((s.links["events/a"].acked.clone(), s.wake.clone(), s.pending()), (offset(9), None, false));
    // An answer about an old wake changes nothing.
    assert_eq!(s.delivered("w_1", DeliveryOutcome::Failed, 50, &fresh(5)), []);
    assert_eq!(s.status(), "active");
}

#[test]
fn streams_it_does_not_want_are_unlinked() {
    let mut s = webhook();
    assert_eq!(s.on_append("other/a", &offset(1), None, 0, &fresh(1)), (false, Vec::new()));
    assert_eq!(s.on_append("events/a/b", &offset(1), None, 0, &fresh(1)), (false, Vec::new()));
    let mut p = pull();
    // Its own wake stream never wakes it, though the pattern matches it.
    assert_eq!(p.on_append("events/wake", &offset(1), Some(ZERO_OFFSET), 0, &fresh(1)), (false, Vec::new()));
}

#[test]
fn creation_links_existing_streams_at_their_tails() {
    let mut s = webhook();
    s.backfill(&[("events/a".into(), offset(7)), ("other/b".into(), offset(3))]);
    assert_eq!(s.links.keys().collect::<Vec<_>>(), ["events/a"]);
    assert!(!s.pending());
    // An append the subscription did not see linked is linked at the tail it reports.
    let (linked, effects) = s.on_append("events/c", &offset(4), None, 0, &fresh(1));
    assert!(linked && effects.is_empty() && !s.pending());
    // Backfill never moves a cursor that exists.
    s.on_append("events/a", &offset(9), None, 0, &fresh(2));
    s.backfill(&[("events/a".into(), offset(9))]);
    assert_eq!(s.links["events/a"].acked, offset(7));
}

#[test]
fn failed_deliveries_back_off_and_the_lease_waits_for_the_retry() {
    let mut s = webhook();
    s.on_append("events/a", &offset(1), Some(ZERO_OFFSET), 0, &fresh(1));
    let mut now = 0;
    let mut delays = Vec::new();
    for attempt in 1..=8u32 {
        assert!(s.delivered("w_1", DeliveryOutcome::Failed, now, &fresh(100 + attempt)).is_empty());
        assert_eq!(s.status(), "failed");
        let due = s.next_alarm().unwrap();
        delays.push(due - now);
        // An alarm before the retry is due does nothing, even past the lease.
        assert_eq!(s.on_alarm(due - 1, &fresh(200)), []);
        assert_eq!(s.wake.as_ref().unwrap().id, "w_1");
        now = due;
        assert_eq!(s.on_alarm(now, &fresh(300)), [Effect::Deliver { wake_id: "w_1".into() }]);
    }
    assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    assert_eq!(s.generation, 1);
    // An attempt that never reports back is retried after its time limit.
    let limit = s.next_alarm().unwrap();
    assert_eq!(limit - now, 2 * DELIVERY_TIMEOUT_MS as i64);
    // The receiver answers at last, without done: the lease runs from now.
    assert_eq!(s.delivered("w_1", DeliveryOutcome::Accepted, now, &fresh(400)), []);
    assert_eq!((s.status(), s.next_alarm()), ("active", Some(now + 1000)));
    // Nobody calls back: the lease ends and, with data still pending, a new wake goes out.
    assert_eq!(s.on_alarm(now + 1000, &fresh(500)), [Effect::Deliver { wake_id: "w_500".into() }]);
    assert_eq!(s.generation, 2);
}

#[test]
fn jitter_spreads_retries_by_a_fifth() {
    let mut s = webhook();
    s.on_append("events/a", &offset(1), Some(ZERO_OFFSET), 0, &fresh(1));
    s.delivered("w_1", DeliveryOutcome::Failed, 0, &Fresh { wake_id: "x".into(), jitter: 1.0 });
    assert_eq!(s.next_alarm(), Some(1_200));
    let mut t = webhook();
    t.on_append("events/a", &offset(1), Some(ZERO_OFFSET), 0, &fresh(1));
    t.delivered("w_1", DeliveryOutcome::Failed, 0, &Fresh { wake_id: "x".into(), jitter: -1.0 });
    assert_eq!(t.next_alarm(), Some(800));
}

#[test]
fn callbacks_ack_and_stale_ones_are_fenced() {
    let mut s = webhook();
    s.on_append("events/a", &offset(3), Some(ZERO_OFFSET), 0, &fresh(1));
    s.delivered("w_1", DeliveryOutcome::Accepted, 5, &fresh(2));
    let done = report(&s, &[("events/a", offset(3))], true);
    // A report that is not done extends the lease.
    let partial = report(&s, &[("events/a", offset(2))], false);
    assert_eq!(s.report(1, "w_1", &partial, 500, &fresh(3)).unwrap(), (false, Vec::new()));
    assert_eq!(s.next_alarm(), Some(1500));
    assert_eq!(s.report(1, "w_1", &done, 600, &fresh(4)).unwrap(), (false, Vec::new()));
    assert_eq!(s.links["events/a"].acked, offset(3));
    let replay = s.report(1, "w_1", &done, 700, &fresh(5)).unwrap_err();
    assert_eq!(replay.code(), ErrorCode::Fenced);
}

#[test]
fn bad_acks_change_nothing() {
    let mut s = webhook();
    s.on_append("events/a", &offset(3), Some(ZERO_OFFSET), 0, &fresh(1));
    let before = s.clone();
    for acks in [
        vec![("events/zzz", offset(1))],
        vec![("events/a", offset(4))],
        vec![("events/a", "-1".to_owned())],
        vec![("events/a", "nonsense".to_owned())],
        vec![("events/a", offset(2)), ("events/a", offset(9))],
    ] {
        let r = report(&s, &acks, true);
        assert_eq!(s.report(1, "w_1", &r, 1, &fresh(2)).unwrap_err().code(), ErrorCode::InvalidAck);
        assert_eq!(s, before);
    }
    // Fencing: the token's and the report's generation and wake must all be current.
    let mut stale = report(&s, &[], true);
    stale.generation = Some(0);
    assert_eq!(s.report(1, "w_1", &stale, 1, &fresh(2)).unwrap_err().code(), ErrorCode::Fenced);
    let good = report(&s, &[], true);
    assert_eq!(s.report(0, "w_1", &good, 1, &fresh(2)).unwrap_err().code(), ErrorCode::Fenced);
    assert_eq!(s.report(1, "w_0", &good, 1, &fresh(2)).unwrap_err().code(), ErrorCode::Fenced);
    assert_eq!(s, before);
}

#[test]
fn pull_wake_claims_are_leased_to_one_worker() {
    let mut p = pull();
    let (_, effects) = p.on_append("events/x", &offset(2), Some(ZERO_OFFSET), 100, &fresh(1));
    let event = serde_json::json!({"type": "wake", "subscription_id": "p", "stream": "events/x", "generation": 1, "ts": 100});
    assert_eq!(effects, [Effect::WriteWake { wake_stream: "events/wake".into(), event }]);
    // No lease until a worker claims.
    assert_eq!(p.next_alarm(), None);
    let claimed = p.claim("w1", 200, &fresh(2)).unwrap();
    assert_eq!(claimed, Claimed { wake_id: "w_1".into(), generation: 1 });
    match p.claim("w2", 300, &fresh(3)).unwrap_err() {
        ProtocolError::AlreadyClaimed { holder, generation } => {
            assert_eq!((holder.as_str(), generation), ("w1", 1))
        }
        other => panic!("{other:?}"),
    }
    let ack = report(&p, &[("events/x", offset(2))], true);
    assert_eq!(p.report(1, "w_1", &ack, 400, &fresh(4)).unwrap(), (false, Vec::new()));
    assert_eq!(p.claim("w2", 450, &fresh(5)).unwrap_err().code(), ErrorCode::NoPendingWork);
    // A new append writes a new wake event; a claim takes it; a release gives it back,
    // and with work still pending a fresh wake goes out.
    let (_, effects) = p.on_append("events/x", &offset(4), None, 500, &fresh(6));
    assert!(matches!(&effects[..], [Effect::WriteWake { .. }]));
    let claimed = p.claim("w1", 600, &fresh(7)).unwrap();
    assert_eq!(claimed.generation, 2);
    let release = report(&p, &[], false);
    let effects = p.release(2, &claimed.wake_id, &release, 700, &fresh(8)).unwrap();
    assert!(matches!(&effects[..], [Effect::WriteWake { .. }]));
    assert_eq!(p.generation, 3);
    assert_eq!(
        p.release(2, &claimed.wake_id, &release, 800, &fresh(9)).unwrap_err().code(),
        ErrorCode::Fenced
    );
}

#[test]
fn an_abandoned_claim_expires_and_another_worker_gets_the_work() {
    let mut p = pull();
    p.on_append("events/x", &offset(2), Some(ZERO_OFFSET), 0, &fresh(1));
    p.claim("w1", 0, &fresh(2)).unwrap();
    assert_eq!(p.next_alarm(), Some(1000));
    let effects = p.on_alarm(1000, &fresh(3));
    assert!(matches!(&effects[..], [Effect::WriteWake { .. }]));
    let claimed = p.claim("w2", 1001, &fresh(4)).unwrap();
    assert_eq!((claimed.wake_id.as_str(), claimed.generation), ("w_3", 2));
    // The first worker's old token is fenced now.
    let old = WakeReport { wake_id: Some("w_1".into()), generation: Some(1), acks: Vec::new(), done: true };
    assert_eq!(p.report(1, "w_1", &old, 1002, &fresh(5)).unwrap_err().code(), ErrorCode::Fenced);
    // Only pull-wake subscriptions are claimed.
    assert_eq!(webhook().claim("w", 0, &fresh(1)).unwrap_err().code(), ErrorCode::InvalidSubscription);
}

#[test]
fn explicit_links_come_and_go_and_glob_links_stay() {
    let c = config(serde_json::json!({
        "type": "webhook", "pattern": "events/*", "streams": ["manual/a"], "webhook": {"url": "http://127.0.0.1:1/h"},
    }));
    let mut s = Subscription::new("s".into(), c, "http://h/v1/stream".into(), 0);
    // manual/a does not exist yet: linked with nothing acknowledged.
    s.backfill(&[]);
    assert!(s.links["manual/a"].explicit);
    assert_eq!(s.links["manual/a"].acked, ZERO_OFFSET);
    s.add_explicit(&["manual/b".into(), "events/e".into(), "manual/a".into()]);
    // Streams that exist are linked at their tails: adding them replays nothing.
    s.backfill(&[("manual/b".into(), offset(4)), ("events/e".into(), offset(2))]);
    assert_eq!((s.links["manual/b"].acked.clone(), s.pending()), (offset(4), false));
    assert!(s.links["events/e"].glob && s.links["events/e"].explicit);
    s.remove_explicit("manual/b");
    s.remove_explicit("events/e");
    s.remove_explicit("never/linked");
    assert!(!s.links.contains_key("manual/b"));
    assert!(s.links["events/e"].glob && !s.links["events/e"].explicit);
    assert_eq!(s.config.streams, ["manual/a"]);
    // A later append to the explicit stream that did not exist wakes with all its data.
    let (linked, effects) = s.on_append("manual/a", &offset(3), Some(ZERO_OFFSET), 0, &fresh(1));
    assert!(linked && effects.len() == 1);
    assert_eq!(s.action_url("callback"), "http://h/v1/stream/__ds/subscriptions/s/callback");
}

#[test]
fn a_deleted_stream_loses_its_pattern_link_and_keeps_its_explicit_one() {
    let c = config(serde_json::json!({
        "type": "webhook", "pattern": "events/*", "streams": ["events/kept"], "webhook": {"url": "http://127.0.0.1:1/h"},
    }));
    let mut s = Subscription::new("s".into(), c, "http://h/v1/stream".into(), 0);
    s.backfill(&[("events/gone".into(), offset(5)), ("events/kept".into(), offset(7))]);
    assert!(!s.on_deleted("events/gone"));
    assert!(!s.links.contains_key("events/gone"));
    assert!(s.on_deleted("events/kept"));
    assert_eq!(
        (s.links["events/kept"].acked.as_str(), s.links["events/kept"].tail.as_str()),
        (ZERO_OFFSET, ZERO_OFFSET)
    );
    assert!(!s.on_deleted("never/linked"));
    // Created again, the stream is linked from its first byte.
    let (linked, effects) = s.on_append("events/gone", &offset(2), Some(ZERO_OFFSET), 0, &fresh(1));
    assert!(linked && effects.len() == 1);
    assert_eq!(s.links["events/gone"].acked, ZERO_OFFSET);
}
