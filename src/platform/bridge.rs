//! SSE at the edge: each SSE reader is bridged to its stream object over a WebSocket.
//!
//! The object accepts the socket with the Hibernation API, so it may be evicted from
//! memory between appends while readers stay connected, and it pushes ready-made SSE
//! chunks (a `data` event and its `control` event). The edge copies them into the SSE
//! response unchanged, adds keep-alive comments when idle, and ends the response after
//! the session lifetime so clients reconnect from their last offset.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::{Delay, Headers, RequestInit, Response, ResponseBuilder, Stub, WebSocket, WebsocketEvent};

use super::auth::mark_access;
use crate::adapters::timing::now_ms;
use crate::auth::Access;
use crate::protocol::headers as h;
use crate::protocol::sse;

/// The most bytes waiting for a slow reader; past this the response ends and the reader
/// reconnects from its last offset, so one slow reader never holds unbounded memory.
const MAX_QUEUED_BYTES: usize = 8 << 20;

/// How an SSE response behaves over time.
#[derive(Clone, Copy, Debug)]
pub struct SessionLimits {
    /// The response ends after this long.
    pub session_ms: u64,
    /// An idle response gets a comment this often.
    pub keepalive_ms: u64,
}

/// Opens the WebSocket to the stream object and returns the SSE response fed by it. An
/// error from the object (404, 400, …) is returned as is.
pub async fn open(stub: &Stub, url: &str, access: Access, limits: SessionLimits) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    mark_access(&headers, access)?;
    let mut init = RequestInit::new();
    init.with_headers(headers);
    let response = stub.fetch_with_request(worker::Request::new_with_init(url, &init)?).await?;
    if response.status_code() != 101 {
        return Ok(response);
    }
    let encoding = response.headers().get(h::STREAM_SSE_DATA_ENCODING)?;
    let timing = response.headers().get("Server-Timing")?;
    let ws =
        response.websocket().ok_or_else(|| worker::Error::from("the stream object sent no WebSocket"))?;
    let (tx, rx) = mpsc::unbounded::<Vec<u8>>();
    let queued = Rc::new(Cell::new(0usize));
    wasm_bindgen_futures::spawn_local(relay(ws, tx, Rc::clone(&queued), limits));
    let body = rx.map(move |chunk| {
        queued.set(queued.get().saturating_sub(chunk.len()));
        Ok::<_, worker::Error>(chunk)
    });
    let headers = Headers::new();
    headers.set("Content-Type", sse::CONTENT_TYPE)?;
    headers.set("Cache-Control", durable_streams_cache::control::SSE)?;
    headers.set("X-Accel-Buffering", "no")?;
    if let Some(encoding) = encoding {
        headers.set(h::STREAM_SSE_DATA_ENCODING, &encoding)?;
    }
    if let Some(timing) = timing {
        headers.set("Server-Timing", &timing)?;
    }
    ResponseBuilder::new().with_status(200).with_headers(headers).from_stream(body)
}

/// Copies the object's chunks into the response until the object closes the socket, the
/// reader goes away, or the session ends.
async fn relay(
    ws: WebSocket,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    queued: Rc<Cell<usize>>,
    limits: SessionLimits,
) {
    let ends_at = now_ms() + limits.session_ms as i64;
    // Listen before accepting: messages that arrive with no listener are lost.
    let Ok(mut events) = ws.events() else {
        let _ = ws.close(Some(1011), Some("no events"));
        return;
    };
    if ws.accept().is_err() {
        return;
    }
    loop {
        let left = ends_at - now_ms();
        if left <= 0 {
            break;
        }
        let idle = Delay::from(Duration::from_millis(limits.keepalive_ms.min(left as u64)));
        let chunk = match select(events.next(), idle).await {
            Either::Left((Some(Ok(WebsocketEvent::Message(m))), _)) => {
                m.text().unwrap_or_default().into_bytes()
            }
            // The object closed the stream (closed, deleted) or the socket failed.
            Either::Left(_) => break,
            Either::Right(_) if now_ms() >= ends_at => break,
            Either::Right(_) => sse::KEEPALIVE.to_vec(),
        };
        queued.set(queued.get() + chunk.len());
        // A failed send means the reader went away.
        if queued.get() > MAX_QUEUED_BYTES || tx.unbounded_send(chunk).is_err() {
            break;
        }
    }
    drop(events);
    let _ = ws.close(Some(1000), Some("session ended"));
}
