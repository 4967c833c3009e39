//! The stream object end to end, natively: real SQLite, a virtual clock, and stream objects
//! that call each other in process, through the same internal-call codec as in
//! production.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use futures_executor::block_on;
use futures_util::future::LocalBoxFuture;

use super::calls::{Call, CallReply};
use super::host::ColdStore;
use super::*;
use crate::http::{Body, Method, Reply, Request};
use crate::protocol::headers as h;
use crate::protocol::path::StreamName;
use crate::store::sql::native::NativeSql;

type Svc = StreamService<NativeSql, TestHost>;

/// A set of stream objects sharing one virtual clock.
pub(super) struct World {
    config: Config,
    pub(super) now: Cell<i64>,
    objects: RefCell<HashMap<String, Rc<Svc>>>,
    pub(super) alarms: RefCell<Vec<(String, i64)>>,
    /// Inherited-data reads between objects.
    reads: Cell<usize>,
    /// Work spawned to run after the current request.
    tasks: RefCell<Vec<LocalBoxFuture<'static, ()>>>,
    /// Each object's SSE subscribers.
    subscribers: RefCell<HashMap<String, Vec<Rc<FakeSubscriber>>>>,
    /// Cold segment objects, shared by all objects as one bucket.
    pub(super) bucket: Rc<MemoryBucket>,
    /// Segments committed, as `(stream, read_seq)`.
    pub(super) committed: RefCell<Vec<(String, u64)>>,
    /// Errors the objects logged.
    errors: RefCell<Vec<String>>,
    /// Metric events, as the objects reported them.
    metrics: RefCell<Vec<crate::metrics::StreamMetric>>,
    /// Random values handed out so far.
    random: Cell<u64>,
    /// While set, sleeps wait until the world is dropped instead of advancing the clock,
    /// so a long-poll can be left waiting while other requests run.
    pub(super) hold_sleeps: Cell<bool>,
    held: RefCell<Vec<futures_channel::oneshot::Sender<()>>>,
    /// Notices sent to subscriptions, as `(subscription key, notice)`.
    pub(super) notices: RefCell<Vec<(String, crate::ds::Notice)>>,
    /// Subscriptions by key: they decide, as their objects do, whether they link a stream.
    pub(super) subscriptions: RefCell<HashMap<String, crate::ds::subscription::Subscription>>,
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
pub(super) struct MemoryBucket {
    pub(super) objects: RefCell<HashMap<String, Vec<u8>>>,
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
pub(super) struct FakeSubscriber {
    state: RefCell<Option<SubscriberState>>,
    pub(super) sent: RefCell<Vec<String>>,
    pub(super) closed: Cell<Option<u16>>,
}

impl FakeSubscriber {
    /// The first `data:` line of each data event sent, as written.
    fn first_data_lines(&self) -> Vec<String> {
        self.sent
            .borrow()
            .iter()
            .filter_map(|c| c.strip_prefix("event: data\nid:"))
            .filter_map(|c| c.split_once("\ndata:").and_then(|(_, d)| d.split('\n').next()))
            .map(str::to_owned)
            .collect()
    }
}

impl Subscriber for Rc<FakeSubscriber> {
    fn state(&self) -> Option<SubscriberState> {
        self.state.borrow().clone()
    }

    fn save(&self, state: &SubscriberState) {
        *self.state.borrow_mut() = Some(state.clone());
    }

    fn send(&self, chunk: &[u8]) -> bool {
        // As the platform does: chunks travel as text frames.
        self.sent.borrow_mut().push(String::from_utf8_lossy(chunk).into_owned());
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

    /// Virtual time: sleeping advances the clock and returns at once (unless held).
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        if let Some(w) = self.world.upgrade() {
            if w.hold_sleeps.get() {
                let (done, wait) = futures_channel::oneshot::channel();
                w.held.borrow_mut().push(done);
                return Box::pin(async move {
                    let _ = wait.await;
                });
            }
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
            let answer = target
                .handle(Request::new(Method::Post, format!("https://stream.internal{path}")).with_body(body))
                .await;
            let reply = reply_of(answer);
            let reply = Reply { body: Body::Bytes(bytes(reply.body)), ..reply };
            call.decode_reply(reply)
        })
    }

