//! The subscription layer end to end, natively: the worker's routes, both objects and the
//! queue consumer over real SQLite, writing to real core stream objects
//! (`durable_streams_cloudflare::stream_do`) in process, on a virtual clock. Faults are
//! injected where the platform would fail: a session write that core applied but whose
//! answer was lost, and session writes that fail.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use futures_executor::block_on;
use futures_util::future::LocalBoxFuture;

use durable_streams_cloudflare::auth::secrets::ProjectSecrets;
use durable_streams_cloudflare::http::{Body, Method, Reply, Request};
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::ProtocolError;
use durable_streams_cloudflare::store::sql::native::NativeSql;
use durable_streams_cloudflare::store::Rotation;
use durable_streams_cloudflare::stream_do::calls::{Call, CallReply};
use durable_streams_cloudflare::stream_do::host::ColdStore;
use durable_streams_cloudflare::stream_do::{self, Answer, StreamService, Subscriber, SubscriberState};

use crate::api::{self, Api, JobOutcome, Secrets};
use crate::config::Config;
use crate::host::{Alarms, FanoutQueue, Host};
use crate::metrics::Metric;
use crate::project::{ProjectCall, ProjectObject};
use crate::route;
use crate::session::SessionObject;
use crate::source::SourceObject;
use crate::wire::FanoutJob;

type Core = StreamService<NativeSql, CoreHost>;

/// Everything: core's stream objects, the layer's objects, the queue and the clock.
#[derive(Default)]
struct World {
    now: Cell<i64>,
    config: Config,
    has_queue: bool,
    core: RefCell<HashMap<String, Rc<Core>>>,
    sessions: RefCell<HashMap<String, Rc<SessionObject<NativeSql, LayerHost>>>>,
    sources: RefCell<HashMap<String, Rc<SourceObject<NativeSql, LayerHost>>>>,
    projects: RefCell<HashMap<String, Rc<ProjectObject<NativeSql, LayerHost>>>>,
    queue: RefCell<Vec<FanoutJob>>,
    alarms: RefCell<HashMap<String, i64>>,
    tasks: RefCell<Vec<LocalBoxFuture<'static, ()>>>,
    /// While set, every write into a session stream fails with a 503.
    fail_session_writes: Cell<bool>,
    /// The next write into a session stream is applied, but its answer is lost.
    lose_next_session_answer: Cell<bool>,
}

impl World {
    fn new(config: Config, has_queue: bool) -> Rc<Self> {
        let world = Self { config, has_queue, ..Self::default() };
        world.now.set(1_000_000);
        Rc::new(world)
    }

    fn core_object(self: &Rc<Self>, key: &str) -> Rc<Core> {
        let mut objects = self.core.borrow_mut();
        let object = objects.entry(key.to_owned()).or_insert_with(|| {
            let host = CoreHost { world: Rc::downgrade(self) };
            StreamService::new(NativeSql::new(), host, stream_do::Config::default()).expect("a core object")
        });
        Rc::clone(object)
    }

    fn layer_host(self: &Rc<Self>, key: &str) -> LayerHost {
        LayerHost { world: Rc::downgrade(self), me: key.to_owned() }
    }

    fn session(self: &Rc<Self>, key: &str) -> Rc<SessionObject<NativeSql, LayerHost>> {
        let host = self.layer_host(key);
        let config = self.config.clone();
        let mut objects = self.sessions.borrow_mut();
        let object = objects.entry(key.to_owned()).or_insert_with(|| {
            Rc::new(SessionObject::new(NativeSql::new(), host, config).expect("a session"))
        });
        Rc::clone(object)
    }

    fn source(self: &Rc<Self>, key: &str) -> Rc<SourceObject<NativeSql, LayerHost>> {
        let host = self.layer_host(key);
        let config = self.config.clone();
        let mut objects = self.sources.borrow_mut();
        let object = objects
            .entry(key.to_owned())
            .or_insert_with(|| Rc::new(SourceObject::new(NativeSql::new(), host, config).expect("a source")));
        Rc::clone(object)
    }

