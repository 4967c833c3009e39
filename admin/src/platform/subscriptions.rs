//! A project's subscription layer: read from its own objects (the project's object for
//! the overview and the listings, a session's object for the session), with the
//! subscription crate's own call types, so they cannot drift from what the objects take;
//! changed through the subscription worker's public API, so its rules (auth, fan-out,
//! both indexes) hold as for any client.

use worker::{Env, Response};

use durable_streams_cloudflare::adapters::convert::{read_request, to_request, to_response};
use durable_streams_cloudflare::http::Reply;

use crate::route::{SubscriptionAction, SubscriptionView};
use crate::subscriptions::{change_request, read_call};

/// Answers `GET /admin/api/subscriptions/…` with the object's answer as it came.
pub async fn respond(
    env: &Env,
    project: &str,
    view: &SubscriptionView,
    query: &str,
) -> worker::Result<Response> {
    let (binding, name, req) = match read_call(project, view, query) {
        Ok(call) => call,
        Err(e) => return to_response(Reply::error(&e)),
    };
    let stub = env.durable_object(binding).and_then(|ns| ns.get_by_name(&name));
    let answer = match stub {
        Ok(stub) => stub.fetch_with_request(to_request(&req)?).await,
        Err(e) => Err(e),
    };
    answer.or_else(|e| {
        super::unavailable(format!("asking the subscription layer's {binding} object {name}: {e}"))
    })
}

/// The subscription worker, bound by service.
const SUBSCRIPTION_BINDING: &str = "SUBSCRIPTION";
/// The largest publish the pages send (core applies its own limit too).
const MAX_PUBLISH_BYTES: usize = 1 << 20;

/// Sends a change to the subscription worker's API and passes its answer on as it came
/// (the `Stream-Fanout-*` headers of a publish included).
pub async fn change(
    env: &Env,
    project: &str,
    action: &SubscriptionAction,
    req: worker::Request,
) -> worker::Result<Response> {
    let content_type = req.headers().get("Content-Type").ok().flatten();
    let body = match read_request(req, MAX_PUBLISH_BYTES).await {
        Ok(r) => r.body,
        Err(e) => return to_response(Reply::error(&e)),
    };
    let mut api = match change_request(project, action, body, content_type) {
        Ok(api) => api,
        Err(e) => return to_response(Reply::error(&e)),
    };
    // With auth on, a change carries a write token of the project, as any client's would.
    if let Some(auth) = super::core_auth(env) {
        match auth.write_token(env, project).await {
            Ok(token) => api = api.with_header("authorization", format!("Bearer {token}")),
            Err(e) => return to_response(Reply::error(&e)),
        }
    }
    let answer = match env.service(SUBSCRIPTION_BINDING) {
        Ok(service) => service.fetch_request(to_request(&api)?).await,
        Err(e) => Err(e),
    };
    answer.or_else(|e| super::unavailable(format!("the subscription worker could not be reached: {e}")))
}
