//! The service end to end, natively: real SQLite, a virtual clock, and stream objects
//! that call each other in process, through the same internal-call codec as in
//! production.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use futures_executor::block_on;
use futures_util::future::LocalBoxFuture;

use super::host::{ColdStore, Subscriber};
use super::internal::{decode_reply, Call, CallReply};
use super::subscribers::SubscriberState;
use super::*;
use crate::engine::sql::native::NativeSql;
use crate::protocol::headers as h;

type Svc = StreamService<NativeSql, TestHost>;

/// A set of stream objects sharing one virtual clock.
struct World {
    config: Config,
    now: Cell<i64>,
    objects: RefCell<HashMap<String, Rc<Svc>>>,
    alarms: RefCell<Vec<(String, i64)>>,
    /// Inherited-data reads between objects.
    reads: Cell<usize>,
    /// Work spawned to run after the current request.
    tasks: RefCell<Vec<LocalBoxFuture<'static, ()>>>,
    /// Each object's SSE subscribers.
    subscribers: RefCell<HashMap<String, Vec<Rc<FakeSubscriber>>>>,
    /// Cold segment objects, shared by all objects as one bucket.
    bucket: Rc<MemoryBucket>,
    /// Segments committed, as `(stream, read_seq)`.
    committed: RefCell<Vec<(String, u64)>>,
    /// Errors the objects logged.
    errors: RefCell<Vec<String>>,
}

impl Drop for World {
    fn drop(&mut self) {
        let unexpected: Vec<_> =
            self.errors.borrow().iter().filter(|e| !e.contains("segment")).cloned().collect();
        if !std::thread::panicking() {
            assert!(unexpected.is_empty(), "errors were logged: {unexpected:?}");
        }
    }
}

/// Object storage in memory.
#[derive(Default)]
struct MemoryBucket {
    objects: RefCell<HashMap<String, Vec<u8>>>,
}

impl ColdStore for MemoryBucket {
    fn put<'a>(&'a self, key: &'a str, object: Vec<u8>) -> LocalBoxFuture<'a, Result<(), ProtocolError>> {
        self.objects.borrow_mut().insert(key.to_owned(), object);
        Box::pin(async { Ok(()) })
    }

    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<Vec<u8>>, ProtocolError>> {
        let object = self.objects.borrow().get(key).cloned();
        Box::pin(async move { Ok(object) })
    }

    fn delete(&self, keys: Vec<String>) -> LocalBoxFuture<'_, Result<(), ProtocolError>> {
        for k in keys {
            self.objects.borrow_mut().remove(&k);
        }
        Box::pin(async { Ok(()) })
    }
}

/// An SSE subscriber that records what it is sent.
#[derive(Default)]
struct FakeSubscriber {
    state: RefCell<Option<SubscriberState>>,
    sent: RefCell<Vec<String>>,
    closed: Cell<Option<u16>>,
}

impl Subscriber for Rc<FakeSubscriber> {
    fn state(&self) -> Option<SubscriberState> {
        self.state.borrow().clone()
    }

    fn save(&self, state: &SubscriberState) {
        *self.state.borrow_mut() = Some(state.clone());
    }

    fn send(&self, chunk: &[u8]) -> bool {
        self.sent.borrow_mut().push(String::from_utf8(chunk.to_vec()).unwrap());
        self.closed.get().is_none()
    }

    fn close(&self, code: u16, _reason: &str) {
        self.closed.set(Some(code));
    }
}

struct TestHost {
    world: Weak<World>,
    me: String,
    bucket: Rc<MemoryBucket>,
}

impl Host for TestHost {
    type Subscriber = Rc<FakeSubscriber>;

    fn now_ms(&self) -> i64 {
        self.world.upgrade().map_or(0, |w| w.now.get())
    }

