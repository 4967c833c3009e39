//! The names the subscription layer deals in: sessions, the source streams they follow,
//! and the core stream each session reads.

use durable_streams_cloudflare::protocol::path::{is_project_id, StreamName};
use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};

/// The longest session id accepted.
pub const MAX_SESSION_ID_BYTES: usize = 128;

/// Session streams live in core under this prefix, so that no stream a client creates
/// can be mistaken for a session's, and a session's stream cannot be a source.
pub const SESSION_STREAM_PREFIX: &str = "session:";

/// Route words that cannot be projects in this API: `/v1/<word>/…` is the default
/// project's route of that name.
pub const ROUTE_WORDS: [&str; 4] = ["subscribe", "unsubscribe", "publish", "session"];

/// A session: a project and an id of 1–128 of `A-Z a-z 0-9 _ - : .` (UUIDs included).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Session {
    /// The project.
    pub project: String,
    /// The session id.
    pub id: String,
}

impl Session {
    /// Validates a session id of `project`.
    pub fn new(project: &str, id: &str) -> Result<Self, ProtocolError> {
        let valid = !id.is_empty()
            && id.len() <= MAX_SESSION_ID_BYTES
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.'));
        if !valid {
            return Err(ProtocolError::new(
                ErrorCode::InvalidSessionId,
                "a session id is 1 to 128 letters, digits, '_', '-', ':' or '.'",
            ));
        }
        Ok(Self { project: project.to_owned(), id: id.to_owned() })
    }

    /// The name of the session's object: `<project>/<id>`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.project, self.id)
    }

    /// The inverse of [`Session::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        let (project, id) = key.split_once('/')?;
        is_project_id(project).then(|| Self::new(project, id).ok()).flatten()
    }

    /// The core stream the session's messages are written to and read from.
    pub fn stream(&self) -> StreamName {
        StreamName { project: self.project.clone(), id: format!("{SESSION_STREAM_PREFIX}{}", self.id) }
    }
}

/// Validates a source stream: any stream of core but a session's own stream (a session
/// following another would copy its copies) and the registry.
pub fn source(project: &str, id: &str) -> Result<StreamName, ProtocolError> {
    let name = StreamName::parse(&format!("/v1/{project}/stream/{id}"))
        .unwrap_or_else(|| Err(ProtocolError::new(ErrorCode::InvalidStreamId, "stream id is empty")))?;
    if name.id.starts_with(SESSION_STREAM_PREFIX) {
        return Err(ProtocolError::new(
            ErrorCode::InvalidStreamId,
            "a session's stream cannot be subscribed to or published to as a source",
        ));
    }
    if name.is_registry() || name.is_reserved() {
        return Err(ProtocolError::new(ErrorCode::InvalidStreamId, "this stream is not a source"));
    }
    Ok(name)
}

/// Validates a project id as this API spells it.
pub fn project(id: &str) -> Result<String, ProtocolError> {
    if !is_project_id(id) || ROUTE_WORDS.contains(&id) {
        return Err(ProtocolError::new(
            ErrorCode::InvalidProjectId,
            "a project id is 1 to 64 letters, digits, '_' or '-', and not a route word",
        ));
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn session_ids_are_uuids_or_short_plain_names() {
        for ok in ["3f2504e0-4f89-11d3-9a0c-0305e82c3301", "user:42", "a.b_c-d", &"x".repeat(128)] {
            assert!(Session::new("p", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a b", "ü", &"x".repeat(129), "a%2F"] {
            let e = Session::new("p", bad).unwrap_err();
            assert_eq!((e.status(), e.code()), (400, ErrorCode::InvalidSessionId), "{bad}");
        }
    }

    #[test]
    fn a_session_has_its_own_stream_and_key() {
        let s = Session::new("acme", "u1").unwrap();
        assert_eq!(s.key(), "acme/u1");
        assert_eq!(Session::from_key("acme/u1"), Some(s.clone()));
        assert_eq!(s.stream().path(), "/v1/acme/stream/session:u1");
    }

    #[test]
    fn session_streams_and_the_registry_are_not_sources() {
        assert_eq!(source("p", "chat-1").unwrap().key(), "p/chat-1");
        assert_eq!(source("_default", "a%2Fb").unwrap().id, "a/b");
        for bad in ["session:u1", "__registry__", "__ds/x", "", "%ff"] {
            assert_eq!(source("p", bad).unwrap_err().status(), 400, "{bad}");
        }
    }

    #[test]
    fn route_words_are_not_projects() {
        assert!(project("acme").is_ok());
        for bad in ["subscribe", "session", "a.b", ""] {
            assert!(project(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn valid_session_ids_survive_their_key(id in "[A-Za-z0-9_:.-]{1,128}") {
            let s = Session::new("p", &id).unwrap();
            prop_assert_eq!(Session::from_key(&s.key()), Some(s));
        }
    }
}