    fn notify_subscription<'a>(
        &'a self,
        key: &'a str,
        notice: &'a crate::ds::Notice,
    ) -> LocalBoxFuture<'a, Result<bool, ProtocolError>> {
        Box::pin(async move {
            let world = self.world.upgrade().ok_or_else(|| ProtocolError::internal("world gone"))?;
            world.notices.borrow_mut().push((key.to_owned(), notice.clone()));
            let fresh = crate::ds::subscription::Fresh { wake_id: "w".into(), jitter: 0.0 };
            let mut subscriptions = world.subscriptions.borrow_mut();
            Ok(subscriptions.get_mut(key).is_some_and(|s| {
                if notice.deleted {
                    return s.on_deleted(&notice.stream);
                }
                s.on_append(
                    &notice.stream,
                    &notice.tail,
                    notice.created_at.as_deref(),
                    world.now.get(),
                    &fresh,
                )
                .0
            }))
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

    fn segment_committed(&self, stream_id: &str, segment: &crate::store::Rotation) {
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

    fn random_bytes(&self, out: &mut [u8]) -> Result<(), ProtocolError> {
        // Deterministic, and different on every call.
        let w = self.world.upgrade().ok_or_else(|| ProtocolError::internal("world gone"))?;
        let n = w.random.get() + 1;
        w.random.set(n);
        for (i, b) in out.iter_mut().enumerate() {
            *b = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> ((i % 8) * 8)) as u8 ^ i as u8;
        }
        Ok(())
    }

    fn metric(&self, event: crate::metrics::StreamMetric) {
        if let Some(w) = self.world.upgrade() {
            w.metrics.borrow_mut().push(event);
        }
    }

    fn log_error(&self, message: &str) {
        if let Some(w) = self.world.upgrade() {
            w.errors.borrow_mut().push(format!("{}: {message}", self.me));
        }
    }
}

/// See [`World::object`].
fn name_of(spec: &str) -> StreamName {
    if spec.starts_with("/v1/") {
        StreamName::parse(spec).expect("a stream path").expect("a valid stream path")
    } else if let Some(id) = spec.strip_prefix("_default/") {
        StreamName::default_project(id)
    } else {
        StreamName::default_project(spec)
    }
}

pub(super) fn key_of(spec: &str) -> String {
    if !spec.starts_with("/v1/") && StreamName::from_key(spec).is_some_and(|n| n.project != "_default") {
        // Another project's object key, as objects send it.
        return spec.to_owned();
    }
    name_of(spec).key()
}

/// The reply of an answer; an accepted SSE reader's is the head of its response.
fn reply_of(answer: Answer) -> Reply {
    match answer {
        Answer::Reply(reply) | Answer::Subscribe { reply, .. } => reply,
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
    Config { segments: crate::store::SegmentLimits { max_messages: n, max_bytes: 1 << 20 }, ..config() }
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
            metrics: RefCell::default(),
            random: Cell::new(0),
            hold_sleeps: Cell::new(false),
            held: RefCell::default(),
            notices: RefCell::default(),
            subscriptions: RefCell::default(),
        }
    }

    fn new() -> Rc<Self> {
        World::with(config())
    }

    pub(super) fn with(config: Config) -> Rc<Self> {
        let w = World::empty(config);
        w.now.set(1_000_000);
        Rc::new(w)
    }

    /// The object of a stream named by `spec`: an id in the default project, a path
    /// (`/v1/<project>/stream/<id>`), or an object key (as objects name each other).
    fn object(world: &Rc<World>, spec: &str) -> Rc<Svc> {
        let key = key_of(spec);
        let mut objects = world.objects.borrow_mut();
        Rc::clone(objects.entry(key.clone()).or_insert_with(|| {
            let host = TestHost { world: Rc::downgrade(world), me: key, bucket: Rc::clone(&world.bucket) };
            StreamService::new(NativeSql::new(), host, world.config.clone()).expect("open")
        }))
    }

    pub(super) fn send(
        world: &Rc<World>,
        method: Method,
        id: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        reply_of(World::answer(world, method, id, query, headers, body))
    }

    /// Like [`World::send`], with the answer as the object gave it.
    fn answer(
        world: &Rc<World>,
        method: Method,
        id: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut req = Request::new(method, format!("http://h{}?{query}", name_of(id).path()));
        for (k, v) in headers {
            req = req.with_header(k, *v);
        }
        let svc = World::object(world, id);
        let answer = block_on(svc.handle(req.with_body(body.to_vec())));
        World::run_tasks(world);
        answer
    }

    /// Runs the work requests left behind, until there is none.
    fn run_tasks(world: &Rc<World>) {
        loop {
            // In the order they were spawned, as the platform starts them.
            let task = {
                let mut tasks = world.tasks.borrow_mut();
                (!tasks.is_empty()).then(|| tasks.remove(0))
            };
            match task {
                Some(t) => block_on(t),
                None => return,
            }
        }
    }

    /// A request that has not run yet, to be polled by the caller (for one that waits).
    pub(super) fn start(
        world: &Rc<World>,
        method: Method,
        id: &str,
        query: &str,
    ) -> LocalBoxFuture<'static, Reply> {
        let req = Request::new(method, format!("http://h{}?{query}", name_of(id).path()));
        let svc = World::object(world, id);
        Box::pin(async move { reply_of(svc.handle(req).await) })
    }

    /// Runs an object's alarm, and the work it leaves behind.
    pub(super) fn alarm(world: &Rc<World>, id: &str) {
        block_on(World::object(world, id).on_alarm());
        World::run_tasks(world);
    }

