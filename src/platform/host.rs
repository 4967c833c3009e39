//! [`Host`] for a Durable Object: clock, timers, alarms, background work, hibernatable
//! SSE subscribers, and calls to other stream objects.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use worker::{
    AnalyticsEngineDataPointBuilder, AnalyticsEngineDataset, Delay, Env, Method, RequestInit, State,
    WebSocket,
};

use super::cold::{AdminIndex, IndexedSegment, R2Cold, ADMIN_DB_BINDING, SEGMENTS_BINDING};
use super::ds_subscription_do::SUBSCRIPTIONS_BINDING;
use super::STREAMS_BINDING;
use crate::adapters::convert::{from_response, to_request};
use crate::adapters::timing::now_ms;
use crate::metrics::{
    Batch, MetricsCall, StreamMetric, COUNTERS_BINDING, COUNTERS_OBJECT, COUNTERS_VAR, FLUSH_MS,
    METRICS_BINDING,
};
use crate::protocol::ProtocolError;
use crate::store::Rotation;
use crate::stream_do::calls::{Call, CallReply};
use crate::stream_do::host::ColdStore;
use crate::stream_do::{Host, Subscriber, SubscriberState};

/// The tag of the WebSockets that carry SSE readers.
pub const SSE_TAG: &str = "sse";

/// The platform services of one `StreamDO`.
pub struct DoHost {
    env: Env,
    state: Rc<State>,
    cold: Option<R2Cold>,
    admin: Option<AdminIndex>,
    metrics: Rc<MetricsSink>,
}

/// Where a stream object's metrics go, gathered for [`FLUSH_MS`] first.
struct MetricsSink {
    dataset: Option<AnalyticsEngineDataset>,
    counters: bool,
    pending: RefCell<Batch>,
}

impl MetricsSink {
    /// Writes what was gathered: data points, and a call to the counters object.
    async fn flush(&self, env: &Env) {
        let events = self.pending.borrow_mut().take();
        if let Some(dataset) = &self.dataset {
            for point in events.iter().map(StreamMetric::point) {
                let written = AnalyticsEngineDataPointBuilder::new()
                    .indexes([point.index.as_str()])
                    .blobs(point.blobs)
                    .doubles(point.doubles)
                    .write_to(dataset);
                if let Err(e) = written {
                    worker::console_error!("writing a metric failed: {e}");
                }
            }
        }
        if self.counters {
            let sent = async {
                let req = to_request(&MetricsCall::Record { events }.request())?;
                let stub = env.durable_object(COUNTERS_BINDING)?.get_by_name(COUNTERS_OBJECT)?;
                stub.fetch_with_request(req).await
            };
            if let Err(e) = sent.await {
                worker::console_error!("counting metrics failed: {e}");
            }
        }
    }
}

impl DoHost {
    /// The host for an object with these bindings and state. Cold storage and the admin
    /// index are on when their bindings exist.
    pub fn new(env: Env, state: Rc<State>) -> Self {
        let cold = env.bucket(SEGMENTS_BINDING).ok().map(R2Cold::new);
        let admin = env.d1(ADMIN_DB_BINDING).ok().map(AdminIndex::new);
        let metrics = Rc::new(MetricsSink {
            dataset: env.analytics_engine(METRICS_BINDING).ok(),
            counters: env.var(COUNTERS_VAR).is_ok_and(|v| v.to_string() == "1"),
            pending: RefCell::default(),
        });
        Self { env, state, cold, admin, metrics }
    }

    async fn send(&self, stream_id: &str, call: &Call) -> worker::Result<crate::http::Reply> {
        send_call(&self.env, stream_id, call).await
    }
}

impl Host for DoHost {
    type Subscriber = DoSubscriber;

    fn now_ms(&self) -> i64 {
        now_ms()
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(Delay::from(Duration::from_millis(ms)))
    }

    fn spawn(&self, task: LocalBoxFuture<'static, ()>) {
        self.state.wait_until(task);
    }

