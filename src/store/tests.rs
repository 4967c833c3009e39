//! Store tests against a real (in-memory) SQLite database.

use super::sql::native::NativeSql;
use super::*;
use crate::protocol::expiry::Expiry;
use crate::protocol::producer::Producer;

fn store() -> Store<NativeSql> {
    Store::open(NativeSql::new()).unwrap()
}

fn new_stream(content_type: &str, body: &[u8]) -> NewStream {
    NewStream {
        stream_id: "s".into(),
        content_type: content_type.into(),
        expiry: Expiry::None,
        expiry_inherited: false,
        closed: false,
        fork: None,
        prefix: Vec::new(),
        body: body.to_vec(),
        read_seq_base: 0,
        public: false,
        reader_key: None,
    }
}

fn live(s: &Store<NativeSql>) -> Meta {
    match s.state().unwrap() {
        State::Live(m) => m,
        other => panic!("expected a live stream, got {other:?}"),
    }
}

fn post(ct: &str, body: &[u8]) -> Append {
    Append { content_type: Some(ct.into()), body: body.to_vec(), ..Append::default() }
}

fn producer(epoch: u64, seq: u64) -> Option<Producer> {
    Some(Producer { id: "p".into(), epoch, seq })
}

/// The hot log's bytes of `m` in `span`, read as the stream object reads them.
fn read(s: &Store<NativeSql>, m: &Meta, span: Span) -> Vec<u8> {
    let mut reader = rows::RangeRead::new(span.ending_by(m.tail), m.is_json());
    s.feed_hot(&mut reader).unwrap();
    reader.finish().bytes
}

fn all(s: &Store<NativeSql>) -> Vec<u8> {
    let m = live(s);
    read(s, &m, Span::page(0, m.tail, usize::MAX))
}

#[test]
fn create_stores_the_initial_body_and_appends_follow() {
    let s = store();
    let m = s.create(new_stream("text/plain", b"hello"), 1).unwrap();
    assert_eq!((m.tail, m.incarnation), (5, 1));
    let out = s.append(&m, &post("text/plain", b" world"), 2).unwrap();
    assert_eq!(out, AppendOutcome::Written { tail: 11, closed: false, data: true, messages: 1 });
    assert_eq!(all(&s), b"hello world");
}

#[test]
fn appends_need_a_body_a_type_and_the_stream_type() {
    let s = store();
    let m = s.create(new_stream("text/plain", b""), 1).unwrap();
    assert_eq!(s.append(&m, &Append::default(), 2).unwrap_err().code().as_str(), "EMPTY_BODY");
    let untyped = Append { body: b"x".to_vec(), ..Append::default() };
    assert_eq!(s.append(&m, &untyped, 2).unwrap_err().status(), 400);
    assert_eq!(s.append(&m, &post("application/json", b"1"), 2).unwrap_err().status(), 409);
    assert!(s.append(&m, &post("TEXT/PLAIN; charset=utf-8", b"x"), 2).is_ok());
}

#[test]
fn json_appends_are_validated_and_flattened() {
    let s = store();
    let m = s.create(new_stream("application/json", b""), 1).unwrap();
    assert_eq!(
        s.append(&m, &post("application/json", b"[]"), 2).unwrap_err().code().as_str(),
        "EMPTY_JSON_ARRAY"
    );
    assert_eq!(s.append(&m, &post("application/json", b"{"), 2).unwrap_err().code().as_str(), "INVALID_JSON");
    s.append(&m, &post("application/json", b"[1, [2]]"), 2).unwrap();
    assert_eq!(all(&s), b"1,[2],");
}

#[test]
fn stream_seq_must_increase_bytewise() {
    let s = store();
    let m = s.create(new_stream("text/plain", b""), 1).unwrap();
    let with_seq = |seq: &str| Append { stream_seq: Some(seq.into()), ..post("text/plain", b"x") };
    s.append(&m, &with_seq("2"), 2).unwrap();
    let m = live(&s);
    assert_eq!(s.append(&m, &with_seq("10"), 3).unwrap_err().code().as_str(), "SEQ_REGRESSION");
    assert_eq!(s.append(&m, &with_seq("2"), 3).unwrap_err().code().as_str(), "SEQ_REGRESSION");
    s.append(&m, &with_seq("3"), 3).unwrap();
}