    /// Opens an SSE read and connects a subscriber for it.
    pub(super) fn subscribe(world: &Rc<World>, id: &str, query: &str) -> Rc<FakeSubscriber> {
        let answer = World::answer(world, Method::Get, id, query, &[], b"");
        let Answer::Subscribe { state, .. } = answer else { panic!("not an SSE reply: {answer:?}") };
        let sub = Rc::new(FakeSubscriber { state: RefCell::new(Some(state)), ..Default::default() });
        world.subscribers.borrow_mut().entry(key_of(id)).or_default().push(Rc::clone(&sub));
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
fn a_long_poll_ends_when_its_expired_stream_is_replaced_while_it_waits() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let w = World::new();
    let tail = offsets(&World::put(&w, "lp", &[TEXT, (h::STREAM_TTL, "1")], "old"));
    let svc = World::object(&w, "lp");
    w.hold_sleeps.set(true);
    let req = Request::new(Method::Get, format!("http://h/v1/stream/lp?offset={tail}&live=long-poll"));
    let mut waiting = Box::pin(async { reply_of(svc.handle(req).await) });
    let mut cx = Context::from_waker(Waker::noop());
    assert!(waiting.as_mut().poll(&mut cx).is_pending(), "waits at the tail");
    w.hold_sleeps.set(false);
    w.now.set(w.now.get() + 1000);
    // One PUT applies the expiry and creates another stream at the path.
    assert_eq!(World::put(&w, "lp", &[TEXT], "").status, 201);
    World::post(&w, "lp", &[TEXT], "is new");
    let Poll::Ready(reply) = waiting.as_mut().poll(&mut cx) else { panic!("still waiting") };
    assert_eq!(reply.status, 404, "not the new stream's data from the old offset: {:?}", bytes(reply.body));
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
    assert_eq!(w.alarms.borrow().first().map(|(key, _)| key.as_str()), Some("_default/ttl"));
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
    // Both events of a chunk carry the offset after it as their id.
    for (chunk, message) in chunks.iter().zip([r#"[{"a":1}]"#, r#"[{"b":2}]"#]) {
        let (data, control) = chunk.split_once("\n\n").unwrap();
        let id = data.lines().nth(1).and_then(|l| l.strip_prefix("id:")).expect("a data id");
        assert_eq!(data, format!("event: data\nid:{id}\ndata:{message}"));
        assert!(
            control.starts_with(&format!("event: control\ndata:{{\"streamNextOffset\":\"{id}\"")),
            "{control}"
        );
        assert!(control.contains(&format!("}}\nid:{id}")), "{control}");
    }
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
        let answer = World::answer(&w, Method::Get, "mid", &format!("offset={offset}&live=sse"), &[], b"");
        assert!(matches!(answer, Answer::Subscribe { .. }), "{offset}");
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
        let data = sub.first_data_lines();
        assert_eq!(data, vec!["one", "two", "three"]);
    }
    World::send(&w, Method::Delete, "live", "", &[], b"");
    assert_eq!((at_tail.closed.get(), from_start.closed.get()), (Some(1000), Some(1000)));
}

#[test]
fn readers_of_an_expired_stream_end_when_a_put_replaces_it() {
    let w = World::new();
    World::put(&w, "re", &[TEXT, (h::STREAM_TTL, "1")], "old");
    let sub = World::subscribe(&w, "re", "offset=-1&live=sse");
    w.now.set(w.now.get() + 1000);
    // The PUT finds the stream expired, and creates a new one in the same request.
    assert_eq!(World::put(&w, "re", &[TEXT], "").status, 201);
    // Past the old stream's length: a reader still attached would be sent "new", from
    // position 3 of a stream it never asked for.
    World::post(&w, "re", &[TEXT], "is new");
    assert!(sub.sent.borrow().iter().all(|c| !c.contains("new")), "{:?}", sub.sent.borrow());
    assert_eq!(sub.closed.get(), Some(1000), "the reader of the expired stream ends");
}

#[test]
fn binary_streams_are_sent_base64_and_say_so() {
    let w = World::new();
    World::put(&w, "bin", &[("Content-Type", "application/octet-stream")], "Hello");
    let reply = World::get(&w, "bin", "offset=-1&live=sse");
    assert_eq!(reply.get(h::STREAM_SSE_DATA_ENCODING), Some("base64"));
    let sub = World::subscribe(&w, "bin", "offset=-1&live=sse");
    assert!(sub.sent.borrow()[0].starts_with("event: data\nid:"));
    assert!(sub.sent.borrow()[0].contains("\ndata:SGVs"));
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
    let prefix = crate::store::segment::object_prefix(&key_of(id), 1);
    let mut keys: Vec<String> =
        w.bucket.objects.borrow().keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
    keys.sort();
    keys
}

fn offsets(reply: &Reply) -> String {
    reply.get(h::STREAM_NEXT_OFFSET).unwrap().to_owned()
}

#[test]
fn text_pages_and_sse_events_end_between_characters() {
    let w = World::new();
    // The 8-byte cap falls on the second byte of "€" (bytes 7 to 9).
    World::put(&w, "utf8", &[TEXT], "abcdefg€xyz");
    let first = World::get(&w, "utf8", "offset=-1");
    assert_eq!(offsets(&first), "0000000000000000_0000000000000007");
    assert_eq!(bytes(first.body), b"abcdefg");
    assert_eq!(World::read_all(&w, "utf8"), ("abcdefg€xyz".to_owned(), 2));
    let sub = World::subscribe(&w, "utf8", "offset=-1&live=sse");
    let data: String = sub.first_data_lines().concat();
    assert_eq!(data, "abcdefg€xyz");
    // Binary streams are cut at the cap, whatever the bytes.
    World::put(&w, "bin", &[("Content-Type", "application/octet-stream")], "abcdefg€xyz");
    assert_eq!(bytes(World::get(&w, "bin", "offset=-1").body), "abcdefg€".as_bytes()[..8]);
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
        w.committed.borrow().iter().filter(|(s, _)| s == "_default/cold").map(|(_, n)| *n).collect();
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

const AS_TOKEN: (&str, &str) = (crate::auth::ACCESS_HEADER, "token");
const AS_ANONYMOUS: (&str, &str) = (crate::auth::ACCESS_HEADER, "anonymous");

fn cache_control(r: &Reply) -> &str {
    r.get("Cache-Control").unwrap_or("")
}

#[test]
fn with_auth_on_a_protected_stream_gets_a_reader_key_that_gates_caching() {
    let w = World::new();
    let created = World::put(&w, "p", &[TEXT, AS_TOKEN], "0123456789abcdef");
    assert_eq!(created.status, 201);
    let key = created.get(h::STREAM_READER_KEY).unwrap().to_owned();
    assert!(key.starts_with("rk_") && key.len() == 35, "{key}");
    assert_eq!(World::put(&w, "p", &[TEXT, AS_TOKEN], "").get(h::STREAM_READER_KEY), Some(key.as_str()));
    let head = World::send(&w, Method::Head, "p", "", &[AS_TOKEN], b"");
    assert_eq!(head.get(h::STREAM_READER_KEY), Some(key.as_str()));
    // A mid-stream chunk is shareable only when the read names the key.
    let keyed = World::send(&w, Method::Get, "p", &format!("offset=-1&rk={key}"), &[AS_TOKEN], b"");
    assert!(cache_control(&keyed).contains("max-age"), "{keyed:?}");
    for query in ["offset=-1".to_owned(), "offset=-1&rk=rk_wrong".to_owned()] {
        let r = World::send(&w, Method::Get, "p", &query, &[AS_TOKEN], b"");
        assert_eq!((r.status, cache_control(&r)), (200, access::PRIVATE), "{query}");
    }
    // Rotation: the old key no longer makes answers shareable; the new one does.
    let rotated = World::send(&w, Method::Post, "p", "", &[(h::STREAM_READER_KEY, "rotate"), AS_TOKEN], b"");
    assert_eq!(rotated.status, 204);
    let new_key = rotated.get(h::STREAM_READER_KEY).unwrap().to_owned();
    assert_ne!(new_key, key);
    let old = World::send(&w, Method::Get, "p", &format!("offset=-1&rk={key}"), &[AS_TOKEN], b"");
    assert_eq!(cache_control(&old), access::PRIVATE);
    let new = World::send(&w, Method::Get, "p", &format!("offset=-1&rk={new_key}"), &[AS_TOKEN], b"");
    assert!(cache_control(&new).contains("max-age"));
    // Rotating changed nothing else.
    assert_eq!(World::read_all(&w, "p").0, "0123456789abcdef");
    let bad = World::send(&w, Method::Post, "p", "", &[(h::STREAM_READER_KEY, "rotate"), AS_TOKEN], b"x");
    assert_eq!(bad.status, 400);
    assert_eq!(World::read_all(&w, "p").0, "0123456789abcdef");
}

#[test]
fn public_streams_and_streams_made_with_auth_off_have_no_reader_key() {
    let w = World::new();
    let public = World::send(&w, Method::Put, "pub", "public=true", &[TEXT, AS_TOKEN], b"x");
    assert_eq!((public.status, public.get(h::STREAM_READER_KEY)), (201, None));
    let rotate = World::send(&w, Method::Post, "pub", "", &[(h::STREAM_READER_KEY, "rotate"), AS_TOKEN], b"");
    assert_eq!(rotate.status, 409);
    // The public flag is part of the configuration an idempotent PUT must match.
    assert_eq!(World::send(&w, Method::Put, "pub", "", &[TEXT, AS_TOKEN], b"").status, 409);
    assert_eq!(World::send(&w, Method::Put, "pub", "public=true", &[TEXT, AS_TOKEN], b"").status, 200);
    assert_eq!(World::send(&w, Method::Put, "bad", "public=maybe", &[TEXT], b"").status, 400);
    let open = World::put(&w, "open", &[TEXT], "x");
    assert_eq!((open.status, open.get(h::STREAM_READER_KEY)), (201, None));
}

#[test]
fn anonymous_reads_see_public_streams_only_and_learn_nothing_else() {
    let w = World::new();
    World::send(&w, Method::Put, "pub", "public=true", &[TEXT, AS_TOKEN], b"hello");
    World::put(&w, "secret", &[TEXT, AS_TOKEN], "hidden");
    let r = World::send(&w, Method::Get, "pub", "offset=-1", &[AS_ANONYMOUS], b"");
    assert_eq!((r.status, bytes(r.body)), (200, b"hello".to_vec()));
    assert_eq!(World::send(&w, Method::Head, "pub", "", &[AS_ANONYMOUS], b"").status, 200);
    for id in ["secret", "missing", "__registry__"] {
        for method in [Method::Get, Method::Head] {
            let r = World::send(&w, method, id, "offset=-1", &[AS_ANONYMOUS], b"");
            assert_eq!(r.status, 401, "{id} {method:?}");
            assert!(r.get("WWW-Authenticate").is_some_and(|v| v.starts_with("Bearer")));
            assert_eq!(cache_control(&r), durable_streams_cache::control::NO_STORE);
            assert!(!String::from_utf8_lossy(&bytes(r.body)).contains("hidden"));
        }
    }
    // An unknown access value is treated as anonymous, never as more.
    let odd =
        World::send(&w, Method::Get, "secret", "offset=-1", &[(crate::auth::ACCESS_HEADER, "admin")], b"");
    assert_eq!(odd.status, 401);
    assert_eq!(World::send(&w, Method::Get, "secret", "offset=-1", &[AS_TOKEN], b"").status, 200);
}

#[test]
fn reads_of_a_public_project_see_protected_streams_but_never_their_reader_key() {
    let w = World::new();
    let created = World::put(&w, "kept", &[TEXT, AS_TOKEN], "data");
    let key = created.get(h::STREAM_READER_KEY).unwrap().to_owned();
    const AS_PUBLIC: (&str, &str) = (crate::auth::ACCESS_HEADER, "public");
    let r = World::send(&w, Method::Get, "kept", "offset=-1", &[AS_PUBLIC], b"");
    assert_eq!((r.status, bytes(r.body)), (200, b"data".to_vec()));
    // Not shareable by caches in front of the edge without the key, which it never learns.
    assert_eq!(
        cache_control(&World::send(&w, Method::Get, "kept", "offset=-1", &[AS_PUBLIC], b"")),
        access::PRIVATE
    );
    let head = World::send(&w, Method::Head, "kept", "", &[AS_PUBLIC], b"");
    assert_eq!((head.status, head.get(h::STREAM_READER_KEY)), (200, None));
    assert_eq!(
        World::send(&w, Method::Head, "kept", "", &[AS_TOKEN], b"").get(h::STREAM_READER_KEY),
        Some(key.as_str())
    );
    assert_eq!(World::send(&w, Method::Get, "missing", "offset=-1", &[AS_PUBLIC], b"").status, 404);
}

#[test]
fn projects_are_separate_namespaces_with_registries_of_their_own() {
    let w = World::new();
    World::put(&w, "/v1/acme/stream/s", &[TEXT], "acme data");
    World::put(&w, "s", &[TEXT], "default data");
    World::put(&w, "/v1/stream/acme/s", &[TEXT], "lookalike");
    assert_eq!(World::read_all(&w, "/v1/acme/stream/s").0, "acme data");
    assert_eq!(World::read_all(&w, "/v1/_default/stream/s").0, "default data");
    assert_eq!(World::read_all(&w, "/v1/stream/acme/s").0, "lookalike");
    // A fork stays within its project.
    let across = World::put(&w, "f", &[(h::STREAM_FORKED_FROM, "/v1/acme/stream/s")], "");
    assert_eq!(across.status, 403);
    assert_eq!(World::send(&w, Method::Head, "f", "", &[], b"").status, 404);
    let within = World::put(&w, "/v1/acme/stream/f", &[(h::STREAM_FORKED_FROM, "/v1/acme/stream/s")], "!");
    assert_eq!(within.status, 201);
    assert_eq!(World::read_all(&w, "/v1/acme/stream/f").0, "acme data!");
    let keys = |spec: &str| -> Vec<String> {
        let mut keys = Vec::new();
        let mut offset = "-1".to_owned();
        loop {
            let page = World::get(&w, spec, &format!("offset={offset}"));
            offset = offsets(&page);
            let done = page.get(h::STREAM_UP_TO_DATE).is_some();
            let events: Vec<serde_json::Value> = serde_json::from_slice(&bytes(page.body)).unwrap();
            keys.extend(events.iter().map(|e| e["key"].as_str().unwrap().to_owned()));
            if done {
                return keys;
            }
        }
    };
    assert_eq!(keys("/v1/acme/stream/__registry__"), ["s", "f"]);
    assert_eq!(keys("__registry__"), ["s", "acme/s"]);
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

/// Sends `method` to the inspect endpoint of `id`'s object: the reply, and its body as
/// JSON.
fn inspect(w: &Rc<World>, id: &str, method: Method) -> (Reply, serde_json::Value) {
    let req = Request::new(method, format!("https://stream.internal{}", internal::INSPECT_PATH));
    let mut reply = reply_of(block_on(World::object(w, id).handle(req)));
    World::run_tasks(w);
    let body = bytes(std::mem::replace(&mut reply.body, Body::Empty));
    (reply, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

#[test]
fn inspect_shows_the_stream_as_stored() {
    let w = World::new();
    let created_at = w.now.get();
    World::put(&w, "ins", &[TEXT], "ab");
    World::post(&w, "ins", &[TEXT], "cd");
    w.now.set(created_at + 5);
    let prod = [TEXT, (h::PRODUCER_ID, "writer"), (h::PRODUCER_EPOCH, "2"), (h::PRODUCER_SEQ, "0")];
    let by_producer = World::post(&w, "ins", &prod, "ef");
    assert_eq!(by_producer.status, 200);
    let (reply, v) = inspect(&w, "ins", Method::Get);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.get("Content-Type"), Some("application/json"));
    assert_eq!(cache_control(&reply), durable_streams_cache::control::NO_STORE);
    assert_eq!(v["streamId"], "_default/ins");
    assert_eq!(v["contentType"], "text/plain");
    assert_eq!(v["createdAt"], created_at);
    assert_eq!(v["tailOffset"], offsets(&by_producer));
    assert_eq!((v["closed"].clone(), v["closedBy"].clone()), (false.into(), serde_json::Value::Null));
    assert_eq!((v["deleted"].clone(), v["public"].clone()), (false.into(), false.into()));
    assert_eq!(v["lastStreamSeq"], serde_json::Value::Null);
    assert_eq!(v["expiry"], serde_json::json!({"ttlSeconds": null, "expiresAt": null, "inherited": false}));
    assert_eq!((v["fork"].clone(), v["forkCount"].clone()), (serde_json::Value::Null, 0.into()));
    assert_eq!(
        v["hot"],
        serde_json::json!({"messages": 3, "bytes": 6, "startOffset": "0000000000000000_0000000000000000"})
    );
    assert_eq!(v["segments"], serde_json::json!([]));
    assert_eq!(v["totals"], serde_json::json!({"messages": 3, "bytes": 6}));
    assert_eq!(v["writtenAt"], created_at + 5);
    let producer = serde_json::json!({
        "id": "writer", "epoch": 2, "lastSeq": 0,
        "lastOffset": offsets(&by_producer), "lastActiveAt": created_at + 5,
    });
    assert_eq!(
        (v["producers"].clone(), v["producersTruncated"].clone()),
        (serde_json::json!([producer]), false.into())
    );
    assert_eq!(v["readers"], serde_json::json!({"longPoll": 0, "sse": 0}));
    // Inspecting is not counted (registry events go to the registry's object).
    assert_eq!(v["requests"], serde_json::json!({"create": 1, "append": 2}));
    assert_eq!(inspect(&w, "ins", Method::Get).1["requests"], v["requests"]);
}

#[test]
fn inspect_of_a_missing_stream_is_404_and_other_methods_are_405() {
    let w = World::new();
    let (missing, v) = inspect(&w, "nothing", Method::Get);
    assert_eq!((missing.status, v["error"]["code"].as_str()), (404, Some("STREAM_NOT_FOUND")));
    World::put(&w, "here", &[TEXT], "");
    for method in [Method::Post, Method::Put, Method::Delete, Method::Head] {
        let (reply, v) = inspect(&w, "here", method);
        assert_eq!(
            (reply.status, v["error"]["code"].as_str()),
            (405, Some("METHOD_NOT_ALLOWED")),
            "{method:?}"
        );
    }
    assert_eq!(World::send(&w, Method::Head, "here", "", &[], b"").status, 200, "nothing was changed");
}

#[test]
fn inspect_shows_expiry_and_applies_it() {
    let w = World::new();
    let start = w.now.get();
    World::put(&w, "ttl", &[TEXT, (h::STREAM_TTL, "60")], "");
    w.now.set(start + 1000);
    let v = inspect(&w, "ttl", Method::Get).1;
    assert_eq!(
        v["expiry"],
        serde_json::json!({"ttlSeconds": 60, "expiresAt": start + 60_000, "inherited": false})
    );
    assert_eq!(
        inspect(&w, "ttl", Method::Get).1["expiry"]["expiresAt"],
        start + 60_000,
        "inspecting is not activity"
    );
    let at = "2030-01-01T00:00:00Z";
    World::put(&w, "at", &[TEXT, (h::STREAM_EXPIRES_AT, at)], "");
    let v = inspect(&w, "at", Method::Get).1;
    assert_eq!(
        v["expiry"],
        serde_json::json!({"ttlSeconds": null, "expiresAt": 1_893_456_000_000_i64, "inherited": false})
    );
    w.now.set(start + 60_000);
    assert_eq!(inspect(&w, "ttl", Method::Get).0.status, 404, "expired exactly at the deadline");
}

#[test]
fn inspect_shows_a_closed_stream_and_who_closed_it() {
    let w = World::new();
    World::put(&w, "c", &[TEXT], "x");
    let close = [
        TEXT,
        (h::STREAM_CLOSED, "true"),
        (h::PRODUCER_ID, "p"),
        (h::PRODUCER_EPOCH, "1"),
        (h::PRODUCER_SEQ, "0"),
    ];
    let closed = World::post(&w, "c", &close, "y");
    assert_eq!(closed.status, 200);
    let v = inspect(&w, "c", Method::Get).1;
    assert_eq!(v["closed"], true);
    assert_eq!(v["closedBy"], serde_json::json!({"producerId": "p", "epoch": 1, "seq": 0}));
    assert_eq!(v["tailOffset"], offsets(&closed));
    World::put(&w, "plain", &[TEXT], "");
    World::post(&w, "plain", &[(h::STREAM_CLOSED, "true"), (h::STREAM_SEQ, "7")], "");
    let v = inspect(&w, "plain", Method::Get).1;
    assert_eq!((v["closed"].clone(), v["closedBy"].clone()), (true.into(), serde_json::Value::Null));
    assert_eq!(v["lastStreamSeq"], "7");
}

#[test]
fn inspect_lists_segments_with_the_offsets_reads_hand_out() {
    let w = World::with(segments_every(3));
    let created_at = w.now.get();
    World::put(&w, "cold", &[TEXT], "aaaa");
    World::post(&w, "cold", &[TEXT], "bbbb");
    let cut = World::post(&w, "cold", &[TEXT], "cccc");
    w.now.set(created_at + 7);
    for body in ["dddd", "eeee", "ffff", "gg"] {
        World::post(&w, "cold", &[TEXT], body);
    }
    let v = inspect(&w, "cold", Method::Get).1;
    let segments = v["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 2);
    assert_eq!((v["segmentsTotal"].clone(), v["segmentsTruncated"].clone()), (2.into(), false.into()));
    // Seven appends of 26 bytes in all, whether hot or cold.
    assert_eq!(v["totals"], serde_json::json!({"messages": 7, "bytes": 26}));
    let (first, second) = (&segments[0], &segments[1]);
    assert_eq!((first["readSeq"].clone(), second["readSeq"].clone()), (0.into(), 1.into()));
    assert_eq!(first["startOffset"], "0000000000000000_0000000000000000");
    assert_eq!(first["endOffset"], offsets(&cut));
    assert_eq!(second["startOffset"], offsets(&cut), "one position, one spelling");
    assert_eq!(second["endOffset"], "0000000000000001_0000000000000024");
    assert_eq!((first["bytes"].clone(), first["rows"].clone()), (12.into(), 3.into()));
    assert_eq!(
        (first["createdAt"].clone(), second["createdAt"].clone()),
        (created_at.into(), (created_at + 7).into())
    );
    assert!(first["objectBytes"].as_u64().unwrap() > 12);
    assert_eq!(
        objects_of(&w, "cold"),
        [first["objectKey"].as_str().unwrap(), second["objectKey"].as_str().unwrap()]
    );
    assert_eq!(v["hot"]["startOffset"], second["endOffset"]);
    assert_eq!((v["hot"]["messages"].clone(), v["hot"]["bytes"].clone()), (1.into(), 2.into()));
    let tail = World::send(&w, Method::Head, "cold", "", &[], b"");
    assert_eq!(v["tailOffset"], offsets(&tail));
}

#[test]
fn inspect_shows_forks_streams_kept_for_them_and_live_readers() {
    let w = World::new();
    World::put(&w, "src", &[TEXT, (h::STREAM_TTL, "3600")], "abc");
    World::put(&w, "f", &[(h::STREAM_FORKED_FROM, "/v1/stream/src"), (h::STREAM_TTL, "60")], "");
    World::put(&w, "g", &[(h::STREAM_FORKED_FROM, "/v1/stream/src")], "");
    let own = inspect(&w, "f", Method::Get).1;
    assert_eq!(
        (own["expiry"]["ttlSeconds"].clone(), own["expiry"]["inherited"].clone()),
        (60.into(), false.into())
    );
    let fork = inspect(&w, "g", Method::Get).1;
    assert_eq!(
        (fork["expiry"]["ttlSeconds"].clone(), fork["expiry"]["inherited"].clone()),
        (3600.into(), true.into())
    );
    assert_eq!(
        fork["fork"],
        serde_json::json!({
            "source": "_default/src", "offset": "0000000000000000_0000000000000003",
            "subOffset": 0, "sourceIncarnation": 1,
        })
    );
    assert_eq!(fork["hot"]["startOffset"], "0000000000000000_0000000000000003");
    World::send(&w, Method::Delete, "src", "", &[], b"");
    assert_eq!(World::get(&w, "src", "offset=-1").status, 410);
    let kept = inspect(&w, "src", Method::Get).1;
    assert_eq!((kept["deleted"].clone(), kept["forkCount"].clone()), (true.into(), 2.into()));
    // Readers: one SSE subscriber, and one long-poll left waiting.
    World::put(&w, "live", &[TEXT], "x");
    let _sub = World::subscribe(&w, "live", "offset=now&live=sse");
    w.hold_sleeps.set(true);
    let tail = offsets(&World::send(&w, Method::Head, "live", "", &[], b""));
    let mut waiting = World::start(&w, Method::Get, "live", &format!("offset={tail}&live=long-poll"));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    let v = inspect(&w, "live", Method::Get).1;
    assert_eq!(v["readers"], serde_json::json!({"longPoll": 1, "sse": 1}));
    assert_eq!(v["requests"]["long_poll"], 1);
}

/// Sends an internal call to an object, as another object would.
fn call(w: &Rc<World>, spec: &str, call: Call) -> CallReply {
    let svc = World::object(w, spec);
    let (path, body) = call.encode();
    let req = Request::new(Method::Post, format!("https://stream.internal{path}")).with_body(body);
    let reply = reply_of(block_on(svc.handle(req)));
    World::run_tasks(w);
    let reply = Reply { body: Body::Bytes(bytes(reply.body)), ..reply };
    call.decode_reply(reply).expect("the call succeeds")
}

fn subscription(pattern: &str) -> crate::ds::subscription::Subscription {
    let body = serde_json::json!({"type": "webhook", "pattern": pattern, "webhook": {"url": "http://127.0.0.1:1/h"}});
    let config = crate::ds::config::SubscriptionConfig::parse(
        body.to_string().as_bytes(),
        crate::ds::webhook_url::Loopback::Allowed,
    )
    .unwrap();
    crate::ds::subscription::Subscription::new("s".into(), config, "http://h/v1/stream".into(), 0)
}

fn watch(w: &Rc<World>, pattern: &str) -> Vec<(String, String)> {
    let watch = Call::Watch {
        registry: "_default/__registry__".into(),
        subscription: "s".into(),
        pattern: Some(pattern.into()),
        streams: Vec::new(),
    };
    match call(w, "_default/__registry__", watch) {
        CallReply::Linked(found) => found,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_subscription_links_the_existing_streams_it_matches_at_their_tails() {
    let w = World::new();
    World::put(&w, "/v1/stream/events/a", &[TEXT], "abc");
    World::put(&w, "/v1/stream/events/b", &[TEXT], "");
    World::put(&w, "/v1/stream/other/c", &[TEXT], "x");
    World::send(&w, Method::Delete, "/v1/stream/events/b", "", &[], b"");
    let found = watch(&w, "events/*");
    assert_eq!(found, [("events/a".to_owned(), "0000000000000000_0000000000000003".to_owned())]);
    let mut s = subscription("events/*");
    s.backfill(&found);
    w.subscriptions.borrow_mut().insert("_default/s".into(), s);
    // Nothing was told yet; an append to the linked stream is told before it is answered.
    assert!(w.notices.borrow().is_empty());
    World::post(&w, "/v1/stream/events/a", &[TEXT], "de");
    let notices = w.notices.borrow().clone();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].0, "_default/s");
    assert_eq!(
        notices[0].1,
        crate::ds::Notice {
            stream: "events/a".into(),
            tail: "0000000000000000_0000000000000005".into(),
            created_at: None,
            deleted: false,
        }
    );
    let s = w.subscriptions.borrow()["_default/s"].clone();
    assert!(s.pending() && s.wake.is_some());
    // Appends to streams it does not match tell nobody.
    World::post(&w, "/v1/stream/other/c", &[TEXT], "y");
    assert_eq!(w.notices.borrow().len(), 1);
    // Deleting the stream tells the subscription, which drops the pattern's link.
    World::send(&w, Method::Delete, "/v1/stream/events/a", "", &[], b"");
    let last = w.notices.borrow().last().cloned().unwrap();
    assert!(last.1.deleted);
    assert_eq!(last.1.tail, "0000000000000000_0000000000000005");
    assert!(!w.subscriptions.borrow()["_default/s"].links.contains_key("events/a"));
}

#[test]
fn a_stream_created_later_is_linked_from_its_first_byte() {
    let w = World::new();
    assert!(watch(&w, "events/**").is_empty());
    w.subscriptions.borrow_mut().insert("_default/s".into(), subscription("events/**"));
    World::put(&w, "/v1/stream/events/x/y", &[TEXT], "hello");
    let notices = w.notices.borrow().clone();
    assert_eq!(notices.len(), 1);
    let zero = "0000000000000000_0000000000000000";
    assert_eq!(notices[0].1.created_at.as_deref(), Some(zero));
    assert_eq!(notices[0].1.tail, "0000000000000000_0000000000000005");
    let s = w.subscriptions.borrow()["_default/s"].clone();
    assert_eq!(s.links["events/x/y"].acked, zero);
    assert!(s.pending());
}

#[test]
fn a_subscription_that_no_longer_wants_the_stream_is_unlinked() {
    let w = World::new();
    World::put(&w, "/v1/stream/events/a", &[TEXT], "a");
    watch(&w, "events/*");
    // The subscription is gone (deleted): its object answers that it links nothing.
    World::post(&w, "/v1/stream/events/a", &[TEXT], "b");
    World::post(&w, "/v1/stream/events/a", &[TEXT], "c");
    assert_eq!(w.notices.borrow().len(), 1);
    // Forgotten by the registry, it is not linked to new streams either.
    call(
        &w,
        "_default/__registry__",
        Call::Unwatch { registry: "_default/__registry__".into(), subscription: "s".into() },
    );
    World::put(&w, "/v1/stream/events/new", &[TEXT], "x");
    assert_eq!(w.notices.borrow().len(), 1);
}

#[test]
fn a_registry_older_than_its_listing_rebuilds_it_from_its_log() {
    // Small segments: part of the registry's log is in cold storage.
    let w = World::with(segments_every(2));
    for id in ["events/a", "events/b", "events/c", "other/d"] {
        World::put(&w, &format!("/v1/stream/{id}"), &[TEXT], "x");
    }
    World::send(&w, Method::Delete, "/v1/stream/events/b", "", &[], b"");
    World::object(&w, "_default/__registry__").store.forget_registry_listing().unwrap();
    let found: Vec<String> = watch(&w, "events/*").into_iter().map(|(id, _)| id).collect();
    assert_eq!(found, ["events/a", "events/c"]);
    assert!(World::object(&w, "_default/__registry__").store.registry_listing_complete().unwrap());
}