    fn project(self: &Rc<Self>, key: &str) -> Rc<ProjectObject<NativeSql, LayerHost>> {
        let host = self.layer_host(key);
        let mut objects = self.projects.borrow_mut();
        let object = objects
            .entry(key.to_owned())
            .or_insert_with(|| Rc::new(ProjectObject::new(NativeSql::new(), host).expect("a project")));
        Rc::clone(object)
    }

    /// A call to a project's object, and its JSON answer.
    fn ask_project(self: &Rc<Self>, project: &str, call: &ProjectCall) -> serde_json::Value {
        let reply = self.project(project).handle(&crate::wire::call_request(call).expect("a call"));
        assert_eq!(reply.status, 200, "{}", text(&reply));
        serde_json::from_str(&text(&reply)).expect("JSON")
    }

    /// A request to core, as its edge would hand it to the stream's object.
    async fn send_core(self: &Rc<Self>, req: Request) -> Reply {
        let Some(Ok(name)) = StreamName::parse(req.path()) else {
            return Reply::error(&ProtocolError::not_found());
        };
        let session_write =
            req.method == Method::Post && name.id.starts_with(crate::ids::SESSION_STREAM_PREFIX);
        if session_write && self.fail_session_writes.get() {
            return Reply::error(&ProtocolError::unavailable("injected"));
        }
        let object = self.core_object(&name.key());
        let answer = object.handle(req).await;
        match answer {
            Answer::Reply(reply) | Answer::Subscribe { reply, .. } => reply,
        }
    }

    /// Runs the worker's handling of one request, then the work it left behind.
    fn request(self: &Rc<Self>, method: Method, path: &str, body: &str, content_type: Option<&str>) -> Reply {
        let mut req =
            Request::new(method, format!("http://subscriptions{path}")).with_body(body.as_bytes().to_vec());
        if let Some(ct) = content_type {
            req = req.with_header("content-type", ct);
        }
        let route = route::route(method, path).expect("a route");
        let host = self.layer_host("worker");
        let reply = block_on(Api { host: &host, secrets: &Open }.handle(route, req));
        self.run_tasks();
        reply
    }

    fn run_tasks(&self) {
        loop {
            let task = {
                let mut tasks = self.tasks.borrow_mut();
                (!tasks.is_empty()).then(|| tasks.remove(0))
            };
            match task {
                Some(task) => block_on(task),
                None => return,
            }
        }
    }

    /// Runs every queued job once (as the consumer would), and what it said.
    fn consume_queue(self: &Rc<Self>) -> Vec<JobOutcome> {
        let jobs = std::mem::take(&mut *self.queue.borrow_mut());
        let host = self.layer_host("consumer");
        jobs.iter().map(|job| block_on(api::consume(&host, job))).collect()
    }

    fn create_source(self: &Rc<Self>, id: &str) {
        let req = Request::new(Method::Put, format!("http://core/v1/stream/{id}"))
            .with_header("content-type", "application/json");
        assert_eq!(block_on(self.send_core(req)).status, 201);
    }

    fn subscribe(self: &Rc<Self>, stream: &str, session: &str) -> serde_json::Value {
        let body = serde_json::json!({ "streamId": stream, "sessionId": session }).to_string();
        let reply = self.request(Method::Post, "/v1/subscribe", &body, Some("application/json"));
        assert_eq!(reply.status, 200, "{}", text(&reply));
        serde_json::from_str(&text(&reply)).expect("a JSON answer")
    }

    fn publish(self: &Rc<Self>, stream: &str, body: &str) -> Reply {
        let reply =
            self.request(Method::Post, &format!("/v1/publish/{stream}"), body, Some("application/json"));
        assert!(reply.status < 300, "{}", text(&reply));
        reply
    }

    /// A session stream's messages, read from core.
    fn messages(self: &Rc<Self>, session: &str) -> Vec<serde_json::Value> {
        let req = Request::new(Method::Get, format!("http://core/v1/stream/session:{session}?offset=-1"));
        let reply = block_on(self.send_core(req));
        assert_eq!(reply.status, 200, "{}", text(&reply));
        serde_json::from_str(&text(&reply)).expect("a JSON array")
    }
}