#[test]
fn producers_are_fenced_and_retries_deduplicated() {
    let s = store();
    let m = s.create(new_stream("text/plain", b""), 1).unwrap();
    let send = |epoch, seq, body: &[u8]| {
        let m = live(&s);
        s.append(&m, &Append { producer: producer(epoch, seq), ..post("text/plain", body) }, 2)
    };
    send(0, 0, b"a").unwrap();
    send(0, 1, b"b").unwrap();
    let dup = send(0, 0, b"a").unwrap();
    assert_eq!(dup, AppendOutcome::Duplicate { tail: 2, closed: false, epoch: 0, last_seq: 1 });
    assert_eq!(send(0, 5, b"x").unwrap_err(), ProtocolError::ProducerSeqGap { expected: 2, received: 5 });
    send(1, 0, b"c").unwrap();
    assert_eq!(send(0, 2, b"x").unwrap_err(), ProtocolError::StaleProducerEpoch { current: 1 });
    assert_eq!(send(2, 3, b"x").unwrap_err().status(), 400);
    assert_eq!(all(&s), b"abc");
    let _ = m;
}

#[test]
fn a_duplicate_producer_retry_wins_over_a_stream_seq_conflict() {
    let s = store();
    s.create(new_stream("text/plain", b""), 1).unwrap();
    let req = Append { producer: producer(0, 0), stream_seq: Some("1".into()), ..post("text/plain", b"a") };
    s.append(&live(&s), &req, 2).unwrap();
    assert!(matches!(s.append(&live(&s), &req, 3).unwrap(), AppendOutcome::Duplicate { .. }));
}

#[test]
fn closing_is_final_and_idempotent() {
    let s = store();
    s.create(new_stream("text/plain", b"a"), 1).unwrap();
    let close = Append { close: true, ..Append::default() };
    let out = s.append(&live(&s), &close, 2).unwrap();
    assert_eq!(out, AppendOutcome::Written { tail: 1, closed: true, data: false, messages: 0 });
    assert_eq!(s.append(&live(&s), &close, 3).unwrap(), out);
    let err = s.append(&live(&s), &post("text/plain", b"b"), 3).unwrap_err();
    assert_eq!(err, ProtocolError::StreamClosed { next_offset: crate::protocol::Offset::new(1) });
    let append_and_close = Append { close: true, ..post("text/plain", b"b") };
    assert_eq!(s.append(&live(&s), &append_and_close, 3).unwrap_err().status(), 409);
}

#[test]
fn a_producers_closing_retry_is_recognised_even_with_a_different_body() {
    let s = store();
    s.create(new_stream("text/plain", b""), 1).unwrap();
    let close = |body: &[u8]| Append { close: true, producer: producer(0, 0), ..post("text/plain", body) };
    s.append(&live(&s), &close(b"final"), 2).unwrap();
    let retry = s.append(&live(&s), &close(b"other"), 3).unwrap();
    assert_eq!(retry, AppendOutcome::Duplicate { tail: 5, closed: true, epoch: 0, last_seq: 0 });
    let other = Append { close: true, producer: producer(0, 1), ..Append::default() };
    assert_eq!(s.append(&live(&s), &other, 3).unwrap_err().status(), 409);
    assert_eq!(all(&s), b"final");
}

#[test]
fn sliding_ttl_expires_exactly_at_the_deadline_and_touch_extends_it() {
    let s = store();
    let mut n = new_stream("text/plain", b"");
    n.expiry = Expiry::Ttl(2);
    s.create(n, 1_000).unwrap();
    assert!(matches!(s.current(2_999).unwrap(), (State::Live(_), None)));
    s.touch(&live(&s), 2_500).unwrap();
    assert!(matches!(s.current(4_499).unwrap(), (State::Live(_), None)));
    let (state, expired) = s.current(4_500).unwrap();
    assert_eq!(state, State::Missing);
    assert_eq!(expired.map(|e| e.0), Some(Removal::Purged { release: None, segments: vec![] }));
    assert_eq!(s.state().unwrap(), State::Missing);
}

#[test]
fn an_expired_stream_with_forks_is_retained() {
    let s = store();
    let mut n = new_stream("text/plain", b"x");
    n.expiry = Expiry::At(10);
    s.create(n, 1).unwrap();
    s.add_fork().unwrap();
    let (state, removal) = s.current(10).unwrap();
    assert!(matches!(state, State::Gone(ref m) if m.deleted));
    assert_eq!(removal.map(|r| r.0), Some(Removal::Retained));
}