    /// Virtual time: sleeping advances the clock and returns at once.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        if let Some(w) = self.world.upgrade() {
            w.now.set(w.now.get() + ms as i64);
        }
        Box::pin(async {})
    }

    fn call<'a>(
        &'a self,
        stream_id: &'a str,
        call: Call,
    ) -> LocalBoxFuture<'a, Result<CallReply, ProtocolError>> {
        Box::pin(async move {
            let world = self.world.upgrade().ok_or_else(|| ProtocolError::internal("world gone"))?;
            if matches!(call, Call::Read { .. }) {
                world.reads.set(world.reads.get() + 1);
            }
            let target = World::object(&world, stream_id);
            let (path, body) = call.encode();
            let reply = target
                .handle(Request::new(Method::Post, format!("https://stream.internal{path}")).with_body(body))
                .await;
            let reply = Reply { body: Body::Bytes(bytes(reply.body)), ..reply };
            decode_reply(&call, reply)
        })
    }

    fn spawn(&self, task: LocalBoxFuture<'static, ()>) {
        if let Some(w) = self.world.upgrade() {
            w.tasks.borrow_mut().push(task);
        }
    }

    fn subscribers(&self) -> Vec<Rc<FakeSubscriber>> {
        let Some(w) = self.world.upgrade() else { return Vec::new() };
        let subs = w.subscribers.borrow();
        subs.get(&self.me)
            .map(|v| v.iter().filter(|s| s.closed.get().is_none()).cloned().collect())
            .unwrap_or_default()
    }

    fn cold(&self) -> Option<&dyn ColdStore> {
        Some(&*self.bucket)
    }

    fn segment_committed(&self, stream_id: &str, segment: &crate::engine::Rotation) {
        if let Some(w) = self.world.upgrade() {
            w.committed.borrow_mut().push((stream_id.to_owned(), segment.read_seq));
        }
    }

    fn segments_deleted(&self, _keys: &[String]) {}

    fn schedule_alarm(&self, at_ms: i64) {
        if let Some(w) = self.world.upgrade() {
            w.alarms.borrow_mut().push((self.me.clone(), at_ms));
        }
    }

    fn log_error(&self, message: &str) {
        if let Some(w) = self.world.upgrade() {
            w.errors.borrow_mut().push(format!("{}: {message}", self.me));
        }
    }
}

fn bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Bytes(b) => b,
        _ => Vec::new(),
    }
}

fn config() -> Config {
    Config { max_chunk_bytes: 8, ..Config::default() }
}

/// A configuration that cuts a segment every `n` messages.
fn segments_every(n: u64) -> Config {
    Config { segments: crate::engine::SegmentLimits { max_messages: n, max_bytes: 1 << 20 }, ..config() }
}

impl World {
    fn empty(config: Config) -> Self {
        World {
            config,
            now: Cell::new(0),
            objects: RefCell::default(),
            alarms: RefCell::default(),
            reads: Cell::new(0),
            tasks: RefCell::default(),
            subscribers: RefCell::default(),
            bucket: Rc::default(),
            committed: RefCell::default(),
            errors: RefCell::default(),
        }
    }

    fn new() -> Rc<Self> {
        World::with(config())
    }

    fn with(config: Config) -> Rc<Self> {
        let w = World::empty(config);
        w.now.set(1_000_000);
        Rc::new(w)
    }

    fn object(world: &Rc<World>, id: &str) -> Rc<Svc> {
        let mut objects = world.objects.borrow_mut();
        Rc::clone(objects.entry(id.to_owned()).or_insert_with(|| {
            let host =
                TestHost { world: Rc::downgrade(world), me: id.to_owned(), bucket: Rc::clone(&world.bucket) };
            StreamService::new(NativeSql::new(), host, world.config.clone()).expect("open")
        }))
    }

    fn send(
        world: &Rc<World>,
        method: Method,
        id: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut req =
            Request::new(method, format!("http://h{}?{query}", crate::protocol::path::stream_path(id)));
        for (k, v) in headers {
            req = req.with_header(k, *v);
        }
        let svc = World::object(world, id);
        let reply = block_on(svc.handle(req.with_body(body.to_vec())));
        World::run_tasks(world);
        reply
    }

    /// Runs the work requests left behind, until there is none.
    fn run_tasks(world: &Rc<World>) {
        loop {
            let task = world.tasks.borrow_mut().pop();
            match task {
                Some(t) => block_on(t),
                None => return,
            }
        }
    }

    /// Opens an SSE read and connects a subscriber for it.
    fn subscribe(world: &Rc<World>, id: &str, query: &str) -> Rc<FakeSubscriber> {
        let reply = World::get(world, id, query);
        let Body::Subscribe(state) = reply.body else { panic!("not an SSE reply: {reply:?}") };
        let sub = Rc::new(FakeSubscriber { state: RefCell::new(Some(state)), ..Default::default() });
        world.subscribers.borrow_mut().entry(id.to_owned()).or_default().push(Rc::clone(&sub));
        World::object(world, id).attach(Rc::clone(&sub));
        World::run_tasks(world);
        sub
    }