fn text(reply: &Reply) -> String {
    match &reply.body {
        Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Body::Empty => String::new(),
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.get(name)
}

/// Auth off.
struct Open;

impl Secrets for Open {
    fn enabled(&self) -> bool {
        false
    }

    fn secrets<'a>(
        &'a self,
        _: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<Rc<ProjectSecrets>>, ProtocolError>> {
        Box::pin(async { Ok(None) })
    }
}

/// The platform of the layer's worker and objects.
struct LayerHost {
    world: Weak<World>,
    me: String,
}

impl LayerHost {
    fn world(&self) -> Rc<World> {
        self.world.upgrade().expect("the world")
    }
}

impl Host for LayerHost {
    fn now_ms(&self) -> i64 {
        self.world().now.get()
    }

    fn sleep(&self, _ms: u64) -> LocalBoxFuture<'static, ()> {
        // Timeouts never fire: every call here answers.
        Box::pin(futures_util::future::pending())
    }

    fn spawn(&self, task: LocalBoxFuture<'static, ()>) {
        self.world().tasks.borrow_mut().push(task);
    }

    fn core<'a>(
        &'a self,
        _project: &'a str,
        req: Request,
    ) -> LocalBoxFuture<'a, Result<Reply, ProtocolError>> {
        Box::pin(async move {
            let world = self.world();
            let session_write = req.method == Method::Post && req.path().contains("/stream/session:");
            let reply = world.send_core(req).await;
            if session_write && world.lose_next_session_answer.replace(false) {
                return Err(ProtocolError::unavailable("the answer was lost"));
            }
            Ok(reply)
        })
    }

    fn session<'a>(&'a self, key: &'a str, req: Request) -> LocalBoxFuture<'a, Result<Reply, ProtocolError>> {
        Box::pin(async move { Ok(self.world().session(key).handle(&req).await) })
    }

    fn source<'a>(&'a self, key: &'a str, req: Request) -> LocalBoxFuture<'a, Result<Reply, ProtocolError>> {
        Box::pin(async move { Ok(self.world().source(key).handle(&req).await) })
    }

    fn project<'a>(
        &'a self,
        project: &'a str,
        req: Request,
    ) -> LocalBoxFuture<'a, Result<Reply, ProtocolError>> {
        Box::pin(async move { Ok(self.world().project(project).handle(&req)) })
    }

    fn metric(&self, metric: Metric) {
        // Counted the way the platform counts with METRICS_COUNTERS on.
        let world = self.world();
        let point = metric.point();
        if let Some(project) = crate::project::project_of(&point).map(str::to_owned) {
            let call = ProjectCall::Count { at_ms: world.now.get(), points: vec![point] };
            world.project(&project).handle(&crate::wire::call_request(&call).expect("a call"));
        }
    }

    fn log_error(&self, _message: &str) {}
}

impl Alarms for LayerHost {
    fn schedule_alarm(&self, at_ms: i64) {
        self.world().alarms.borrow_mut().insert(self.me.clone(), at_ms);
    }

    fn cancel_alarm(&self) {
        self.world().alarms.borrow_mut().remove(&self.me);
    }
}

impl FanoutQueue for LayerHost {
    fn has_queue(&self) -> bool {
        self.world().has_queue
    }

    fn enqueue(&self, jobs: Vec<FanoutJob>) -> LocalBoxFuture<'_, Result<(), ProtocolError>> {
        self.world().queue.borrow_mut().extend(jobs);
        Box::pin(async { Ok(()) })
    }
}

/// The platform of core's stream objects: no forks, no SSE, no cold tier here.
struct CoreHost {
    world: Weak<World>,
}

struct NoSubscriber;

impl Subscriber for NoSubscriber {
    fn state(&self) -> Option<SubscriberState> {
        None
    }
    fn save(&self, _: &SubscriberState) {}
    fn send(&self, _: &[u8]) -> bool {
        false
    }
    fn close(&self, _: u16, _: &str) {}
}

impl stream_do::Host for CoreHost {
    type Subscriber = NoSubscriber;

    fn now_ms(&self) -> i64 {
        self.world.upgrade().map_or(0, |w| w.now.get())
    }

    fn sleep(&self, _ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(futures_util::future::pending())
    }

    fn spawn(&self, task: LocalBoxFuture<'static, ()>) {
        if let Some(w) = self.world.upgrade() {
            w.tasks.borrow_mut().push(task);
        }
    }

