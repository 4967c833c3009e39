//! The edge worker: routes requests, answers preflights and health checks, forwards
//! stream requests to the stream's Durable Object, and puts CORS and security headers
//! on every response, errors included.

use worker::{Context, Env, Response};

use super::convert::to_response;
use super::STREAMS_BINDING;
use crate::gateway::{self, AllowedOrigins, Route};
use crate::protocol::{caching, ProtocolError};
use crate::service::{Method, Reply, Request};

/// The worker's fetch handler. A worker that embeds this crate calls it from its own
/// `#[event(fetch)]`.
pub async fn handle_fetch(
    req: worker::Request,
    env: Env,
    _ctx: Context,
) -> worker::Result<Response> {
    let method = Method::parse(&req.inner().method());
    let url = req.inner().url();
    let path = Request::new(method, url).path().to_owned();
    let origin = req.headers().get("Origin").ok().flatten();
    let allowed = AllowedOrigins::parse(
        env.var("CORS_ORIGINS")
            .ok()
            .map(|v| v.to_string())
            .as_deref(),
    );
    let response = match gateway::route(method, &path) {
        Ok(Route::Preflight) => {
            let requested = req
                .headers()
                .get("Access-Control-Request-Headers")
                .ok()
                .flatten();
            let mut reply = Reply::new(204);
            reply
                .headers
                .extend(gateway::preflight_headers(requested.as_deref()));
            to_response(reply)
        }
        Ok(Route::Health) => to_response(
            Reply::new(200)
                .header("Content-Type", "application/json")
                .header("Cache-Control", caching::NO_STORE)
                .bytes(br#"{"status":"ok"}"#.to_vec()),
        ),
        Ok(Route::Stream(id)) => forward(&env, &id, req).await,
        Err(e) => to_response(Reply::error(&e)),
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            worker::console_error!("request failed: {e}");
            to_response(Reply::error(&ProtocolError::Unavailable(
                "the stream could not be reached".into(),
            )))?
        }
    };
    decorate(response, &allowed, origin.as_deref())
}

/// Sends the request, body and all, to the stream's object.
async fn forward(env: &Env, stream_id: &str, req: worker::Request) -> worker::Result<Response> {
    let stub = env
        .durable_object(STREAMS_BINDING)?
        .get_by_name(stream_id)?;
    stub.fetch_with_request(req).await
}

/// Adds CORS and security headers. Responses from stubs have immutable headers, so the
/// headers are copied first.
fn decorate(
    response: Response,
    allowed: &AllowedOrigins,
    origin: Option<&str>,
) -> worker::Result<Response> {
    let headers = response.headers().clone();
    for (k, v) in gateway::SECURITY_HEADERS {
        headers.set(k, v)?;
    }
    for (k, v) in gateway::cors_headers(allowed, origin) {
        headers.set(k, &v)?;
    }
    Ok(response.with_headers(headers))
}