    fn put(world: &Rc<World>, id: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        World::send(world, Method::Put, id, "", headers, body.as_bytes())
    }

    fn post(world: &Rc<World>, id: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        World::send(world, Method::Post, id, "", headers, body.as_bytes())
    }

    fn get(world: &Rc<World>, id: &str, query: &str) -> Reply {
        World::send(world, Method::Get, id, query, &[], b"")
    }

    /// Follows `Stream-Next-Offset` from the start to the tail.
    fn read_all(world: &Rc<World>, id: &str) -> (String, usize) {
        let mut out = String::new();
        let mut offset = "-1".to_owned();
        for pages in 1.. {
            let r = World::get(world, id, &format!("offset={offset}"));
            assert_eq!(r.status, 200, "read {id}");
            offset = r.get(h::STREAM_NEXT_OFFSET).unwrap().to_owned();
            let done = r.get(h::STREAM_UP_TO_DATE) == Some("true");
            out.push_str(&String::from_utf8(bytes(r.body)).unwrap());
            if done {
                return (out, pages);
            }
        }
        unreachable!()
    }
}

const TEXT: (&str, &str) = ("Content-Type", "text/plain");

#[test]
fn create_append_and_read_in_capped_pages() {
    let w = World::new();
    assert_eq!(World::put(&w, "s", &[TEXT], "hello").status, 201);
    assert_eq!(World::put(&w, "s", &[TEXT], "").status, 200);
    assert_eq!(World::post(&w, "s", &[TEXT], " world!").status, 204);
    assert_eq!(World::read_all(&w, "s"), ("hello world!".to_owned(), 2));
}

#[test]
fn fork_reads_stitch_the_chain_one_call_per_ancestor() {
    let w = World::new();
    World::put(&w, "a", &[TEXT], "abc");
    World::post(&w, "a", &[TEXT], "def");
    assert_eq!(World::put(&w, "b", &[(h::STREAM_FORKED_FROM, "/v1/stream/a")], "GH").status, 201);
    World::post(&w, "a", &[TEXT], "zzz");
    let sub = [
        (h::STREAM_FORKED_FROM, "/v1/stream/b"),
        (h::STREAM_FORK_OFFSET, "0000000000000000_0000000000000003"),
        (h::STREAM_FORK_SUB_OFFSET, "2"),
    ];
    assert_eq!(World::put(&w, "c", &sub, "!").status, 201);
    assert_eq!(World::read_all(&w, "b").0, "abcdefGH");
    w.reads.set(0);
    assert_eq!(World::read_all(&w, "c"), ("abcde!".to_owned(), 1));
    assert_eq!(w.reads.get(), 2, "one inherited read per ancestor");
    // Repeating the fork is idempotent; a different sub-offset conflicts.
    assert_eq!(World::put(&w, "c", &sub, "").status, 200);
    let other = [sub[0], sub[1], (h::STREAM_FORK_SUB_OFFSET, "1")];
    assert_eq!(World::put(&w, "c", &other, "").status, 409);
}

#[test]
fn deleting_a_source_with_forks_retains_it_until_the_last_fork_goes() {
    let w = World::new();
    World::put(&w, "src", &[TEXT], "x");
    World::put(&w, "f1", &[(h::STREAM_FORKED_FROM, "/v1/stream/src")], "");
    World::put(&w, "f2", &[(h::STREAM_FORKED_FROM, "/v1/stream/f1")], "");
    assert_eq!(World::send(&w, Method::Delete, "src", "", &[], b"").status, 204);
    assert_eq!(World::send(&w, Method::Delete, "f1", "", &[], b"").status, 204);
    assert_eq!(World::get(&w, "src", "").status, 410);
    assert_eq!(World::read_all(&w, "f2").0, "x");
    assert_eq!(World::send(&w, Method::Delete, "f2", "", &[], b"").status, 204);
    assert_eq!(World::get(&w, "f1", "").status, 404);
    assert_eq!(World::get(&w, "src", "").status, 404);
}

