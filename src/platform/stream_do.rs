//! `StreamDO`: one Durable Object per stream, wrapping [`StreamService`].
//!
//! The class is bound to JavaScript here rather than through workers-rs's
//! `#[durable_object]`, whose `fetch` converts each request into a `worker::Request`
//! and so builds the request's `cf` object, which a stream never reads.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use worker::worker_sys::web_sys;
use worker::{Env, Response, Result, State, WebSocketPair};

use super::host::{DoHost, DoSubscriber, SSE_TAG};
use crate::adapters::convert::{read_request, to_response};
use crate::adapters::incoming::Incoming;
use crate::adapters::sqlite::DoSql;
use crate::adapters::timing::{now_precise, Metered, RequestTimings};
use crate::http::Reply;
use crate::protocol::ErrorCode;
use crate::protocol::ProtocolError;
use crate::server_timing::ServerTiming;
use crate::stream_do::{Answer, Config, StreamService, SubscriberState};

type Service = StreamService<DoSql, DoHost>;

/// The Durable Object that owns one stream: it sequences writes, stores the log in its
/// SQLite database, and serves reads and live readers.
#[wasm_bindgen]
pub struct StreamDO {
    service: std::result::Result<Rc<Service>, String>,
    state: Rc<State>,
}

#[wasm_bindgen]
impl StreamDO {
    #[wasm_bindgen(constructor)]
    pub fn new(state: worker::worker_sys::DurableObjectState, env: Env) -> Self {
        let config = Config::from_vars(|k| env.var(k).ok().map(|v| v.to_string()));
        let state = Rc::new(State::from(state));
        let sql = DoSql::new(&state.storage());
        let host = DoHost::new(env, Rc::clone(&state));
        let service = StreamService::new(sql, host, config).map_err(|e| e.to_string());
        Self { service, state }
    }

    pub async fn fetch(&self, req: web_sys::Request) -> std::result::Result<JsValue, JsValue> {
        let response = self.answer(Incoming::from(req)).await.map_err(JsValue::from)?;
        Ok(web_sys::Response::from(response).into())
    }

    pub async fn alarm(&self) -> std::result::Result<JsValue, JsValue> {
        if let Ok(service) = &self.service {
            service.on_alarm().await;
        }
        Ok(JsValue::UNDEFINED)
    }

    /// Readers only listen: what they send is ignored.
    #[wasm_bindgen(js_name = webSocketMessage)]
    pub async fn websocket_message(
        &self,
        _ws: web_sys::WebSocket,
        _message: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        Ok(JsValue::NULL)
    }

    #[wasm_bindgen(js_name = webSocketClose)]
    pub async fn websocket_close(
        &self,
        ws: web_sys::WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> std::result::Result<JsValue, JsValue> {
        // Completes the closing handshake; the socket may already be closed.
        let ws = worker::WebSocket::from(ws);
        let _ = ws.close(Some(u16::try_from(code).unwrap_or(1000)), Some(reason));
        self.readers_changed();
        Ok(JsValue::NULL)
    }

    #[wasm_bindgen(js_name = webSocketError)]
    pub async fn websocket_error(
        &self,
        ws: web_sys::WebSocket,
        _error: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let _ = worker::WebSocket::from(ws).close(Some(1011), Some("error"));
        self.readers_changed();
        Ok(JsValue::NULL)
    }
}

impl StreamDO {
    async fn answer(&self, req: Incoming) -> Result<Response> {
        let started = now_precise();
        let service = match &self.service {
            Ok(s) => Rc::clone(s),
            Err(e) => return to_response(Reply::error(&ProtocolError::internal(e.clone()))),
        };
        let work = async {
            match read_request(req, service.config().max_append_bytes).await {
                Ok(req) => {
                    let upgrade = req.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
                    (service.handle(req).await, upgrade)
                }
                Err(e) => (Reply::error(&e).into(), false),
            }
        };
        let timings = Rc::new(RequestTimings::default());
        let (answer, upgrade) = Metered::new(work, Rc::clone(&timings)).await;
        let mut timing = ServerTiming::after(None);
        timing.add("do", now_precise() - started, None).add("storage", timings.storage_ms.get(), None);
        if timings.r2_used.get() {
            let desc = if timings.r2_failed.get() { Some("error") } else { None };
            timing.add("r2", timings.r2_ms.get(), desc);
        }
        match answer {
            Answer::Reply(reply) => to_response(reply.header("Server-Timing", timing.value())),
            Answer::Subscribe { reply, state } if upgrade => {
                let reply = reply.header("Server-Timing", timing.value());
                self.subscribe(&service, state, reply.headers)
            }
            Answer::Subscribe { .. } => to_response(Reply::error(&ProtocolError::new(
                ErrorCode::UpgradeRequired,
                "SSE reaches a stream object as a WebSocket from the edge",
            ))),
        }
    }

    /// Reports the SSE readers after one left.
    fn readers_changed(&self) {
        if let Ok(service) = &self.service {
            service.sse_readers_changed();
        }
    }

    /// Accepts an SSE reader's WebSocket with the Hibernation API and starts serving it.
    fn subscribe(
        &self,
        service: &Rc<Service>,
        state: SubscriberState,
        headers: Vec<(&str, String)>,
    ) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        pair.server.serialize_attachment(&state)?;
        self.state.accept_websocket_with_tags(&pair.server, &[SSE_TAG]);
        service.attach(DoSubscriber(pair.server));
        service.sse_readers_changed();
        let mut response = Response::from_websocket(pair.client)?;
        for (k, v) in headers {
            response.headers_mut().set(k, &v)?;
        }
        Ok(response)
    }
}