    fn call<'a>(&'a self, _: &'a str, _: Call) -> LocalBoxFuture<'a, Result<CallReply, ProtocolError>> {
        // Registry events and forks are not part of these tests.
        Box::pin(async { Err(ProtocolError::unavailable("no calls between stream objects here")) })
    }

    fn notify_subscription<'a>(
        &'a self,
        _: &'a str,
        _: &'a durable_streams_cloudflare::ds::Notice,
    ) -> LocalBoxFuture<'a, Result<bool, ProtocolError>> {
        // This core has no `__ds` subscriptions, so none links its streams.
        Box::pin(async { Ok(false) })
    }

    fn subscribers(&self) -> Vec<NoSubscriber> {
        Vec::new()
    }

    fn cold(&self) -> Option<&dyn ColdStore> {
        None
    }

    fn segment_committed(&self, _: &str, _: &Rotation) {}

    fn segments_deleted(&self, _: &[String]) {}

    fn schedule_alarm(&self, _: i64) {}

    fn random_bytes(&self, out: &mut [u8]) -> Result<(), ProtocolError> {
        out.fill(7);
        Ok(())
    }

    fn metric(&self, _: durable_streams_cloudflare::metrics::StreamMetric) {}

    fn log_error(&self, _: &str) {}
}

fn world() -> Rc<World> {
    World::new(Config::default(), true)
}

