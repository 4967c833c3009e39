//! What an admin request asks for. Everything under `/admin/api/` is the JSON API the
//! pages call; every other path is a page asset.

use durable_streams_cloudflare::http::Method;
use durable_streams_cloudflare::protocol::path::StreamName;
use durable_streams_cloudflare::protocol::{percent, ProtocolError};

use crate::projects::{self, ProjectRoute};

/// The JSON API's prefix.
pub const API_PREFIX: &str = "/admin/api/";

/// A request the admin worker answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`: answered before the gate, and says nothing but that the worker runs.
    Health,
    /// `GET /admin/api/whoami`: how the gate admitted the request.
    WhoAmI,
    /// `GET /admin/api/overview`: the figures of every stream (see [`crate::overview`]).
    Overview,
    /// `/admin/api/streams/<project>/<stream id>`: the stream, through its object. The
    /// id is percent-encoded as in core's URLs and may contain `/`.
    Stream(StreamName, StreamAction),
    /// `/admin/api/projects…`: the registry's projects and their streams (see
    /// [`crate::projects`]).
    Projects(ProjectRoute),
    /// `GET /admin/api/live/<project>/<stream id>`: the stream's messages as they come,
    /// as server-sent events (see [`crate::live`]).
    Live(StreamName),
    /// `GET /admin/api/subscriptions/<project>…`: the subscription layer of a project,
    /// through its objects.
    Subscriptions(String, SubscriptionView),
    /// `POST`/`DELETE /admin/api/subscriptions/<project>…`: a change to the project's
    /// subscriptions, through the subscription worker's own API.
    SubscriptionChange(String, SubscriptionAction),
    /// Any other path: a page asset (the gate has already admitted it).
    Asset,
}

/// What is done to a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamAction {
    /// `GET`: everything its object knows about it.
    Inspect,
    /// `PUT`: create it, with the request's `Content-Type` and, if any, first message.
    Create,
    /// `POST`: append the request's body as one message.
    Append,
}

/// What of a project's subscription layer is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionView {
    /// `…/<project>`: the overview cards and the last hour, per minute.
    Overview,
    /// `…/<project>/sessions`: a page of sessions (`?after=` the last id of the previous).
    Sessions,
    /// `…/<project>/sessions/<id>`: one session and what it follows.
    Session(String),
    /// `…/<project>/sources`: a page of the streams that have subscribers.
    Sources,
    /// `…/<project>/sources/<stream id>`: a page of one stream's subscribers.
    Subscribers(String),
}

/// A change to a project's subscriptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionAction {
    /// `POST …/sessions/<id>/subscribe` `{"streamId"}`.
    Subscribe(String),
    /// `POST …/sessions/<id>/unsubscribe` `{"streamId"}`.
    Unsubscribe(String),
    /// `POST …/sessions/<id>/touch`.
    Touch(String),
    /// `DELETE …/sessions/<id>`.
    Delete(String),
    /// `POST …/publish/<stream id>`: the body, with its `Content-Type`.
    Publish(String),
}

/// The route of `method` on `path`: a JSON 404 for an unknown API path, 405 for a
/// known one with another method, 400 for a bad project or stream id.
pub fn route(method: Method, path: &str) -> Result<Route, ProtocolError> {
    if path == "/health" && method == Method::Get {
        return Ok(Route::Health);
    }
    let Some(api) = path.strip_prefix(API_PREFIX) else {
        return Ok(Route::Asset);
    };
    if let Some(rest) = api.strip_prefix("projects").filter(|r| r.is_empty() || r.starts_with('/')) {
        return projects::route(method, rest).map(Route::Projects);
    }
    match (api.split_once('/'), method) {
        (None, Method::Get) if api == "whoami" => Ok(Route::WhoAmI),
        (None, _) if api == "whoami" => Err(ProtocolError::method_not_allowed()),
        (None, Method::Get) if api == "overview" => Ok(Route::Overview),
        (None, _) if api == "overview" => Err(ProtocolError::method_not_allowed()),
        (Some(("streams", rest)), method) => {
            let action = match method {
                Method::Get => StreamAction::Inspect,
                Method::Put => StreamAction::Create,
                Method::Post => StreamAction::Append,
                _ => return Err(ProtocolError::method_not_allowed()),
            };
            Ok(Route::Stream(stream(rest)?, action))
        }
        (Some(("subscriptions", rest)), Method::Get) => subscriptions(rest),
        (Some(("subscriptions", rest)), Method::Post | Method::Delete) => subscription_change(method, rest),
        (Some(("subscriptions", _)), _) => Err(ProtocolError::method_not_allowed()),
        (Some(("live", rest)), Method::Get) => Ok(Route::Live(stream(rest)?)),
        (Some(("live", _)), _) => Err(ProtocolError::method_not_allowed()),
        _ => Err(ProtocolError::not_found()),
    }
}