#[test]
fn a_rejected_fork_leaves_no_reference_behind() {
    let w = World::new();
    World::put(&w, "src", &[TEXT], "x");
    let bad = [(h::STREAM_FORKED_FROM, "/v1/stream/src"), ("Content-Type", "application/json")];
    assert_eq!(World::put(&w, "f", &bad, "").status, 409);
    assert_eq!(World::send(&w, Method::Delete, "src", "", &[], b"").status, 204);
    assert_eq!(World::get(&w, "src", "").status, 404);
}

#[test]
fn long_poll_times_out_with_a_cursor_and_returns_data_at_once() {
    let w = World::new();
    let put = World::put(&w, "lp", &[TEXT], "ab");
    let tail = put.get(h::STREAM_NEXT_OFFSET).unwrap().to_owned();
    let waited = World::get(&w, "lp", &format!("offset={tail}&live=long-poll&cursor=5"));
    assert_eq!(waited.status, 204);
    assert_eq!(waited.get(h::STREAM_UP_TO_DATE), Some("true"));
    assert!(waited.get(h::STREAM_CURSOR).unwrap().parse::<u64>().unwrap() > 5);
    let ready = World::get(&w, "lp", "offset=-1&live=long-poll");
    assert_eq!((ready.status, ready.get("Cache-Control")), (200, Some("public, max-age=20")));
    World::post(&w, "lp", &[(h::STREAM_CLOSED, "true")], "");
    let closed = World::get(&w, "lp", &format!("offset={tail}&live=long-poll"));
    assert_eq!(
        (closed.status, closed.get(h::STREAM_CLOSED), closed.get(h::STREAM_CURSOR)),
        (204, Some("true"), None)
    );
}

#[test]
fn sliding_ttl_is_renewed_by_reads_but_not_by_head() {
    let w = World::new();
    World::put(&w, "ttl", &[TEXT, (h::STREAM_TTL, "2")], "");
    w.now.set(w.now.get() + 1500);
    assert_eq!(World::send(&w, Method::Head, "ttl", "", &[], b"").status, 200);
    w.now.set(w.now.get() + 400);
    assert_eq!(World::get(&w, "ttl", "offset=now").status, 200);
    w.now.set(w.now.get() + 1999);
    assert_eq!(World::send(&w, Method::Head, "ttl", "", &[], b"").status, 200);
    w.now.set(w.now.get() + 1);
    assert_eq!(World::send(&w, Method::Head, "ttl", "", &[], b"").status, 404);
    assert_eq!(w.alarms.borrow().first().map(|(id, _)| id.as_str()), Some("ttl"));
}

#[test]
fn an_expiring_fork_released_by_its_alarm_frees_a_deleted_source() {
    let w = World::new();
    World::put(&w, "src", &[TEXT], "x");
    World::put(&w, "f", &[(h::STREAM_FORKED_FROM, "/v1/stream/src"), (h::STREAM_TTL, "1")], "");
    World::send(&w, Method::Delete, "src", "", &[], b"");
    let (id, at) = w.alarms.borrow().last().cloned().unwrap();
    w.now.set(at);
    block_on(World::object(&w, &id).on_alarm());
    assert_eq!(World::send(&w, Method::Head, "src", "", &[], b"").status, 404);
}

