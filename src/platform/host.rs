//! [`Host`] for a Durable Object: clock, timers, alarms and calls to other stream objects.

use std::rc::Rc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use worker::{Delay, Env, Method, RequestInit, Storage};

use super::convert::from_response;
use super::timing::now_ms;
use super::STREAMS_BINDING;
use crate::protocol::ProtocolError;
use crate::service::internal::{decode_reply, Call, CallReply};
use crate::service::Host;

/// The platform services of one `StreamDO`.
pub struct DoHost {
    env: Env,
    storage: Rc<Storage>,
}

impl DoHost {
    /// The host for an object with these bindings and storage.
    pub fn new(env: Env, storage: Storage) -> Self {
        Self { env, storage: Rc::new(storage) }
    }

    async fn send(&self, stream_id: &str, call: &Call) -> worker::Result<crate::service::Reply> {
        let stub = self.env.durable_object(STREAMS_BINDING)?.get_by_name(stream_id)?;
        let (path, body) = call.encode();
        let body = js_sys::Uint8Array::from(body.as_slice());
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        // The host is ignored by stubs; the path selects the internal operation.
        let req = worker::Request::new_with_init(&format!("https://stream.internal{path}"), &init)?;
        from_response(stub.fetch_with_request(req).await?).await
    }
}

impl Host for DoHost {
    fn now_ms(&self) -> i64 {
        now_ms()
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(Delay::from(Duration::from_millis(ms)))
    }

    fn call<'a>(
        &'a self,
        stream_id: &'a str,
        call: Call,
    ) -> LocalBoxFuture<'a, Result<CallReply, ProtocolError>> {
        Box::pin(async move {
            let reply = self.send(stream_id, &call).await.map_err(|e| {
                ProtocolError::Unavailable(format!("stream {stream_id} did not answer: {e}").into())
            })?;
            decode_reply(&call, reply)
        })
    }

    fn schedule_alarm(&self, at_ms: i64) {
        let storage = Rc::clone(&self.storage);
        wasm_bindgen_futures::spawn_local(async move {
            let at = worker::ScheduledTime::new(js_sys::Date::new(&(at_ms as f64).into()));
            if let Err(e) = storage.set_alarm(at).await {
                worker::console_error!("setting the expiry alarm failed: {e}");
            }
        });
    }

    fn log_error(&self, message: &str) {
        worker::console_error!("{message}");
    }
}
