//! What an incoming request to the subscription worker asks for. Every route exists as
//! `/v1/<project>/…` and, for the default project, as `/v1/…`.

use durable_streams_cloudflare::http::Method;
use durable_streams_cloudflare::protocol::path::{StreamName, DEFAULT_PROJECT};
use durable_streams_cloudflare::protocol::ProtocolError;

use crate::ids::{self, Session};

/// A request, routed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `OPTIONS` on any path.
    Preflight,
    /// `GET`/`HEAD /health`.
    Health,
    /// `POST …/subscribe`: the session and stream come in the body.
    Subscribe {
        /// The project.
        project: String,
    },
    /// `DELETE …/unsubscribe`: the session and stream come in the body.
    Unsubscribe {
        /// The project.
        project: String,
    },
    /// `POST …/publish/<stream>`.
    Publish(StreamName),
    /// `GET …/session/<id>`.
    GetSession(Session),
    /// `POST …/session/<id>/touch`.
    Touch(Session),
    /// `DELETE …/session/<id>`.
    DeleteSession(Session),
}

/// Routes a request by method and (still percent-encoded) path.
pub fn route(method: Method, path: &str) -> Result<Route, ProtocolError> {
    if method == Method::Options {
        return Ok(Route::Preflight);
    }
    if path == "/health" && matches!(method, Method::Get | Method::Head) {
        return Ok(Route::Health);
    }
    let rest = path.strip_prefix("/v1/").ok_or_else(ProtocolError::not_found)?;
    let segments: Vec<&str> = rest.split('/').collect();
    // `/v1/<word>/…` is the default project; anything else starts with a project.
    let (project, tail) = match segments.split_first() {
        Some((first, tail)) if !ids::ROUTE_WORDS.contains(first) => (ids::project(first)?, tail),
        _ => (DEFAULT_PROJECT.to_owned(), segments.as_slice()),
    };
    let session = |id: &str| Session::new(&project, id);
    let wanted = match tail {
        ["subscribe"] => (Method::Post, Route::Subscribe { project: project.clone() }),
        ["unsubscribe"] => (Method::Delete, Route::Unsubscribe { project: project.clone() }),
        ["publish", stream @ ..] if !stream.is_empty() => {
            (Method::Post, Route::Publish(ids::source(&project, &stream.join("/"))?))
        }
        ["session", id] => match method {
            Method::Delete => (Method::Delete, Route::DeleteSession(session(id)?)),
            _ => (Method::Get, Route::GetSession(session(id)?)),
        },
        ["session", id, "touch"] => (Method::Post, Route::Touch(session(id)?)),
        _ => return Err(ProtocolError::not_found()),
    };
    let allowed = wanted.0 == method || (wanted.0 == Method::Get && method == Method::Head);
    if allowed {
        Ok(wanted.1)
    } else {
        Err(ProtocolError::method_not_allowed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(method: Method, path: &str) -> Route {
        route(method, path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn both_spellings_reach_the_same_routes() {
        let acme = |id: &str| Session::new("acme", id).unwrap();
        let default = |id: &str| Session::new(DEFAULT_PROJECT, id).unwrap();
        assert_eq!(ok(Method::Post, "/v1/acme/subscribe"), Route::Subscribe { project: "acme".into() });
        assert_eq!(ok(Method::Post, "/v1/subscribe"), Route::Subscribe { project: DEFAULT_PROJECT.into() });
        assert_eq!(ok(Method::Delete, "/v1/acme/unsubscribe"), Route::Unsubscribe { project: "acme".into() });
        assert_eq!(ok(Method::Get, "/v1/acme/session/u1"), Route::GetSession(acme("u1")));
        assert_eq!(ok(Method::Get, "/v1/session/u1"), Route::GetSession(default("u1")));
        assert_eq!(ok(Method::Post, "/v1/session/u1/touch"), Route::Touch(default("u1")));
        assert_eq!(ok(Method::Delete, "/v1/acme/session/u1"), Route::DeleteSession(acme("u1")));
        let chat = StreamName { project: "acme".into(), id: "rooms/chat".into() };
        assert_eq!(ok(Method::Post, "/v1/acme/publish/rooms/chat"), Route::Publish(chat));
        assert_eq!(ok(Method::Post, "/v1/publish/a%2Fb"), Route::Publish(StreamName::default_project("a/b")));
    }

    #[test]
    fn wrong_methods_paths_and_ids_are_client_errors() {
        assert_eq!(route(Method::Get, "/v1/acme/subscribe").unwrap_err().status(), 405);
        assert_eq!(route(Method::Put, "/v1/acme/session/u1").unwrap_err().status(), 405);
        assert_eq!(route(Method::Get, "/v1/acme/nothing").unwrap_err().status(), 404);
        assert_eq!(route(Method::Get, "/elsewhere").unwrap_err().status(), 404);
        assert_eq!(route(Method::Get, "/v1/acme/session/a%20b").unwrap_err().status(), 400);
        assert_eq!(route(Method::Get, "/v1/a.b/session/u1").unwrap_err().status(), 400);
        assert_eq!(route(Method::Post, "/v1/acme/publish/session:u1").unwrap_err().status(), 400);
        assert_eq!(route(Method::Post, "/v1/acme/publish/").unwrap_err().status(), 400);
        assert_eq!(ok(Method::Options, "/anything"), Route::Preflight);
        assert_eq!(ok(Method::Head, "/health"), Route::Health);
    }
}
