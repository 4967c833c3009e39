//! A project's subscription layer, asked of its own objects: the project's object for the
//! overview and the listings, a session's object for the session. The calls are the
//! subscription crate's own types, so they cannot drift from what the objects take.

use worker::{Env, Response};

use durable_streams_cloudflare::adapters::convert::{to_request, to_response};
use durable_streams_cloudflare::http::{Reply, Request};
use durable_streams_cloudflare::protocol::ProtocolError;
use durable_streams_subscriptions::ids::{self, Session};
use durable_streams_subscriptions::project::ProjectCall;
use durable_streams_subscriptions::wire::{self, SessionCall};

use crate::route::{self, SubscriptionView};

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