#[test]
fn every_session_gets_every_message_once_and_late_ones_start_at_the_tail() {
    let w = world();
    w.create_source("chat");
    w.subscribe("chat", "a");
    w.subscribe("chat", "b");
    let reply = w.publish("chat", r#"[{"n":1},{"n":2}]"#);
    assert_eq!(header(&reply, "stream-fanout-count"), Some("2"));
    assert_eq!(header(&reply, "stream-fanout-successes"), Some("2"));
    assert_eq!(header(&reply, "stream-fanout-mode"), Some("inline"));
    w.subscribe("chat", "late");
    w.publish("chat", r#"{"n":3}"#);
    let all: Vec<serde_json::Value> = (1..=3).map(|n| serde_json::json!({ "n": n })).collect();
    assert_eq!(w.messages("a"), all);
    assert_eq!(w.messages("b"), all);
    assert_eq!(w.messages("late"), vec![serde_json::json!({ "n": 3 })]);
}

#[test]
fn a_write_whose_answer_was_lost_is_not_written_twice() {
    let w = world();
    w.create_source("s");
    w.subscribe("s", "u");
    w.lose_next_session_answer.set(true);
    let reply = w.publish("s", r#"{"n":1}"#);
    assert_eq!(header(&reply, "stream-fanout-failures"), Some("1"), "the session could not confirm");
    // Core has the write; the next fan-out retries it with the same sequence number, core
    // recognises it, and the session goes on from there.
    assert_eq!(w.messages("u"), vec![serde_json::json!({ "n": 1 })]);
    w.publish("s", r#"{"n":2}"#);
    assert_eq!(w.messages("u"), vec![serde_json::json!({ "n": 1 }), serde_json::json!({ "n": 2 })]);
}

#[test]
fn failed_fanouts_open_the_breaker_and_a_later_one_catches_up_exactly_once() {
    let config = Config { breaker_recovery_ms: 1000, ..Config::default() };
    let w = World::new(config, false);
    w.create_source("s");
    w.subscribe("s", "u");
    w.fail_session_writes.set(true);
    for n in 0..5 {
        let reply = w.publish("s", &format!(r#"{{"n":{n}}}"#));
        assert_eq!(header(&reply, "stream-fanout-mode"), Some("inline"));
        assert_eq!(header(&reply, "stream-fanout-failures"), Some("1"));
    }
    let open = w.publish("s", r#"{"n":5}"#);
    assert_eq!(header(&open, "stream-fanout-mode"), Some("circuit-open"));
    assert_eq!(header(&open, "stream-fanout-failures"), Some("1"));
    w.fail_session_writes.set(false);
    w.now.set(w.now.get() + 1000);
    let recovered = w.publish("s", r#"{"n":6}"#);
    assert_eq!(header(&recovered, "stream-fanout-mode"), Some("inline"));
    let all: Vec<serde_json::Value> = (0..=6).map(|n| serde_json::json!({ "n": n })).collect();
    assert_eq!(w.messages("u"), all);
}

#[test]
fn queued_jobs_deliver_once_even_when_run_again_or_out_of_order() {
    let config = Config { queue_threshold: 1, queue_batch: 2, ..Config::default() };
    let w = World::new(config, true);
    w.create_source("s");
    for s in ["a", "b", "c"] {
        w.subscribe("s", s);
    }
    let first = w.publish("s", r#"{"n":1}"#);
    assert_eq!(header(&first, "stream-fanout-mode"), Some("queued"));
    let first_jobs = w.queue.borrow().clone();
    assert_eq!(first_jobs.len(), 2, "3 sessions in jobs of 2");
    w.publish("s", r#"{"n":2}"#);
    // The second publish's jobs run first, then the first's, then all again.
    let second_jobs = std::mem::take(&mut *w.queue.borrow_mut());
    w.queue.borrow_mut().extend(second_jobs.iter().skip(2).cloned());
    assert!(w.consume_queue().iter().all(|o| *o == JobOutcome::Ack));
    w.queue.borrow_mut().extend(first_jobs.iter().cloned().chain(second_jobs.iter().cloned()));
    assert!(w.consume_queue().iter().all(|o| *o == JobOutcome::Ack));
    for s in ["a", "b", "c"] {
        assert_eq!(w.messages(s), vec![serde_json::json!({ "n": 1 }), serde_json::json!({ "n": 2 })], "{s}");
    }
}

#[test]
fn a_failing_job_is_retried_and_a_stale_session_leaves_the_index() {
    let config = Config { queue_threshold: 0, ..Config::default() };
    let w = World::new(config, true);
    w.create_source("s");
    w.subscribe("s", "kept");
    w.subscribe("s", "gone");
    assert_eq!(w.request(Method::Delete, "/v1/session/gone", "", None).status, 200);
    w.publish("s", r#"{"n":1}"#);
    w.fail_session_writes.set(true);
    let jobs = w.queue.borrow().clone();
    assert_eq!(w.consume_queue(), vec![JobOutcome::Retry]);
    w.fail_session_writes.set(false);
    w.queue.borrow_mut().extend(jobs);
    assert_eq!(w.consume_queue(), vec![JobOutcome::Ack]);
    assert_eq!(w.messages("kept"), vec![serde_json::json!({ "n": 1 })]);
    let count = w.publish("s", r#"{"n":2}"#);
    assert_eq!(header(&count, "stream-fanout-count"), Some("1"), "the deleted session is no subscriber");
}

#[test]
fn an_expired_session_leaves_every_index_and_its_stream_is_deleted() {
    let config = Config { session_ttl_secs: 10, ..Config::default() };
    let w = World::new(config, true);
    w.create_source("a");
    w.create_source("b");
    let answer = w.subscribe("a", "u");
    w.subscribe("b", "u");
    let alarm = w.alarms.borrow().get("_default/u").copied().expect("an alarm");
    assert_eq!(Some(alarm), answer["expiresAt"].as_i64());
    w.now.set(alarm - 1);
    block_on(w.session("_default/u").on_alarm()).expect("an early alarm");
    assert_eq!(w.request(Method::Get, "/v1/session/u", "", None).status, 200, "not yet");
    w.now.set(alarm);
    block_on(w.session("_default/u").on_alarm()).expect("the alarm");
    assert_eq!(w.request(Method::Get, "/v1/session/u", "", None).status, 404);
    for source in ["a", "b"] {
        assert_eq!(header(&w.publish(source, r#"{"n":1}"#), "stream-fanout-count"), Some("0"), "{source}");
    }
    let head = Request::new(Method::Head, "http://core/v1/stream/session:u");
    assert_eq!(block_on(w.send_core(head)).status, 404);
}

#[test]
fn a_touch_moves_the_alarm_and_reads_the_session_stream() {
    let config = Config { session_ttl_secs: 10, ..Config::default() };
    let w = World::new(config, true);
    w.create_source("s");
    w.subscribe("s", "u");
    w.now.set(w.now.get() + 5_000);
    let touched = w.request(Method::Post, "/v1/session/u/touch", "", None);
    assert_eq!(touched.status, 200);
    let expires: serde_json::Value = serde_json::from_str(&text(&touched)).expect("JSON");
    assert_eq!(expires["expiresAt"].as_i64(), Some(w.now.get() + 10_000));
    assert_eq!(w.alarms.borrow().get("_default/u").copied(), Some(w.now.get() + 10_000));
    assert_eq!(w.request(Method::Post, "/v1/session/none/touch", "", None).status, 404);
}

#[test]
fn the_project_lists_sessions_and_sources_and_counts_what_happened() {
    let w = world();
    w.create_source("a");
    w.create_source("b");
    for s in ["s1", "s2", "s3"] {
        w.subscribe("a", s);
    }
    w.subscribe("b", "s1");
    w.publish("a", r#"{"n":1}"#);
    w.publish("a", r#"{"n":2}"#);
    let overview = w.ask_project("_default", &ProjectCall::Overview { minutes: 60 });
    assert_eq!(
        (overview["sessions"].as_u64(), overview["subscriptions"].as_u64(), overview["sources"].as_u64()),
        (Some(3), Some(4), Some(2))
    );
    let series = overview["series"].as_array().expect("a series");
    assert_eq!(series.len(), 60, "zero-filled");
    let last = &series[59];
    assert_eq!(
        (last["publishes"].as_u64(), last["fanouts"].as_u64(), last["fanout_sessions"].as_u64()),
        (Some(2), Some(2), Some(6))
    );
    assert_eq!(last["subscribes"].as_u64(), Some(4));
    assert!(overview["fanout_p50_ms"].is_number());
    let page = w.ask_project("_default", &ProjectCall::Sessions { after: None, limit: 2 });
    let ids: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["sessionId"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec!["s1", "s2"]);
    assert_eq!(page["items"][0]["subscriptions"].as_u64(), Some(2));
    let rest = w.ask_project(
        "_default",
        &ProjectCall::Sessions { after: page["next"].as_str().map(str::to_owned), limit: 2 },
    );
    assert_eq!(rest["items"][0]["sessionId"].as_str(), Some("s3"));
    assert!(rest["next"].is_null());
    assert_eq!(w.request(Method::Delete, "/v1/session/s1", "", None).status, 200);
    let sources = w.ask_project("_default", &ProjectCall::Sources { after: None, limit: 10 });
    let counts: Vec<(String, u64)> = sources["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| (s["streamId"].as_str().unwrap_or("").to_owned(), s["subscribers"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(counts, vec![("a".to_owned(), 2)], "b lost its only subscriber");
    assert_eq!(
        w.ask_project("_default", &ProjectCall::Overview { minutes: 1 })["sessions"].as_u64(),
        Some(2)
    );
}

#[test]
fn a_source_lists_its_subscribers_by_page() {
    let w = World::new(Config::default(), true);
    w.create_source("s");
    for s in ["c", "a", "b"] {
        w.subscribe("s", s);
    }
    let ask = |after: Option<&str>| {
        let call = crate::wire::SourceCall::Subscribers { after: after.map(str::to_owned), limit: 2 };
        let reply =
            block_on(w.source("_default/s").handle(&crate::wire::call_request(&call).expect("a call")));
        assert_eq!(reply.status, 200, "{}", text(&reply));
        serde_json::from_str::<serde_json::Value>(&text(&reply)).expect("JSON")
    };
    let first = ask(None);
    let ids: Vec<&str> =
        first["items"].as_array().expect("items").iter().filter_map(|r| r["sessionId"].as_str()).collect();
    assert_eq!(ids, vec!["a", "b"]);
    assert!(first["items"][0]["subscribedAt"].as_i64().is_some_and(|t| t > 0));
    let rest = ask(first["next"].as_str());
    assert_eq!(rest["items"][0]["sessionId"].as_str(), Some("c"));
    assert!(rest["next"].is_null());
    assert_eq!(w.request(Method::Delete, "/v1/session/a", "", None).status, 200);
    assert_eq!(ask(None)["items"][0]["sessionId"].as_str(), Some("b"), "a deleted session is no subscriber");
}