/// `<project>[/sessions[/<id>] | /sources]`; ids are checked where they are used.
fn subscriptions(rest: &str) -> Result<Route, ProtocolError> {
    let mut parts = rest.splitn(3, '/');
    let project = parts.next().unwrap_or_default().to_owned();
    let view = match (parts.next(), parts.next()) {
        (None, _) => SubscriptionView::Overview,
        (Some("sessions"), None) => SubscriptionView::Sessions,
        (Some("sessions"), Some(id)) => SubscriptionView::Session(decoded(id)?),
        (Some("sources"), None) => SubscriptionView::Sources,
        (Some("sources"), Some(stream)) if !stream.is_empty() => {
            SubscriptionView::Subscribers(decoded(stream)?)
        }
        _ => return Err(ProtocolError::not_found()),
    };
    Ok(Route::Subscriptions(project, view))
}

/// `<project>/sessions/<id>[/subscribe | /unsubscribe | /touch]` or
/// `<project>/publish/<stream id>`, with the method each takes.
fn subscription_change(method: Method, rest: &str) -> Result<Route, ProtocolError> {
    let (project, rest) = rest.split_once('/').ok_or_else(ProtocolError::not_found)?;
    let action = match (rest.split_once('/'), method) {
        (Some(("publish", "")), _) => return Err(ProtocolError::not_found()),
        (Some(("publish", stream)), Method::Post) => SubscriptionAction::Publish(decoded(stream)?),
        (Some(("sessions", session)), _) => match (session.split_once('/'), method) {
            (None, Method::Delete) => SubscriptionAction::Delete(decoded(session)?),
            (Some((id, "subscribe")), Method::Post) => SubscriptionAction::Subscribe(decoded(id)?),
            (Some((id, "unsubscribe")), Method::Post) => SubscriptionAction::Unsubscribe(decoded(id)?),
            (Some((id, "touch")), Method::Post) => SubscriptionAction::Touch(decoded(id)?),
            (None, _) | (Some((_, "subscribe" | "unsubscribe" | "touch")), _) => {
                return Err(ProtocolError::method_not_allowed())
            }
            _ => return Err(ProtocolError::not_found()),
        },
        (Some(("publish", _)), _) => return Err(ProtocolError::method_not_allowed()),
        _ => return Err(ProtocolError::not_found()),
    };
    Ok(Route::SubscriptionChange(project.to_owned(), action))
}

/// A path segment, percent-decoded; one that does not decode names nothing.
fn decoded(segment: &str) -> Result<String, ProtocolError> {
    percent::decode(segment).ok_or_else(ProtocolError::not_found)
}

/// The `after` of a listing's query: where its page starts.
pub fn after(query: &str) -> Option<String> {
    query_value(query, "after")
}

/// The non-empty, percent-decoded value of `key` in `query`.
pub fn query_value(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| percent::decode(v))
        .filter(|v| !v.is_empty())
}

