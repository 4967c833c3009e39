//! A project's subscription layer: read from its own objects (the project's object for
//! the overview and the listings, a session's object for the session), with the
//! subscription crate's own call types, so they cannot drift from what the objects take;
//! changed through the subscription worker's public API, so its rules (auth, fan-out,
//! both indexes) hold as for any client.

use worker::{Env, Response};

use durable_streams_cloudflare::adapters::convert::{read_request, to_request, to_response};
use durable_streams_cloudflare::adapters::secrets::AuthSettings;
use durable_streams_cloudflare::http::{Method, Reply, Request};
use durable_streams_cloudflare::protocol::{percent, ErrorCode, ProtocolError};
use durable_streams_subscriptions::ids::{self, Session};
use durable_streams_subscriptions::project::ProjectCall;
use durable_streams_subscriptions::wire::{self, SessionCall};

use crate::route::{self, SubscriptionAction, SubscriptionView};

/// The subscription worker's project objects (`script_name`).
const PROJECTS_BINDING: &str = "PROJECTS";
/// Its session objects.
const SESSIONS_BINDING: &str = "SESSIONS";
/// Rows per listing page.
const PAGE: usize = 50;
/// Minutes of the overview's series.
const OVERVIEW_MINUTES: u32 = 60;

/// Which object to ask, under which name, what.
fn call(
    project: &str,
    view: &SubscriptionView,
    query: &str,
) -> Result<(&'static str, String, Request), ProtocolError> {
    let project = ids::project(project)?;
    Ok(match view {
        SubscriptionView::Overview => (
            PROJECTS_BINDING,
            project,
            wire::call_request(&ProjectCall::Overview { minutes: OVERVIEW_MINUTES })?,
        ),
        SubscriptionView::Sessions => (
            PROJECTS_BINDING,
            project,
            wire::call_request(&ProjectCall::Sessions { after: route::after(query), limit: PAGE })?,
        ),
        SubscriptionView::Sources => (
            PROJECTS_BINDING,
            project,
            wire::call_request(&ProjectCall::Sources { after: route::after(query), limit: PAGE })?,
        ),
        SubscriptionView::Session(id) => {
            (SESSIONS_BINDING, Session::new(&project, id)?.key(), wire::call_request(&SessionCall::Info)?)
        }
    })
}

/// Answers `GET /admin/api/subscriptions/…` with the object's answer as it came.
pub async fn respond(
    env: &Env,
    project: &str,
    view: &SubscriptionView,
    query: &str,
) -> worker::Result<Response> {
    let (binding, name, req) = match call(project, view, query) {
        Ok(call) => call,
        Err(e) => return to_response(Reply::error(&e)),
    };
    let stub = env.durable_object(binding).and_then(|ns| ns.get_by_name(&name));
    let answer = match stub {
        Ok(stub) => stub.fetch_with_request(to_request(&req)?).await,
        Err(e) => Err(e),
    };
    answer.or_else(|e| {
        let what = format!("asking the subscription layer's {binding} object {name}: {e}");
        worker::console_error!("{what}");
        to_response(Reply::error(&ProtocolError::unavailable(what)))
    })
}

/// The subscription worker, bound by service.
const SUBSCRIPTION_BINDING: &str = "SUBSCRIPTION";
/// The largest publish the pages send (core applies its own limit too).
const MAX_PUBLISH_BYTES: usize = 1 << 20;

thread_local! {
    /// Where the signing secrets are, read once: with auth on, changes carry a write token
    /// of the project, as any client's would.
    static AUTH: std::cell::OnceCell<Option<std::rc::Rc<AuthSettings>>> = const { std::cell::OnceCell::new() };
}

fn auth(env: &Env) -> Option<std::rc::Rc<AuthSettings>> {
    AUTH.with(|cell| cell.get_or_init(|| AuthSettings::from_env(env).map(std::rc::Rc::new)).clone())
}

/// `{"streamId"}`, the body of a subscribe or unsubscribe from the pages.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamChoice {
    stream_id: String,
}

/// The subscription worker's own request for `action`: its route, method and body.
fn api_request(
    project: &str,
    action: &SubscriptionAction,
    body: Vec<u8>,
    content_type: Option<String>,
) -> Result<Request, ProtocolError> {
    let base = format!("https://subscriptions.internal/v1/{project}");
    let session = |id: &str| Session::new(project, id);
    let choice = |session_id: &str| -> Result<Vec<u8>, ProtocolError> {
        let choice: StreamChoice = serde_json::from_slice(&body).map_err(|_| {
            ProtocolError::new(ErrorCode::InvalidBody, "the body must be {\"streamId\": \"…\"}")
        })?;
        Ok(serde_json::json!({ "streamId": choice.stream_id, "sessionId": session_id })
            .to_string()
            .into_bytes())
    };
    let json = |method, url: String, body: Vec<u8>| {
        Request::new(method, url).with_header("content-type", "application/json").with_body(body)
    };
    Ok(match action {
        SubscriptionAction::Subscribe(id) => {
            json(Method::Post, format!("{base}/subscribe"), choice(&session(id)?.id)?)
        }
        SubscriptionAction::Unsubscribe(id) => {
            json(Method::Delete, format!("{base}/unsubscribe"), choice(&session(id)?.id)?)
        }
        SubscriptionAction::Touch(id) => {
            Request::new(Method::Post, format!("{base}/session/{}/touch", session(id)?.id))
        }
        SubscriptionAction::Delete(id) => {
            Request::new(Method::Delete, format!("{base}/session/{}", session(id)?.id))
        }
        SubscriptionAction::Publish(stream) => {
            let source = ids::source(project, stream)?;
            let mut req =
                Request::new(Method::Post, format!("{base}/publish/{}", percent::encode_path(&source.id)));
            if let Some(content_type) = content_type {
                req = req.with_header("content-type", content_type);
            }
            req.with_body(body)
        }
    })
}

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
    let mut api = match ids::project(project).and_then(|p| api_request(&p, action, body, content_type)) {
        Ok(api) => api,
        Err(e) => return to_response(Reply::error(&e)),
    };
    if let Some(auth) = auth(env) {
        match auth.write_token(env, project).await {
            Ok(token) => api = api.with_header("authorization", format!("Bearer {token}")),
            Err(e) => return to_response(Reply::error(&e)),
        }
    }
    let answer = match env.service(SUBSCRIPTION_BINDING) {
        Ok(service) => service.fetch_request(to_request(&api)?).await,
        Err(e) => Err(e),
    };
    answer.or_else(|e| {
        let what = format!("the subscription worker could not be reached: {e}");
        worker::console_error!("{what}");
        to_response(Reply::error(&ProtocolError::unavailable(what)))
    })
}
