//! [`Origin`] for the edge: the stream's Durable Object, and follower wake-ups that work
//! across requests of a stateless worker.

use std::rc::Rc;
use std::time::Duration;

use durable_streams_cache::{Buffered, Slot};
use futures_util::future::{select, LocalBoxFuture};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{Delay, Method, Request, Stub};

use super::auth::mark_access;
use crate::adapters::timing::now_ms;
use crate::auth::Access;
use crate::edge::read::Origin;
use crate::protocol::ProtocolError;

/// One GET to a stream object.
pub struct DoOrigin {
    stub: Stub,
    url: String,
    access: Access,
}

impl DoOrigin {
    /// Reads `url` from the object behind `stub`, for a request authorized as `access`.
    pub fn new(stub: Stub, url: String, access: Access) -> Self {
        Self { stub, url, access }
    }

    async fn get(&self) -> worker::Result<Buffered> {
        // A fresh request: the client's If-None-Match and Cache-Control stay at the edge,
        // so the answer serves every requester and can be stored.
        let headers = worker::Headers::new();
        mark_access(&headers, self.access)?;
        let mut init = worker::RequestInit::new();
        init.with_method(Method::Get).with_headers(headers);
        let req = Request::new_with_init(&self.url, &init)?;
        let mut resp = self.stub.fetch_with_request(req).await?;
        let headers = resp.headers().entries().collect();
        Ok(Buffered { status: resp.status_code(), headers, body: resp.bytes().await? })
    }
}

impl Origin for DoOrigin {
    fn now_ms(&self) -> i64 {
        now_ms()
    }

    fn fetch(&self) -> LocalBoxFuture<'_, Result<Buffered, ProtocolError>> {
        Box::pin(async move {
            self.get().await.map_err(|e| {
                worker::console_error!("stream object request failed: {e}");
                ProtocolError::unavailable("the stream could not be reached")
            })
        })
    }

    /// The leader makes a JavaScript promise in its own request and resolves it when it
    /// settles. Followers wait by following that promise from their requests: the
    /// runtime then resumes each follower in its own request's context. (A promise a
    /// follower made itself and the leader resolved would resume the follower in the
    /// leader's context, where the follower's response cannot be built.)
    fn lead(&self, slot: &Rc<Slot<Rc<Buffered>>>) {
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            slot.on_settled(move || {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            });
        });
        slot.set_signal(promise);
    }

    /// A timer in the follower's request bounds the wait (and keeps the request alive).
    fn wait(&self, slot: &Rc<Slot<Rc<Buffered>>>, bound_ms: u64) -> LocalBoxFuture<'_, ()> {
        let signal = slot.signal::<js_sys::Promise>();
        Box::pin(async move {
            // Without a signal (not expected) the follower fetches alone at once.
            if let Some(promise) = signal {
                let settled = JsFuture::from((*promise).clone());
                let _ = select(settled, Delay::from(Duration::from_millis(bound_ms))).await;
            }
        })
    }
}