#[test]
fn sse_pairs_each_data_event_with_its_control_event() {
    let w = World::new();
    World::put(&w, "sse", &[("Content-Type", "application/json")], r#"[{"a":1}]"#);
    World::post(&w, "sse", &[("Content-Type", "application/json")], r#"{"b":2}"#);
    World::post(&w, "sse", &[(h::STREAM_CLOSED, "true")], "");
    let reply = World::get(&w, "sse", "offset=-1&live=sse");
    assert_eq!(reply.get("Content-Type"), Some("text/event-stream"));
    let sub = World::subscribe(&w, "sse", "offset=-1&live=sse");
    let chunks = sub.sent.borrow().clone();
    // The chunk cap (8 bytes) splits the two messages into two reads; each read is one
    // chunk holding a data event and then its control event.
    assert_eq!(chunks.len(), 2, "{chunks:?}");
    assert!(chunks[0].starts_with("event: data\ndata:[{\"a\":1}]\n\nevent: control\n"));
    assert!(chunks[1].starts_with("event: data\ndata:[{\"b\":2}]\n\nevent: control\n"));
    assert!(!chunks[0].contains("upToDate") && chunks[0].contains("streamCursor"));
    assert!(chunks[1].contains("\"streamClosed\":true") && !chunks[1].contains("streamCursor"));
    assert_eq!(sub.closed.get(), Some(1000));
}

#[test]
fn sse_inside_a_json_message_is_rejected_like_other_reads() {
    let w = World::new();
    World::put(&w, "mid", &[("Content-Type", "application/json")], r#"[{"a":1},{"b":2}]"#);
    let inside = "offset=0000000000000000_0000000000000003";
    for live in ["", "&live=long-poll", "&live=sse"] {
        let reply = World::get(&w, "mid", &format!("{inside}{live}"));
        assert_eq!(reply.status, 400, "{live}");
        assert!(String::from_utf8(bytes(reply.body)).unwrap().contains("INVALID_OFFSET"));
    }
    // The start, a message boundary and the tail are still accepted.
    let boundary = "0000000000000000_0000000000000008";
    let tail =
        World::send(&w, Method::Head, "mid", "", &[], b"").get(h::STREAM_NEXT_OFFSET).unwrap().to_owned();
    for offset in ["-1", "now", boundary, tail.as_str()] {
        let reply = World::get(&w, "mid", &format!("offset={offset}&live=sse"));
        assert!(matches!(reply.body, Body::Subscribe(_)), "{offset}");
    }
}

#[test]
fn subscribers_get_each_append_once_in_order_and_end_on_delete() {
    let w = World::new();
    World::put(&w, "live", &[TEXT], "");
    let at_tail = World::subscribe(&w, "live", "offset=now&live=sse");
    let from_start = World::subscribe(&w, "live", "offset=-1&live=sse");
    assert_eq!(at_tail.sent.borrow().len(), 1, "a reader at the tail gets a control event at once");
    assert!(at_tail.sent.borrow()[0].starts_with("event: control\n"));
    for body in ["one", "two", "three"] {
        World::post(&w, "live", &[TEXT], body);
    }
    for sub in [&at_tail, &from_start] {
        let data: Vec<String> = sub
            .sent
            .borrow()
            .iter()
            .filter_map(|c| {
                c.strip_prefix("event: data\ndata:").map(|d| d.split('\n').next().unwrap().to_owned())
            })
            .collect();
        assert_eq!(data, vec!["one", "two", "three"]);
    }
    World::send(&w, Method::Delete, "live", "", &[], b"");
    assert_eq!((at_tail.closed.get(), from_start.closed.get()), (Some(1000), Some(1000)));
}

#[test]
fn binary_streams_are_sent_base64_and_say_so() {
    let w = World::new();
    World::put(&w, "bin", &[("Content-Type", "application/octet-stream")], "Hello");
    let reply = World::get(&w, "bin", "offset=-1&live=sse");
    assert_eq!(reply.get(h::STREAM_SSE_DATA_ENCODING), Some("base64"));
    let sub = World::subscribe(&w, "bin", "offset=-1&live=sse");
    assert!(sub.sent.borrow()[0].starts_with("event: data\ndata:SGVs"));
}

#[test]
fn producers_get_200_then_204_for_retries() {
    let w = World::new();
    World::put(&w, "p", &[TEXT], "");
    let prod = [TEXT, (h::PRODUCER_ID, "w"), (h::PRODUCER_EPOCH, "0"), (h::PRODUCER_SEQ, "0")];
    let first = World::post(&w, "p", &prod, "a");
    assert_eq!((first.status, first.get(h::PRODUCER_SEQ)), (200, Some("0")));
    let retry = World::post(&w, "p", &prod, "a");
    assert_eq!((retry.status, retry.get(h::STREAM_NEXT_OFFSET)), (204, first.get(h::STREAM_NEXT_OFFSET)));
    assert_eq!(World::read_all(&w, "p").0, "a");
}

/// The keys of a stream's segment objects (the registry stream shares the bucket).
fn objects_of(w: &World, id: &str) -> Vec<String> {
    let prefix = crate::engine::segment::object_prefix(id, 1);
    let mut keys: Vec<String> =
        w.bucket.objects.borrow().keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
    keys.sort();
    keys
}

fn offsets(reply: &Reply) -> String {
    reply.get(h::STREAM_NEXT_OFFSET).unwrap().to_owned()
}

#[test]
fn the_hot_log_is_cut_into_segments_at_the_threshold_and_reads_stitch_across_them() {
    let w = World::with(segments_every(3));
    let first = World::put(&w, "cold", &[TEXT], "aaaa");
    let tail_before = offsets(&first);
    World::post(&w, "cold", &[TEXT], "bbbb");
    assert!(objects_of(&w, "cold").is_empty(), "two records are below the threshold");
    let third = World::post(&w, "cold", &[TEXT], "cccc");
    assert_eq!(objects_of(&w, "cold").len(), 1, "cut exactly at the third record");
    for body in ["dddd", "eeee", "ffff", "gg"] {
        World::post(&w, "cold", &[TEXT], body);
    }
    assert_eq!(objects_of(&w, "cold").len(), 2);
    let indexed: Vec<u64> =
        w.committed.borrow().iter().filter(|(s, _)| s == "cold").map(|(_, n)| *n).collect();
    assert_eq!(indexed, vec![0, 1], "each committed segment is reported for the admin index");
    // 8-byte pages cross from the first segment into the second, then into the hot log.
    assert_eq!(World::read_all(&w, "cold"), ("aaaabbbbccccddddeeeeffffgg".to_owned(), 4));
    // Offsets handed out before a cut denote the same place, spelled the same, after it.
    assert_eq!(tail_before, "0000000000000000_0000000000000004");
    assert_eq!(offsets(&World::get(&w, "cold", "offset=-1")), tail_before.replace("04", "08"));
    assert_eq!(offsets(&third), "0000000000000000_0000000000000012");
    let after_cut = World::get(&w, "cold", &format!("offset={}", offsets(&third)));
    assert_eq!(offsets(&after_cut), "0000000000000001_0000000000000020");
    let resumed = World::get(&w, "cold", "offset=0000000000000000_0000000000000010");
    assert_eq!(
        (resumed.status, bytes(resumed.body)),
        (200, b"ccdddd".to_vec().into_iter().chain(*b"ee").collect::<Vec<u8>>())
    );
}

#[test]
fn json_segments_keep_message_boundaries() {
    let w = World::with(segments_every(2));
    let json = ("Content-Type", "application/json");
    World::put(&w, "cj", &[json], r#"[{"a":1},{"b":2},{"c":3}]"#);
    World::post(&w, "cj", &[json], r#"{"d":4}"#);
    assert!(!objects_of(&w, "cj").is_empty());
    let all = World::get(&w, "cj", "offset=-1");
    assert_eq!(bytes(all.body), br#"[{"a":1}]"#, "an 8-byte cap returns one whole message");
    let mut values = Vec::new();
    let mut offset = "-1".to_owned();
    loop {
        let r = World::get(&w, "cj", &format!("offset={offset}"));
        offset = offsets(&r);
        let done = r.get(h::STREAM_UP_TO_DATE).is_some();
        values.extend(serde_json::from_slice::<Vec<serde_json::Value>>(&bytes(r.body)).unwrap());
        if done {
            break;
        }
    }
    assert_eq!(serde_json::Value::from(values), serde_json::json!([{"a":1},{"b":2},{"c":3},{"d":4}]));
    let inside = World::get(&w, "cj", "offset=0000000000000000_0000000000000003");
    assert_eq!(inside.status, 400, "no read starts inside a message, cold or hot");
}

#[test]
fn a_damaged_segment_fails_only_reads_of_its_range() {
    let w = World::with(segments_every(1));
    World::put(&w, "dmg", &[TEXT], "cold");
    World::post(&w, "dmg", &[TEXT], "more");
    let key = objects_of(&w, "dmg")[0].clone();
    let truncated = {
        let o = w.bucket.objects.borrow();
        o[&key][..o[&key].len() - 1].to_vec()
    };
    w.bucket.objects.borrow_mut().insert(key.clone(), truncated);
    let broken = World::get(&w, "dmg", "offset=-1");
    assert_eq!(broken.status, 500);
    assert!(w.errors.borrow().iter().any(|e| e.contains("truncated")), "the failure is logged");
    assert!(String::from_utf8(bytes(broken.body)).unwrap().contains("SEGMENT_UNREADABLE"));
    assert_eq!(World::post(&w, "dmg", &[TEXT], "x").status, 204, "still writable");
    w.bucket.objects.borrow_mut().remove(&key);
    assert_eq!(World::get(&w, "dmg", "offset=-1").status, 500);
    let later = World::get(&w, "dmg", "offset=0000000000000001_0000000000000004");
    assert_eq!((later.status, bytes(later.body)), (200, b"morex".to_vec()));
}

#[test]
fn deleting_a_stream_deletes_its_segment_objects() {
    let w = World::with(segments_every(1));
    World::put(&w, "gone", &[TEXT], "a");
    World::post(&w, "gone", &[TEXT], "b");
    assert_eq!(objects_of(&w, "gone").len(), 2);
    World::send(&w, Method::Delete, "gone", "", &[], b"");
    assert!(objects_of(&w, "gone").is_empty());
}

#[test]
fn forks_read_and_slice_records_of_a_source_in_cold_storage() {
    let w = World::with(segments_every(1));
    World::put(&w, "src", &[TEXT], "first");
    World::post(&w, "src", &[TEXT], "second");
    World::post(&w, "src", &[TEXT], "third");
    assert!(objects_of(&w, "src").len() >= 2);
    let sub = [
        (h::STREAM_FORKED_FROM, "/v1/stream/src"),
        (h::STREAM_FORK_OFFSET, "0000000000000001_0000000000000005"),
        (h::STREAM_FORK_SUB_OFFSET, "3"),
    ];
    assert_eq!(World::put(&w, "f", &sub, "!").status, 201);
    assert_eq!(World::read_all(&w, "f").0, "firstsec!");
}

#[test]
fn the_registry_records_creations_and_deletions_and_is_read_only() {
    let w = World::new();
    World::put(&w, "one", &[TEXT], "");
    World::put(&w, "two", &[("Content-Type", "application/json")], "");
    World::send(&w, Method::Delete, "one", "", &[], b"");
    let r = World::get(&w, "__registry__", "offset=-1");
    assert_eq!(r.status, 200);
    let mut events: Vec<serde_json::Value> = Vec::new();
    let mut offset = "-1".to_owned();
    loop {
        let page = World::get(&w, "__registry__", &format!("offset={offset}"));
        offset = offsets(&page);
        let done = page.get(h::STREAM_UP_TO_DATE).is_some();
        events.extend(serde_json::from_slice::<Vec<serde_json::Value>>(&bytes(page.body)).unwrap());
        if done {
            break;
        }
    }
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (e["key"].as_str().unwrap().to_owned(), e["headers"]["operation"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected = [("one", "insert"), ("two", "insert"), ("one", "delete")];
    assert_eq!(summary, expected.map(|(k, o)| (k.to_owned(), o.to_owned())));
    assert_eq!(events[1]["value"]["contentType"], "application/json");
    assert_eq!(events[0]["value"]["path"], "one");
    assert!(events[2].get("value").is_none());
    assert_eq!(World::post(&w, "__registry__", &[("Content-Type", "application/json")], "{}").status, 403);
    assert_eq!(World::send(&w, Method::Delete, "__registry__", "", &[], b"").status, 403);
}

#[test]
fn oversize_content_type_and_stream_seq_are_rejected_and_change_nothing() {
    let w = World::new();
    let long_type = format!("text/plain; x={}", "a".repeat(256 - "text/plain; x=".len()));
    let too_long_type = format!("{long_type}a");
    let rejected = World::put(&w, "ct", &[("Content-Type", &too_long_type)], "x");
    assert_eq!(rejected.status, 400);
    assert!(String::from_utf8(bytes(rejected.body)).unwrap().contains("INVALID_CONTENT_TYPE"));
    assert_eq!(World::send(&w, Method::Head, "ct", "", &[], b"").status, 404);
    assert_eq!(World::put(&w, "ct", &[("Content-Type", &long_type)], "x").status, 201);

    let seq = "9".repeat(256);
    assert_eq!(World::post(&w, "ct", &[TEXT, (h::STREAM_SEQ, &seq)], "y").status, 204);
    let too_long_seq = format!("{seq}9");
    let rejected = World::post(&w, "ct", &[TEXT, (h::STREAM_SEQ, &too_long_seq)], "z");
    assert_eq!(rejected.status, 400);
    assert!(String::from_utf8(bytes(rejected.body)).unwrap().contains("INVALID_STREAM_SEQ"));
    assert_eq!(World::read_all(&w, "ct").0, "xy");
}