#[test]
fn a_stream_with_forks_is_retained_until_its_last_fork_goes() {
    let s = store();
    let m = s.create(new_stream("text/plain", b"abc"), 1).unwrap();
    s.add_fork().unwrap();
    s.add_fork().unwrap();
    assert_eq!(s.remove(&live(&s)).unwrap(), Removal::Retained);
    let State::Gone(gone) = s.state().unwrap() else { panic!("not retained") };
    assert_eq!(read(&s, &gone, Span::page(0, gone.tail, 10)), b"abc");
    assert_eq!(s.release_fork(m.incarnation).unwrap(), None);
    assert_eq!(
        s.release_fork(m.incarnation).unwrap(),
        Some(Removal::Purged { release: None, segments: vec![] })
    );
    assert_eq!(s.state().unwrap(), State::Missing);
}

#[test]
fn a_new_incarnation_follows_a_delete() {
    let s = store();
    let m1 = s.create(new_stream("text/plain", b"old"), 1).unwrap();
    s.remove(&m1).unwrap();
    let m2 = s.create(new_stream("text/plain", b"new"), 2).unwrap();
    assert_ne!(m1.incarnation, m2.incarnation);
    assert_eq!(all(&s), b"new");
    assert_eq!(s.release_fork(m1.incarnation).unwrap(), None, "stale releases are ignored");
}

#[test]
fn forks_store_only_their_own_bytes_from_the_fork_point() {
    let s = store();
    let mut n = new_stream("text/plain", b"XY");
    n.fork = Some(ForkOrigin { source: "src".into(), offset: 10, sub_offset: 3, source_incarnation: 1 });
    n.prefix = b"hel".to_vec();
    let m = s.create(n, 1).unwrap();
    assert_eq!((m.own_start(), m.tail), (10, 15));
    assert_eq!(read(&s, &m, Span::page(10, m.tail, 100)), b"helXY");
    let mut record = rows::RecordRead::new(10, m.tail, false);
    s.feed_hot(&mut record).unwrap();
    assert_eq!(record.finish().unwrap(), b"hel");
}

#[test]
fn create_requests_match_only_the_same_configuration() {
    let s = store();
    let mut n = new_stream("text/plain", b"");
    n.expiry = Expiry::Ttl(60);
    let m = s.create(n, 1).unwrap();
    let same = CreateRequest {
        content_type: Some("TEXT/PLAIN".into()),
        expiry: Expiry::Ttl(60),
        ..Default::default()
    };
    assert!(same.check_matches(&m).is_ok());
    let other_ttl = CreateRequest { expiry: Expiry::Ttl(61), ..same.clone() };
    assert!(other_ttl.check_matches(&m).is_err());
    let other_type = CreateRequest { content_type: Some("application/json".into()), ..same.clone() };
    assert!(other_type.check_matches(&m).is_err());
    let public = CreateRequest { public: true, ..same.clone() };
    assert_eq!(public.check_matches(&m).unwrap_err().status(), 409);
    let closed = CreateRequest { closed: true, ..same };
    assert!(closed.check_matches(&m).is_err());
}

#[test]
fn access_settings_are_stored_and_the_reader_key_can_change() {
    let s = store();
    let mut n = new_stream("text/plain", b"x");
    n.reader_key = Some("rk_first".into());
    let m = s.create(n, 1).unwrap();
    assert_eq!(live(&s).reader_key.as_deref(), Some("rk_first"));
    let rotated = s.set_reader_key(&m, "rk_second").unwrap();
    assert_eq!(live(&s), rotated);
    assert_eq!(rotated.reader_key.as_deref(), Some("rk_second"));
    let p = store();
    let mut n = new_stream("text/plain", b"");
    n.public = true;
    p.create(n, 1).unwrap();
    assert!(live(&p).public && live(&p).reader_key.is_none());
}

#[test]
fn large_appends_span_rows_and_read_back_whole() {
    let s = store();
    let m = s.create(new_stream("application/octet-stream", b""), 1).unwrap();
    let big: Vec<u8> = (0..(log::ROW_BYTES * 2 + 17)).map(|i| (i % 251) as u8).collect();
    s.append(&m, &post("application/octet-stream", &big), 2).unwrap();
    assert_eq!(all(&s), big);
}