/// `<project>/<stream id>` as core names the stream (its checks and decoding).
fn stream(rest: &str) -> Result<StreamName, ProtocolError> {
    let (project, id) = rest.split_once('/').ok_or_else(ProtocolError::not_found)?;
    match StreamName::parse(&format!("/v1/{project}/stream/{id}")) {
        Some(parsed) => parsed,
        None => Err(ProtocolError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use durable_streams_cloudflare::protocol::ErrorCode;

    #[test]
    fn api_paths_are_routed_and_the_rest_are_assets() {
        assert_eq!(route(Method::Get, "/admin/api/whoami"), Ok(Route::WhoAmI));
        assert_eq!(route(Method::Get, "/health"), Ok(Route::Health));
        assert_eq!(route(Method::Post, "/health"), Ok(Route::Asset));
        let Ok(Route::Stream(name, StreamAction::Inspect)) =
            route(Method::Get, "/admin/api/streams/acme/chat%2F1/x")
        else {
            panic!("a stream")
        };
        assert_eq!((name.project.as_str(), name.id.as_str()), ("acme", "chat/1/x"));
        assert!(
            matches!(route(Method::Get, "/admin/api/live/acme/a%2Fb"), Ok(Route::Live(n)) if n.id == "a/b")
        );
        assert_eq!(route(Method::Post, "/admin/api/live/acme/s").unwrap_err().code().status(), 405);
        for (method, action) in [(Method::Put, StreamAction::Create), (Method::Post, StreamAction::Append)] {
            assert!(
                matches!(route(method, "/admin/api/streams/acme/s"), Ok(Route::Stream(_, a)) if a == action)
            );
        }
        for asset in ["/", "/index.html", "/app.js", "/admin", "/admin/api"] {
            assert_eq!(route(Method::Get, asset), Ok(Route::Asset), "{asset}");
        }
    }

    #[test]
    fn subscription_views_are_routed() {
        let view = |p: &str| match route(Method::Get, p) {
            Ok(Route::Subscriptions(project, view)) => (project, view),
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(view("/admin/api/subscriptions/acme"), ("acme".into(), SubscriptionView::Overview));
        assert_eq!(view("/admin/api/subscriptions/acme/sessions").1, SubscriptionView::Sessions);
        assert_eq!(
            view("/admin/api/subscriptions/acme/sessions/u%3A1").1,
            SubscriptionView::Session("u:1".into())
        );
        assert_eq!(view("/admin/api/subscriptions/acme/sources").1, SubscriptionView::Sources);
        assert_eq!(
            view("/admin/api/subscriptions/acme/sources/a%2Fb/c").1,
            SubscriptionView::Subscribers("a/b/c".into())
        );
        assert_eq!(
            route(Method::Get, "/admin/api/subscriptions/acme/other").unwrap_err().code().status(),
            404
        );
        assert_eq!(route(Method::Post, "/admin/api/subscriptions/acme").unwrap_err().code().status(), 404);
        let change = |m, p: &str| match route(m, p) {
            Ok(Route::SubscriptionChange(project, action)) => (project, action),
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(
            change(Method::Post, "/admin/api/subscriptions/acme/sessions/u1/subscribe"),
            ("acme".into(), SubscriptionAction::Subscribe("u1".into()))
        );
        assert_eq!(
            change(Method::Post, "/admin/api/subscriptions/a/sessions/u1/unsubscribe").1,
            SubscriptionAction::Unsubscribe("u1".into())
        );
        assert_eq!(
            change(Method::Post, "/admin/api/subscriptions/a/sessions/u1/touch").1,
            SubscriptionAction::Touch("u1".into())
        );
        assert_eq!(
            change(Method::Delete, "/admin/api/subscriptions/a/sessions/u1").1,
            SubscriptionAction::Delete("u1".into())
        );
        assert_eq!(
            change(Method::Post, "/admin/api/subscriptions/a/publish/rooms%2F1/x").1,
            SubscriptionAction::Publish("rooms/1/x".into())
        );
        for (m, p, status) in [
            (Method::Post, "/admin/api/subscriptions/a/sessions/u1", 405),
            (Method::Delete, "/admin/api/subscriptions/a/sessions/u1/touch", 405),
            (Method::Delete, "/admin/api/subscriptions/a/publish/s", 405),
            (Method::Post, "/admin/api/subscriptions/a/sessions/u1/nothing", 404),
            (Method::Post, "/admin/api/subscriptions/a/publish/", 404),
        ] {
            assert_eq!(route(m, p).unwrap_err().code().status(), status, "{m:?} {p}");
        }
        assert_eq!(after("after=s%3A9&x=1").as_deref(), Some("s:9"));
        assert_eq!((after(""), after("after=")), (None, None));
    }

    #[test]
    fn unknown_paths_methods_and_ids_are_client_errors() {
        let code = |m, p| route(m, p).unwrap_err().code();
        assert_eq!(code(Method::Get, "/admin/api/nothing"), ErrorCode::NotFound);
        assert_eq!(code(Method::Get, "/admin/api/projectsx"), ErrorCode::NotFound);
        assert_eq!(route(Method::Get, "/admin/api/projects"), Ok(Route::Projects(ProjectRoute::List)));
        assert_eq!(
            route(Method::Get, "/admin/api/projects/acme/streams"),
            Ok(Route::Projects(ProjectRoute::Streams("acme".into())))
        );
        assert_eq!(code(Method::Get, "/admin/api/streams/acme"), ErrorCode::NotFound);
        assert_eq!(code(Method::Get, "/admin/api/whoami/x"), ErrorCode::NotFound);
        assert_eq!(code(Method::Post, "/admin/api/whoami"), ErrorCode::MethodNotAllowed);
        assert_eq!(route(Method::Get, "/admin/api/overview"), Ok(Route::Overview));
        assert_eq!(code(Method::Delete, "/admin/api/overview"), ErrorCode::MethodNotAllowed);
        assert_eq!(code(Method::Get, "/admin/api/overview/x"), ErrorCode::NotFound);
        assert_eq!(code(Method::Delete, "/admin/api/streams/acme/s"), ErrorCode::MethodNotAllowed);
        let bad_project = route(Method::Get, "/admin/api/streams/bad%20project/s").unwrap_err();
        assert_eq!(bad_project.code().status(), 400);
        assert_eq!(route(Method::Get, "/admin/api/streams/acme/%ZZ").unwrap_err().code().status(), 400);
    }
}
