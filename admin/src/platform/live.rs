//! The live log's SSE response: long-polls of the stream's object, one after another,
//! each answer sent on as an event with its offset as `id:` (see [`crate::live`]).

use worker::{Env, Response, Stub};

use durable_streams_cloudflare::adapters::convert::to_response;
use durable_streams_cloudflare::adapters::timing::now_ms;
use durable_streams_cloudflare::http::Reply;
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::sse::{CONTENT_TYPE, KEEPALIVE};
use durable_streams_cloudflare::protocol::{Offset, ProtocolError, StartAt};

use crate::live;

/// Where one live response has got to.
struct Follow {
    stub: Stub,
    path: String,
    offset: String,
    content_type: String,
    until_ms: i64,
    started: bool,
    done: bool,
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name).ok().flatten()
}

async fn get(stub: &Stub, url: &str, method: worker::Method) -> worker::Result<Response> {
    stub.fetch_with_request(worker::Request::new(url, method)?).await
}

/// Answers `GET /admin/api/live/…`: the stream must exist (its HEAD answers first, with
/// its content type and tail); then events until the stream closes or goes, or until
/// `session_ms` have passed and the browser reconnects.
pub async fn respond(
    env: &Env,
    name: &StreamName,
    req: &worker::Request,
    session_ms: u64,
) -> worker::Result<Response> {
    let query = req.url()?.query().unwrap_or_default().to_owned();
    let last_event_id = req.headers().get("Last-Event-ID")?;
    let start = match live::start(&query, last_event_id.as_deref()) {
        Ok(start) => start,
        Err(e) => return to_response(Reply::error(&e)),
    };
    let stub = match super::stream_stub(env, name) {
        Ok(stub) => stub,
        Err(e) => return super::unavailable(format!("finding the stream object of {}: {e}", name.key())),
    };
    let path = name.path();
    let head = get(&stub, &format!("https://stream.internal{path}"), worker::Method::Head).await?;
    if head.status_code() != 200 {
        // HEAD has no body: say what it meant.
        let e = match head.status_code() {
            404 => ProtocolError::stream_not_found(),
            410 => ProtocolError::stream_gone(),
            status => ProtocolError::unavailable(format!("the stream object answered HEAD with {status}")),
        };
        return to_response(Reply::error(&e));
    }
    let offset = match start {
        StartAt::Now => header(&head, "Stream-Next-Offset").unwrap_or_else(|| "now".to_owned()),
        StartAt::Beginning => "-1".to_owned(),
        StartAt::At(o) => o.to_string(),
    };
    let follow = Follow {
        stub,
        path,
        offset,
        content_type: header(&head, "Content-Type").unwrap_or_default(),
        until_ms: now_ms().saturating_add(i64::try_from(session_ms).unwrap_or(i64::MAX)),
        started: false,
        done: false,
    };
    let events = futures_util::stream::unfold(follow, |mut f| async move {
        let chunk = next(&mut f).await?;
        Some((Ok::<Vec<u8>, worker::Error>(chunk), f))
    });
    let headers = worker::Headers::new();
    headers.set("Content-Type", CONTENT_TYPE)?;
    Ok(Response::from_stream(events)?.with_headers(headers))
}

/// The next chunk of the response, or `None` to end it.
async fn next(f: &mut Follow) -> Option<Vec<u8>> {
    if f.done || (f.started && now_ms() >= f.until_ms) {
        return None;
    }
    if !f.started {
        f.started = true;
        let mut out = live::RETRY.to_vec();
        live::push_position(&mut out, &f.offset);
        return Some(out);
    }
    let url = format!("https://stream.internal{}?offset={}&live=long-poll", f.path, f.offset);
    // A failed request ends the response; the browser reconnects from the last id.
    let mut resp = get(&f.stub, &url, worker::Method::Get).await.ok()?;
    let closed = header(&resp, "Stream-Closed").as_deref() == Some("true");
    let mut out = Vec::new();
    match resp.status_code() {
        200 => {
            let next = header(&resp, "Stream-Next-Offset")?;
            let body = resp.bytes().await.ok()?;
            live::push_messages(&mut out, &next.parse::<Offset>().ok()?, &body, &f.content_type);
            f.offset = next;
            let up_to_date = header(&resp, "Stream-Up-To-Date").as_deref() == Some("true");
            if closed && up_to_date {
                live::push_end(&mut out, "the stream is closed");
                f.done = true;
            }
        }
        // The long-poll timed out with nothing new, or the stream is closed at this offset.
        204 if closed => {
            live::push_end(&mut out, "the stream is closed");
            f.done = true;
        }
        204 => out.extend_from_slice(KEEPALIVE),
        404 | 410 => {
            live::push_end(&mut out, "the stream was deleted");
            f.done = true;
        }
        _ => return None,
    }
    Some(out)
}