#[test]
fn a_rotation_takes_the_hot_log_and_its_segment_is_listed() {
    let s = store();
    let m = s.create(new_stream("text/plain", b"hello"), 1).unwrap();
    let m = match s.append(&m, &post("text/plain", b" world"), 2).unwrap() {
        AppendOutcome::Written { .. } => live(&s),
        other => panic!("expected a write, got {other:?}"),
    };
    let limits = SegmentLimits { max_messages: 1, max_bytes: 1 };
    let plan = s.plan_rotation(&m, &limits).unwrap().unwrap();
    assert_eq!((plan.start, plan.end, plan.rows), (0, 11, 2));
    let segment = segment::decode(&plan.object, 0, 11).unwrap();
    assert_eq!(segment.rows.iter().flat_map(|r| r.body.clone()).collect::<Vec<u8>>(), b"hello world");
    assert!(s.commit_rotation(&plan, 3).unwrap());
    let indexed = SegmentInfo { read_seq: 0, start: 0, end: 11, key: plan.key.clone() };
    assert_eq!(s.segments_between(4, 5).unwrap(), vec![indexed]);
    assert!(s.segments_between(11, 20).unwrap().is_empty());
    assert_eq!(s.segment_keys().unwrap(), vec![plan.key]);
}

/// A database whose every query answers one row with a single value, as a damaged or
/// mismatched table would.
struct ShortRows;

impl Sql for ShortRows {
    fn execute(&self, _: &str, _: &[Value]) -> Result<(), StorageError> {
        Ok(())
    }

    fn query(
        &self,
        _: &str,
        _: &[Value],
        row: &mut dyn FnMut(&mut [Value]) -> bool,
    ) -> Result<(), StorageError> {
        row(&mut [Value::Integer(1)]);
        Ok(())
    }

    fn transaction(&self, body: &mut dyn FnMut() -> Result<(), StorageError>) -> Result<(), StorageError> {
        body()
    }
}

#[test]
fn short_rows_are_storage_errors_not_panics() {
    let s = Store::open(ShortRows).unwrap();
    assert!(s.state().is_err());
    assert!(producers::load(s.sql(), "p").is_err());
    assert!(s.segments_between(0, 10).is_err());
    assert!(s.segment_keys().is_err());
    assert!(s.segment_entries().is_err());
    assert!(s.producers(10).is_err());
    let mut reader = rows::RangeRead::new(Span::page(0, 10, 100), false);
    assert!(s.feed_hot(&mut reader).is_err());
    assert!(log::rows(s.sql(), 0, 10).is_err());
}

#[test]
fn producers_are_listed_by_id_up_to_the_limit() {
    let s = store();
    let mut m = s.create(new_stream("text/plain", b""), 1).unwrap();
    for (id, at) in [("b", 5), ("a", 6), ("c", 7)] {
        let p = Producer { id: id.into(), epoch: 1, seq: 0 };
        s.append(&m, &Append { producer: Some(p), ..post("text/plain", b"x") }, at).unwrap();
        m = live(&s);
    }
    let listed = s.producers(10).unwrap();
    let ids: Vec<&str> = listed.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    let a = &listed[0];
    assert_eq!((a.stored.state.epoch, a.stored.state.last_seq, a.stored.tail, a.updated_at), (1, 0, 2, 6));
    assert_eq!(s.producers(2).unwrap().len(), 2);
}

#[test]
fn listed_offsets_are_the_offsets_reads_hand_out() {
    let s = store();
    let mut base = new_stream("text/plain", b"hello");
    base.read_seq_base = 3;
    let mut m = s.create(base, 1).unwrap();
    let limits = SegmentLimits { max_messages: 1, max_bytes: 1 };
    for (at, body) in [(2, &b" wor"[..]), (3, b"ld"), (4, b"!")] {
        let plan = s.plan_rotation(&m, &limits).unwrap().unwrap();
        assert!(s.commit_rotation(&plan, at).unwrap());
        s.append(&live(&s), &post("text/plain", body), at).unwrap();
        m = live(&s);
    }
    let entries = s.segment_entries().unwrap();
    let spans: Vec<(u64, u64, u64, i64)> =
        entries.iter().map(|e| (e.info.read_seq, e.info.start, e.info.end, e.created_at)).collect();
    assert_eq!(spans, [(0, 0, 5, 2), (1, 5, 9, 3), (2, 9, 11, 4)]);
    assert_eq!(entries[1].rows, 1);
    let offsets = Offsets::new(&m, &entries);
    for pos in 0..=m.tail {
        assert_eq!(offsets.of(pos), s.offset(&m, pos).unwrap(), "position {pos}");
    }
}
