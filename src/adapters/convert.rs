//! Conversions between workers-rs requests/responses and the neutral types of `crate::http`.

use futures_util::StreamExt;
use js_sys::Uint8Array;
use wasm_bindgen_futures::JsFuture;
use worker::{ByteStream, Headers, Response, ResponseBuilder};

use super::incoming::Incoming;
use crate::http::{Body, BodyCollector, Method, Reply, Request};
use crate::protocol::ProtocolError;

/// Reads a request, with a body of at most `limit` bytes (see [`BodyCollector`]).
pub async fn read_request(req: impl Into<Incoming>, limit: usize) -> Result<Request, ProtocolError> {
    let req = req.into();
    let method = req.method();
    let raw = req.raw();
    let headers: Vec<(String, String)> =
        req.headers().entries().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    let declared =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok());
    let mut out = Request { method, url: raw.url(), headers, body: Vec::new() };
    let stream = match raw.body() {
        Some(stream) if !matches!(method, Method::Get | Method::Head | Method::Options) => stream,
        _ => return Ok(out),
    };
    let mut body = BodyCollector::new(limit);
    // A body of known length within the limit is read in one piece: one promise instead
    // of a reader and a promise per chunk.
    if declared.is_some_and(|n| n <= limit) {
        let promise = raw
            .array_buffer()
            .map_err(|e| ProtocolError::internal(format!("the request body cannot be read: {e:?}")))?;
        let buffer = JsFuture::from(promise).await.map_err(|e| body.broke_off(&format!("{e:?}")))?;
        body.push(&Uint8Array::new(&buffer).to_vec());
    } else {
        let mut stream = ByteStream::from(stream);
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => body.push(&chunk),
                Err(e) => return Err(body.broke_off(&e.to_string())),
            }
        }
    }
    out.body = body.finish()?;
    Ok(out)
}

/// Builds a workers-rs request from a neutral one, to send to a service binding or a
/// stub.
pub fn to_request(req: &Request) -> worker::Result<worker::Request> {
    let headers = Headers::new();
    for (k, v) in &req.headers {
        headers.append(k, v)?;
    }
    let method = match req.method {
        Method::Get => worker::Method::Get,
        Method::Head => worker::Method::Head,
        Method::Put => worker::Method::Put,
        Method::Post => worker::Method::Post,
        Method::Delete => worker::Method::Delete,
        Method::Options => worker::Method::Options,
        Method::Other => return Err(worker::Error::from("a request with an unknown method cannot be sent")),
    };
    let mut init = worker::RequestInit::new();
    init.with_method(method).with_headers(headers);
    if !req.body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(req.body.as_slice()).into()));
    }
    worker::Request::new_with_init(&req.url, &init)
}

/// Builds a workers-rs response.
pub fn to_response(reply: Reply) -> worker::Result<Response> {
    let headers = Headers::new();
    for (k, v) in &reply.headers {
        headers.append(k, v)?;
    }
    let builder = ResponseBuilder::new().with_status(reply.status).with_headers(headers);
    Ok(match reply.body {
        Body::Empty => builder.empty(),
        Body::Bytes(b) => builder.fixed(b),
    })
}

/// Reads a response into a neutral reply, keeping the headers `keep` names (a reply's
/// header names are static, so only known ones can be kept).
pub async fn from_response(
    mut resp: Response,
    keep: impl Fn(&str) -> Option<&'static str>,
) -> worker::Result<Reply> {
    let mut reply = Reply::new(resp.status_code());
    for (k, v) in resp.headers().entries() {
        if let Some(name) = keep(&k) {
            reply = reply.header(name, v);
        }
    }
    Ok(reply.bytes(resp.bytes().await?))
}