    fn call<'a>(
        &'a self,
        stream_id: &'a str,
        call: Call,
    ) -> LocalBoxFuture<'a, Result<CallReply, ProtocolError>> {
        Box::pin(async move {
            let reply = self
                .send(stream_id, &call)
                .await
                .map_err(|e| ProtocolError::unavailable(format!("stream {stream_id} did not answer: {e}")))?;
            call.decode_reply(reply)
        })
    }

    fn notify_subscription<'a>(
        &'a self,
        key: &'a str,
        notice: &'a crate::ds::Notice,
    ) -> LocalBoxFuture<'a, Result<bool, ProtocolError>> {
        Box::pin(async move {
            let told = async {
                // Without the namespace there are no subscriptions to tell.
                let Ok(namespace) = self.env.durable_object(SUBSCRIPTIONS_BINDING) else { return Ok(true) };
                let stub = namespace.get_by_name(key)?;
                let body =
                    js_sys::Uint8Array::from(serde_json::to_vec(notice).unwrap_or_default().as_slice());
                let mut init = RequestInit::new();
                init.with_method(Method::Post).with_body(Some(body.into()));
                let url = format!("https://ds.internal{}", crate::ds::NOTICE_PATH);
                let mut res = stub.fetch_with_request(worker::Request::new_with_init(&url, &init)?).await?;
                let answer: serde_json::Value = res.json().await?;
                Ok::<_, worker::Error>(
                    answer.get("linked").and_then(serde_json::Value::as_bool).unwrap_or(true),
                )
            };
            told.await
                .map_err(|e| ProtocolError::unavailable(format!("subscription {key} did not answer: {e}")))
        })
    }

    fn subscribers(&self) -> Vec<DoSubscriber> {
        // A socket that is closing (its reader left) is no longer a subscriber.
        const OPEN: u16 = 1;
        let sockets = self.state.get_websockets_with_tag(SSE_TAG).into_iter();
        sockets.filter(|ws| ws.as_ref().ready_state() == OPEN).map(DoSubscriber).collect()
    }

    fn cold(&self) -> Option<&dyn ColdStore> {
        self.cold.as_ref().map(|c| c as &dyn ColdStore)
    }

    fn segment_committed(&self, stream_id: &str, segment: &Rotation) {
        if let Some(admin) = self.admin.clone() {
            self.state.wait_until(admin.record(stream_id.to_owned(), IndexedSegment::from(segment)));
        }
    }

    fn segments_deleted(&self, keys: &[String]) {
        if let Some(admin) = self.admin.clone() {
            self.state.wait_until(admin.forget(keys.to_vec()));
        }
    }

    fn schedule_alarm(&self, at_ms: i64) {
        let state = Rc::clone(&self.state);
        wasm_bindgen_futures::spawn_local(async move {
            let at = worker::ScheduledTime::new(js_sys::Date::new(&(at_ms as f64).into()));
            if let Err(e) = state.storage().set_alarm(at).await {
                worker::console_error!("setting the expiry alarm failed: {e}");
            }
        });
    }

    fn random_bytes(&self, out: &mut [u8]) -> Result<(), ProtocolError> {
        fill_random(out)
    }

    fn metric(&self, event: StreamMetric) {
        let sink = &self.metrics;
        if sink.dataset.is_none() && !sink.counters {
            return;
        }
        if sink.pending.borrow_mut().push(event) {
            let (sink, env) = (Rc::clone(sink), self.env.clone());
            self.state.wait_until(async move {
                Delay::from(Duration::from_millis(FLUSH_MS)).await;
                sink.flush(&env).await;
            });
        }
    }

    fn log_error(&self, message: &str) {
        worker::console_error!("{message}");
    }
}

/// Sends `call` to the object of stream `stream_id` and reads its raw reply.
pub async fn send_call(env: &Env, stream_id: &str, call: &Call) -> worker::Result<crate::http::Reply> {
    let stub = env.durable_object(STREAMS_BINDING)?.get_by_name(stream_id)?;
    let (path, body) = call.encode();
    let body = js_sys::Uint8Array::from(body.as_slice());
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    // The host is ignored by stubs; the path selects the internal operation.
    let req = worker::Request::new_with_init(&format!("https://stream.internal{path}"), &init)?;
    from_response(stub.fetch_with_request(req).await?, crate::stream_do::calls::known_header).await
}

/// Fills `out` from the runtime's `crypto.getRandomValues`.
pub fn fill_random(out: &mut [u8]) -> Result<(), ProtocolError> {
    use wasm_bindgen::JsCast;
    let array = js_sys::Uint8Array::new_with_length(out.len() as u32);
    let global = js_sys::global();
    let crypto = js_sys::Reflect::get(&global, &"crypto".into())
        .map_err(|_| ProtocolError::internal("no crypto in this runtime"))?;
    let fill = js_sys::Reflect::get(&crypto, &"getRandomValues".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| ProtocolError::internal("no crypto.getRandomValues in this runtime"))?;
    fill.call1(&crypto, &array).map_err(|_| ProtocolError::internal("crypto.getRandomValues failed"))?;
    array.copy_to(out);
    Ok(())
}

/// An SSE reader's WebSocket from the edge, accepted with the Hibernation API. Its
/// progress is the socket's attachment, which survives hibernation.
pub struct DoSubscriber(pub WebSocket);

impl Subscriber for DoSubscriber {
    fn state(&self) -> Option<SubscriberState> {
        self.0.deserialize_attachment().ok().flatten()
    }

    fn save(&self, state: &SubscriberState) {
        if let Err(e) = self.0.serialize_attachment(state) {
            worker::console_error!("saving an SSE reader's position failed: {e}");
        }
    }

    fn send(&self, chunk: &[u8]) -> bool {
        // Text frames: SSE is UTF-8 text (binary streams are base64), and text frames
        // arrive as strings at the edge. A text stream's invalid UTF-8, which no SSE
        // client could read either, is replaced.
        self.0.send_with_str(String::from_utf8_lossy(chunk)).is_ok()
    }

    fn close(&self, code: u16, reason: &str) {
        let _ = self.0.close(Some(code), Some(reason));
    }
}
