//! What the admin asks of a project's subscription layer, as values: the call to one of
//! its objects for a read, and the subscription worker's own API request for a change.
//! The calls are the subscription crate's own types, so they cannot drift from what the
//! objects take; changes go through the public API, so its rules (auth, both indexes,
//! fan-out) hold as for any client.

use durable_streams_cloudflare::http::{Method, Request};
use durable_streams_cloudflare::protocol::{percent, ErrorCode, ProtocolError};
use durable_streams_subscriptions::ids::{self, Session};
use durable_streams_subscriptions::project::ProjectCall;
use durable_streams_subscriptions::wire::{self, SessionCall, SourceCall};

use crate::route::{self, SubscriptionAction, SubscriptionView};

/// The subscription worker's project objects (`script_name`).
pub const PROJECTS_BINDING: &str = "PROJECTS";
/// Its session objects.
pub const SESSIONS_BINDING: &str = "SESSIONS";
/// Its source objects (each stream's subscribers).
pub const SOURCES_BINDING: &str = "SUBSCRIPTIONS";
/// Rows per listing page.
const PAGE: usize = 50;
/// Minutes of the overview's series.
const OVERVIEW_MINUTES: u32 = 60;

/// Which object to ask for `view` (its binding and name), and the call.
pub fn read_call(
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
        SubscriptionView::Subscribers(stream) => (
            SOURCES_BINDING,
            ids::source(&project, stream)?.key(),
            wire::call_request(&SourceCall::Subscribers { after: route::after(query), limit: PAGE })?,
        ),
        SubscriptionView::Session(id) => {
            (SESSIONS_BINDING, Session::new(&project, id)?.key(), wire::call_request(&SessionCall::Info)?)
        }
    })
}

/// `{"streamId"}`, the body of a subscribe or unsubscribe from the pages.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamChoice {
    stream_id: String,
}

/// The subscription worker's own request for `action` in `project`: its route, method
/// and body; the ids are checked here.
pub fn change_request(
    project: &str,
    action: &SubscriptionAction,
    body: Vec<u8>,
    content_type: Option<String>,
) -> Result<Request, ProtocolError> {
    let project = ids::project(project)?;
    let base = format!("https://subscriptions.internal/v1/{project}");
    let session = |id: &str| Session::new(&project, id);
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
            let source = ids::source(&project, stream)?;
            let mut req =
                Request::new(Method::Post, format!("{base}/publish/{}", percent::encode_path(&source.id)));
            if let Some(content_type) = content_type {
                req = req.with_header("content-type", content_type);
            }
            req.with_body(body)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(req: &Request) -> serde_json::Value {
        serde_json::from_slice(&req.body).unwrap()
    }

    #[test]
    fn reads_ask_the_project_or_the_session_object() {
        let (binding, name, req) = read_call("acme", &SubscriptionView::Sessions, "after=u%3A1").unwrap();
        assert_eq!((binding, name.as_str()), (PROJECTS_BINDING, "acme"));
        assert_eq!(body(&req), serde_json::json!({ "op": "sessions", "after": "u:1", "limit": 50 }));
        let (binding, name, req) = read_call("acme", &SubscriptionView::Session("u1".into()), "").unwrap();
        assert_eq!((binding, name.as_str()), (SESSIONS_BINDING, "acme/u1"));
        assert_eq!(body(&req), serde_json::json!({ "op": "info" }));
        assert_eq!(
            read_call("bad project", &SubscriptionView::Overview, "").unwrap_err().code().status(),
            400
        );
        let (binding, name, req) =
            read_call("acme", &SubscriptionView::Subscribers("rooms/1".into()), "").unwrap();
        assert_eq!((binding, name.as_str()), (SOURCES_BINDING, "acme/rooms/1"));
        assert_eq!(body(&req), serde_json::json!({ "op": "subscribers", "after": null, "limit": 50 }));
        let bad = read_call("acme", &SubscriptionView::Session("bad id".into()), "").unwrap_err();
        assert_eq!(bad.code(), ErrorCode::InvalidSessionId);
    }

    #[test]
    fn changes_are_the_subscription_api_requests() {
        let sub = change_request(
            "acme",
            &SubscriptionAction::Subscribe("u1".into()),
            br#"{"streamId":"s"}"#.to_vec(),
            None,
        )
        .unwrap();
        assert_eq!(
            (sub.method, sub.url.as_str()),
            (Method::Post, "https://subscriptions.internal/v1/acme/subscribe")
        );
        assert_eq!(body(&sub), serde_json::json!({ "streamId": "s", "sessionId": "u1" }));
        let unsub = change_request(
            "acme",
            &SubscriptionAction::Unsubscribe("u1".into()),
            br#"{"streamId":"s"}"#.to_vec(),
            None,
        )
        .unwrap();
        assert_eq!(unsub.method, Method::Delete);
        let touch =
            change_request("acme", &SubscriptionAction::Touch("u:1".into()), Vec::new(), None).unwrap();
        assert_eq!(touch.url, "https://subscriptions.internal/v1/acme/session/u:1/touch");
        let delete =
            change_request("acme", &SubscriptionAction::Delete("u1".into()), Vec::new(), None).unwrap();
        assert_eq!(
            (delete.method, delete.url.as_str()),
            (Method::Delete, "https://subscriptions.internal/v1/acme/session/u1")
        );
        let publish = change_request(
            "acme",
            &SubscriptionAction::Publish("rooms/a b".into()),
            b"{}".to_vec(),
            Some("application/json".into()),
        )
        .unwrap();
        assert_eq!(publish.url, "https://subscriptions.internal/v1/acme/publish/rooms/a%20b");
        assert_eq!(
            (publish.header("content-type"), publish.body.as_slice()),
            (Some("application/json"), &b"{}"[..])
        );
    }

    #[test]
    fn bad_changes_are_client_errors() {
        for (action, body) in [
            (SubscriptionAction::Subscribe("u1".into()), &b"{"[..]),
            (SubscriptionAction::Subscribe("u1".into()), &br#"{"stream":"s"}"#[..]),
            (SubscriptionAction::Unsubscribe("u1".into()), &b""[..]),
        ] {
            let e = change_request("acme", &action, body.to_vec(), None).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidBody, "{action:?}");
        }
        let bad_id = change_request("acme", &SubscriptionAction::Touch("no/slash".into()), Vec::new(), None);
        assert_eq!(bad_id.unwrap_err().code(), ErrorCode::InvalidSessionId);
        let session_stream =
            change_request("acme", &SubscriptionAction::Publish("session:u1".into()), Vec::new(), None);
        assert_eq!(session_stream.unwrap_err().code().status(), 400);
        assert_eq!(
            change_request("bad project", &SubscriptionAction::Touch("u1".into()), Vec::new(), None)
                .unwrap_err()
                .code()
                .status(),
            400
        );
    }
}
