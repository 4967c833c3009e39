//! `StreamDO`: one Durable Object per stream, wrapping [`StreamService`].

use std::rc::Rc;

use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, Socket, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use super::host::{DoHost, DoSubscriber, SSE_TAG};
use crate::adapters::convert::{read_request, to_response};
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
#[durable_object]
pub struct StreamDO {
    service: std::result::Result<Rc<Service>, String>,
    state: Rc<State>,
}

impl DurableObject for StreamDO {
    fn new(state: State, env: Env) -> Self {
        let config = Config::from_vars(|k| env.var(k).ok().map(|v| v.to_string()));
        let state = Rc::new(state);
        let sql = DoSql::new(&state.storage());
        let host = DoHost::new(env, Rc::clone(&state));
        let service = StreamService::new(sql, host, config).map_err(|e| e.to_string());
        Self { service, state }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
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

    async fn alarm(&self) -> Result<Response> {
        if let Ok(service) = &self.service {
            service.on_alarm().await;
        }
        Response::empty()
    }

    async fn websocket_message(&self, _ws: WebSocket, _message: WebSocketIncomingMessage) -> Result<()> {
        // Readers only listen.
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        // Completes the closing handshake; the socket may already be closed.
        let _ = ws.close(Some(u16::try_from(code).unwrap_or(1000)), Some(reason));
        self.readers_changed();
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        let _ = ws.close(Some(1011), Some("error"));
        self.readers_changed();
        Ok(())
    }

    async fn connect(&self, _socket: Socket) -> Result<()> {
        Err("stream objects do not accept TCP connections".into())
    }
}

impl StreamDO {
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
